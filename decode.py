"""Fit the pixel decoder of a trained frame-based run: ``python decode.py --run DIR [--steps N]``.

Writes DIR/decoder/: decoder.safetensors, config.json and metrics.json (PSNR / SSIM of decoded held-out
frames, one-step predictions and rollouts, with the baselines). The world model stays frozen. An
interrupted fit continues with ``--resume``; ``--evaluate-only`` rescores a fitted decoder.
Exit status 0 when done, 1 with a one-line ``error: …`` for a run the decoder cannot serve.
"""

from __future__ import annotations

from worldmodel import cli


def main(argv: list[str] | None = None) -> None:
    p = cli.parser(__doc__)
    p.add_argument("--run", required=True, help="run folder written by train.py (data.kind 'frames')")
    p.add_argument("--steps", type=cli.at_least(1), default=1200, help="optimiser steps (default 1200)")
    p.add_argument("--batch-size", type=cli.at_least(1), default=32, help="default 32")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default 0.002)")
    p.add_argument("--width", type=cli.at_least(8), default=64, help="channels of the decoder's first map (default 64)")
    p.add_argument("--no-context-frame", dest="context_frame", action="store_false",
                   help="decode each embedding alone, without the previous frame and its embedding")
    p.add_argument("--rollout-steps", type=cli.at_least(0), default=4,
                   help="K >= 2: fit part of each batch on steps 2..K of rollouts that read the decoder's own frames; "
                        "0: one-step pairs only (default 4)")
    p.add_argument("--rollout-fraction", type=cli.share, default=0.25, help="share of each batch on rollout steps (default 0.25)")
    p.add_argument("--checkpoint-every", type=cli.at_least(1), default=250, help="steps between checkpoints (default 250)")
    p.add_argument("--threads", type=cli.at_least(0), default=0, help="CPU threads (default: the run's train.threads)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--horizon", type=cli.at_least(1), default=12, help="rollout steps scored (default 12)")
    p.add_argument("--starts", type=cli.at_least(1), default=64, help="held-out start clips of the scored rollouts (default 64)")
    p.add_argument("--samples", type=cli.at_least(1), default=16, help="sampled futures per start (default 16)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted fit in DIR/decoder")
    p.add_argument("--stop-at", type=cli.at_least(1), help="end after this step with a checkpoint (continue with --resume)")
    p.add_argument("--overwrite", action="store_true", help="fit anew over an existing decoder")
    p.add_argument("--evaluate-only", action="store_true", help="score the fitted decoder without fitting")
    args = cli.parse(p, argv)
    with cli.user_errors(args.debug):
        from worldmodel.decode.evaluate import evaluate_decoder
        from worldmodel.decode.fit import FitConfig, fit_decoder
        from worldmodel.eval.evaluate import format_table

        decoder = None
        if not args.evaluate_only:
            fit = FitConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, width=args.width,
                            context_frame=args.context_frame, rollout_steps=args.rollout_steps, rollout_fraction=args.rollout_fraction,
                            checkpoint_every=args.checkpoint_every, threads=args.threads, seed=args.seed)
            decoder, facts = fit_decoder(args.run, fit, resume=args.resume, overwrite=args.overwrite, stop_at=args.stop_at)
            if facts["steps"] < args.steps:
                print(f"stopped after step {facts['steps']} of {args.steps}; continue with --resume")
                return
            print(f"decoder fitted in {facts['fit_seconds']:.1f} s (loss {facts['first_loss']:.4f} → {facts['last_loss']:.4f})")
        metrics = evaluate_decoder(args.run, decoder, args.starts, args.samples, args.horizon, args.seed)
        print(format_table({k: v for k, v in metrics.items() if not k.startswith("pixel_") or k.endswith(("_h1", "_h4"))}))


if __name__ == "__main__":
    main()

"""Sample futures of a trained run: ``python rollout.py --run DIR`` → DIR/rollouts/ (metrics.json, rollouts.npz, PNGs).

Run ``python eval.py --run DIR`` first: rollouts decode embeddings with the probes it saves (and
refuse probes computed from another model.safetensors than the run's). Frame runs roll clips
forward ``--horizon`` steps; numerical and image-pair runs one step (the target's embedding).

Exit status: 0 when done, 1 with a one-line ``error: …`` for bad input, 2 for a bad command line.
"""

from __future__ import annotations

from worldmodel import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__, prog="rollout.py")
    parser.add_argument("--run", required=True, help="run folder written by train.py and evaluated by eval.py")
    parser.add_argument("--starts", type=cli.at_least(1), default=16, help="start clips from the held-out videos (default 16)")
    parser.add_argument("--samples", type=cli.at_least(1), default=32, help="sampled futures per start (default 32)")
    parser.add_argument("--horizon", type=cli.at_least(1), default=12,
                        help="rollout steps of `gap` frames (default 12; always 1 for numerical and image-pair runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start choice and of the prior samples")
    parser.add_argument("--save-embeddings", action="store_true", help="keep the raw rollout embeddings in rollouts.npz")
    parser.add_argument("--baseline", help="an evaluated run without r (same data) whose deterministic future is scored too")
    args = cli.parse(parser, argv)
    with cli.user_errors(args.debug):
        from worldmodel.rollout.report import rollout_run, summary_table

        metrics = rollout_run(args.run, args.starts, args.samples, args.horizon, args.seed, args.save_embeddings,
                              args.baseline)
    print(summary_table(metrics))


if __name__ == "__main__":
    main()

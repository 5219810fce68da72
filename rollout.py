"""Sample futures of a trained run: ``python rollout.py --run DIR`` → DIR/rollouts/ (metrics.json, rollouts.npz, PNGs).

Run ``python eval.py --run DIR`` first: rollouts decode embeddings with the probes it saves.
"""

from __future__ import annotations

import argparse

from worldmodel.rollout.report import rollout_run, summary_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="run folder written by train.py and evaluated by eval.py")
    parser.add_argument("--starts", type=int, default=16, help="start clips from the held-out videos (default 16)")
    parser.add_argument("--samples", type=int, default=32, help="sampled futures per start (default 32)")
    parser.add_argument("--horizon", type=int, default=12, help="rollout steps of `gap` frames (default 12; 1 for numerical runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start choice and of the prior samples")
    parser.add_argument("--save-embeddings", action="store_true", help="keep the raw rollout embeddings in rollouts.npz")
    parser.add_argument("--baseline", help="an evaluated run without r (same data) whose deterministic future is scored too")
    args = parser.parse_args(argv)
    for name in ("starts", "samples", "horizon"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be ≥ 1, got {getattr(args, name)}")
    metrics = rollout_run(args.run, args.starts, args.samples, args.horizon, args.seed, args.save_embeddings, args.baseline)
    print(summary_table(metrics))


if __name__ == "__main__":
    main()

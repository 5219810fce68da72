"""Train a world model: ``python train.py --config configs/numerical/adassl_v.yaml [--run-dir DIR] [key=value ...]``.

Overrides (``key=value``) may come anywhere on the command line. A run folder belongs to one
training at a time; a folder that already holds a run is continued with ``--resume`` or deleted
and trained again with ``--overwrite`` (it is never replaced silently).

Exit status: 0 when done (or stopped at ``--stop-at``), 1 with a one-line ``error: …`` for bad
input (config, dataset folder, run folder, checkpoint) or a non-finite loss, 2 for a bad command
line, 128 + signal number when SIGTERM/SIGINT stopped the run after saving a checkpoint (continue
with ``--resume``).
"""

from __future__ import annotations

import sys

from worldmodel import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__, prog="train.py")
    parser.add_argument("--config", required=True, help="experiment YAML under configs/")
    parser.add_argument("--run-dir", help="run folder (default runs/<name>/seed<seed>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest intact checkpoint in the run folder (none: start from step 0 "
                             "with a notice, unless the folder holds a model)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the run already in the folder (model, checkpoints, logs, eval, probes, rollouts, "
                             "decoder) and train again")
    parser.add_argument("--stop-at", type=cli.at_least(1), help="end after this global step with a checkpoint (resume later)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.latent.beta=0.5")
    args = cli.parse(parser, argv)
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite contradict each other; give one of them")
    with cli.user_errors(args.debug):
        from worldmodel.config import load_config

        cfg = load_config(args.config, args.overrides)
    import torch

    from worldmodel.train.loop import NonFiniteLoss, TrainingInterrupted, train

    try:
        with cli.user_errors(args.debug, extra=(NonFiniteLoss,)):
            train(cfg, args.run_dir or f"runs/{cfg.name}/seed{cfg.train.seed}", resume=args.resume,
                  stop_at=args.stop_at, overwrite=args.overwrite)
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        sys.exit(128 + stop.signal)
    finally:  # a gloo group left to interpreter exit sometimes aborts ("terminate called without an active exception")
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

if __name__ == "__main__":
    main()

"""Train a world model: ``python train.py --config configs/numerical/adassl_v.yaml [--run-dir DIR] [key=value ...]``.

Exit status: 0 when done (or stopped at ``--stop-at``), 1 with a one-line ``error: …`` for bad
input (config, dataset folder, checkpoint) or a non-finite loss, 128 + signal number when
SIGTERM/SIGINT stopped the run after saving a checkpoint (continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import sys

import torch

from worldmodel.train.checkpoints import CheckpointError
from worldmodel.config import ConfigError, load_config
from worldmodel.data.store import DatasetFolderError
from worldmodel.train.loop import NonFiniteLoss, TrainingInterrupted, train

USER_ERRORS = (ConfigError, DatasetFolderError, CheckpointError, NonFiniteLoss, FileNotFoundError)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML under configs/")
    parser.add_argument("--run-dir", help="run folder (default runs/<name>/seed<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest intact checkpoint in the run folder")
    parser.add_argument("--stop-at", type=int, help="end after this global step with a checkpoint (resume later)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.latent.beta=0.5")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
        train(cfg, args.run_dir or f"runs/{cfg.name}/seed{cfg.train.seed}", resume=args.resume, stop_at=args.stop_at)
    except USER_ERRORS as err:
        sys.exit(f"error: {err}")
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        sys.exit(128 + stop.signal)
    finally:  # a gloo group left to interpreter exit sometimes aborts ("terminate called without an active exception")
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()

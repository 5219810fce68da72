"""Train a world model: ``python train.py --config configs/numerical/adassl_v.yaml [--run-dir DIR] [key=value ...]``."""

from __future__ import annotations

import argparse
import sys

from worldmodel.config import ConfigError, load_config
from worldmodel.training import train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="experiment YAML under configs/")
    parser.add_argument("--run-dir", help="run folder (default runs/<name>/seed<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run folder")
    parser.add_argument("--stop-at", type=int, help="end after this global step with a checkpoint (resume later)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.latent.beta=0.5")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as err:
        sys.exit(f"error: {err}")
    train(cfg, args.run_dir or f"runs/{cfg.name}/seed{cfg.train.seed}", resume=args.resume, stop_at=args.stop_at)


if __name__ == "__main__":
    main()

"""Run folders as readers see them: load a finished run without importing the training loop."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from worldmodel.config import Config, load_config
from worldmodel.models import WorldModel

def load_run(run_dir: str | Path) -> tuple[Config, WorldModel]:
    """The config and trained model (eval mode, CPU) of a finished run (safetensors: no pickles)."""
    run_dir = Path(run_dir)
    for name in ("config.yaml", "run.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir}: not a finished run (missing {name})")
    cfg = load_config(run_dir / "config.yaml")
    in_shape = tuple(json.loads((run_dir / "run.json").read_text())["in_shape"])
    model = WorldModel(cfg, in_shape)
    model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    return cfg, model.eval()

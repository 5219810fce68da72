"""experiments/mask_diagnostics.py: on camera events, a pair where no factor changed shows the same view
twice, so its embedding does not move; a pair where a factor changed moves it; one mask logit per
coordinate of r."""

import sys
from pathlib import Path

import numpy as np
import torch

from data_prep.camera_events import generate_camera_events
from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.models.world_model import WorldModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from mask_diagnostics import readouts  # noqa: E402


def test_readouts_hold_still_where_no_factor_changed_and_move_where_one_did(tmp_path):
    options = load_config("configs/camera_events/adassl_s.yaml").data.generator_args
    data = generate_camera_events(tmp_path / "ev", pairs=200, **options)
    cfg = load_config("configs/camera_events/adassl_s.yaml", [f"data.path={data}", "model.encoder.width=8"])
    dataset = build_dataset(cfg.data, "test")
    torch.manual_seed(0)
    model = WorldModel(cfg, tuple(dataset[0]["context"].shape)).eval()
    out = readouts(model, dataset, batch_size=16)
    n = len(dataset)
    assert out["f"].shape == out["f_next"].shape == (n, 3) and out["logits"].shape == (n, cfg.model.latent.dim)
    active = np.stack([out[f] > 0.5 for f in ("pan_x", "pan_y", "zoom")], 1)
    moved = np.abs(out["f_next"] - out["f"]).max(1)
    still = active.sum(1) == 0
    assert still.any() and (~still).any()
    assert moved[still].max() < 1e-6
    assert np.median(moved[~still]) > 1e-3

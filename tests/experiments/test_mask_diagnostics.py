"""experiments/mask_diagnostics.py: on camera events, a pair where no factor changed shows the same view
twice, so its embedding does not move; a pair where a factor changed moves it; one mask logit per
coordinate of r."""

import sys
from pathlib import Path

import numpy as np
import torch

from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.eval.readouts import encode_pairs
from worldmodel.models.world_model import WorldModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from mask_diagnostics import pixel_motion, readouts  # noqa: E402


def test_readouts_hold_still_where_no_factor_changed_and_move_where_one_did(tmp_path):
    small = [f"data.path={tmp_path / 'ev'}", "data.generator_args.pairs=200", "model.encoder.width=8"]
    cfg = load_config("configs/camera_events/adassl_s.yaml", small)  # build_dataset generates the 200 pairs
    dataset = build_dataset(cfg.data, "test")
    torch.manual_seed(0)
    model = WorldModel(cfg, tuple(dataset[0]["context"].shape)).eval()
    out = readouts(model, encode_pairs(model, dataset, batch_size=16))
    n = len(dataset)
    assert out["f"].shape == out["f_next"].shape == (n, 3) and out["logits"].shape == (n, cfg.model.latent.dim)
    active = np.stack([out[f] > 0.5 for f in ("pan_x", "pan_y", "zoom")], 1)
    moved = np.abs(out["f_next"] - out["f"]).max(1)
    still = active.sum(1) == 0
    assert still.any() and (~still).any()
    assert moved[still].max() < 1e-6
    assert np.median(moved[~still]) > 1e-3

    # the views themselves: a still pair has no global motion; a pan x moves the content along x, a zoom scales it
    motion = pixel_motion(dataset, batch_size=16)
    assert motion.shape == (n, 8) and np.allclose(motion[:, 4:], np.abs(motion[:, :4]))
    only = lambda j: active[:, j] & (active.sum(1) == 1)  # noqa: E731
    assert np.abs(motion[still, :4]).max() < 1e-3
    assert np.median(np.abs(motion[only(0), 0])) > 10 * np.median(np.abs(motion[only(1), 0]))
    assert np.median(np.abs(motion[only(2), 3])) > 10 * np.median(np.abs(motion[only(0), 3]))

"""Footage evaluation per axis, with the embedding and optical-flow baselines computed in the same run."""

from __future__ import annotations

import numpy as np
import skimage.data

from data_prep.camera_pan import generate_camera_pan
from data_prep.render import bilinear_crop
from worldmodel.config import load_config
from worldmodel.eval.motion_baselines import global_flow
from worldmodel.eval.reference_motion import reference_motion_metrics
from worldmodel.models import WorldModel

SHIFTS = np.array([(0.0, 0.0), (3.0, 0.0), (0.0, -2.0), (2.5, -1.25), (-3.7, 1.9), (1.2, 3.4)])  # camera (dx, dy) px


def test_global_flow_recovers_known_camera_shifts_of_a_photograph():
    scene = skimage.data.camera().astype(np.float64)
    before = np.stack([bilinear_crop(scene, 50.6, 40.3, 64, 64) for _ in SHIFTS])
    after = np.stack([bilinear_crop(scene, 50.6 + dy, 40.3 + dx, 64, 64) for dx, dy in SHIFTS])
    flow = global_flow(before, after)
    np.testing.assert_allclose(flow, -SHIFTS, atol=0.5)  # the content moves against the camera
    assert np.abs(flow + SHIFTS).mean() < 0.2


def test_reference_motion_metrics_report_each_axis_next_to_both_baselines(tmp_path):
    data = generate_camera_pan(tmp_path / "pan", videos=10, frames=16, size=64)
    cfg = load_config("configs/video_folder.yaml", [f"data.path={data}", "model.encoder.width=8",
                                                     "model.latent.hidden=32", "model.predictor.hidden=32"])
    model = WorldModel(cfg, (1, 3, 64, 64)).eval()  # untrained: r and the embeddings know little of the motion
    metrics = reference_motion_metrics(model, cfg.data, tmp_path, "phase", max_pairs=150)
    for name in ("r", "embeddings", "flow"):
        assert {f"r2_{name}_to_reference_dx", f"r2_{name}_to_reference_dy"} <= set(metrics)
    # the flow read-out and phase correlation measure the same camera move
    assert min(metrics["r2_flow_to_reference_dx"], metrics["r2_flow_to_reference_dy"]) > 0.8
    assert metrics["r2_reference_motion_to_truth"] > 0.8
    assert max(metrics["r2_r_to_reference_dx"], metrics["r2_r_to_reference_dy"]) < metrics["r2_flow_to_reference_dx"]

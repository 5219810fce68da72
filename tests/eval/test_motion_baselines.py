"""Footage evaluation per axis, with the embedding and optical-flow baselines computed in the same run."""

from __future__ import annotations

import numpy as np
import torch
import skimage.data

from data_prep.camera_pan import generate_camera_pan
from data_prep.render import bilinear_crop
from worldmodel.config import load_config
from skimage.transform import AffineTransform, warp

from worldmodel.eval.motion_baselines import global_flow, global_motion, motion_diagnosis
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


def test_global_similarity_recovers_known_rotations_and_zooms_of_a_photograph():
    """Views of 32 px cut from a photograph, then turned by up to 8 degrees, zoomed by up to 10 % and
    moved by up to 3 px about their centre: the estimate has slope 1 on each parameter."""
    scene, rng = skimage.data.astronaut().mean(2) / 255, np.random.default_rng(0)
    truth, before, after = [], [], []
    for _ in range(30):
        angle, log_zoom, move = rng.uniform(-8, 8), rng.uniform(-0.1, 0.1), rng.uniform(-3, 3, 2)
        row, col = rng.integers(100, 400, 2)
        view = scene[row - 16 : row + 16, col - 16 : col + 16]
        turn = AffineTransform(scale=np.exp(log_zoom), rotation=np.radians(angle))
        moved = warp(scene[row - 48 : row + 48, col - 48 : col + 48],
                     (AffineTransform(translation=(-47.5, -47.5)) + turn + AffineTransform(translation=47.5 + move)).inverse)
        before.append(view)
        after.append(moved[32:64, 32:64])
        truth.append([*move, np.radians(angle), log_zoom])
    estimate, truth = global_motion(np.array(before), np.array(after), "similarity"), np.array(truth)
    for k in range(4):
        slope, _ = np.polyfit(truth[:, k], estimate[:, k], 1)
        assert abs(slope - 1) < 0.05 and np.corrcoef(truth[:, k], estimate[:, k])[0, 1] > 0.98, k


def test_reference_motion_metrics_report_each_axis_next_to_both_baselines(tmp_path):
    data = generate_camera_pan(tmp_path / "pan", videos=10, frames=16, size=64)
    cfg = load_config("configs/video_folder.yaml", [f"data.path={data}", "model.encoder.width=8",
                                                     "model.latent.hidden=32", "model.predictor.hidden=32"])
    model = WorldModel(cfg, (1, 3, 64, 64)).eval()  # untrained: r and the embeddings know little of the motion
    metrics = reference_motion_metrics(model, cfg.data, tmp_path, "phase", max_pairs=150)
    for name in ("r", "embeddings", "embeddings_trees", "flow"):
        assert {f"r2_{name}_to_reference_dx", f"r2_{name}_to_reference_dy"} <= set(metrics)
    # the flow read-out and phase correlation measure the same camera move
    assert min(metrics["r2_flow_to_reference_dx"], metrics["r2_flow_to_reference_dy"]) > 0.8
    assert metrics["r2_reference_motion_to_truth"] > 0.8
    assert max(metrics["r2_r_to_reference_dx"], metrics["r2_r_to_reference_dy"]) < metrics["r2_flow_to_reference_dx"]
    # a pure pan neither turns nor zooms: the similarity's rotation and zoom stay near 0
    assert metrics["reference_rotation_std"] < 1.0 and metrics["reference_zoom_std"] < 0.02
    assert min(metrics["reference_dx_std"], metrics["reference_dy_std"]) > 0.5  # the pans move pixels a frame, not fractions
    assert {f"r2_{n}_to_reference_{a}" for n in ("r", "embeddings") for a in ("rotation", "zoom")} <= set(metrics)
    # untrained: the flow reads the pans and nothing of the model does; the pans neither turn nor zoom
    lines = motion_diagnosis(metrics)
    assert [line.split(":")[0] for line in lines] == ["dx", "dy", "rotation", "zoom"]
    assert all("the encoder is the limit" in line for line in lines[:2]), lines
    assert all("no verdict" in line for line in lines[2:]), lines


def test_the_pair_baseline_reads_what_the_posterior_reads(tmp_path):
    """Under the authors' recipe q(r | f(x), g(x⁺)) reads the EMA target's g(x⁺): the [f(x), f(x⁺)] baseline
    must read the same pair, so changing only the EMA target changes the baseline and not the flow."""
    data = generate_camera_pan(tmp_path / "pan", videos=10, frames=16, size=32)
    cfg = load_config("configs/video_folder.yaml", [f"data.path={data}", "model.encoder.width=8", "model.latent.hidden=32",
                                                     "objective.kind=byol", "model.latent.posterior_on_target=true"])
    model = WorldModel(cfg, (1, 3, 32, 32)).eval()
    assert model.posterior_on_target
    before = reference_motion_metrics(model, cfg.data, tmp_path, "phase", max_pairs=150)
    torch.manual_seed(1)
    with torch.no_grad():
        for weight in model.target_encoder.parameters():
            weight.add_(0.5 * torch.randn_like(weight))
    after = reference_motion_metrics(model, cfg.data, tmp_path, "phase", max_pairs=150)
    assert abs(after["r2_embeddings_to_reference_dx"] - before["r2_embeddings_to_reference_dx"]) > 1e-3
    assert after["r2_flow_to_reference_dx"] == before["r2_flow_to_reference_dx"]


def reference_scores(r: dict, embeddings: dict, flow=(0.9, 0.9), std=(3.0, 0.05), active_dims=8.0, trees=None) -> dict:
    """eval.json entries of a footage run: R² per axis of r and the embeddings (dx, dy, rotation, zoom);
    ``trees`` (the trees on the pair) default to the embeddings' ridge."""
    axes = ("dx", "dy", "rotation", "zoom")
    metrics = {f"r2_r_to_reference_{a}": r.get(a, 0.0) for a in axes}
    metrics |= {f"r2_embeddings_to_reference_{a}": embeddings.get(a, 0.0) for a in axes}
    metrics |= {f"r2_embeddings_trees_to_reference_{a}": (trees or embeddings).get(a, 0.0) for a in axes}
    metrics |= {"r2_flow_to_reference_dx": flow[0], "r2_flow_to_reference_dy": flow[1]}
    return metrics | {"reference_rotation_std": std[0], "reference_zoom_std": std[1], "active_dims": active_dims}


def test_motion_diagnosis_names_the_step_that_loses_each_axis():
    lines = motion_diagnosis(reference_scores(r={"dx": 0.93, "dy": 0.2, "rotation": 0.1}, embeddings={"dy": 0.85, "rotation": 0.15},
                                              flow=(0.99, 0.4)))
    assert lines[0] == "dx: r tracks it (R² 0.93)"
    assert lines[1].startswith("dy: missed (r 0.20, the pair's embeddings 0.85, the global flow 0.40)") and "r drops it" in lines[1]
    assert "the footage turns (std 3 a pair), the embeddings do not: the encoder is the limit" in lines[2]
    assert "zooms (std 0.05 a pair), the embeddings do not: the encoder is the limit" in lines[3]
    # the flow reads dx, the embeddings do not; nothing reads dy; the footage neither turns nor zooms
    lines = motion_diagnosis(reference_scores(r={}, embeddings={"dx": 0.3}, flow=(0.85, 0.3), std=(0.4, 0.01)))
    assert "the global flow reads it, the embeddings do not: the encoder is the limit" in lines[0]
    assert "nothing reads it, the flow included" in lines[1]
    assert "hardly turns (std 0.4 a pair)" in lines[2] and "hardly zooms (std 0.01 a pair)" in lines[3]
    # the pair holds dx only non-linearly (a position modulo a repeating texture): not the encoder's limit
    lines = motion_diagnosis(reference_scores(r={"dx": 0.1}, embeddings={"dx": 0.15}, trees={"dx": 0.56}, flow=(0.95, 0.9)))
    assert "the embeddings hold it, but not linearly (trees on the pair 0.56)" in lines[0], lines[0]
    assert "the encoder is the limit" in lines[1]
    # r unused: the latent, whatever the embeddings hold
    lines = motion_diagnosis(reference_scores(r={}, embeddings={"dx": 0.9}, active_dims=0.0))
    assert "r is not in use, the latent collapsed" in lines[0]
    # moves of a fraction of a pixel: a missed axis gets the hint to take pairs further apart, a tracked one does not
    small = reference_scores(r={"dx": 0.2, "dy": 0.85}, embeddings={"dx": 0.25}, flow=(0.5, 0.9))
    lines = motion_diagnosis(small | {"reference_dx_std": 0.15, "reference_dy_std": 0.17})
    assert lines[0].endswith("the camera moves only 0.15 px a pair (std): pairs further apart (a larger data.gap, "
                             "or a lower --fps in data_prep videos) give r larger moves to read"), lines[0]
    assert lines[1] == "dy: r tracks it (R² 0.85)"
    assert "moves only" not in motion_diagnosis(small | {"reference_dx_std": 1.6, "reference_dy_std": 1.2})[0]
    # a camera that never moves along dy (straight down on the cheetah): its spread is the phase correlation's
    # own noise, no verdict and no hint; a larger move along dx raises that floor with it
    still = reference_scores(r={"dx": 0.88, "dy": 0.19}, embeddings={"dy": 0.24}, flow=(0.97, 0.39))
    lines = motion_diagnosis(still | {"reference_dx_std": 2.1, "reference_dy_std": 0.05})
    assert lines[1] == ("dy: the camera hardly moves along it (0.05 px a pair (std), under the phase correlation's "
                        "own noise of 0.21 px), so its R² are of noise: no verdict"), lines[1]
    assert motion_diagnosis(still | {"reference_dx_std": 0.5, "reference_dy_std": 0.05})[1].endswith("own noise of 0.10 px), "
                                                                                                     "so its R² are of noise: no verdict")
    assert motion_diagnosis(still | {"reference_dx_std": 2.1, "reference_dy_std": 0.3})[1].startswith("dy: missed")
    # eval.json without reference motion: no lines
    assert motion_diagnosis({"r2_position": 0.9}) == []

"""Tiny end-to-end runs of the camera-pan, video-folder and image-pair configs, through eval."""

from __future__ import annotations

import json

import pytest

from data_prep.__main__ import main as data_prep
from data_prep.camera_pan import generate_camera_pan
from data_prep.digit_pairs import generate_digit_pairs
from worldmodel.config import load_config
from worldmodel.eval.evaluate import evaluate_run, format_table
from worldmodel.train.loop import train

TINY = ["train.steps=2", "train.batch_size=8", "train.threads=1", "train.log_every=1"]


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    """A few camera-pan videos with the options of the camera_pan configs (and their mp4s)."""
    options = load_config("configs/camera_pan/adassl_v.yaml").data.generator_args
    return generate_camera_pan(tmp_path_factory.mktemp("pan") / "pan", videos=6, frames=10, mp4=True, **options)


def test_camera_pan_run_reports_r_against_true_and_reference_motion(pan, tmp_path):
    cfg = load_config("configs/camera_pan/adassl_v.yaml", [f"data.path={pan}", "model.encoder.width=8", *TINY])
    metrics = evaluate_run(train(cfg, tmp_path / "run"), reference_motion="phase")
    assert {"r2_action_from_r", "r2_camera_motion", "r2_r_to_reference_motion", "r2_r_to_true_motion"} <= set(metrics)
    assert metrics["r2_reference_motion_to_truth"] > 0.95  # phase correlation on the stored frames
    assert metrics["reference_motion_pairs"] == 9  # the one test video: 10 frames, 9 pairs
    assert (tmp_path / "run" / "reference_motion.png").stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())  # why r misses an axis, in words
    assert [line.split(":")[0] for line in saved["reference_motion_diagnosis"]] == ["dx", "dy", "rotation", "zoom"]
    assert "reference_motion_diagnosis" in format_table(saved)
    assert json.loads((tmp_path / "run" / "eval.json").read_text()) == metrics


def test_byol_camera_pan_run_has_no_r_to_probe(pan, tmp_path):
    cfg = load_config("configs/camera_pan/byol.yaml", [f"data.path={pan}", "model.encoder.width=8", *TINY])
    run = train(cfg, tmp_path / "run")
    assert "r2_camera_motion" in evaluate_run(run)
    with pytest.raises(ValueError, match="has no r"):
        evaluate_run(run, reference_motion="phase")


def test_video_folder_template_trains_on_prepared_mp4s(pan, tmp_path):
    """Camera-pan mp4s prepared by `data_prep videos`: the template needs only data.path; the
    reference motion needs no ground truth."""
    data_prep(["videos", str(pan / "mp4"), str(tmp_path / "videos"), "--size", "32", "--fps", "0"])
    cfg = load_config("configs/video_folder.yaml", [f"data.path={tmp_path / 'videos'}", "model.encoder.width=8", *TINY])
    metrics = evaluate_run(train(cfg, tmp_path / "run"), reference_motion="phase")
    assert -1 < metrics["r2_r_to_reference_motion"] <= 1 and "r2_reference_motion_to_truth" not in metrics


@pytest.mark.parametrize("name", ["infonce", "adassl_s"])
def test_image_pair_runs_report_label_accuracy_and_attribute_r2(name, tmp_path):
    data = generate_digit_pairs(tmp_path / "digits", size=16, pairs_per_image=1)
    cfg = load_config(f"configs/image_pairs/{name}.yaml", [f"data.path={data}", "model.encoder.width=8", *TINY])
    metrics = evaluate_run(train(cfg, tmp_path / "run"))
    assert {"acc_label", "acc_label_train", "r2_thickness", "r2_slant", "r2_size", "r2_attributes"} <= set(metrics)
    assert 0.1 < metrics["acc_label"] <= 1  # even a barely trained CNN's features beat chance (0.1)
    assert metrics["r2_attributes"] == pytest.approx((metrics["r2_thickness"] + metrics["r2_slant"] + metrics["r2_size"]) / 3)


def test_camera_events_run_scores_the_sparse_mask_against_the_factors(tmp_path):
    small = [f"data.path={tmp_path / 'ev'}", "data.generator_args.pairs=200", "model.encoder.width=8", *TINY]
    cfg = load_config("configs/camera_events/adassl_s.yaml", small)  # train() generates the 200 pairs
    metrics = evaluate_run(train(cfg, tmp_path / "run"))
    factors = ("pan_x", "pan_y", "zoom")
    assert sum(metrics[f"mask_coords_{f}"] for f in factors) <= 3  # each of r's 3 coordinates has one factor at most
    assert all(0 <= metrics[f"{source}_{kind}_{f}"] <= 1 for f in factors for kind in ("precision", "recall")
               for source in ("mask", "pair"))
    assert {f"r2_{a}_from_{s}" for a in ("shift_x", "shift_y", "zoom") for s in ("r", "pair")} <= set(metrics)
    assert not any(k.startswith("r2_active_") and k.endswith("_from_r") for k in metrics)  # on/off columns are categorical

import json

import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from data_prep.camera_events import generate_camera_events


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    return generate_camera_events(tmp_path_factory.mktemp("ev") / "ev", pairs=400, size=32, scene_scale=2.5,
                                  scenes=["astronaut"], seed=3)


def load(folder):
    frames = np.load(folder / "frames.npy")
    gt = {name: np.load(folder / f"pair_gt_{name}.npy") for name in json.loads((folder / "meta.json").read_text())["pair_ground_truth"]}
    return frames[np.load(folder / "pair_context.npy")], frames[np.load(folder / "pair_target.npy")], gt


def test_each_factor_is_on_about_half_the_time_and_moves_only_when_on(events):
    _, _, gt = load(events)
    for factor, amount in (("pan_x", "shift_x"), ("pan_y", "shift_y"), ("zoom", "zoom")):
        on = gt[f"active_{factor}"] > 0.5
        assert 0.4 < on.mean() < 0.6
        assert np.all(gt[amount][~on] == 0) and np.all(np.abs(gt[amount][on]) > 0)


def test_a_stop_is_the_same_view_and_a_pan_moves_it_by_its_shift(events):
    context, target, gt = load(events)
    off = {f: gt[f"active_{f}"] < 0.5 for f in ("pan_x", "pan_y", "zoom")}
    stops = off["pan_x"] & off["pan_y"] & off["zoom"]
    assert stops.sum() > 20 and np.array_equal(context[stops], target[stops])
    pans = np.flatnonzero(off["zoom"] & ~(off["pan_x"] & off["pan_y"]))[:40]
    # the view moves by (shift_y, shift_x): phase correlation of the two views measures it (it fails on a
    # few views, where the periodic border dominates)
    measured = np.array([phase_cross_correlation(context[p].mean(-1), target[p].mean(-1), upsample_factor=10)[0]
                         for p in pans])
    error = np.abs(measured - np.stack([gt["shift_y"][pans], gt["shift_x"][pans]], 1)).max(1)
    assert np.mean(error < 0.5) >= 0.8


def test_a_scene_too_small_for_the_moves_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scene_scale 1.2 leaves no room"):
        generate_camera_events(tmp_path / "x", pairs=4, scene_scale=1.2, scenes=["astronaut"])


def test_scale_jitter_varies_the_context_views_scale_and_keeps_the_moves(tmp_path, events):
    jittered = generate_camera_events(tmp_path / "j", pairs=400, size=32, scene_scale=2.5, scenes=["astronaut"], seed=3,
                                      scale_jitter=0.2)
    context, target, gt = load(jittered)
    _, _, gt0 = load(events)
    assert all(np.array_equal(gt[k], gt0[k]) for k in gt0) and "view_scale" not in gt0  # the same moves, drawn first
    assert np.abs(gt["view_scale"]).max() <= 0.2 and gt["view_scale"].std() > 0.1
    stops = (gt["active_pan_x"] + gt["active_pan_y"] + gt["active_zoom"]) == 0
    assert np.array_equal(context[stops], target[stops])
    # a view zoomed out (b > 0) shows more of the photograph in its pixels: more edge energy
    edges = np.abs(np.diff(context.astype(float).mean(-1), axis=-1)).mean((-1, -2))
    assert np.corrcoef(edges, gt["view_scale"])[0, 1] > 0.3


def test_the_command_line_sets_the_pan_and_zoom_ranges(tmp_path):
    from data_prep.__main__ import main

    main(["camera-events", str(tmp_path / "cli"), "--pairs", "60", "--scene-scale", "3", "--scenes", "astronaut",
          "--shift", "3", "3", "--zoom", "0.3", "0.35"])
    _, _, gt = load(tmp_path / "cli")
    zoomed, panned = gt["active_zoom"] > 0.5, gt["active_pan_x"] > 0.5
    assert np.all(np.abs(gt["shift_x"][panned]) == 3)
    assert np.all((np.abs(gt["zoom"][zoomed]) >= 0.3) & (np.abs(gt["zoom"][zoomed]) <= 0.35))

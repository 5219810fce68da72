"""Camera pan: recorded camera motion matches the image motion; pan / stop / reverse events."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from data_prep.camera_pan import EVENTS, SCENES, generate_camera_pan
from worldmodel.data.frames import FramePairs
from worldmodel.data.store import FrameStore, open_array


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    return generate_camera_pan(tmp_path_factory.mktemp("pan") / "pan", videos=12, frames=24, change_prob=0.3)


def test_recorded_motion_is_the_image_motion(pan):
    """Shifting frame t−1 by −(dx, dy) reproduces frame t, better than no shift or a shift
    half a pixel off the recorded one."""
    frames = FrameStore(pan).frames.astype(np.float64).mean(-1)
    motion = open_array(pan, "gt_camera_motion")

    def residual(n: int, move: np.ndarray) -> float:
        moved = ndimage.shift(frames[n - 1], (-move[1], -move[0]), order=1)
        return np.abs(moved - frames[n])[8:-8, 8:-8].mean()

    moving = [n for n in range(1, len(frames)) if n % 24 and np.abs(motion[n]).sum() > 0]
    recorded = np.array([residual(n, motion[n]) for n in moving])
    still = np.array([residual(n, 0 * motion[n]) for n in moving])
    half_off = np.array([min(residual(n, motion[n] + d) for d in 0.5 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]]))
                         for n in moving])
    assert len(moving) > 100
    assert np.median(recorded) < 1.5  # grey levels of 255
    assert np.all(recorded < still) and np.mean(recorded < half_off) > 0.9


def test_events_stop_and_reverse_the_camera(pan):
    motion = open_array(pan, "gt_camera_motion").reshape(12, 24, 2)
    event = open_array(pan, "gt_camera_event").reshape(12, 24)
    position = open_array(pan, "gt_camera_position").reshape(12, 24, 2)
    np.testing.assert_allclose(motion[:, 1:], np.diff(position, axis=1), atol=1e-4)
    assert set(np.unique(event)) == set(EVENTS.values())
    stops = np.argwhere(event == EVENTS["stop"])
    assert all(np.all(motion[v, t] == 0) for v, t in stops)
    reverses = [(v, t) for v, t in np.argwhere(event == EVENTS["reverse"]) if t > 1]
    flipped = [np.allclose(np.abs(motion[v, t]), np.abs(motion[v, t - 1]), atol=1e-4) for v, t in reverses]
    assert np.mean(flipped) > 0.8  # the speed is kept (a wall bounce may flip one component too)


def test_action_is_the_camera_displacement(pan):
    pairs = FramePairs(pan, context=1, gap=4, split="test")
    batch = pairs.__getitems__(list(range(len(pairs))))
    position = open_array(pan, "gt_camera_position")
    expected = position[pairs.first + 4] - position[pairs.first]
    np.testing.assert_allclose(batch["action"].numpy(), expected, atol=1e-4)
    assert batch["context"].shape[1:] == (1, 3, 64, 64)


def test_scenes_option_restricts_the_photographs(tmp_path):
    out = generate_camera_pan(tmp_path / "two", videos=6, frames=3, size=32, scenes=["coffee", "retina"])
    assert set(np.unique(open_array(out, "gt_scene"))) == {SCENES.index("coffee"), SCENES.index("retina")}
    with pytest.raises(ValueError, match="expected a non-empty subset of"):
        generate_camera_pan(tmp_path / "none", videos=1, frames=2, scenes=["moon"])

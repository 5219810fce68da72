"""Moving digits: ground truth aligned with the pixels, the acceleration process, mp4 end to end."""

from __future__ import annotations

import numpy as np
import pytest

from data_prep.mmnist import axis_x_probability, generate_mmnist
from data_prep.videos import prepare_videos
from worldmodel.data.frames import FramePairs
from worldmodel.data.store import FrameStore, open_array


def centre_of_mass(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) → (T, 2) intensity-weighted (x, y)."""
    ys, xs = np.indices(frames.shape[1:])
    mass = frames.sum(axis=(1, 2))
    return np.stack([(frames * xs).sum(axis=(1, 2)) / mass, (frames * ys).sum(axis=(1, 2)) / mass], 1)


@pytest.fixture(scope="module")
def one_digit(tmp_path_factory):
    return generate_mmnist(tmp_path_factory.mktemp("mm") / "one", videos=4, frames=24, digits=1, mp4=True)


def test_the_digit_centre_of_mass_is_at_the_recorded_position(one_digit):
    frames = FrameStore(one_digit).frames[..., 0].astype(np.float64)
    error = np.abs(centre_of_mass(frames) - open_array(one_digit, "gt_position"))
    assert frames.shape == (96, 64, 64)
    assert error.max() < 0.05  # sub-pixel rendering: only uint8 rounding remains (the bar is 1 px)


def test_mp4_files_prepare_back_into_aligned_frames(one_digit, tmp_path):
    summary = prepare_videos(one_digit / "mp4", tmp_path / "decoded", size=64, fps=10)
    decoded = FrameStore(tmp_path / "decoded").frames
    original = FrameStore(one_digit).frames
    assert (summary.ok, decoded.shape) == (4, (96, 64, 64, 3))
    assert np.abs(decoded.astype(int) - original.astype(int)).mean() < 2.0  # H.264 at crf 18
    error = np.abs(centre_of_mass(decoded[..., 0].astype(np.float64)) - open_array(one_digit, "gt_position"))
    assert error.max() < 1.0


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    return generate_mmnist(tmp_path_factory.mktemp("mm") / "busy", videos=150, frames=20, digits=2, accel_prob=0.5, accel_scale=0.5)


def test_accelerations_are_single_axis_velocity_changes(busy):
    gt = {n: open_array(busy, f"gt_{n}").reshape(150, 20, 2, -1) for n in ("velocity", "acceleration", "accel_event")}
    accel, event = gt["acceleration"][:, 1:], gt["accel_event"][:, 1:, :, 0]
    assert np.all((np.abs(accel) > 0).sum(-1) <= 1)  # one axis per event
    assert np.all(np.abs(accel).sum(-1)[event == 0] == 0)  # no change without an event
    assert 0.45 < event.mean() < 0.55
    # the velocity change is the acceleration, up to a wall bounce (the component flips sign)
    before = gt["velocity"][:, :-1] + accel
    after = gt["velocity"][:, 1:]
    assert np.all(np.isclose(after, before, atol=1e-4) | np.isclose(after, -before, atol=1e-4))


def test_the_axis_depends_on_the_digit_and_the_size_on_the_speed(busy):
    accel = open_array(busy, "gt_acceleration").reshape(-1, 2, 2)
    velocity = open_array(busy, "gt_velocity").reshape(-1, 2, 2)
    labels = open_array(busy, "gt_label").reshape(-1, 2)
    happened = np.abs(accel).sum(-1) > 0
    along_x = np.abs(accel[..., 0]) > 0
    for group in ([0, 1, 2], [7, 8, 9]):
        chosen = happened & np.isin(labels, group)
        expected = axis_x_probability(labels[chosen]).mean()
        assert abs(along_x[chosen].mean() - expected) < 0.1, group
    speed_before = np.linalg.norm(velocity[:-1], axis=-1)[happened[1:]]
    size = np.abs(accel[1:]).sum(-1)[happened[1:]]
    unclipped = size / speed_before
    assert np.median(unclipped) == pytest.approx(0.5, abs=0.1)  # accel_scale · E[U(0.5, 1.5)]
    assert np.corrcoef(speed_before, size)[0, 1] > 0.3
    assert np.quantile(np.linalg.norm(velocity, axis=-1), 0.9) < 3.0 + 0.5  # speeds stay near [1, 3]


def test_action_is_the_velocity_change_between_context_and_target(busy):
    pairs = FramePairs(busy, context=2, gap=3, split="all")
    batch = pairs.__getitems__(list(range(0, len(pairs), 7)))
    accel = open_array(busy, "gt_acceleration")
    first = pairs.first[::7]
    expected = np.stack([accel[f + 2 : f + 5].sum(0) for f in first])
    np.testing.assert_allclose(batch["action"].numpy(), expected, atol=1e-5)
    assert batch["gt_position"].shape == (len(first), 4) and batch["gt_label"].shape == (len(first), 2)


def test_generation_is_deterministic(tmp_path):
    a = generate_mmnist(tmp_path / "a", videos=3, frames=5, seed=7)
    b = generate_mmnist(tmp_path / "b", videos=3, frames=5, seed=7)
    for name in ("frames.npy", "gt_position.npy", "manifest.csv", "meta.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_wrap_around_digits_cross_the_edges_whole_and_keep_their_velocity(tmp_path):
    out = generate_mmnist(tmp_path / "wrap", videos=3, frames=40, size=32, digit_size=12, speed_min=2.5,
                          speed_max=3.0, accel_prob=0.0, wrap=True)
    store = FrameStore(out)
    frames = np.asarray(store.frames, dtype=np.float64)[..., 0]
    velocity = np.asarray(open_array(out, "gt_velocity"))
    position = np.asarray(open_array(out, "gt_position"))
    assert np.array_equal(velocity, np.repeat(velocity[store.offsets[:-1]], 40, axis=0))  # no wall flips it
    assert np.all((position >= 0) & (position < 32))
    steps = np.abs(np.diff(position.reshape(3, 40, 2), axis=1))
    assert (steps > 16).any()  # some digit crossed an edge: its position jumped across the frame
    mass = frames.sum(axis=(1, 2)).reshape(3, 40)  # per video (one digit each)
    assert (mass.max(1) / mass.min(1)).max() < 1.03  # a crossing digit is drawn whole (split over both sides)

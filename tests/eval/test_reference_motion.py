"""Reference camera motion by phase correlation: known shifts of a photograph are recovered."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from data_prep.render import bilinear_crop
from worldmodel.eval.motion_baselines import frame_motion
from worldmodel.eval.reference_motion import phase_correlation_motion

SHIFTS = np.array([(0.0, 0.0), (3.0, 0.0), (0.0, -2.0), (2.5, -1.25), (-3.7, 1.9), (1.2, 3.4)])  # (dx, dy) px


def views(shifts: np.ndarray, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A size × size view of the camera photograph at (40.3, 50.6), and views whose corner is
    moved by each (dx, dy): (N, size, size) float64, before and after."""
    scene = skimage.data.camera().astype(np.float64)
    left, top = 40.3, 50.6
    before = np.stack([bilinear_crop(scene, top, left, size, size) for _ in shifts])
    after = np.stack([bilinear_crop(scene, top + dy, left + dx, size, size) for dx, dy in shifts])
    return before, after


def test_phase_correlation_recovers_known_sub_pixel_shifts():
    """Bilinear resampling low-passes each view by a shift-dependent amount, which biases the
    sub-pixel peak by up to 0.3 px; the error stays below that and far below the shifts."""
    before, after = views(SHIFTS)
    estimate = phase_correlation_motion(before, after)
    np.testing.assert_allclose(estimate, SHIFTS, atol=0.31)
    assert np.abs(estimate - SHIFTS).mean() < 0.15


def test_integer_shifts_are_exact():
    shifts = np.array([(4.0, 0.0), (-2.0, 3.0)])
    before, after = views(shifts, size=48)
    np.testing.assert_allclose(phase_correlation_motion(before, after), shifts, atol=0.051)


class OneBatch:
    """A frame-pair dataset of one collated batch (``__getitems__``, as :class:`~worldmodel.data.batched.BatchedDataset`)."""

    def __init__(self, batch: dict[str, torch.Tensor]) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch["context"])

    def __getitems__(self, rows: list[int]) -> dict[str, torch.Tensor]:
        return {key: value[rows] for key, value in self.batch.items()}


def test_frame_motion_reads_the_last_context_and_target_frames():
    """Clips (B, k, C, H, W): the motion is measured from the last context frame to the last
    target frame, on the grey mean of RGB frames."""
    before, after = views(SHIFTS[2:4])
    noise = np.random.default_rng(0).uniform(0, 255, before.shape)  # the first frames are unrelated
    context, target = np.stack([noise, before], axis=1), np.stack([noise, after], axis=1)
    batch = {end: torch.from_numpy(np.repeat(clip[:, :, None], 3, axis=2)) for end, clip in
             (("context", context), ("target", target))}
    motion = frame_motion(OneBatch(batch), phase_correlation_motion, batch_size=1)
    np.testing.assert_allclose(motion["reference"], SHIFTS[2:4], atol=0.31)
    np.testing.assert_allclose(motion["flow"], -SHIFTS[2:4], atol=0.5)  # the flow is the content's move, −(dx, dy)


def test_mismatched_frames_are_refused():
    with pytest.raises(ValueError, match="before and after"):
        phase_correlation_motion(np.zeros((2, 8, 8)), np.zeros((2, 8, 9)))

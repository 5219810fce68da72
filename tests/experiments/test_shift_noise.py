"""experiments/shift_noise.py: on pans along x only, the dy that phase correlation reports stays under the
floor of eval's "hardly moves" verdict, while real moves of a 0.14 px spread stay above it."""

import sys
from pathlib import Path

import numpy as np
import pytest

from worldmodel.eval.motion_baselines import shift_noise
from worldmodel.eval.reference_motion import phase_correlation_motion

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from shift_noise import x_only_pans  # noqa: E402


@pytest.mark.parametrize("largest", [0.25, 3.0])
def test_an_axis_the_camera_never_moves_along_reads_under_the_floor(largest):
    before, after, dx = x_only_pans(32, 280, largest)
    estimate = phase_correlation_motion(before, after)
    floor = shift_noise({"reference_dx_std": estimate[:, 0].std()}, "dy")  # eval's own floor for dy
    assert estimate[:, 1].std() < floor
    assert np.corrcoef(estimate[:, 0], dx)[0, 1] > 0.9
    assert estimate[:, 0].std() > floor  # the moves themselves (spread 0.14 px at most 0.25 px) are above it

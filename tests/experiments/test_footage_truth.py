"""experiments/footage_truth.py: an embedding that holds a camera's position only modulo a texture's
period reads the phase but not the position, and its pair gives the move to trees, not to a ridge."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from footage_truth import truth_readouts  # noqa: E402


def test_a_periodic_embedding_holds_the_phase_and_the_move_non_linearly():
    rng = np.random.default_rng(0)
    videos, frames, period = 60, 40, 1.0
    steps = rng.uniform(-0.15, 0.15, (videos, frames))
    x = (rng.uniform(0, 10, (videos, 1)) + np.cumsum(steps, 1)).ravel()  # camera positions, several periods apart
    angle = 2 * np.pi * x / period
    f = np.stack([np.sin(angle), np.cos(angle)], 1) + 0.01 * rng.normal(size=(len(x), 2))
    video = np.repeat(np.arange(videos), frames)
    scores = truth_readouts(f, x, video, period)
    assert scores["phase_ridge"] > 0.99
    assert scores["position_ridge"] < 0.2
    assert scores["move_pair_ridge"] < 0.2 < 0.7 < scores["move_pair_trees"]

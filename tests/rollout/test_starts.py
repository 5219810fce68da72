"""Rollout start clips: the future truth along the video, and None for a name the dataset lacks
(probes fitted by ``eval.py --data`` on a folder with ground truth, rolled out on footage without it)."""

import numpy as np

from data_prep.mmnist import generate_mmnist
from worldmodel.data.frames import FramePairs
from worldmodel.rollout.starts import future_truth, pick_starts


def test_future_truth_follows_the_video_and_is_none_for_a_missing_name(tmp_path):
    folder = generate_mmnist(tmp_path / "digits", videos=6, frames=10, size=32, digit_size=12)
    pairs = FramePairs(folder, context=3, gap=2, split="test")
    index = pick_starts(pairs, horizon=3, count=4, rng=np.random.default_rng(0))
    truth = future_truth(pairs, index, "position", horizon=3)
    position = np.asarray(pairs.store.ground_truth["position"])
    last = pairs.first[index] + 2
    assert truth.shape == (len(index), 4, 2)
    assert np.array_equal(truth[:, 3], position[last + 6])  # three steps of gap 2 after the last context frame
    assert future_truth(pairs, index, "camera_motion", horizon=3) is None

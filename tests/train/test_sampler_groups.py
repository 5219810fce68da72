"""StepBatchSampler with data.pairs_per_video: batches made of runs of G pairs of one video, every run
used at most once an epoch, reproducible from (seed, epoch), and split across processes by whole runs."""

import numpy as np
import pytest

from worldmodel.config import ConfigError
from worldmodel.train.loop import StepBatchSampler


def test_batches_hold_runs_of_one_video_each_sample_once_an_epoch():
    videos = np.repeat(np.arange(10), [7, 9, 12, 8, 8, 10, 11, 6, 9, 10])  # 90 pairs of 10 videos
    sampler = StepBatchSampler(len(videos), 8, steps=40, seed=3, groups=videos, group_size=4)
    batches = list(sampler)
    assert sampler.per_epoch == sum(n // 4 for n in np.bincount(videos)) * 4 // 8  # 19 runs of 4 → 9 batches
    for batch in batches:
        runs = videos[np.asarray(batch)].reshape(-1, 4)
        assert (runs == runs[:, :1]).all()  # each run of 4 from one video
    epoch = np.concatenate(batches[: sampler.per_epoch])
    assert len(set(epoch.tolist())) == len(epoch)  # no pair twice in an epoch
    assert batches == list(StepBatchSampler(len(videos), 8, steps=40, seed=3, groups=videos, group_size=4))
    assert batches[12:] == list(StepBatchSampler(len(videos), 8, steps=40, seed=3, start=12, groups=videos, group_size=4))
    assert batches[:9] != batches[9:18]  # a new order each epoch


def test_processes_split_by_whole_runs_and_bad_sizes_get_a_config_error():
    videos = np.repeat(np.arange(6), 8)
    whole = list(StepBatchSampler(48, 8, steps=6, seed=0, groups=videos, group_size=2))
    halves = [list(StepBatchSampler(48, 8, steps=6, seed=0, rank=r, world=2, groups=videos, group_size=2)) for r in (0, 1)]
    assert [a + b for a, b in zip(*halves)] == whole
    with pytest.raises(ConfigError, match="pairs_per_video 3 does not divide"):
        StepBatchSampler(48, 8, steps=6, seed=0, groups=videos, group_size=3)
    with pytest.raises(ConfigError, match="pairs_per_video 2 needs a dataset of videos"):
        StepBatchSampler(48, 8, steps=6, seed=0, groups=None, group_size=2)
    with pytest.raises(ConfigError, match="too few runs"):
        StepBatchSampler(48, 8, steps=6, seed=0, groups=np.arange(48), group_size=2)

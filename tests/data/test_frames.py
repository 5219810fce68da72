"""FramePairs: clip contents, alignment, splits, determinism across DataLoader workers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from framestores import make_store
from torch.utils.data import DataLoader, DistributedSampler

from worldmodel.data.batched import passthrough_collate
from worldmodel.data.frames import FramePairs, split_videos
from worldmodel.data.store import DatasetFolderError

LENGTHS = [12, 7, 20, 9, 15]


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "store", LENGTHS)


@pytest.mark.parametrize("k, d, stride", [(1, 1, 1), (3, 2, 1), (2, 5, 3)])
def test_every_pair_holds_the_right_frames_and_never_spans_two_videos(store, k, d, stride):
    pairs = FramePairs(store, context=k, gap=d, split="all", stride=stride)
    assert len(pairs) == sum(len(range(0, n - k - d + 1, stride)) for n in LENGTHS)
    batch = pairs.__getitems__(list(range(len(pairs))))
    offsets = np.cumsum([0, *LENGTHS])
    first = offsets[batch["video"].numpy()] + batch["start"].numpy()
    expected_context = (first[:, None] + np.arange(k)) % 251
    np.testing.assert_array_equal(batch["context"][:, :, 0, 0, 0].numpy(), expected_context)
    np.testing.assert_array_equal(batch["target"][:, :, 0, 0, 0].numpy(), (first[:, None] + d + np.arange(k)) % 251)
    assert batch["context"].shape == (len(pairs), k, 1, 4, 4) and batch["context"].dtype == torch.uint8
    last_target = batch["start"].numpy() + d + k - 1
    assert np.all(last_target < np.array(LENGTHS)[batch["video"].numpy()])
    np.testing.assert_array_equal(batch["gt_index"].numpy(), first + k - 1)  # aligned to the last context frame
    step = 1 + np.arange(offsets[-1]) % 3
    action = [step[f + k : f + k + d].sum() for f in first]  # the d steps after the last context frame
    np.testing.assert_array_equal(batch["action"][:, 0].numpy(), action)


def test_single_items_match_batches(store):
    pairs = FramePairs(store, context=2, gap=1)
    batch = pairs.__getitems__([3, 0])
    item = pairs[3]
    assert set(item) == set(batch)
    for key in batch:
        assert torch.equal(item[key], batch[key][0])
    assert item["video"].dtype == torch.int64 and item["action"].dtype == torch.float32
    with pytest.raises(IndexError):
        pairs[len(pairs)]


def test_splits_are_by_video_disjoint_and_deterministic(store):
    train, test = FramePairs(store, split="train"), FramePairs(store, split="test")
    assert set(train.video.tolist()).isdisjoint(test.video.tolist())
    assert set(train.video.tolist()) | set(test.video.tolist()) == set(range(len(LENGTHS)))
    assert len(train) + len(test) == len(FramePairs(store, split="all"))
    assert split_videos(5, "test").tolist() == split_videos(5, "test").tolist()
    assert [len(split_videos(n, "test")) for n in (1, 2, 10, 100)] == [0, 1, 2, 20]


def test_named_test_videos_are_exactly_what_is_held_out(store):
    test, train = (FramePairs(store, split=split, test_videos=["v1", "v4"]) for split in ("test", "train"))
    assert sorted(set(test.video.tolist())) == [1, 4] and sorted(set(train.video.tolist())) == [0, 2, 3]
    assert test.parts() == ["v1", "v4"] and len(test) == (7 - 1) + (15 - 1)
    with pytest.raises(DatasetFolderError, match=r"data.test_videos: \['v9'\] not in .*ids: v0, v1"):
        FramePairs(store, split="test", test_videos=["v9"])


def test_time_blocks_hold_out_stretches_of_every_video_and_no_pair_crosses_them(store):
    k, d, block = 2, 1, 5
    test, train = (FramePairs(store, context=k, gap=d, split=split, split_by="time", time_block=block, test_fraction=0.3)
                   for split in ("test", "train"))
    offsets = np.cumsum([0, *LENGTHS])
    held = {(v, f) for v, s in zip(test.video, test.start) for f in range(s, s + k + d)}
    kept = {(v, f) for v, s in zip(train.video, train.start) for f in range(s, s + k + d)}
    assert held.isdisjoint(kept) and held and kept
    for pairs in (test, train):  # every pair lies inside one stretch of its split (neighbouring blocks merged)
        video, begin, end = pairs.segments
        inside = (pairs.video[:, None] == video) & (pairs.start[:, None] >= begin) & (pairs.start[:, None] + k + d <= end)
        assert np.all(inside.sum(1) == 1) and np.all(begin % block == 0)
    blocks = [-(-n // block) for n in LENGTHS]  # 3, 2, 4, 2, 3 blocks: round(0.3 · blocks) ≥ 1 of each held out
    video, begin, end = test.segments
    held_blocks = [sum(-(-(e - b) // block) for vv, b, e in zip(video, begin, end) if vv == v) for v in range(5)]
    assert held_blocks == [max(1, round(0.3 * b)) for b in blocks]
    assert all("[" in part for part in test.parts()) and np.all(test.first == offsets[test.video] + test.start)
    again = FramePairs(store, context=k, gap=d, split="test", split_by="time", time_block=block, test_fraction=0.3)
    assert np.array_equal(again.first, test.first)


def test_shots_of_one_source_are_held_out_together(tmp_path):
    sources = ["a.mp4", "a.mp4", "b.mp4", "c.mp4", "c.mp4", "c.mp4", "d.mp4", "e.mp4", "f.mp4", "g.mp4"]
    folder = make_store(tmp_path / "shots", [6] * len(sources), sources=sources)
    test, train = (FramePairs(folder, split=split, test_fraction=0.3) for split in ("test", "train"))
    held = {sources[v] for v in test.video}
    assert len(held) == round(0.3 * 7) and held.isdisjoint(sources[v] for v in train.video)


def test_batches_do_not_depend_on_the_number_of_workers(store):
    pairs = FramePairs(store, context=2, gap=2, split="all")
    loaders = [DataLoader(pairs, batch_size=8, num_workers=w, collate_fn=passthrough_collate) for w in (0, 2)]
    for one, two in zip(*loaders, strict=True):
        assert one.keys() == two.keys()
        assert all(torch.equal(one[key], two[key]) for key in one)


def test_short_videos_are_skipped_with_a_warning_and_too_long_clips_fail(store):
    with pytest.warns(UserWarning, match="skipped 2 of 5 'all' videos shorter than 11"):
        pairs = FramePairs(store, context=1, gap=10, split="all")
    assert sorted(set(pairs.video.tolist())) == [0, 2, 4]
    with pytest.raises(DatasetFolderError, match="needs context \\+ gap = 25 frames; the longest of the 5 'all' videos has 20"):
        FramePairs(store, context=5, gap=20, split="all")


def test_a_pickled_dataset_reopens_its_store(store):
    """What DataLoader workers started with 'spawn' receive."""
    pairs = FramePairs(store, context=2, gap=1, split="all")
    copy = pickle.loads(pickle.dumps(pairs))
    one, two = pairs.__getitems__([0, 9, 30]), copy.__getitems__([0, 9, 30])
    assert all(torch.equal(one[key], two[key]) for key in one)


def test_ranks_of_a_distributed_run_split_the_pairs_deterministically(store):
    pairs = FramePairs(store, context=2, gap=1, split="all")

    def rank_batches(rank: int) -> list[dict[str, torch.Tensor]]:
        sampler = DistributedSampler(pairs, num_replicas=2, rank=rank, shuffle=True, seed=0, drop_last=True)
        sampler.set_epoch(3)
        return list(DataLoader(pairs, batch_size=4, sampler=sampler, collate_fn=passthrough_collate))

    first, again = rank_batches(0), rank_batches(0)
    assert all(torch.equal(a["context"], b["context"]) for a, b in zip(first, again, strict=True))
    seen = [(v, s) for rank in (0, 1) for batch in rank_batches(rank) for v, s in zip(batch["video"].tolist(), batch["start"].tolist())]
    assert len(seen) == len(set(seen)) == len(pairs) // 2 * 2

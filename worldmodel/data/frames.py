"""Frame-pair datasets over a frame store (written by ``python -m data_prep videos|mmnist|camera-pan``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from worldmodel.data.batched import BatchedDataset
from worldmodel.data.store import DatasetFolderError, FrameStore

SPLITS = ("train", "test", "all")


def split_videos(num_videos: int, split: str, test_fraction: float = 0.2, seed: int = 0,
                 groups: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of the videos in ``split``: a seeded permutation of the G groups (``groups`` (V,)
    int64, a group number per video, e.g. its source; default each video its own) puts
    max(1, round(test_fraction · G)) groups in ``test`` (none when G = 1), the rest in ``train``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    if split == "all":
        return np.arange(num_videos)
    groups = np.arange(num_videos) if groups is None else np.asarray(groups)
    count = int(groups.max(initial=-1)) + 1
    num_test = max(1, round(test_fraction * count)) if count > 1 else 0
    test = np.isin(groups, np.random.default_rng(seed).permutation(count)[:num_test])
    return np.flatnonzero(test if split == "test" else ~test)


def video_names(row: dict) -> set[str]:
    """The names a ``test_videos`` entry may use for a manifest row: its id, its source, its path's file stem."""
    return {str(row.get(key)) for key in ("id", "source") if row.get(key)} | {Path(str(row.get("path", ""))).stem}


def named_videos(rows: list[dict], names: list[str], split: str, where: str) -> np.ndarray:
    """Sorted indices of the videos in ``split`` when exactly the videos ``names`` are held out."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    known = [video_names(row) for row in rows]
    unknown = [name for name in names if not any(name in k for k in known)]
    if unknown:
        some = ", ".join(sorted({str(row["id"]) for row in rows})[:8])
        raise DatasetFolderError(f"data.test_videos: {unknown} not in {where}/manifest.csv (ids: {some}, …)")
    test = np.array([bool(k & set(names)) for k in known], dtype=bool)
    if split == "all":
        return np.arange(len(rows))
    return np.flatnonzero(test if split == "test" else ~test)


def time_blocks(lengths: np.ndarray, split: str, block: int, test_fraction: float = 0.2,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments (video, begin, end), each (S,) int64, of ``split`` when every video is cut into blocks
    of ``block`` frames (the last one shorter) and a seeded max(1, round(test_fraction · blocks)) of
    each video's blocks (none of a one-block video) are held out as ``test``; neighbouring blocks of
    one split are merged."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    rng = np.random.default_rng(seed)
    video, begin, end = [], [], []
    for v, length in enumerate(lengths):
        blocks = -(-int(length) // block)
        num_test = max(1, round(test_fraction * blocks)) if blocks > 1 else 0
        test = np.isin(np.arange(blocks), rng.permutation(blocks)[:num_test])
        keep = np.ones(blocks, bool) if split == "all" else (test if split == "test" else ~test)
        for b in np.flatnonzero(keep):
            if begin and video[-1] == v and end[-1] == b * block:  # the block just before, same split: merge
                end[-1] = min((b + 1) * block, int(length))
            else:
                video.append(v), begin.append(b * block), end.append(min((b + 1) * block, int(length)))
    return tuple(np.asarray(a, dtype=np.int64) for a in (video, begin, end))


def clip_index(lengths: np.ndarray, span: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(video (S,), start (S,)): every clip of ``span`` frames starting at a multiple of
    ``stride`` that fits inside its video, in video then start order."""
    starts = [np.arange(0, max(n - span + 1, 0), stride) for n in lengths]
    video = np.repeat(np.arange(len(lengths)), [len(s) for s in starts])
    return video.astype(np.int64), np.concatenate(starts or [np.zeros(0)]).astype(np.int64)


class FramePairs(BatchedDataset):
    """(context clip, target clip) pairs from the videos of one split.

    Sample i is video ``video[i]`` from frame ``start[i]``: ``context`` = frames start … start+k−1,
    ``target`` = frames start+d … start+d+k−1, both (k, C, H, W) uint8; no pair spans two videos.
    Ground truth ``gt_<name>`` (float32) is taken at the last context frame; ``action`` (A,)
    float32, when the store defines one, is the sum of its ``sum_of`` array over the d frames
    after the last context frame (e.g. the velocity change or camera displacement: row t holds
    what arrived at frame t), or, when the store's action is ``aligned: after`` (simulators: row t
    holds the action applied between frame t and t + 1), over the d frames from the last context
    frame on. ``video``
    and ``start`` are int64. Videos shorter than k + d frames are skipped with a warning.

    The order is fixed (video, then start), so batches do not depend on the number of
    DataLoader workers or processes; batches come from ``__getitems__`` (one ``pread`` per run of
    consecutive frames, see :class:`~worldmodel.data.store.FrameStore`) with ``collate_fn=passthrough_collate``.
    """

    def __init__(
        self,
        folder: str | Path,
        context: int = 1,
        gap: int = 1,
        split: str = "train",
        stride: int = 1,
        test_fraction: float = 0.2,
        seed: int = 0,
        split_by: str = "video",
        test_videos: list[str] | tuple[str, ...] = (),
        time_block: int = 64,
    ) -> None:
        if context < 1 or gap < 1 or stride < 1:
            raise ValueError(f"context, gap and stride must be ≥ 1, got {context}, {gap}, {stride}")
        if split_by not in ("video", "time"):
            raise ValueError(f"split_by must be 'video' or 'time', got '{split_by}'")
        self.context, self.gap = context, gap
        self.store = FrameStore(folder)
        segment_video, segment_begin, segment_end = self._segments(split, test_fraction, seed, split_by, list(test_videos), time_block)
        lengths = segment_end - segment_begin
        span = context + gap
        what = "segments" if split_by == "time" else "videos"
        if not np.any(lengths >= span):
            raise DatasetFolderError(
                f"{folder}: a pair needs context + gap = {span} frames; the longest of the {len(lengths)} "
                f"'{split}' {what} has {lengths.max(initial=0)}"
            )
        if np.any(lengths < span):
            warnings.warn(f"{folder}: skipped {np.sum(lengths < span)} of {len(lengths)} '{split}' {what} shorter than {span} frames")
        local, start = clip_index(lengths, span, stride)
        self.segments = (segment_video, segment_begin, segment_end)
        self.video, self.start = segment_video[local], segment_begin[local] + start
        self.first = self.store.offsets[self.video] + self.start  # global index of the first context frame
        self._action = self._action_cumsum()
        self._action_from = 0 if self.store.action.get("aligned") == "after" else 1

    def _segments(self, split: str, test_fraction: float, seed: int, split_by: str, test_videos: list[str],
                  time_block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(video, begin, end) (S,) int64: the stretches of frames that make up ``split``."""
        lengths = np.diff(self.store.offsets)
        if split_by == "time":
            return time_blocks(lengths, split, time_block, test_fraction, seed)
        if test_videos:
            videos = named_videos(self.store.videos, test_videos, split, str(self.store.folder))
        else:  # shots cut from one source video are held out together
            numbers: dict[str, int] = {}  # a group per source, numbered in order of appearance
            groups = [numbers.setdefault(row.get("source") or f"#{i}", len(numbers)) for i, row in enumerate(self.store.videos)]
            videos = split_videos(len(lengths), split, test_fraction, seed, np.asarray(groups, dtype=np.int64))
        return videos, np.zeros(len(videos), np.int64), lengths[videos]

    def parts(self) -> list[str]:
        """What this split holds, by manifest ``id``: ``"id"`` for a whole video, ``"id[begin:end]"`` for a
        stretch of one (``split_by: time``)."""
        video, begin, end = self.segments
        lengths = np.diff(self.store.offsets)
        return [str(self.store.videos[v]["id"]) + ("" if b == 0 and e == lengths[v] else f"[{b}:{e}]")
                for v, b, e in zip(video, begin, end)]

    def _action_cumsum(self) -> np.ndarray | None:
        """(N + 1, A) float64 running sum of the action's source array, or None."""
        spec = self.store.action
        if not spec:
            return None
        source = self.store.ground_truth.get(spec["sum_of"])
        if source is None:
            raise DatasetFolderError(f"{self.store.folder}/meta.json: action sums 'gt_{spec['sum_of']}', which is not listed")
        steps = np.asarray(source, dtype=np.float64).reshape(len(source), -1)
        return np.concatenate([np.zeros((1, steps.shape[1])), np.cumsum(steps, axis=0)])

    def __len__(self) -> int:
        return len(self.first)

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        first = self.first[idx]
        frame_index = first[:, None] + np.concatenate([np.arange(self.context), self.gap + np.arange(self.context)])
        clips = self.store.gather(frame_index).transpose(0, 1, 4, 2, 3)  # (B, 2k, C, H, W)
        last = first + self.context - 1
        batch = {
            "context": torch.from_numpy(np.ascontiguousarray(clips[:, : self.context])),
            "target": torch.from_numpy(np.ascontiguousarray(clips[:, self.context :])),
        }
        if self._action is not None:
            begin = last + self._action_from
            batch["action"] = torch.from_numpy((self._action[begin + self.gap] - self._action[begin]).astype(np.float32))
        for name, array in self.store.ground_truth.items():
            batch[f"gt_{name}"] = torch.from_numpy(np.asarray(array[last], dtype=np.float32))
        batch["video"] = torch.from_numpy(self.video[idx])
        batch["start"] = torch.from_numpy(self.start[idx])
        return batch

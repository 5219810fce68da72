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


def split_videos(num_videos: int, split: str, test_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Sorted indices of the videos in ``split``: a seeded permutation puts
    max(1, round(test_fraction · V)) videos in ``test`` (none when V = 1), the rest in ``train``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    if split == "all":
        return np.arange(num_videos)
    num_test = max(1, round(test_fraction * num_videos)) if num_videos > 1 else 0
    test = np.random.default_rng(seed).permutation(num_videos)[:num_test]
    chosen = test if split == "test" else np.setdiff1d(np.arange(num_videos), test)
    return np.sort(chosen)


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
    ) -> None:
        if context < 1 or gap < 1 or stride < 1:
            raise ValueError(f"context, gap and stride must be ≥ 1, got {context}, {gap}, {stride}")
        self.context, self.gap = context, gap
        self.store = FrameStore(folder)
        videos = split_videos(len(self.store.videos), split, test_fraction, seed)
        lengths = np.diff(self.store.offsets)[videos]
        span = context + gap
        if not np.any(lengths >= span):
            raise DatasetFolderError(
                f"{folder}: a pair needs context + gap = {span} frames; the longest of the {len(videos)} "
                f"'{split}' videos has {lengths.max(initial=0)}"
            )
        if np.any(lengths < span):
            warnings.warn(f"{folder}: skipped {np.sum(lengths < span)} of {len(videos)} '{split}' videos shorter than {span} frames")
        local, self.start = clip_index(lengths, span, stride)
        self.video = videos[local]
        self.first = self.store.offsets[self.video] + self.start  # global index of the first context frame
        self._action = self._action_cumsum()
        self._action_from = 0 if (self.store.meta.get("action") or {}).get("aligned") == "after" else 1

    def _action_cumsum(self) -> np.ndarray | None:
        """(N + 1, A) float64 running sum of the action's source array, or None."""
        spec = self.store.meta.get("action")
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

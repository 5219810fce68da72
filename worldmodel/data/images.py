"""Image-pair datasets (written by ``python -m data_prep image-pairs``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from worldmodel.data.batched import BatchedDataset
from worldmodel.data.store import DatasetFolderError, FrameStore, open_array

KIND = "image_pairs"


class ImagePairs(BatchedDataset):
    """(context image, target image) pairs of one split (``train``, ``test``, ``ood`` or ``all``).

    A sample: ``context`` and ``target`` (1, C, H, W) uint8 (a one-frame clip, like
    :class:`~worldmodel.data.frames.FramePairs` with k = 1), ``gt_<name>`` float32 per-pair
    ground truth from the extra columns of pairs.csv and per-image ground truth of the context
    image (e.g. a digit's label and stroke attributes), ``pair`` int64 row in the folder.
    """

    def __init__(self, folder: str | Path, split: str = "train") -> None:
        self.store = FrameStore(folder, kind=KIND)
        splits = self.store.meta["splits"]
        if split not in (*splits, "all"):
            raise DatasetFolderError(f"{folder}: no split '{split}'; expected one of {[*splits, 'all']}")
        codes = open_array(folder, "split", mmap=False)
        self.pairs = np.flatnonzero(codes == splits[split]) if split != "all" else np.arange(len(codes))
        self.images = {end: open_array(folder, f"pair_{end}", mmap=False) for end in ("context", "target")}
        self.ground_truth = {name: open_array(folder, f"pair_gt_{name}", mmap=False) for name in self.store.meta["pair_ground_truth"]}
        if both := sorted(set(self.ground_truth) & set(self.store.ground_truth)):
            raise DatasetFolderError(f"{folder}: ground truth {both} is both per pair and per image; expected one of the two")
        for name, array in {**self.images, **self.ground_truth}.items():
            if len(array) != len(codes):
                raise DatasetFolderError(f"{folder}: '{name}' has {len(array)} rows, 'split.npy' has {len(codes)}")
        for end, index in self.images.items():
            if len(index) and not 0 <= index.min() <= index.max() < len(self.store.frames):
                raise DatasetFolderError(f"{folder}/pair_{end}.npy: image index outside 0 … {len(self.store.frames) - 1}")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        rows = self.pairs[np.asarray(indices, dtype=np.int64)]
        batch = {}
        for end, index in self.images.items():
            images = self.store.gather(index[rows][:, None])  # (B, 1, H, W, C)
            batch[end] = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 1, 4, 2, 3)))
        for name, array in self.ground_truth.items():
            batch[f"gt_{name}"] = torch.from_numpy(array[rows].astype(np.float32))
        for name, array in self.store.ground_truth.items():
            batch[f"gt_{name}"] = torch.from_numpy(np.asarray(array[self.images["context"][rows]], dtype=np.float32))
        batch["pair"] = torch.from_numpy(rows)
        return batch

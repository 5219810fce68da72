"""Numerical pair datasets (written by ``python -m data_prep numerical``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from worldmodel.data.store import DatasetFolderError, open_array, read_meta


class NumericPairs(Dataset):
    """Pairs (x, x⁺) of one split, with the true latents as ground truth.

    A sample: ``context`` x (d,), ``target`` x⁺ (d,), ``action`` z⁺ − z (d,) (the true change,
    used by the oracle latent), ``gt_z`` z (d,), ``gt_z_pos`` z⁺ (d,), ``gt_mode`` () int64.
    ``__getitems__`` returns the same keys batched along a leading B dimension.
    """

    def __init__(self, folder: str | Path, split: str = "train") -> None:
        meta = read_meta(folder, kind="numerical")
        if split not in meta["splits"]:
            raise DatasetFolderError(f"{folder}: no split '{split}'; expected one of {list(meta['splits'])}")
        codes = open_array(folder, "split", mmap=False)
        self.indices = np.flatnonzero(codes == meta["splits"][split])
        arrays = {name: open_array(folder, name, mmap=False) for name in ("x", "x_pos", "z", "z_pos", "mode")}
        for name, array in arrays.items():
            if len(array) != len(codes):
                raise DatasetFolderError(f"{folder}: '{name}.npy' has {len(array)} rows, 'split.npy' has {len(codes)}")
        take = lambda a: torch.from_numpy(np.ascontiguousarray(a[self.indices]))
        z, z_pos = take(arrays["z"]), take(arrays["z_pos"])
        self.tensors = {
            "context": take(arrays["x"]),
            "target": take(arrays["x_pos"]),
            "action": z_pos - z,
            "gt_z": z,
            "gt_z_pos": z_pos,
            "gt_mode": take(arrays["mode"]),
        }

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(indices)
        return {k: v[idx] for k, v in self.tensors.items()}

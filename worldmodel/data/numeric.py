"""Numerical pair datasets (written by ``python -m data_prep numerical``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from worldmodel.data.store import DatasetFolderError, open_array, read_meta

# The conditional law of the numerical process (written by ``data_prep numerical``, whose meta.json
# records its parameters); readers need it to score sampled spreads against the truth.

def noise_std(z: np.ndarray, w_sigma: np.ndarray, noise_scale: float, hetero: float) -> np.ndarray:
    """σ(z) = noise_scale · exp(hetero · tanh(w_σᵀ z)): (N, d) → (N, 1)."""
    return noise_scale * np.exp(hetero * np.tanh(z @ w_sigma))[:, None]


def mode_probabilities(z: np.ndarray, w_pi: np.ndarray, sharpness: float) -> np.ndarray:
    """softmax(sharpness · W_π z): (N, d) → (N, K)."""
    logits = sharpness * z @ w_pi.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def true_conditional_std(meta: dict, z: np.ndarray) -> np.ndarray:
    """Std of z⁺ given z (N, d) → (N, d) of the numerical generator whose ``meta.json`` is ``meta``:
    factor j changes by σ(z) ε with the probability P(j ∈ S_k), so its std is σ(z) · sqrt(P(j ∈ S_k))."""
    options, process = meta["options"], meta["process"]
    sigma = noise_std(z, np.asarray(process["noise_direction"]), options["noise_scale"], options["hetero"])
    probs = mode_probabilities(z, np.asarray(process["mode_weights"]), options["mode_sharpness"])
    return sigma * np.sqrt(probs @ np.asarray(process["mode_blocks"]))


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

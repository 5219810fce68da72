"""Pairwise similarities between predictions and targets, shared by the InfoNCE family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pairwise_similarity(pred: Tensor, target: Tensor, kind: str, weights: Tensor | None = None) -> Tensor:
    """Similarity of every prediction with every target.

    Args:
        pred: (N, D) predictions.
        target: (M, D) targets.
        kind: ``"cosine"``: sim_ij = Σ_k w_k p̂_ik t̂_jk with p̂, t̂ unit-normalised;
            ``"l2"``: sim_ij = −Σ_k w_k (p_ik − t_jk)².
        weights: optional (D,) non-negative per-dimension weights w (default all ones).

    Returns:
        (N, M) similarity matrix.
    """
    if kind == "cosine":
        pred, target = F.normalize(pred, dim=-1), F.normalize(target, dim=-1)
        if weights is not None:
            pred = pred * weights
        return pred @ target.T
    if kind == "l2":
        if weights is not None:
            root = weights.sqrt()
            pred, target = pred * root, target * root
        # ‖p‖² + ‖t‖² − 2 p·t, clamped at 0 against rounding.
        sq = pred.pow(2).sum(-1, keepdim=True) + target.pow(2).sum(-1) - 2 * pred @ target.T
        return -sq.clamp_min(0)
    raise ValueError(f"similarity kind {kind!r}; expected 'cosine' or 'l2'")


def at_least_fp32(x: Tensor) -> Tensor:
    """Upcast half-precision tensors (autocast outputs) to float32; float64 stays float64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))

"""SimSiam (Chen & He, 2021) on prediction pairs: a predictor head and a stop-gradient.

Two switches give the collapsing variants studied by the centre-vector paper:
``simsiam_predictor=False`` (identity head) and ``simsiam_stop_gradient=False``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def negative_cosine(pred: Tensor, target: Tensor) -> Tensor:
    """Mean of −cos(pred, target) over all leading axes: ``(..., D), (..., D) -> ()``.

    Computed in at least float32, so that it is safe under bf16 / fp16 autocast.
    """
    dtype = torch.promote_types(pred.dtype, torch.float32)
    return -F.cosine_similarity(pred.to(dtype), target.to(dtype), dim=-1).mean()


def prediction_head(dim: int, hidden: int) -> nn.Module:
    """SimSiam's bottleneck MLP h: ``(B, dim) -> (B, dim)``, Linear-BN-ReLU-Linear."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, dim))


class SimSiam(nn.Module):
    """loss = (1/V) Σ_v (1/B) Σ_i −cos(h(p_{v,i}), sg(t_{v,i})).

    h is :func:`prediction_head` (or the identity without a predictor), sg the stop-gradient
    (or the identity without it). With V = 2 directions this is SimSiam's symmetric loss
    ½ D(h(z₁), sg(z₂)) + ½ D(h(z₂), sg(z₁)). The target comes from the online encoder.

    Shapes: pred, target, context ``(V, B, D)`` -> scalar. ``context`` is unused.
    """

    needs_ema_target: bool = False

    def __init__(self, dim: int, cfg) -> None:
        super().__init__()
        self.head = prediction_head(dim, cfg.hidden) if cfg.simsiam_predictor else nn.Identity()
        self.stop_gradient = cfg.simsiam_stop_gradient

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        heads = torch.stack([self.head(view) for view in pred])  # BatchNorm statistics per view
        if self.stop_gradient:
            target = target.detach()
        return negative_cosine(heads, target)

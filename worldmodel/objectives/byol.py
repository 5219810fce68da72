"""BYOL: an online prediction head regressed onto an EMA target's embedding.

    L = mean_{v,i} (2 − 2 cos(q(pred_vi), sg(target_vi)))

where q is the two-layer :func:`prediction_head` (or the identity with ``byol_predictor=False``,
the variant that collapses) and the target comes from an EMA copy of the encoder (the world model
owns the EMA; this module only states that it needs one).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from worldmodel.objectives.similarity import at_least_fp32


def prediction_head(dim: int, hidden: int) -> nn.Module:
    """The bottleneck MLP q of BYOL and SimSiam: ``(B, dim) -> (B, dim)``, Linear-BN-ReLU-Linear."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, dim))


class BYOL(nn.Module):
    """BYOL's regression loss between the online prediction head and a stop-gradient EMA target.

    Shapes: pred, target, context (V, B, D) → scalar. ``context`` is unused.

    Reference:
        Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning. Jean-Bastien Grill,
        Florian Strub, Florent Altché, Corentin Tallec, Pierre H. Richemond, et al. NeurIPS 2020.
        https://arxiv.org/abs/2006.07733
    """

    needs_ema_target = True

    def __init__(self, dim: int, cfg) -> None:
        super().__init__()
        self.head = prediction_head(dim, cfg.hidden) if cfg.byol_predictor else nn.Identity()

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        views, batch, dim = pred.shape
        online = self.head(pred.reshape(-1, dim))
        cos = F.cosine_similarity(at_least_fp32(online), at_least_fp32(target.reshape(-1, dim).detach()), dim=-1)
        return (2 - 2 * cos).mean()

"""BYOL: an online prediction head regressed onto an EMA target's embedding.

    L = mean_{v,i} (2 − 2 cos(q(pred_vi), sg(target_vi)))

where q is SimSiam's two-layer :func:`~worldmodel.objectives.simsiam.prediction_head` (or the
identity with ``byol_predictor=False``, the variant that collapses) and the target comes from an
EMA copy of the encoder (the world model owns the EMA; this module only states that it needs one).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from worldmodel.objectives.similarity import at_least_fp32
from worldmodel.objectives.simsiam import prediction_head


class BYOL(nn.Module):
    """Shapes: pred, target, context (V, B, D) → scalar."""

    needs_ema_target = True

    def __init__(self, dim: int, cfg) -> None:
        super().__init__()
        self.head = prediction_head(dim, cfg.hidden) if cfg.byol_predictor else nn.Identity()

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        views, batch, dim = pred.shape
        online = self.head(pred.reshape(-1, dim))
        cos = F.cosine_similarity(at_least_fp32(online), at_least_fp32(target.reshape(-1, dim).detach()), dim=-1)
        return (2 - 2 * cos).mean()

"""Self-supervised objectives: small modules scoring predictions against targets.

Every objective follows one interface::

    objective(pred, target, context) -> scalar loss
        pred:    (V, B, D) predictions t(f(x), r) for V directions (V=2: x→x⁺ and x⁺→x)
        target:  (V, B, D) embeddings each prediction aims at
        context: (V, B, D) online embeddings the predictions started from

and a class attribute ``needs_ema_target`` saying whether targets come from an EMA encoder.
"""

from __future__ import annotations

from torch import nn

from worldmodel.objectives.byol import BYOL
from worldmodel.objectives.infonce import AnInfoNCE, HInfoNCE, InfoNCE

OBJECTIVES: dict[str, type[nn.Module]] = {
    "infonce": InfoNCE,
    "aninfonce": AnInfoNCE,
    "hinfonce": HInfoNCE,
    "byol": BYOL,
}


def build_objective(dim: int, cfg) -> nn.Module:
    """Objective named by ``cfg.kind`` (an :class:`~worldmodel.config.ObjectiveConfig`) for D=dim embeddings."""
    return OBJECTIVES[cfg.kind](dim, cfg)

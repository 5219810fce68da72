"""The centre-vector paper's simple objective: invariance plus a centre-vector penalty.

No negatives, no predictor head, no EMA target, no stop-gradient.
"""

from __future__ import annotations

from torch import Tensor, nn

from worldmodel.objectives.centre import centre_vector
from worldmodel.objectives.simsiam import negative_cosine


class CentrePenalty(nn.Module):
    """loss = (1/V) Σ_v (1/B) Σ_i −cos(p_{v,i}, t_{v,i})  +  λ ‖s‖²,   s = centre_vector(context).

    The paper writes L_simple(f) = 0.5 (L(f) − λ_L s), to be maximised: L(f) is the
    invariance (similarity) of the two views, s the centre-vector term, and 0.5 averages the
    two directions. This module minimises the negation: −L(f) is the mean −cos over the
    V = 2 directions, and the centre term is taken as λ‖s‖², the squared norm of the mean of
    the L2-normalised online embeddings (both views, all samples of the batch). It is smooth at
    s = 0, and its gradient for one embedding g is (2λ/VB) (I − ĝĝᵀ) s / ‖g‖, so that descent
    moves every embedding away from the common centre. λ = ``cfg.centre_weight``, default 0.5
    (the best of {0.3, 0.5, 1} on the toy study's tuning seeds 100–102).

    Shapes: pred, target, context ``(V, B, D)`` -> scalar. Target and context keep their
    gradients (the online encoder).
    """

    needs_ema_target: bool = False

    def __init__(self, dim: int, cfg) -> None:
        super().__init__()
        self.centre_weight = cfg.centre_weight

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        return negative_cosine(pred, target) + self.centre_weight * centre_vector(context).pow(2).sum()

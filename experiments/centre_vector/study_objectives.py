"""The objectives of the centre-vector toy study: SimSiam, its two collapsing variants, and the
paper's simple centre-penalised objective. They serve this study only (``toy_study.py``); the
library's objectives are in :mod:`worldmodel.objectives`.

Every objective maps ``pred, target, context`` of shape ``(V, B, D)`` to a scalar loss, as the
library's objectives do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldmodel.objectives.byol import prediction_head
from worldmodel.objectives.centre import centre_vector


def negative_cosine(pred: Tensor, target: Tensor) -> Tensor:
    """Mean of −cos(pred, target) over all leading axes: ``(..., D), (..., D) -> ()``.

    Computed in at least float32, so that it is safe under bf16 / fp16 autocast.
    """
    dtype = torch.promote_types(pred.dtype, torch.float32)
    return -F.cosine_similarity(pred.to(dtype), target.to(dtype), dim=-1).mean()


class SimSiam(nn.Module):
    """loss = (1/V) Σ_v (1/B) Σ_i −cos(h(p_{v,i}), sg(t_{v,i})).

    h is the two-layer :func:`~worldmodel.objectives.byol.prediction_head` (the identity with
    ``predictor=False``), sg the stop-gradient (the identity with ``stop_gradient=False``): the
    two switches give the collapsing variants the centre-vector paper studies. With V = 2
    directions this is SimSiam's symmetric loss ½ D(h(z₁), sg(z₂)) + ½ D(h(z₂), sg(z₁)).

    Shapes: pred, target, context ``(V, B, D)`` -> scalar. ``context`` is unused.

    Reference:
        Exploring Simple Siamese Representation Learning. Xinlei Chen, Kaiming He. CVPR 2021.
        https://arxiv.org/abs/2011.10566
    """

    def __init__(self, dim: int, hidden: int, predictor: bool = True, stop_gradient: bool = True) -> None:
        super().__init__()
        self.head = prediction_head(dim, hidden) if predictor else nn.Identity()
        self.stop_gradient = stop_gradient

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        heads = torch.stack([self.head(view) for view in pred])  # BatchNorm statistics per view
        if self.stop_gradient:
            target = target.detach()
        return negative_cosine(heads, target)


class CentrePenalty(nn.Module):
    """loss = (1/V) Σ_v (1/B) Σ_i −cos(p_{v,i}, t_{v,i})  +  λ ‖s‖²,   s = centre_vector(context).

    The paper's simple objective: no negatives, no predictor head, no EMA target, no
    stop-gradient. The paper writes L_simple(f) = 0.5 (L(f) − λ_L s), to be maximised: L(f) is
    the invariance (similarity) of the two views, s the centre-vector term, and 0.5 averages the
    two directions. This module minimises the negation: −L(f) is the mean −cos over the V = 2
    directions, and the centre term is taken as λ‖s‖², the squared norm of the mean of the
    L2-normalised online embeddings (both views, all samples of the batch). It is smooth at
    s = 0, and its gradient for one embedding g is (2λ/VB) (I − ĝĝᵀ) s / ‖g‖, so that descent
    moves every embedding away from the common centre. λ = ``weight``, default 0.5 (the best of
    {0.3, 0.5, 1} on the toy study's tuning seeds 100–102).

    Shapes: pred, target, context ``(V, B, D)`` -> scalar. Target and context keep their
    gradients (the online encoder).

    Reference:
        The Common Stability Mechanism behind most Self-Supervised Learning Approaches.
        Abhishek Jha, Matthew B. Blaschko, Yuki M. Asano, Tinne Tuytelaars. arXiv 2024.
        https://arxiv.org/abs/2402.14957
    """

    def __init__(self, weight: float = 0.5) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        return negative_cosine(pred, target) + self.weight * centre_vector(context).pow(2).sum()

"""Embedding-space prediction error: keeps t(f(x), r) on the embeddings themselves.

    E = Σ_{v,i} ‖pred_vi − sg(target_vi)‖² / Σ_{v,i} ‖sg(target_vi) − mean_i sg(target_vi)‖²

the fraction of the targets' variance the predictions miss (1 − R² of the prediction, pooled
over dimensions). BYOL compares q(pred) with the target by cosine, so nothing ties the scale or
position of pred to the embeddings; rollouts feed pred back to the predictor and decode it with
probes fitted on embeddings, which then read it off their domain. Adding λ·E (``objective.
embedding_weight``) anchors the prediction. Dividing by the targets' variance makes E invariant
to the scale of the embedding, so the encoder cannot lower it by shrinking.

The per-coordinate variant scores each coordinate against its own spread,

    E_coord = (1/D) Σ_i Σ_{v,b} (pred_vbi − sg(target_vbi))² / Σ_{v,b} (sg(target_vbi) − mean_b sg(target_vbi))²

so a coordinate whose axis is narrow counts as much as a wide one (a coordinate with less than 10⁻³
of the mean spread is scored against that floor, so a dead one cannot dominate).
``objective.coordinate_fit_weight`` applies it to t(sg f(x), r) (:mod:`worldmodel.models.world_model`):
a gradient for r on every coordinate, where InfoNCE's has vanished (an error much smaller than the
distance to the nearest negative leaves the softmax unchanged). With f(x) detached as the prediction's
start, the term never pulls f(x) towards f(x⁺); it reaches the encoder only through what r's
posterior reads. That path can still collapse it: on Breakout, at κ ≥ 1, InfoNCE stayed at chance and
the embeddings shrank to a point (docs/results/simulators.md); watch the collapse alarm.
"""

from __future__ import annotations

from torch import Tensor


def _residual_and_spread(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Shapes: pred, target (V, B, *E) → per coordinate (prod(E),): Σ_{v,b} of the squared miss and of the
    target's squared deviation from its batch mean (no gradient through ``target``)."""
    target = target.detach().float().flatten(2)
    residual = (pred.float().flatten(2) - target).pow(2).sum(dim=(0, 1))
    spread = (target - target.mean(dim=1, keepdim=True)).pow(2).sum(dim=(0, 1))
    return residual, spread


def embedding_prediction_error(pred: Tensor, target: Tensor) -> Tensor:
    """Shapes: pred, target (V, B, D) → scalar E (no gradient through ``target``)."""
    residual, spread = _residual_and_spread(pred, target)
    return residual.sum() / spread.sum().clamp_min(1e-12)


def coordinate_prediction_error(pred: Tensor, target: Tensor) -> Tensor:
    """Shapes: pred, target (V, B, *E) → scalar E_coord, the mean over the prod(E) coordinates of each
    one's 1 − R² (no gradient through ``target``)."""
    residual, spread = _residual_and_spread(pred, target)
    return (residual / spread.clamp_min(1e-3 * spread.mean() + 1e-12)).mean()

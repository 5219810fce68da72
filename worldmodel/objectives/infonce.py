"""InfoNCE (NT-Xent) and its anisotropic and heteroscedastic variants.

All three score every prediction against every target and treat the aligned target as the
positive. With V=2 directions (x→x⁺ and x⁺→x, stacked), the targets of the other direction
are negatives too, except the prediction's own context (which is the other direction's target
at the same batch index): it is masked out, as in SimCLR's NT-Xent. Under several processes
(each with its slice of the global batch) the targets of all processes are gathered with
gradients kept, so every prediction meets the negatives of the whole global batch.

    logits_ij = s_i · sim(pred_i, target_j)           (masked: j = partner(i) → −∞)
    L = −(1/N) Σ_i log softmax_j(logits_i)[i]

With ``logit_clamp`` c > 0 the logits are clamped to [−c, c] before the mask (the authors' code: 20).

InfoNCE: s_i = 1/τ (optionally learnable). AnInfoNCE: sim weighted per dimension by a
learnable diagonal Λ. H-InfoNCE: s_i = softplus(h(context_i)) predicted per sample, a
heteroscedastic model without a latent.

Each class names its paper (a ``Reference:`` line).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldmodel.objectives.distributed import gather_with_grad
from worldmodel.objectives.similarity import at_least_fp32, pairwise_similarity


def info_nce(logits: Tensor, views: int, rank: int = 0, world: int = 1) -> Tensor:
    """Cross-entropy of stacked logits against the aligned targets.

    Args:
        logits: (V·B, V·W·B) scores of this process's V·B predictions against the targets of all
            W processes. Rows are direction-major (v, b); columns are direction-major, then
            process, then batch index (v, r, b), as :func:`gather_with_grad` along the batch
            axis of (V, B, D) targets gives them.
        views: V, the number of stacked directions (1 or 2). With 2, the partner column
            (same sample, other direction) is excluded from the negatives.
        rank, world: this process's index r and the number of processes W; row (v, b) has its
            positive at column (v, r, b).

    Returns:
        scalar mean loss over this process's rows.
    """
    rows = logits.shape[0]
    batch = rows // views
    row = torch.arange(rows, device=logits.device)
    direction, index = row // batch, row % batch
    labels = direction * world * batch + rank * batch + index
    if views == 2:
        partner = torch.zeros_like(logits, dtype=torch.bool)
        partner[row, (1 - direction) * world * batch + rank * batch + index] = True
        logits = logits.masked_fill(partner, float("-inf"))
    return F.cross_entropy(at_least_fp32(logits), labels)


class InfoNCE(nn.Module):
    """NT-Xent with an optional learnable inverse temperature.

    Shapes: pred, target, context (V, B, D) → scalar.

    Reference:
        Representation Learning with Contrastive Predictive Coding. Aaron van den Oord, Yazhe Li,
        Oriol Vinyals. arXiv 2018. https://arxiv.org/abs/1807.03748

        A Simple Framework for Contrastive Learning of Visual Representations. Ting Chen, Simon
        Kornblith, Mohammad Norouzi, Geoffrey Hinton. ICML 2020. https://arxiv.org/abs/2002.05709
    """

    needs_ema_target = False

    def __init__(self, dim: int, cfg) -> None:
        super().__init__()
        self.similarity = cfg.similarity
        self.logit_clamp = cfg.logit_clamp
        log_scale = torch.tensor(math.log(1.0 / cfg.temperature))
        if cfg.learn_temperature:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def dimension_weights(self) -> Tensor | None:
        return None

    def row_scale(self, context: Tensor) -> Tensor:
        """(N, D) contexts → (N, 1) inverse temperatures."""
        return self.log_scale.exp().expand(context.shape[0], 1)

    def forward(self, pred: Tensor, target: Tensor, context: Tensor) -> Tensor:
        views, _, dim = pred.shape
        target, rank, world = gather_with_grad(target, dim=1)  # negatives from every process
        pred, target, context = (t.reshape(-1, dim) for t in (pred, target, context))
        logits = self.row_scale(context) * pairwise_similarity(pred, target, self.similarity, self.dimension_weights())
        if self.logit_clamp > 0:
            logits = logits.clamp(-self.logit_clamp, self.logit_clamp)
        return info_nce(logits, views, rank, world)


class AnInfoNCE(InfoNCE):
    """InfoNCE whose similarity weights each dimension by a learnable Λ = softplus(θ) (init 1).

    Shapes: pred, target, context (V, B, D) → scalar.

    Reference:
        InfoNCE: Identifying the Gap Between Theory and Practice. Evgenia Rusak, Patrik Reizinger,
        Attila Juhos, Oliver Bringmann, Roland S. Zimmermann, Wieland Brendel. arXiv 2024.
        https://arxiv.org/abs/2407.00143
    """

    def __init__(self, dim: int, cfg) -> None:
        super().__init__(dim, cfg)
        self.raw_weights = nn.Parameter(torch.full((dim,), math.log(math.e - 1)))

    def dimension_weights(self) -> Tensor:
        return F.softplus(self.raw_weights)


class HInfoNCE(InfoNCE):
    """Heteroscedastic InfoNCE: a per-sample inverse temperature s(f(x)) = softplus(MLP(f(x))).

    The scale network starts at the fixed InfoNCE temperature (last layer zero, bias set).
    Shapes: pred, target, context (V, B, D) → scalar.

    Reference (why a constant temperature cannot fit paired embeddings on a sphere, Proposition 2.1):
        Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon
        Lee, Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026.
        https://arxiv.org/abs/2602.02381
    """

    def __init__(self, dim: int, cfg) -> None:
        super().__init__(dim, cfg)
        self.scale_net = nn.Sequential(nn.Linear(dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1))
        nn.init.zeros_(self.scale_net[-1].weight)
        inv_softplus = math.log(math.expm1(1.0 / cfg.temperature))
        nn.init.constant_(self.scale_net[-1].bias, inv_softplus)

    def row_scale(self, context: Tensor) -> Tensor:
        return F.softplus(self.scale_net(context)) + 1e-4

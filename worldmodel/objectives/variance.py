"""Variance-covariance term: keeps the encoder's embeddings spread out and decorrelated (VICReg's v and c).

    V = mean_d max(0, 1 − √(Var_i z_id + ε))            (each dimension's std at least 1 over the batch)
    C = Σ_{d≠e} Cov(z)_de² / D                           (off-diagonal covariance, per dimension)

Bardes, Ponce and LeCun, "VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised
Learning" (ICLR 2022), their ν and c terms with equal weight. BYOL and InfoNCE leave nothing that forbids
all embeddings of nearby frames from folding onto a few directions (the centre-vector alarm fires on
Reacher); λ·(V + C) (``objective.variance_weight``) forbids it for any objective. Statistics are over
the batch of one process (VICReg gathers them across processes; with a few processes the batch per
process is large enough for a variance).
"""

from __future__ import annotations

import torch
from torch import Tensor


def variance_covariance(z: Tensor, eps: float = 1e-4) -> tuple[Tensor, Tensor]:
    """Shapes: z (B, D), B ≥ 2 → (V, C), two scalars (module docstring)."""
    z = z.float()
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (len(z) - 1)
    variance = cov.diagonal()
    v = torch.relu(1 - torch.sqrt(variance + eps)).mean()
    c = (cov.pow(2).sum() - variance.pow(2).sum()) / z.shape[1]
    return v, c

"""Centre-vector diagnostics of SSL stability (second seed, "common stability mechanism").

Let ĝ = g / ‖g‖ be an L2-normalised embedding. For N samples seen under V views
(augmentations, or the two frames of a pair) the quantities are

    m_i = (1/V) Σ_v ĝ_{v,i}                      per-sample mean over views, E_ω[ĝ(ω(x_i))]
    s   = (1/N) Σ_i m_i                          centre vector, E_x E_ω[ĝ(ω(x))]
    ‖s‖ ∈ [0, 1]                                 centre norm: 1 for a constant embedding
    ρ   = sqrt((1/N) Σ_i ‖m_i − s‖²)              residual norm (root mean square over samples)

A collapsed encoder has ‖s‖ → 1 and ρ → 0; a healthy one keeps ‖s‖ small and ρ large,
which needs both invariance (views agree, so ‖m_i‖ ≈ 1) and spread (s ≈ 0). With unit
vectors ρ² = (1/N) Σ_i ‖m_i‖² − ‖s‖², so for V = 1 the residual is sqrt(1 − ‖s‖²) and
carries no extra information; pass the views to make it informative.

Embeddings are given as ``(N, D)`` (one view) or ``(V, N, D)`` (V views of the same N
samples).

Reference:
    The Common Stability Mechanism behind most Self-Supervised Learning Approaches. Abhishek Jha,
    Matthew B. Blaschko, Yuki M. Asano, Tinne Tuytelaars. arXiv 2024. https://arxiv.org/abs/2402.14957
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_MAX_CENTRE_NORM = 0.9
DEFAULT_MIN_RESIDUAL_NORM = 0.05


def per_sample_means(embeddings: Tensor) -> Tensor:
    """Per-sample mean of the normalised views, m_i.

    Args:
        embeddings: ``(N, D)`` or ``(V, N, D)``; need not be normalised.
    Returns:
        ``(N, D)``, in at least float32 (half-precision inputs are promoted).
    """
    if embeddings.dim() == 2:
        embeddings = embeddings.unsqueeze(0)
    if embeddings.dim() != 3:
        raise ValueError(f"embeddings: expected shape (N, D) or (V, N, D), got {tuple(embeddings.shape)}")
    embeddings = embeddings.to(torch.promote_types(embeddings.dtype, torch.float32))
    return F.normalize(embeddings, dim=-1).mean(dim=0)


def centre_vector(embeddings: Tensor) -> Tensor:
    """Centre vector s: mean of the normalised embeddings over views and samples.

    Args:
        embeddings: ``(N, D)`` or ``(V, N, D)``.
    Returns:
        ``(D,)``; differentiable with respect to ``embeddings``.
    """
    return per_sample_means(embeddings).mean(dim=0)


def centre_norm(embeddings: Tensor) -> Tensor:
    """‖s‖, a scalar in [0, 1]: 1 for a constant embedding, ≈ 0 for a symmetric set."""
    return centre_vector(embeddings).norm()


def residual_norm(embeddings: Tensor) -> Tensor:
    """Root-mean-square residual ρ = sqrt(mean_i ‖m_i − s‖²), a scalar in [0, 1].

    Args:
        embeddings: ``(N, D)`` or ``(V, N, D)``.
    """
    means = per_sample_means(embeddings)
    return (means - means.mean(dim=0)).pow(2).sum(dim=-1).mean().sqrt()


@dataclass(frozen=True)
class CentreStats:
    """Centre norm ‖s‖ and residual norm ρ of a set of embeddings (plain floats, for logging)."""

    centre_norm: float
    residual_norm: float

    @classmethod
    def of(cls, embeddings: Tensor) -> "CentreStats":
        """Exact statistics of one batch, ``(N, D)`` or ``(V, N, D)``, without gradient."""
        with torch.no_grad():
            return cls(float(centre_norm(embeddings)), float(residual_norm(embeddings)))


def collapse_alarm(stats: CentreStats,
                   max_centre_norm: float = DEFAULT_MAX_CENTRE_NORM,
                   min_residual_norm: float = DEFAULT_MIN_RESIDUAL_NORM) -> Optional[str]:
    """A message if the statistics look like collapse, else ``None``.

    Thresholds: ‖s‖ ≥ 0.9 means two random samples' embeddings have cosine ≈ ‖s‖² ≥ 0.81
    on average (a healthy encoder stays near 0); ρ ≤ 0.05 means the samples' view-averaged
    embeddings are nearly indistinguishable (or the views disagree entirely).
    """
    reasons = []
    if stats.centre_norm >= max_centre_norm:
        reasons.append(f"centre norm {stats.centre_norm:.3f} >= {max_centre_norm}")
    if stats.residual_norm <= min_residual_norm:
        reasons.append(f"residual norm {stats.residual_norm:.3f} <= {min_residual_norm}")
    return "collapse: " + "; ".join(reasons) if reasons else None

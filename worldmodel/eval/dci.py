"""DCI disentanglement (Eastwood & Williams, 2018) of codes against ground-truth factors.

Importance matrix R (D codes × K factors): for every factor, a lasso regression from the
standardised codes to the standardised factor (penalty by cross-validation, folds grouped by
video when ``groups`` is given); R_ik = |w_ik|. Lasso importances (rather than the paper's
random forests) keep it linear like the probes, fast, and exactly zero for unused codes. On
strongly collinear codes coordinate descent may stop at its iteration cap for the smallest
penalties; those fits are kept as they are (the warning is silenced, the path's other penalties
are unaffected and cross-validation picks among all of them). Every fit, including the final one at
the chosen penalty, runs coordinate descent on the Gram matrix XᵀX (``precompute=True``): the same
iterates as on the raw rows, so the same weights up to rounding (the tests hold the two within
1e-6), at O(D²) instead of O(N·D) per sweep; inside
:func:`~worldmodel.eval.probes.reference_solvers` the final fit runs on the raw rows, as
scikit-learn's default does.

- disentanglement D_i = 1 − H_K(P_i·), P_ik = R_ik / Σ_k R_ik (entropy in base K), averaged
  with weights ρ_i = Σ_k R_ik / Σ_ik R_ik: 1 when every used code serves one factor;
- completeness C_k = 1 − H_D(P̃_·k), P̃_ik = R_ik / Σ_i R_ik, averaged uniformly over factors:
  1 when every factor is captured by one code;
- informativeness: the lasso regressions' R² on the test rows, averaged over factors.

Reference:
    A Framework for the Quantitative Evaluation of Disentangled Representations. Cian Eastwood,
    Christopher K. I. Williams. ICLR 2018. https://openreview.net/forum?id=By-7dz-AZ
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LassoCV

from worldmodel.eval.probes import LinearProbe, cv_splits, standardise, using_reference_solvers


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of the distributions along ``axis`` in base ``p.shape[axis]`` (0 … 1)."""
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis) / np.log(p.shape[axis])


def disentanglement_completeness(importance: np.ndarray) -> tuple[float, float]:
    """(D, C) of an importance matrix (codes, factors) with non-negative entries, ≥ 2 of each."""
    if importance.ndim != 2 or min(importance.shape) < 2 or np.any(importance < 0):
        raise ValueError(f"importance: expected a non-negative (codes ≥ 2, factors ≥ 2) matrix, got shape {importance.shape}")
    total = importance.sum()
    if total == 0:
        return 0.0, 0.0
    per_code = importance.sum(1)
    used = per_code > 0
    d = 1 - _normalised_entropy(importance[used] / per_code[used, None], axis=1)
    disentanglement = float((per_code[used] / total * d).sum())
    per_factor = importance.sum(0)
    found = per_factor > 0
    c = np.zeros(importance.shape[1])
    c[found] = 1 - _normalised_entropy(importance[:, found] / per_factor[found], axis=0)
    return disentanglement, float(c.mean())


def lasso_importance(codes: np.ndarray, factors: np.ndarray,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, list[LinearProbe]]:
    """Importance R (D, K) = |lasso weights| between standardised codes (N, D) and each standardised
    factor column of (N, K), and the K lasso fits as probes on the raw codes."""
    scaled, mean, std = standardise(codes)
    splits = cv_splits(len(codes), groups)
    precompute = "auto" if using_reference_solvers() else True
    weights, probes = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for y in factors.T:
            y_scale = y.std() if y.std() > 1e-12 else 1.0
            lasso = LassoCV(alphas=20, eps=1e-2, cv=splits, max_iter=2000, precompute=precompute)
            lasso.fit(scaled, (y - y.mean()) / y_scale)
            coef = lasso.coef_ * y_scale / std
            weights.append(np.abs(lasso.coef_))
            probes.append(LinearProbe(coef[None], np.array([y.mean() + lasso.intercept_ * y_scale - coef @ mean])))
    return np.stack(weights, axis=1), probes


def dci_scores(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray,
               groups: np.ndarray | None = None) -> dict[str, float]:
    """``dci_d``, ``dci_c``, ``dci_i`` of codes (N, D) against factors (N, K): fitted on the train
    rows (folds grouped by ``groups``), informativeness on the test rows."""
    importance, probes = lasso_importance(train_codes, train_factors, groups)
    d, c = disentanglement_completeness(importance)
    informativeness = np.mean([p.r2(test_codes, test_factors[:, [k]]) for k, p in enumerate(probes)])
    return {"dci_d": d, "dci_c": c, "dci_i": float(informativeness)}

"""Does a sparse r switch on exactly the factors that changed? Mask precision and recall per factor.

For data whose ground truth says, per pair, which factors of the change were on (binary columns
``active_<factor>``, e.g. ``python -m data_prep camera-events``) and a sparse latent (AdaSSL-S),
the hard mask of the posterior (coordinate i on where r̄_i ≠ 0) is compared with the true active set:

1. each mask coordinate is assigned, on the train split, to the factor whose on/off it correlates
   with most (φ coefficient, which is Pearson's correlation of two binary variables), or to none
   when no correlation exceeds ``min_correlation`` (a coordinate that never switches, or one that
   switches at random);
2. on the test split, factor j is predicted on when any coordinate assigned to it is on;
   ``mask_precision_<factor>`` = P(on | predicted on), ``mask_recall_<factor>`` = P(predicted on | on),
   ``mask_coords_<factor>`` = how many coordinates it got. A factor with no coordinate has recall 0
   and precision 0.

Next to them, what the encoder allows: ``pair_precision_<factor>`` and ``pair_recall_<factor>`` of
gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``, stopped early on a tenth of
the train pairs) fitted on the train pairs to tell from [f(x), f(x⁺), |f(x⁺) − f(x)|] whether the
factor was on. The mask is inferred from the same two embeddings, so where these are low the
embeddings do not show the move and no mask can follow it; where they are high and the mask's are
not, the latent is at fault.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from worldmodel.models.latents import SparseLatent

PREFIX = "gt_active_"


def phi(masks: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(R, F) correlation of each mask coordinate (masks (N, R) 0/1) with each factor (active (N, F) 0/1);
    0 where either never changes."""
    m, a = masks - masks.mean(0), active - active.mean(0)
    norms = np.sqrt(np.outer((m**2).sum(0), (a**2).sum(0)))
    return np.divide(m.T @ a, norms, out=np.zeros(norms.shape), where=norms > 0)


def mask_factor_scores(train_masks: np.ndarray, train_active: np.ndarray, test_masks: np.ndarray,
                       test_active: np.ndarray, factors: list[str], min_correlation: float = 0.2) -> dict[str, float]:
    """The metrics of the module docstring from hard masks (N, R) and true active sets (N, F), 0/1 arrays."""
    corr = phi(train_masks.astype(float), train_active.astype(float))
    owner = np.where(corr.max(1) > min_correlation, corr.argmax(1), -1)  # (R,) the factor of each coordinate
    metrics = {}
    for j, name in enumerate(factors):
        precision_recall(metrics, "mask", name, test_masks[:, owner == j].any(1), test_active[:, j])
        metrics[f"mask_coords_{name}"] = float((owner == j).sum())
    return metrics


def mask_factor_metrics(model, train: dict, test: dict) -> dict[str, float]:
    """The metrics of the module docstring from the :func:`~worldmodel.eval.readouts.encode_pairs` readouts of
    the train and test pairs (r̄ and ``gt_active_<factor>``); {} for a latent that is not sparse or data
    without ``active_<factor>`` columns."""
    factors = sorted(key[len(PREFIX):] for key in train if key.startswith(PREFIX))
    if not isinstance(model.latent, SparseLatent) or not factors:
        return {}
    train_active, test_active = active_factors(train, factors), active_factors(test, factors)
    metrics = mask_factor_scores(train["r"] != 0, train_active, test["r"] != 0, test_active, factors)
    return metrics | pair_factor_scores(train, test, train_active, test_active, factors)


def active_factors(pairs: dict, factors: list[str]) -> np.ndarray:
    """(N, F) bool: whether each factor was on in each pair, from the readouts' ``gt_active_<factor>``."""
    return np.concatenate([pairs[PREFIX + f] for f in factors], 1) > 0.5


def pair_factor_scores(train: dict, test: dict, train_active: np.ndarray, test_active: np.ndarray,
                       factors: list[str]) -> dict[str, float]:
    """``pair_{precision,recall}_<factor>`` of the module docstring from the readouts' ``embedding`` and
    ``embedding_next`` (N, D) and the true active sets (N, F)."""
    pair = lambda p: np.concatenate([p["embedding"], p["embedding_next"], np.abs(p["embedding_next"] - p["embedding"])], 1)  # noqa: E731
    return tree_factor_scores(pair(train), pair(test), train_active, test_active, factors, "pair")


def tree_factor_scores(train_x: np.ndarray, test_x: np.ndarray, train_active: np.ndarray, test_active: np.ndarray,
                       factors: list[str], name: str) -> dict[str, float]:
    """``<name>_{precision,recall}_<factor>``: per factor, trees fitted on features (N, K) of the train pairs to
    tell whether it was on (active (N, F) 0/1), scored on the test pairs."""
    metrics = {}
    for j, factor in enumerate(factors):
        trees = HistGradientBoostingClassifier(early_stopping=True, random_state=0).fit(train_x, train_active[:, j])
        precision_recall(metrics, name, factor, trees.predict(test_x), test_active[:, j])
    return metrics


def precision_recall(metrics: dict, source: str, factor: str, predicted: np.ndarray, on: np.ndarray) -> None:
    """Adds ``<source>_precision_<factor>`` = P(on | predicted on) and ``<source>_recall_<factor>`` =
    P(predicted on | on) to ``metrics``, from 0/1 arrays (N,); 0 where nothing is predicted or on."""
    predicted, on = predicted.astype(bool), on.astype(bool)
    metrics[f"{source}_precision_{factor}"] = float((predicted & on).sum() / max(predicted.sum(), 1))
    metrics[f"{source}_recall_{factor}"] = float((predicted & on).sum() / max(on.sum(), 1))

"""Latent-action evaluation on datasets with true actions (simulators): does r recover the action?

All probes are ridge probes (:func:`~worldmodel.eval.probes.fit_ridge_probe`) fitted on the train
videos (cross-validation folds grouped by video) and scored (R²) on the held-out test videos.

- ``r2_action_from_r_<column>``: r̄ (the posterior mean) → each true action dimension;
- ``r2_action_inverse_dynamics`` and ``…_<column>``: an inverse-dynamics probe [f(x), f(x⁺)] →
  action, what any embedding gives without a latent (the reference r is compared with);
- ``r2_action_from_r_<p>pct`` and ``few_label_ratio_<p>pct``: r̄ → action fitted on p % of the
  labelled train pairs (a seeded random subset), scored on the test videos, and its ratio to the
  probe fitted on all of them (few-label action decoding as LAPO reports it); the ratio is left out
  when the full probe has no skill (R² ≤ 0), where it would mean nothing;
- ``r2_state_<column>``: f(x) → each column of the per-frame ``state`` array.

Column names come from the dataset's ``meta.json`` (``columns``); without them, ``dim<i>``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from sklearn.metrics import r2_score

from worldmodel.eval.probes import fit_ridge_probe

FEW_LABEL_FRACTIONS = (0.01, 0.1)


def _names(columns: Sequence[str] | None, count: int) -> list[str]:
    return list(columns) if columns and len(columns) == count else [f"dim{i}" for i in range(count)]


def _per_column(prefix: str, names: list[str], truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    scores = r2_score(truth, predicted, multioutput="raw_values")
    return {f"{prefix}_{name}": float(score) for name, score in zip(names, scores)}


def _fit_subset(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, fraction: float, seed: int = 0):
    """A ridge probe fitted on round(fraction · N) (at least 10) random rows."""
    rows = np.random.default_rng(seed).permutation(len(features))[: max(10, round(fraction * len(features)))]
    subset_groups = groups[rows] if len(np.unique(groups[rows])) >= 2 else None
    return fit_ridge_probe(features[rows], targets[rows], subset_groups)


def action_metrics(train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], groups: np.ndarray,
                   columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, float]:
    """The metrics above from :func:`~worldmodel.eval.readouts.encode_pairs` readouts of the train and
    test splits: ``embedding`` (N, D), ``embedding_next`` (N, D), ``r`` (N, R), ``action`` (N, A) and,
    when present, ``gt_state`` (N, S); ``groups`` (N_train,) the video of each train pair;
    ``columns`` {array name: column names} (the dataset's ``meta.json`` ``columns``)."""
    columns = columns or {}
    action, names = train["action"], _names(columns.get("action"), train["action"].shape[1])
    pair = lambda split: np.concatenate([split["embedding"], split["embedding_next"]], axis=1)
    inverse = fit_ridge_probe(pair(train), action, groups)
    metrics = {"r2_action_inverse_dynamics": inverse.r2(pair(test), test["action"])}
    metrics |= _per_column("r2_action_inverse_dynamics", names, test["action"], inverse.predict(pair(test)))
    if train["r"].shape[1]:
        full = fit_ridge_probe(train["r"], action, groups)
        metrics |= _per_column("r2_action_from_r", names, test["action"], full.predict(test["r"]))
        full_r2 = full.r2(test["r"], test["action"])
        for fraction in FEW_LABEL_FRACTIONS:
            tag = f"{fraction * 100:g}pct"
            few = _fit_subset(train["r"], action, groups, fraction).r2(test["r"], test["action"])
            metrics[f"r2_action_from_r_{tag}"] = few
            if full_r2 > 0:
                metrics[f"few_label_ratio_{tag}"] = few / full_r2
    if "gt_state" in train:
        state = fit_ridge_probe(train["embedding"], train["gt_state"], groups)
        state_names = _names(columns.get("state"), train["gt_state"].shape[1])
        metrics |= _per_column("r2_state", state_names, test["gt_state"], state.predict(test["embedding"]))
    return metrics

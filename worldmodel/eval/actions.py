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
- ``r2_action_inverse_dynamics_<p>pct`` and ``few_label_ratio_inverse_dynamics_<p>pct``: the same for the
  inverse-dynamics probe, the reference for r's ratio: an action that r's input, the pair, holds weakly
  and spread over many directions loses more to a probe fitted on few labels, whatever reads it;
- ``r2_state_<column>``: f(x) → each column of the per-frame ``state`` array;
- ``r2_state_change_from_r_<column>``: r̄ → each state column's change from the context's last frame to
  the target's last frame: which changes r carries, next to the action (a body's bob and pitch, a
  camera's move, a joint's turn); columns that never change over a pair (a target fixed for the
  episode) are left out.

Discrete actions (meta.json ``action.discrete``: one-hot columns, e.g. Atari) are also scored as
classes, a pair's class being its most applied action (the argmax of its summed one-hots), by
multinomial logistic probes (:func:`~worldmodel.eval.probes.classifier_accuracy`):
``accuracy_action_from_r``, ``accuracy_action_inverse_dynamics``, ``accuracy_action_from_r_<p>pct``
and ``accuracy_action_majority`` (the test share of the train split's most common class: what a probe
with no skill scores); ``few_label_accuracy_ratio_<p>pct`` is the few-label probe's accuracy above that
share over the full probe's, left out when the full probe is less than ``MIN_EXCESS_ACCURACY`` (5 points)
above it, where the ratio of two small excesses would be noise. ``accuracy_action_{from_r,inverse_dynamics}_nonlinear``:
the same two read-outs by gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``), for
a latent that holds the action in a form no linear map reads (e.g. scaled by the context).

Column names come from the dataset's ``meta.json`` (``columns``); without them, ``dim<i>``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import r2_score

from worldmodel.eval.probes import classifier_accuracy, fit_ridge_probe

FEW_LABEL_FRACTIONS = (0.01, 0.1)
MIN_EXCESS_ACCURACY = 0.05


def _names(columns: Sequence[str] | None, count: int) -> list[str]:
    return list(columns) if columns and len(columns) == count else [f"dim{i}" for i in range(count)]


def _per_column(prefix: str, names: list[str], truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    scores = r2_score(truth, predicted, multioutput="raw_values")
    return {f"{prefix}_{name}": float(score) for name, score in zip(names, scores)}


def _subset(count: int, groups: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """round(fraction · count) (at least 10) seeded random rows and their groups (None if one group)."""
    rows = np.random.default_rng(seed).permutation(count)[: max(10, round(fraction * count))]
    return rows, groups[rows] if len(np.unique(groups[rows])) >= 2 else None


def _fit_subset(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, fraction: float):
    """A ridge probe fitted on :func:`_subset` rows."""
    rows, subset_groups = _subset(len(features), groups, fraction)
    return fit_ridge_probe(features[rows], targets[rows], subset_groups)


def _few_label(r2_key: str, ratio_key: str, features: np.ndarray, features_test: np.ndarray, action: np.ndarray,
               action_test: np.ndarray, groups: np.ndarray, full_r2: float) -> dict[str, float]:
    """``<r2_key>_<p>pct``: the ridge probe features (N, F) → action (N, A) fitted on p % of the train
    pairs (:func:`_subset`), scored on the test pairs; ``<ratio_key>_<p>pct`` its ratio to ``full_r2``,
    the probe fitted on all of them (left out when that is ≤ 0)."""
    metrics = {}
    for fraction in FEW_LABEL_FRACTIONS:
        tag = f"{fraction * 100:g}pct"
        few = metrics[f"{r2_key}_{tag}"] = _fit_subset(features, action, groups, fraction).r2(features_test, action_test)
        if full_r2 > 0:
            metrics[f"{ratio_key}_{tag}"] = few / full_r2
    return metrics


def _pair(split: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, 2D) [f(x), f(x⁺)]: the inverse-dynamics probe's input."""
    return np.concatenate([split["embedding"], split["embedding_next"]], axis=1)


def discrete_action_metrics(train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray],
                            groups: np.ndarray) -> dict[str, float]:
    """The ``accuracy_*`` metrics above for one-hot ``action`` (N, A) readouts (see :func:`action_metrics`)."""
    label = lambda split: np.argmax(split["action"], axis=1)  # noqa: E731
    y, y_test = label(train), label(test)
    majority = float(np.mean(y_test == np.bincount(y).argmax()))

    def accuracy(x: np.ndarray, x_test: np.ndarray, rows=slice(None), row_groups: np.ndarray | None = groups) -> float:
        return classifier_accuracy(x[rows], y[rows], x_test, y_test, row_groups)[1]

    def nonlinear(x: np.ndarray, x_test: np.ndarray) -> float:
        return float(HistGradientBoostingClassifier(random_state=0).fit(x, y).score(x_test, y_test))

    metrics = {"accuracy_action_majority": majority,
               "accuracy_action_inverse_dynamics": accuracy(_pair(train), _pair(test)),
               "accuracy_action_inverse_dynamics_nonlinear": nonlinear(_pair(train), _pair(test))}
    if train["r"].shape[1]:
        full = metrics["accuracy_action_from_r"] = accuracy(train["r"], test["r"])
        metrics["accuracy_action_from_r_nonlinear"] = nonlinear(train["r"], test["r"])
        for fraction in FEW_LABEL_FRACTIONS:
            tag = f"{fraction * 100:g}pct"
            rows, subset_groups = _subset(len(y), groups, fraction)
            few = metrics[f"accuracy_action_from_r_{tag}"] = accuracy(train["r"], test["r"], rows, subset_groups)
            if full - majority >= MIN_EXCESS_ACCURACY:
                metrics[f"few_label_accuracy_ratio_{tag}"] = (few - majority) / (full - majority)
    return metrics


def action_metrics(train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], groups: np.ndarray,
                   columns: Mapping[str, Sequence[str]] | None = None, discrete: bool = False) -> dict[str, float]:
    """The metrics above from :func:`~worldmodel.eval.readouts.encode_pairs` readouts of the train and
    test splits: ``embedding`` (N, D), ``embedding_next`` (N, D), ``r`` (N, R), ``action`` (N, A) and,
    when present, ``gt_state`` (N, S) and ``gt_state_next`` (N, S), the state at the target's last
    frame; ``groups`` (N_train,) the video of each train pair;
    ``columns`` {array name: column names} (the dataset's ``meta.json`` ``columns``); ``discrete``:
    the action columns are one-hot (adds :func:`discrete_action_metrics`)."""
    columns = columns or {}
    action, names = train["action"], _names(columns.get("action"), train["action"].shape[1])
    inverse = fit_ridge_probe(_pair(train), action, groups)
    metrics = {"r2_action_inverse_dynamics": inverse.r2(_pair(test), test["action"])}
    metrics |= _per_column("r2_action_inverse_dynamics", names, test["action"], inverse.predict(_pair(test)))
    metrics |= _few_label("r2_action_inverse_dynamics", "few_label_ratio_inverse_dynamics", _pair(train), _pair(test),
                          action, test["action"], groups, metrics["r2_action_inverse_dynamics"])
    if train["r"].shape[1]:
        full = fit_ridge_probe(train["r"], action, groups)
        metrics |= _per_column("r2_action_from_r", names, test["action"], full.predict(test["r"]))
        metrics |= _few_label("r2_action_from_r", "few_label_ratio", train["r"], test["r"], action, test["action"],
                              groups, full.r2(test["r"], test["action"]))
    if "gt_state" in train:
        state = fit_ridge_probe(train["embedding"], train["gt_state"], groups)
        state_names = _names(columns.get("state"), train["gt_state"].shape[1])
        metrics |= _per_column("r2_state", state_names, test["gt_state"], state.predict(test["embedding"]))
        moves = (train["gt_state_next"] - train["gt_state"]).std(0) > 1e-9 if "gt_state_next" in train else []
        if np.any(moves) and train["r"].shape[1]:  # columns that change over a pair
            change = lambda split: (split["gt_state_next"] - split["gt_state"])[:, moves]
            carried = fit_ridge_probe(train["r"], change(train), groups)
            moved_names = [name for name, kept in zip(state_names, moves) if kept]
            metrics |= _per_column("r2_state_change_from_r", moved_names, change(test), carried.predict(test["r"]))
    if discrete:
        metrics |= discrete_action_metrics(train, test, groups)
    return metrics

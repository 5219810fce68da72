"""Linear probes from frozen embeddings to ground truth: fitting, scoring, saving without pickle.

A regression probe is ridge regression whose penalty α is chosen by K-fold cross-validation on
the training rows; with ``groups`` (the video of each clip) the folds never split a video, so
the score that picks α is a held-out-video score, like the final one. Features are standardised
for the fit and the scaling is folded back, so a :class:`LinearProbe` is one affine map
ŷ = x Wᵀ + b on raw features. Categorical targets get a multinomial logistic probe (C chosen
the same way) and are scored by accuracy; they are not saved (rollouts decode regression probes).

Solvers. The validation R² of every α comes from one eigendecomposition of each fold's centred
Gram matrix (:func:`ridge_cv_scores`): the same fits and the same score as scikit-learn's
``GridSearchCV(Ridge(), {"alpha": ALPHAS}, scoring="r2")`` on the same folds (equal to rounding),
at the cost of one fit per fold instead of one per α and fold; the chosen α is then refitted with
:class:`~sklearn.linear_model.Ridge`. Inside :func:`reference_solvers` the search is that
``GridSearchCV`` (and DCI uses its reference solver), the path ``bench/eval_speed.py`` times the
fast one against. Logistic probes keep ``GridSearchCV``: scikit-learn's warm-started
``LogisticRegressionCV`` was slower on moving-digit embeddings (91 s against 56 s for the digit
label) and, its weakest penalties stopping at ``max_iter`` elsewhere on the path, moved the
accuracy by 0.03.

Saved probes: ``FOLDER/probes.npz`` (``<name>.coef`` (T, D), ``<name>.intercept`` (T,)) and
``FOLDER/probes.json`` (per probe: alpha, input, scores), read back with :func:`load_probes`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold


ALPHAS = np.logspace(-6, 4, 11)
CS = np.logspace(-3, 2, 6)
MAX_CLASSES = 16
_REFERENCE = contextvars.ContextVar("reference_solvers", default=False)


@contextlib.contextmanager
def reference_solvers():
    """Within this block ridge probes and DCI use their slower reference solvers (grid search over every
    α and fold; DCI's final lasso on the raw rows): what ``bench/eval_speed.py`` and the tests compare with."""
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def using_reference_solvers() -> bool:
    """True inside :func:`reference_solvers`."""
    return _REFERENCE.get()


@dataclass
class LinearProbe:
    """ŷ = x Wᵀ + b: ``coef`` W (T, D), ``intercept`` b (T,); ``info`` JSON-able facts (alpha, scores)."""

    coef: np.ndarray
    intercept: np.ndarray
    info: dict = field(default_factory=dict)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(..., D) → (..., T)."""
        if features.shape[-1] != self.coef.shape[1]:
            raise ValueError(f"probe expects features with {self.coef.shape[1]} dims, got shape {features.shape}")
        return features @ self.coef.T + self.intercept

    def r2(self, features: np.ndarray, targets: np.ndarray) -> float:
        """R² on (N, D) features and (N, T) targets, averaged uniformly over the T dimensions."""
        return float(r2_score(targets, self.predict(features), multioutput="uniform_average"))


def cv_splits(n: int, groups: np.ndarray | None = None, folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs: GroupKFold over ``groups`` (N,) when given, else shuffled KFold."""
    if groups is None:
        return list(KFold(min(folds, n), shuffle=True, random_state=0).split(np.zeros(n)))
    num_groups = len(np.unique(groups))
    if num_groups < 2:
        raise ValueError(f"probe cross-validation needs at least 2 groups (videos), got {num_groups}")
    return list(GroupKFold(min(folds, num_groups)).split(np.zeros(n), groups=groups))


def standardise(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scaled (N, D), mean (D,), std (D,)) with zero-variance columns left unscaled."""
    mean, std = features.mean(0), features.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return (features - mean) / std, mean, std


def ridge_cv_scores(features: np.ndarray, targets: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
                    alphas: np.ndarray) -> np.ndarray:
    """(A,) validation R² (averaged over the T targets, then over the folds) of ridge fits with an
    intercept at each α, features (N, D), targets (N, T).

    Per fold, with the training rows centred (X, y), the eigendecomposition XᵀX = V diag(λ) Vᵀ gives
    the weights W_α = V diag(1 / (λ + α)) Vᵀ Xᵀy of every α from one O(N D²) pass.
    """
    scores = np.zeros(len(alphas))
    for train, val in splits:
        x, y = features[train], targets[train]
        x_mean, y_mean = x.mean(0), y.mean(0)
        centred = x - x_mean
        eigvals, eigvecs = np.linalg.eigh(centred.T @ centred)
        projected = eigvecs.T @ (centred.T @ (y - y_mean))  # (D, T)
        rotated = (features[val] - x_mean) @ eigvecs  # (N_val, D)
        weights = projected / (eigvals[None, :, None] + alphas[:, None, None])  # (A, D, T)
        scores += _r2_per_alpha(targets[val], rotated @ weights + y_mean)
    return scores / len(splits)


def _r2_per_alpha(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(A,) R² of (A, N, T) predictions of (N, T) truth, averaged over T as ``r2_score`` does
    (a constant truth column scores 1 when predicted exactly, else 0)."""
    residual = ((truth - predicted) ** 2).sum(1)  # (A, T)
    total = ((truth - truth.mean(0)) ** 2).sum(0)  # (T,)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total != 0, 1 - residual / total, np.where(residual == 0, 1.0, 0.0))
    return r2.mean(1)


def fit_ridge_probe(features: np.ndarray, targets: np.ndarray, groups: np.ndarray | None = None,
                    alphas: np.ndarray = ALPHAS) -> LinearProbe:
    """Ridge probe (N, D) → (N, T), α by cross-validated R² over :func:`cv_splits` (grouped by ``groups``)."""
    if len(features) != len(targets):
        raise ValueError(f"probe: {len(features)} feature rows but {len(targets)} target rows")
    targets = targets.reshape(len(targets), -1)
    scaled, mean, std = standardise(features)
    splits = cv_splits(len(features), groups)
    if using_reference_solvers():
        alpha = GridSearchCV(Ridge(), {"alpha": alphas}, cv=splits, scoring="r2").fit(scaled, targets).best_params_["alpha"]
    else:
        alpha = alphas[np.argmax(ridge_cv_scores(scaled, targets, splits, alphas))]  # the first best, as GridSearchCV
    ridge = Ridge(alpha=alpha).fit(scaled, targets)
    coef = np.atleast_2d(ridge.coef_) / std
    return LinearProbe(coef, np.atleast_1d(ridge.intercept_) - coef @ mean, {"alpha": float(ridge.alpha)})


def is_categorical(values: np.ndarray) -> bool:
    """Class codes: whole numbers, at most MAX_CLASSES distinct values, with no common step above 1.

    Codes are numbered consecutively (digit labels 0-9, event codes 0-3, a scene index), so the
    differences between the codes a sample holds have greatest common divisor 1 even when some
    codes are missing from it. A measured quantity that happens to be whole sits on a grid (an
    angle of 0, 3, …, 57 degrees; a size in steps of 2 pixels): its common step is above 1 and it
    is a regression target, however few values it takes. (Arrays reach the probes as float64, so
    their stored dtype cannot tell.)
    """
    if not np.all(values == np.round(values)):
        return False
    distinct = np.unique(values)
    return len(distinct) <= MAX_CLASSES and np.gcd.reduce(np.diff(distinct).astype(np.int64), initial=0) <= 1


def classifier_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                        groups: np.ndarray | None = None) -> tuple[float, float]:
    """(train, test) accuracy of logistic probes, one per column of the (N, T) labels, averaged over columns.

    A column with one class on the train rows is predicted as that class.
    """
    train_y, test_y = train_y.reshape(len(train_y), -1), test_y.reshape(len(test_y), -1)
    scaled, mean, std = standardise(train_x)
    test_scaled = (test_x - mean) / std
    train_acc, test_acc = [], []
    for column in range(train_y.shape[1]):
        y = train_y[:, column]
        if len(np.unique(y)) < 2:
            predict = lambda x: np.full(len(x), y[0])
        else:
            search = GridSearchCV(LogisticRegression(max_iter=500), {"C": CS}, cv=cv_splits(len(y), groups))
            with warnings.catch_warnings():  # the weakest penalties may stop at max_iter; CV still ranks them
                warnings.simplefilter("ignore", ConvergenceWarning)
                predict = search.fit(scaled, y).best_estimator_.predict
        train_acc.append(np.mean(predict(scaled) == y))
        test_acc.append(np.mean(predict(test_scaled) == test_y[:, column]))
    return float(np.mean(train_acc)), float(np.mean(test_acc))


def save_probes(folder: str | Path, probes: dict[str, LinearProbe]) -> Path:
    """Write ``probes.npz`` and ``probes.json`` to ``folder`` (created); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, probe in probes.items():
        arrays[f"{name}.coef"], arrays[f"{name}.intercept"] = probe.coef, probe.intercept
    np.savez(folder / "probes.npz", **arrays)
    (folder / "probes.json").write_text(json.dumps({name: p.info for name, p in probes.items()}, indent=2) + "\n")
    return folder


def load_probes(folder: str | Path) -> dict[str, LinearProbe]:
    """The probes written by :func:`save_probes` (``allow_pickle=False``)."""
    folder = Path(folder)
    if not (folder / "probes.npz").is_file() or not (folder / "probes.json").is_file():
        raise FileNotFoundError(f"{folder}: no saved probes (probes.npz, probes.json); run `python eval.py --run RUN` first")
    info = json.loads((folder / "probes.json").read_text())
    with np.load(folder / "probes.npz", allow_pickle=False) as arrays:
        return {name: LinearProbe(arrays[f"{name}.coef"], arrays[f"{name}.intercept"], facts)
                for name, facts in info.items()}

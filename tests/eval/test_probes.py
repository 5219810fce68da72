"""Ridge / logistic probes, their grouped cross-validation, saving without pickle, and DCI."""

import numpy as np
import pytest

from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from worldmodel.eval.dci import dci_scores, disentanglement_completeness, lasso_importance
from worldmodel.eval.probes import (ALPHAS, LinearProbe, classifier_accuracy, cv_splits, fit_ridge_probe, is_categorical,
                                    load_probes, reference_solvers, ridge_cv_scores, save_probes, standardise)


@pytest.fixture
def linear_data():
    """(features (600, 8) on very different scales, targets = features W + b exactly, video groups)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 8)) * np.logspace(-2, 2, 8)
    w, b = rng.standard_normal((3, 8)), rng.standard_normal(3)
    return x, x @ w.T + b, w, b, np.repeat(np.arange(30), 20)


def test_ridge_probe_recovers_a_known_linear_map(linear_data):
    x, y, w, b, groups = linear_data
    probe = fit_ridge_probe(x[:500], y[:500], groups[:500])
    assert probe.r2(x[500:], y[500:]) > 0.9999
    np.testing.assert_allclose(probe.coef, w, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(probe.intercept, b, atol=1e-3)
    assert probe.info["alpha"] <= 1e-2


def test_ridge_probe_regularises_more_when_targets_are_noise():
    rng = np.random.default_rng(1)
    x, noise = rng.standard_normal((300, 40)), rng.standard_normal((300, 1))
    signal = x[:, :1] + 0.01 * noise
    assert fit_ridge_probe(x, noise).info["alpha"] > 100 * fit_ridge_probe(x, signal).info["alpha"]


def test_grouped_folds_never_split_a_video():
    groups = np.repeat(np.arange(7), 5)
    splits = cv_splits(len(groups), groups)
    assert len(splits) == 5
    for train, val in splits:
        assert not set(groups[train]) & set(groups[val])
    assert sorted(np.concatenate([val for _, val in splits]).tolist()) == list(range(35))
    with pytest.raises(ValueError, match="at least 2 groups"):
        cv_splits(10, np.zeros(10))


def test_saved_probes_reload_identically_without_pickle(linear_data, tmp_path):
    x, y, _, _, groups = linear_data
    probes = {"position": fit_ridge_probe(x, y, groups), "action_from_r": LinearProbe(np.eye(2), np.zeros(2), {"input": "r"})}
    probes["position"].info["input"] = "embedding"
    save_probes(tmp_path / "probes", probes)
    loaded = load_probes(tmp_path / "probes")
    assert loaded.keys() == probes.keys()
    assert np.array_equal(loaded["position"].predict(x), probes["position"].predict(x))
    assert loaded["position"].info == probes["position"].info
    with np.load(tmp_path / "probes" / "probes.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype != object for k in arrays.files)
    with pytest.raises(FileNotFoundError, match="eval.py"):
        load_probes(tmp_path / "missing")


def test_probe_rejects_features_of_the_wrong_width():
    with pytest.raises(ValueError, match="expects features with 3 dims"):
        LinearProbe(np.ones((1, 3)), np.zeros(1)).predict(np.ones((2, 4)))


def test_logistic_probe_accuracy_separable_vs_random_labels():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 5))
    separable = np.stack([(x[:, 0] > 0).astype(float), np.digitize(x[:, 1], [-0.5, 0.5])], 1)  # two label columns
    groups = np.repeat(np.arange(20), 20)
    _, test_acc = classifier_accuracy(x[:300], separable[:300], x[300:], separable[300:], groups[:300])
    assert test_acc > 0.93
    random = rng.integers(0, 4, (400, 1)).astype(float)
    _, chance = classifier_accuracy(x[:300], random[:300], x[300:], random[300:], groups[:300])
    assert chance < 0.4
    assert is_categorical(separable) and not is_categorical(x)


def test_dci_of_hand_made_importance_matrices():
    assert disentanglement_completeness(np.eye(4)) == pytest.approx((1.0, 1.0))
    assert disentanglement_completeness(np.ones((4, 4))) == pytest.approx((0.0, 0.0), abs=1e-12)
    # every code serves one factor, but factor 0 is split evenly over two of the three codes:
    # its completeness is 1 − H(½, ½, 0) in base 3
    d, c = disentanglement_completeness(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert d == pytest.approx(1.0) and c == pytest.approx((2 - np.log(2) / np.log(3)) / 2)


def test_dci_orders_a_disentangled_code_above_an_entangled_one():
    rng = np.random.default_rng(3)
    factors = rng.standard_normal((1200, 4))
    disentangled = np.concatenate([factors * [1, 2, 3, 4], 0.01 * rng.standard_normal((1200, 4))], axis=1)
    entangled = factors @ rng.standard_normal((4, 8))
    groups = np.repeat(np.arange(60), 20)[:900]
    good = dci_scores(disentangled[:900], factors[:900], disentangled[900:], factors[900:], groups)
    bad = dci_scores(entangled[:900], factors[:900], entangled[900:], factors[900:], groups)
    assert good["dci_d"] > 0.95 and good["dci_c"] > 0.95
    assert bad["dci_d"] < good["dci_d"] - 0.3 and bad["dci_c"] < good["dci_c"] - 0.3
    assert good["dci_i"] > 0.99 and bad["dci_i"] > 0.99  # both are informative, only one is disentangled


@pytest.mark.parametrize("grouped", [False, True])
def test_fast_ridge_search_picks_the_grid_search_alpha_and_coefficients(grouped):
    """All α from one eigendecomposition per fold = GridSearchCV(Ridge) on the same folds: the same
    validation scores, the same α, the same probe; also with a constant target column."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((900, 12)) @ rng.standard_normal((12, 12)) * np.logspace(-1, 1, 12)
    y = np.stack([x[:, 0] - 0.3 * x[:, 5] + rng.standard_normal(900), np.full(900, 2.0)], axis=1)
    groups = np.repeat(np.arange(45), 20) if grouped else None
    scaled = standardise(x)[0]
    splits = cv_splits(len(x), groups)
    grid = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=splits, scoring="r2").fit(scaled, y)
    np.testing.assert_allclose(ridge_cv_scores(scaled, y, splits, ALPHAS), grid.cv_results_["mean_test_score"], atol=1e-10)
    fast = fit_ridge_probe(x, y, groups)
    with reference_solvers():
        reference = fit_ridge_probe(x, y, groups)
    assert fast.info["alpha"] == reference.info["alpha"] == grid.best_params_["alpha"]
    np.testing.assert_allclose(fast.coef, reference.coef, atol=1e-6)
    np.testing.assert_allclose(fast.intercept, reference.intercept, atol=1e-6)


def test_dci_on_the_gram_matrix_agrees_with_lasso_on_the_rows():
    """The fast DCI (coordinate descent on XᵀX for every fit) and the reference (final fit on the
    rows) follow the same iterates: scores and importances within 1e-6, on collinear codes too."""
    rng = np.random.default_rng(6)
    factors = rng.standard_normal((800, 3))
    codes = np.concatenate([factors @ rng.standard_normal((3, 6)), 0.05 * rng.standard_normal((800, 2))], axis=1)
    codes = np.concatenate([codes, codes[:, :2] + 1e-3 * rng.standard_normal((800, 2))], axis=1)  # near-duplicates
    groups = np.repeat(np.arange(30), 20)[:600]
    fast = dci_scores(codes[:600], factors[:600], codes[600:], factors[600:], groups)
    fast_importance = lasso_importance(codes[:600], factors[:600], groups)[0]
    with reference_solvers():
        reference = dci_scores(codes[:600], factors[:600], codes[600:], factors[600:], groups)
        reference_importance = lasso_importance(codes[:600], factors[:600], groups)[0]
    np.testing.assert_allclose(fast_importance, reference_importance, atol=1e-6)
    assert fast == pytest.approx(reference, abs=1e-6)
    assert 0.2 < fast["dci_d"] < 0.95 and fast["dci_i"] > 0.9  # an entangled but informative code

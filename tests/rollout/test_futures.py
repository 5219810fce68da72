"""Prior sampling of every latent kind, batched rollouts, rollout scores, acceleration modes, numerical spread."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from data_prep.numerical import generate_numerical
from worldmodel.data.store import open_array, read_meta
from worldmodel.models.latents import GaussianLatent, MixtureLatent, NoLatent, SparseLatent
from worldmodel.models.predictors import MLPPredictor
from worldmodel.data.numeric import true_conditional_std
from worldmodel.rollout.futures import acceleration_modes, classify_modes, future_metrics, mean_future, sample_futures

EMB, R, N = 6, 2, 20000


def constant_prior(latent, bias):
    """Make the prior network ignore f(x) and output ``bias``."""
    last = latent.prior[-1]
    torch.nn.init.zeros_(last.weight)
    last.bias.data = torch.tensor(bias, dtype=torch.float32)
    return latent


def test_gaussian_prior_samples_have_the_prior_mean_and_std():
    mu, pre = [1.0, -2.0], [0.0, 1.0]
    latent = constant_prior(GaussianLatent(EMB, R, 16), mu + pre)
    draws = latent.sample_prior(torch.randn(3, EMB), N)
    assert draws.shape == (N, 3, R)
    sigma = F.softplus(torch.tensor(pre)) + 1e-4
    torch.testing.assert_close(draws.mean((0, 1)), torch.tensor(mu), atol=0.03, rtol=0)
    torch.testing.assert_close(draws.std(0).mean(0), sigma, atol=0.03, rtol=0)
    torch.testing.assert_close(latent.prior_mean(torch.randn(3, EMB)), torch.tensor([mu] * 3))


def test_mixture_prior_samples_reproduce_its_weights_and_mean():
    logits = [0.0, math.log(3.0), math.log(6.0)]  # weights 0.1, 0.3, 0.6
    means = [[-10.0, 0.0], [0.0, 10.0], [10.0, 0.0]]
    per_component = [v for m in means for v in m + [-2.0, -2.0]]  # (μ, pre-σ) per component
    latent = constant_prior(MixtureLatent(EMB, R, 16, components=3), logits + per_component)
    draws = latent.sample_prior(torch.randn(2, EMB), N)  # (N, 2, R)
    nearest = torch.cdist(draws.reshape(-1, R), torch.tensor(means)).argmin(-1)
    freq = torch.bincount(nearest, minlength=3).float() / len(nearest)
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.3, 0.6]), atol=0.015, rtol=0)
    torch.testing.assert_close(draws.mean((0, 1)), latent.prior_mean(torch.randn(1, EMB))[0], atol=0.1, rtol=0)
    spread = draws.reshape(-1, R) - torch.tensor(means)[nearest]
    assert spread.std().item() == pytest.approx(F.softplus(torch.tensor(-2.0)).item() + 1e-4, rel=0.05)


def test_sparse_prior_samples_have_the_mask_rate_and_value_moments():
    logits, mu, pre = [0.0, -1.0], [3.0, -1.0], [-1.0, 0.5]
    latent = constant_prior(SparseLatent(EMB, R, 16, temperature=1.0), logits + mu + pre)
    draws = latent.sample_prior(torch.randn(2, EMB), N).reshape(-1, R)
    active = draws != 0
    torch.testing.assert_close(active.float().mean(0), torch.sigmoid(torch.tensor(logits)), atol=0.01, rtol=0)
    sigma = F.softplus(torch.tensor(pre)) + 1e-4
    for j in range(R):
        values = draws[active[:, j], j]
        assert values.mean().item() == pytest.approx(mu[j], abs=0.03)
        assert values.std().item() == pytest.approx(sigma[j].item(), rel=0.05)
    torch.testing.assert_close(draws.mean(0), latent.prior_mean(torch.randn(1, EMB))[0], atol=0.03, rtol=0)


def test_no_latent_samples_are_empty():
    assert NoLatent().sample_prior(torch.randn(5, EMB), 7).shape == (7, 5, 0)


def toy_model(latent):
    predictor = MLPPredictor(EMB, latent.dim, 16)
    torch.nn.init.normal_(predictor.net[-1].weight, std=0.3)  # not the identity
    return SimpleNamespace(latent=latent, predictor=predictor)


def test_futures_are_batched_over_samples_and_start_from_the_start():
    model = toy_model(GaussianLatent(EMB, R, 16))
    calls = []
    sample = model.latent.sample_prior
    model.latent.sample_prior = lambda fx, n: calls.append(fx.shape) or sample(fx, n)
    start = torch.randn(4, EMB)
    paths = sample_futures(model, start, horizon=5, samples=8)
    assert paths.shape == (8, 4, 6, EMB)
    assert calls == [(32, EMB)] * 5  # one prior call per step for all 8 × 4 futures
    assert torch.equal(paths[:, :, 0], start.expand(8, 4, EMB))
    assert paths[:, :, 1:].std(0).mean() > 0.01  # the futures differ


def test_zero_variance_prior_rollouts_equal_the_deterministic_rollout():
    latent = GaussianLatent(EMB, R, 16)
    last = latent.prior[-1]
    last.bias.data[R:] = -40.0  # σ = softplus(−40) + 1e-4 ≈ 1e-4
    last.weight.data[R:] = 0.0
    model = toy_model(latent)
    start = torch.randn(3, EMB)
    paths, deterministic = sample_futures(model, start, 6, 10), mean_future(model, start, 6)
    assert deterministic.shape == (3, 7, EMB)
    torch.testing.assert_close(paths, deterministic.expand_as(paths), atol=5e-3, rtol=0)
    assert (deterministic[:, -1] - start).abs().mean() > 0.05  # and the rollout did move


def test_future_metrics_on_a_hand_made_example():
    truth = np.zeros((1, 2, 1))
    samples = np.array([-3.0, -1.0, 2.0, 4.0])[:, None, None, None] * np.array([0.0, 1.0])[None, None, :, None]
    deterministic = np.array([[[0.0], [1.5]]])
    scores = future_metrics(samples, deterministic, truth)
    np.testing.assert_allclose(scores["best_of_n"], [0, 1])
    np.testing.assert_allclose(scores["mean"], [0, 2.5])
    np.testing.assert_allclose(scores["deterministic"], [0, 1.5])
    np.testing.assert_allclose(scores["coverage"], [1, 1])
    # mean |a − b| over the 12 ordered pairs of different samples
    np.testing.assert_allclose(scores["diversity"], [0, (2 + 5 + 7 + 3 + 5 + 2) * 2 / 12])
    with pytest.raises(ValueError, match="must be"):
        future_metrics(samples, deterministic[:, :1], truth)


def test_best_of_n_is_never_worse_than_the_mean_and_coverage_grows_with_spread():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((16, 5, 3))
    deterministic = np.zeros_like(truth)
    narrow = future_metrics(0.1 * rng.standard_normal((32, 16, 5, 3)), deterministic, truth)
    wide = future_metrics(rng.standard_normal((32, 16, 5, 3)), deterministic, truth)
    for scores in (narrow, wide):
        assert np.all(scores["best_of_n"] <= scores["mean"])
    assert wide["coverage"].mean() > 0.8 > 0.2 > narrow["coverage"].mean()
    assert wide["diversity"].mean() == pytest.approx(10 * narrow["diversity"].mean(), rel=0.1)


def test_acceleration_modes_recover_known_frequencies():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, (4000, 1))
    p_x = 0.1 + 0.8 * labels[:, 0] / 9
    def draw(n, noise):
        event = rng.random(n) < 0.3
        axis = np.where(rng.random(n) < p_x[:n], 0, 1)
        change = np.zeros((n, 2))
        change[np.arange(n), axis] = event * rng.choice([-1, 1], n) * rng.uniform(0.5, 1.5, n)
        return change + noise * rng.standard_normal((n, 2))
    true = draw(4000, 0.0)  # the generator's actions are exactly zero without an event
    sampled = np.stack([draw(4000, 0.05) for _ in range(4)])  # decoded samples are not
    modes = acceleration_modes(sampled, true, labels)
    assert modes["true_fractions"][0] == pytest.approx(0.7, abs=0.03)
    assert modes["gap_pp"] < 3
    np.testing.assert_allclose(modes["x_share_sampled"], 0.1 + 0.8 * np.arange(10) / 9, atol=0.06)
    # a prior that puts every change on the x axis misses the ≈ 15% of transitions that change along y
    always_x = np.stack([np.linalg.norm(sampled, axis=-1), np.zeros(sampled.shape[:-1])], axis=-1)
    wrong = acceleration_modes(always_x, true, labels)
    assert wrong["gap_pp"] > 12 and np.all(wrong["x_share_sampled"] == 1)
    assert classify_modes(np.array([[0.1, 0.0], [2.0, -3.0], [-2.0, 1.0]]), 0.5).tolist() == [0, 2, 1]


def test_true_conditional_std_matches_the_generated_changes(tmp_path):
    folder = generate_numerical(tmp_path / "num", dim=4, modes=2, n_train=20000, n_test=10, n_ood=10, seed=0)
    z, z_pos = open_array(folder, "z"), open_array(folder, "z_pos")
    std = true_conditional_std(read_meta(folder), z)
    assert std.shape == z.shape and std.std() > 0.05  # heteroscedastic
    variance, squared = (std**2).ravel(), ((z_pos - z) ** 2).ravel()
    bins = np.digitize(variance, np.quantile(variance, [0.2, 0.4, 0.6, 0.8]))
    for b in range(5):  # E[Δ_j² | Var(Δ_j | z) in a quintile] = the mean variance in that quintile
        assert squared[bins == b].mean() == pytest.approx(variance[bins == b].mean(), rel=0.1)

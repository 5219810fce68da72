import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from worldmodel.config import LatentConfig
from worldmodel.models.latents import (GaussianLatent, MixtureLatent, NoLatent, OracleLatent, SparseLatent, build_latent,
                                       gaussian_kl, gaussian_scale, gumbel_sigmoid, off_diagonal_correlation)


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu_q, mu_p = torch.randn(50, 4), torch.randn(50, 4)
    s_q, s_p = torch.rand(50, 4) + 0.1, torch.rand(50, 4) + 0.1
    ref = kl_divergence(Normal(mu_q, s_q), Normal(mu_p, s_p))
    assert torch.allclose(gaussian_kl(mu_q, s_q, mu_p, s_p), ref, atol=1e-5)


def test_gumbel_sigmoid_mask_mean_matches_sigmoid_and_is_binary():
    torch.manual_seed(0)
    logits = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0])
    masks = gumbel_sigmoid(logits.expand(200_000, 5), temperature=0.5)
    assert torch.allclose(masks, masks.round(), atol=1e-6)
    assert torch.allclose(masks.mean(0), torch.sigmoid(logits), atol=5e-3)


def test_gumbel_sigmoid_straight_through_gradient_flows():
    logits = torch.zeros(1000, 3, requires_grad=True)
    gumbel_sigmoid(logits).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_gaussian_latent_reg_is_kl_and_prior_samples_have_prior_moments():
    torch.manual_seed(0)
    lat = GaussianLatent(emb_dim=5, dim=3, hidden=16)
    fx, fxp = torch.randn(8, 5), torch.randn(8, 5)
    out = lat.infer(fx, fxp)
    mu_q, s_q = lat._posterior(fx, fxp)
    mu_p, s_p = lat._split(lat.prior(fx))
    ref = kl_divergence(Normal(mu_q, s_q), Normal(mu_p, s_p)).sum(-1).mean()
    assert torch.allclose(out.reg, ref, atol=1e-5)
    samples = lat.sample_prior(fx, 20_000)
    assert samples.shape == (20_000, 8, 3)
    assert torch.allclose(samples.mean(0), mu_p, atol=0.05 * s_p.max().item() + 1e-3)
    assert torch.allclose(samples.std(0), s_p, rtol=0.05)


def test_sparse_latent_l0_and_prior_sampling():
    torch.manual_seed(0)
    lat = SparseLatent(emb_dim=4, dim=6, hidden=16, temperature=1.0)
    fx, fxp = torch.randn(10, 4), torch.randn(10, 4)
    out = lat.infer(fx, fxp)
    logits, _ = lat._posterior(fx, fxp)
    assert torch.allclose(out.reg, torch.sigmoid(logits).sum(-1).mean())
    p_logits, _, _ = lat._prior(fx)
    draws = lat.sample_prior(fx, 20_000)
    active = (draws != 0).float().mean(0)
    assert torch.allclose(active, torch.sigmoid(p_logits), atol=0.02)


@pytest.mark.parametrize("unsaturated", [False, True])
def test_the_l0_term_keeps_its_value_and_its_unsaturated_gradient_is_the_on_probability(unsaturated):
    torch.manual_seed(0)
    lat = SparseLatent(emb_dim=4, dim=3, hidden=16, temperature=1.0, l0_unsaturated=unsaturated)
    lat.posterior[-1].weight.data.zero_()
    lat.posterior[-1].bias.data[:3] = torch.tensor([0.0, 4.0, 15.0])  # mask logits: undecided, on, saturated
    out = lat.infer(torch.randn(8, 4), torch.randn(8, 4))
    prob = torch.sigmoid(torch.tensor([0.0, 4.0, 15.0]))
    assert out.reg.item() == pytest.approx(prob.sum().item(), rel=1e-6)
    bias_grad = torch.autograd.grad(out.reg, lat.posterior[-1].bias)[0][:3]  # d reg / d logit (one logit per pair)
    expected = prob if unsaturated else prob * (1 - prob)
    assert torch.allclose(bias_grad, expected, rtol=1e-5)
    assert (bias_grad[2] > 0.99) if unsaturated else (bias_grad[2] < 1e-6)


def test_sparse_value_noise_bounds_the_values_and_adds_noise_of_its_scale():
    torch.manual_seed(0)
    lat = SparseLatent(emb_dim=4, dim=3, hidden=8, temperature=1.0, value_noise=0.2)
    with torch.no_grad():
        lat.posterior[-1].bias[3:] += 50.0  # pre-activation values far beyond tanh's range
        lat.posterior[-1].bias[:3] += 50.0  # every mask on
    fx, fxp = torch.randn(4000, 4), torch.randn(4000, 4)
    mean = lat.posterior_mean(fx, fxp)
    assert mean.abs().max() <= 1.0 and torch.allclose(mean, torch.ones_like(mean), atol=1e-4)
    draws = lat.infer(fx, fxp).r
    assert (draws - mean).std().item() == pytest.approx(0.2, rel=0.05)
    assert (draws - mean).mean().abs() < 0.01
    with pytest.raises(ValueError, match="value_noise"):
        SparseLatent(4, 3, 8, 1.0, value_noise=-0.1)


def test_off_diagonal_correlation_matches_numpy_and_ignores_constant_coordinates():
    torch.manual_seed(0)
    a, b = torch.randn(5000, 1), torch.randn(5000, 1)
    r = torch.cat([a, 0.6 * a + 0.8 * b, torch.zeros(5000, 1)], dim=1)  # corr(r0, r1) = 0.6; r2 constant
    corr = torch.corrcoef(r[:, :2].T)[0, 1]
    assert off_diagonal_correlation(r).item() == pytest.approx(2 * corr.item() ** 2 / 6, rel=1e-3)
    assert off_diagonal_correlation(torch.randn(5000, 4)).item() < 1e-3
    assert off_diagonal_correlation(torch.cat([a, -a], dim=1)).item() == pytest.approx(1.0, abs=1e-3)
    assert off_diagonal_correlation(a).item() == 0.0


def test_sparse_decorrelation_is_charged_and_pulls_duplicate_coordinates_apart():
    torch.manual_seed(0)
    lat = SparseLatent(emb_dim=4, dim=2, hidden=16, temperature=1.0, decorrelation=2.0)
    with torch.no_grad():
        lat.posterior[-1].bias[:2] += 50.0  # both masks on
        lat.posterior[-1].weight[2] *= 30.0  # values of order 1, as r's are in training
        lat.posterior[-1].weight[3] = lat.posterior[-1].weight[2] + torch.randn(16)  # the two values nearly equal
        lat.posterior[-1].bias[3] = lat.posterior[-1].bias[2]
    plain = SparseLatent(emb_dim=4, dim=2, hidden=16, temperature=1.0)
    plain.load_state_dict(lat.state_dict())
    fx, fxp = torch.randn(512, 4), torch.randn(512, 4)
    torch.manual_seed(1)
    out = lat.infer(fx, fxp)
    torch.manual_seed(1)
    base = plain.infer(fx, fxp)
    assert out.stats["r_correlation"].item() > 0.9
    assert (out.aux - base.aux).item() == pytest.approx(2.0 * out.stats["r_correlation"].item(), rel=1e-5)
    opt = torch.optim.Adam(lat.posterior.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        lat.infer(fx, fxp).aux.backward()
        opt.step()
    assert lat.infer(fx, fxp).stats["r_correlation"].item() < 0.05


def test_sparse_posterior_mean_is_exactly_zero_where_the_mask_is_off():
    torch.manual_seed(0)
    lat = SparseLatent(emb_dim=4, dim=2, hidden=8, temperature=1.0, value_noise=0.01)
    with torch.no_grad():
        lat.posterior[-1].bias[0] -= 30.0  # mask 0 off (probability ~1e-13), its values still vary
        lat.posterior[-1].bias[1] += 30.0  # mask 1 on
    fx, fxp = torch.randn(256, 4), torch.randn(256, 4)
    logits, values = lat._posterior(fx, fxp)
    assert values[:, 0].std() > 1e-3 and (torch.sigmoid(logits[:, 0]) * values[:, 0]).abs().max() > 0
    r = lat.posterior_mean(fx, fxp)
    assert torch.equal(r[:, 0], torch.zeros(256)) and torch.equal(r[:, 1], values[:, 1])


def test_sparse_input_norm_makes_the_mask_blind_to_an_axis_width():
    """Narrowing one axis of f (both views) by 10× leaves the logits as they were with input_norm, not without."""
    torch.manual_seed(0)
    fx, fxp = torch.randn(256, 3), torch.randn(256, 3)
    narrow = torch.tensor([1.0, 0.1, 1.0])
    for input_norm, same in ((True, True), (False, False)):
        lat = SparseLatent(emb_dim=3, dim=3, hidden=16, temperature=1.0, input_norm=input_norm)
        wide_logits, _ = lat._posterior(fx, fxp)
        narrow_logits, _ = lat._posterior(fx * narrow, fxp * narrow)
        assert torch.allclose(wide_logits, narrow_logits, atol=1e-3) == same  # BatchNorm's eps: ~1e-4


@pytest.mark.parametrize("kind, option", [("gaussian", {"input_norm": True}), ("sparse", {"free_bits": 0.5}),
                                          ("vq", {"free_bits": 0.5})])
def test_an_option_of_another_latent_kind_is_refused(kind, option):
    with pytest.raises(ValueError, match=f"model.latent.{next(iter(option))} .* applies to .*; model.latent.kind is '{kind}'"):
        build_latent(LatentConfig(kind=kind, dim=2, **option), emb_dim=3)
    assert isinstance(build_latent(LatentConfig(kind="none", **option), emb_dim=3), NoLatent)  # no r: nothing to apply to


def test_sparse_prior_fit_does_not_reach_the_encoder():
    lat = SparseLatent(emb_dim=4, dim=3, hidden=8, temperature=1.0)
    fx = torch.randn(6, 4, requires_grad=True)
    lat.infer(fx, torch.randn(6, 4)).aux.backward()
    assert fx.grad is None or fx.grad.abs().sum() == 0


def test_no_latent_and_oracle():
    fx = torch.randn(4, 3)
    assert NoLatent().infer(fx, fx).r.shape == (4, 0)
    oracle = OracleLatent(2)
    action = torch.randn(4, 2)
    assert torch.equal(oracle.infer(fx, fx, action).r, action)
    with pytest.raises(ValueError, match="needs an 'action'"):
        oracle.infer(fx, fx, None)


def fixed_mixture(weights, means, scales, emb_dim=3):
    """A MixtureLatent whose prior ignores f(x): weights (K,), means and scales (K, R)."""
    k, r = means.shape
    lat = MixtureLatent(emb_dim, r, hidden=8, components=k)
    last = lat.prior[-1]
    raw_scales = torch.log(torch.expm1(scales - 1e-4))  # inverse of softplus(·) + 1e-4
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.cat([weights.log(), torch.cat([means, raw_scales], dim=-1).flatten()]))
    return lat


def test_mixture_prior_samples_reproduce_weights_and_component_moments():
    torch.manual_seed(0)
    weights = torch.tensor([0.2, 0.5, 0.3])
    means = torch.tensor([[-20.0, 0.0], [0.0, 5.0], [20.0, -5.0]])
    scales = torch.tensor([[1.0, 0.5], [2.0, 1.0], [0.5, 3.0]])
    lat = fixed_mixture(weights, means, scales)
    fx = torch.randn(2, 3)
    draws = lat.sample_prior(fx, 50_000)
    assert draws.shape == (50_000, 2, 2)
    component = (draws[..., :1] - means[:, 0]).abs().argmin(-1)  # x-means 20 apart: unambiguous
    for k in range(3):
        members = draws[component == k]
        assert (component == k).float().mean().item() == pytest.approx(weights[k].item(), abs=0.01)
        assert torch.allclose(members.mean(0), means[k], atol=0.05 * scales[k].max().item())
        assert torch.allclose(members.std(0), scales[k], rtol=0.03)
    assert torch.allclose(lat.prior_mean(fx), (weights[:, None] * means).sum(0).expand(2, 2), atol=1e-5)


def test_mixture_log_prior_matches_torch_distributions():
    torch.manual_seed(1)
    lat = MixtureLatent(emb_dim=4, dim=3, hidden=8, components=5)
    fx, r = torch.randn(6, 4), torch.randn(7, 6, 3)
    log_w, mu, sigma = lat._mixture(fx)
    reference = MixtureSameFamily(Categorical(logits=log_w), Independent(Normal(mu, sigma), 1))
    assert torch.allclose(lat.log_prior(r, fx), reference.log_prob(r), atol=1e-5)


def test_mixture_monte_carlo_kl_is_unbiased_for_one_component():
    """With K = 1 the prior is one Gaussian: the mean of the MC estimate is the analytic KL."""
    torch.manual_seed(2)
    lat = MixtureLatent(emb_dim=4, dim=3, hidden=8, components=1)
    n = 200_000
    fx, fxp = torch.randn(1, 4).expand(n, 4), torch.randn(1, 4).expand(n, 4)
    with torch.no_grad():
        estimate = lat.infer(fx, fxp).reg
        mu_q, s_q = lat._posterior(fx[:1], fxp[:1])
        _, mu_p, s_p = lat._mixture(fx[:1])
    analytic = gaussian_kl(mu_q, s_q, mu_p[:, 0], s_p[:, 0]).sum()
    assert estimate.item() == pytest.approx(analytic.item(), abs=0.01)


def test_mixture_kl_gradient_reaches_prior_posterior_and_encoder():
    torch.manual_seed(3)
    lat = MixtureLatent(emb_dim=4, dim=2, hidden=8, components=3)
    fx = torch.randn(5, 4, requires_grad=True)
    out = lat.infer(fx, torch.randn(5, 4))
    out.reg.backward()
    assert fx.grad.abs().sum() > 0
    assert lat.prior[-1].weight.grad.abs().sum() > 0 and lat.posterior[-1].weight.grad.abs().sum() > 0
    assert 1.0 <= out.stats["prior_modes"].item() <= 3.0


@pytest.mark.parametrize("make", [lambda: GaussianLatent(5, 3, 16, batch_norm=True),
                                  lambda: MixtureLatent(5, 3, 16, 2, batch_norm=True),
                                  lambda: SparseLatent(5, 3, 16, 1.0, batch_norm=True)])
def test_batch_norm_latent_networks_standardise_hidden_units_in_training_and_freeze_in_eval(make):
    torch.manual_seed(0)
    lat = make()
    fx, fxp = 3 * torch.randn(256, 5) + 2, torch.randn(256, 5)
    hidden = {}
    for name, net in (("posterior", lat.posterior), ("prior", lat.prior)):
        norms = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
        assert len(norms) == 2, name
        norms[0].register_forward_hook(lambda m, i, o, name=name: hidden.__setitem__(name, o.detach()))
    lat.infer(fx, fxp)
    for name, h in hidden.items():  # first hidden layer: zero mean, unit std per unit over the batch
        assert torch.allclose(h.mean(0), torch.zeros(16), atol=1e-5), name
        assert torch.allclose(h.std(0, unbiased=False), torch.ones(16), atol=1e-3), name
    lat.eval()  # running statistics: one row's prior no longer depends on the rest of the batch
    assert torch.allclose(lat.prior(fx)[:1], lat.prior(fx[:1]), atol=1e-6)



def test_gaussian_scale_floors_sigma_and_clamps_the_log_variance():
    pre = torch.tensor([-40.0, 0.0, 3.0, 400.0], dtype=torch.float64)
    plain = torch.nn.functional.softplus(pre)
    assert torch.allclose(gaussian_scale(pre), plain + 1e-4)
    assert torch.allclose(gaussian_scale(pre, 1e-6), plain + 1e-6)
    clamped = gaussian_scale(pre, 1e-6, logvar_clamp=10.0)
    expected = torch.tensor([math.exp(-5), math.log(2) + 1e-6, math.log1p(math.exp(3)) + 1e-6, math.exp(5)],
                            dtype=torch.float64)
    assert torch.allclose(clamped, expected)  # log σ² = ±10 at the extremes, untouched between


def test_clamped_kl_equals_a_hand_computation_at_extreme_log_variances():
    """The authors' KL (github.com/SkrighYZ/AdaSSL, utils/sampling_utils.py): σ = softplus + 1e-6, log σ²
    clamped to ±10. Dimension 0: posterior log σ² = 2 log 1e-6 ≈ −27.6 → −10, prior σ = 30 (log σ² 6.8,
    inside). Dimension 1: neither clamped."""
    lat = GaussianLatent(emb_dim=4, dim=2, hidden=8, sigma_floor=1e-6, logvar_clamp=10.0)
    mu_q, pre_q = torch.tensor([[0.5, -1.0]]), torch.tensor([[-40.0, 2.0]])
    mu_p, pre_p = torch.tensor([[0.0, 1.0]]), torch.tensor([[30.0, -2.0]])
    with torch.no_grad():  # constant outputs: last layers of zero weight with these biases
        for net, out in ((lat.posterior, torch.cat([mu_q, pre_q], -1)), (lat.prior, torch.cat([mu_p, pre_p], -1))):
            net[-1].weight.zero_()
            net[-1].bias.copy_(out[0])
    fx = torch.zeros(1, 4)

    def kl(var_q, var_p, shift):
        return 0.5 * (math.log(var_p / var_q) + var_q / var_p + shift**2 / var_p - 1)

    sp = lambda x: math.log1p(math.exp(x)) + 1e-6
    dim0 = kl(math.exp(-10), (30 + 1e-6) ** 2, 0.5)  # softplus(30) = 30 to float precision
    dim1 = kl(sp(2.0) ** 2, sp(-2.0) ** 2, 2.0)
    assert float(lat.infer(fx, fx).reg) == pytest.approx(dim0 + dim1, rel=1e-5)
    lat.logvar_clamp = 0.0  # unclamped, σ_q = 1e-6 costs log(e^-5 / 1e-6) = 8.5 nats more
    unclamped = kl(1e-12, (30 + 1e-6) ** 2, 0.5) + dim1
    assert float(lat.infer(fx, fx).reg) == pytest.approx(unclamped, rel=1e-4)
    assert unclamped - (dim0 + dim1) == pytest.approx(math.log(math.exp(-5) / 1e-6), rel=1e-3)

"""The latent-collapse watch: per-dimension usage of r in every forward pass, one warning when r dies."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.eval.latent_usage import latent_usage_metrics, unused_latent_warning
from worldmodel.models.latents import (ACTIVE_USAGE, GaussianLatent, MixtureLatent, SparseLatent, free_bits_reg,
                                       gaussian_kl, mixture_kl_approx, usage_stats)
from worldmodel.train.latent_monitor import WARNING_KEY, LatentCollapseWatch
from worldmodel.train.loop import train
from worldmodel.train.runs import load_run


def test_usage_stats_count_active_dimensions_and_measure_the_posterior_shift():
    torch.manual_seed(0)
    kl = torch.tensor([0.5, ACTIVE_USAGE / 2, 0.0, 2.0])
    shift = torch.randn(4096, 4) * torch.tensor([3.0, 0.0, 0.0, 0.5])
    stats = usage_stats(kl, "kl", shift, torch.full((4096, 4), 2.0))
    assert [stats[f"kl_dim{j}"].item() for j in range(4)] == pytest.approx(kl.tolist())
    assert stats["active_dims"].item() == 2
    assert stats["r_spread"].item() == pytest.approx(1.5, rel=0.05)  # std 3 over prior std 2


def test_free_bits_charge_nothing_below_the_floor():
    kl_dims = torch.tensor([0.1, 0.8], requires_grad=True)
    reg = free_bits_reg(kl_dims.sum(), kl_dims, 0.5)
    assert reg.item() == pytest.approx(0.5 + 0.8)  # Σ max(λ, KL_j)
    reg.backward()
    assert kl_dims.grad.tolist() == [0.0, 1.0]
    assert free_bits_reg(kl_dims.sum(), kl_dims, 0.0).item() == pytest.approx(0.9)


def test_a_gaussian_posterior_equal_to_its_prior_has_no_active_dimension():
    torch.manual_seed(0)
    latent = GaussianLatent(emb_dim=3, dim=2, hidden=8)
    latent.posterior[-1].weight.data.zero_()  # q(r | f, f⁺) = N(b, softplus(·)²): the same for every pair
    latent.prior[-1].weight.data.zero_()
    latent.prior[-1].bias.data.copy_(latent.posterior[-1].bias.data)
    stats = latent.infer(torch.randn(64, 3), torch.randn(64, 3)).stats
    assert stats["kl"].item() == pytest.approx(0.0, abs=1e-6)
    assert stats["active_dims"].item() == 0 and stats["r_spread"].item() == pytest.approx(0.0, abs=1e-6)


def test_the_mixture_kl_approximation_is_exact_for_coinciding_components_and_close_for_separated_ones():
    torch.manual_seed(0)
    mu_q, sigma_q = torch.tensor([[0.3]]), torch.tensor([[0.7]])
    same = mixture_kl_approx(mu_q, sigma_q, torch.log(torch.tensor([[0.25, 0.75]])), torch.zeros(1, 2, 1),
                             torch.ones(1, 2, 1))
    assert same.item() == pytest.approx(gaussian_kl(mu_q, sigma_q, torch.zeros(1), torch.ones(1)).item(), rel=1e-6)
    # q sits on one of two far-apart modes of weight 1/2: KL ≈ log 2, and a 200k-sample Monte Carlo agrees
    log_w, mu_p, sigma_p = torch.log(torch.tensor([[0.5, 0.5]])), torch.tensor([[[0.0], [8.0]]]), torch.ones(1, 2, 1)
    approx = mixture_kl_approx(torch.zeros(1, 1), torch.ones(1, 1), log_w, mu_p, sigma_p).item()
    r = torch.randn(200_000, 1)
    log_p = torch.logsumexp(log_w + torch.distributions.Normal(mu_p[0, :, 0], 1.0).log_prob(r), dim=-1)
    monte_carlo = (torch.distributions.Normal(0.0, 1.0).log_prob(r[:, 0]) - log_p).mean().item()
    assert approx == pytest.approx(math.log(2), rel=0.01) and monte_carlo == pytest.approx(approx, abs=0.01)


def nearly_dead(latent, batches=40, batch=64):
    """active_dims over batches of 64 random pairs (the Reacher configs' batch size)."""
    return [latent.infer(torch.randn(batch, 3), torch.randn(batch, 3)).stats["active_dims"].item()
            for _ in range(batches)]


def test_a_nearly_dead_mixture_latent_never_counts_as_active():
    """Posterior 0.1 prior standard deviations off the prior (0.005 nats a dimension): a one-sample Monte
    Carlo KL of batch 64 has a standard deviation of 0.0125 nats, so it crosses the 0.01-nat line in some
    batches (the flicker that hid Reacher's dead mixture from the watch); the closed form never does."""
    torch.manual_seed(0)
    latent = MixtureLatent(emb_dim=3, dim=8, hidden=8, components=2)
    for net in (latent.posterior, latent.prior):
        net[-1].weight.data.zero_()
        net[-1].bias.data.zero_()  # posterior N(0, softplus(0)²), prior components the same …
    latent.posterior[-1].bias.data[:8] = 0.1 * torch.nn.functional.softplus(torch.tensor(0.0))  # … moved by 0.1 σ
    with torch.no_grad():
        assert set(nearly_dead(latent)) == {0.0}
        stats = latent.infer(torch.randn(64, 3), torch.randn(64, 3)).stats
    assert stats["kl_dim0"].item() == pytest.approx(0.005, rel=1e-3)


def test_a_nearly_dead_sparse_latent_never_counts_as_active():
    """Every mask on-probability at 0.5 %: a batch of 64 samples one pair or more in a quarter of the
    batches per coordinate (1/64 ≥ 1 %), while the expected on-fraction stays below the line."""
    torch.manual_seed(0)
    latent = SparseLatent(emb_dim=3, dim=8, hidden=8, temperature=0.5)
    latent.posterior[-1].weight.data.zero_()
    latent.posterior[-1].bias.data[:8] = math.log(0.005 / 0.995)
    with torch.no_grad():
        assert set(nearly_dead(latent)) == {0.0}
        sampled = [(latent.infer(torch.randn(64, 3), torch.randn(64, 3)).r != 0).float().mean(0).max().item()
                   for _ in range(40)]
    assert max(sampled) >= ACTIVE_USAGE  # what the sampled mask would have counted


def records(steps, active, beta=lambda step: 1.0):
    return [{"step": s, "beta": beta(s), "active_dims": float(active(s)), "kl_dim0": 0.001, "kl_dim1": 0.002,
             "kl": 0.003, "r_spread": 0.004} for s in steps]


def test_the_watch_waits_for_the_warm_up_and_a_full_stretch_then_warns_once(capsys):
    cfg = SimpleNamespace(latent_collapse_steps=30)
    watch = LatentCollapseWatch(cfg, warmup_steps=60)
    # β rises until step 60; r is dead from step 20 on, alive once at step 90
    log = records(range(10, 201, 10), lambda s: s < 20 or s == 90, beta=lambda s: min(s, 60) / 60)
    checked = [watch.check(r) for r in log]
    assert [r["step"] for r in checked if WARNING_KEY in r] == [130]  # stretch 100 … 130
    message = next(r[WARNING_KEY] for r in checked if WARNING_KEY in r)
    assert "for 30 steps (since step 100)" in message and "largest 0.002 in dimension 1" in message
    assert "model.latent.free_bits" in message
    assert capsys.readouterr().out.count("warning: step 130: latent collapse") == 1

    resumed = LatentCollapseWatch(cfg, checked[:14], warmup_steps=60)  # a resume after step 140 does not warn again
    assert not any(WARNING_KEY in resumed.check(r) for r in records(range(150, 400, 10), lambda s: False))


def test_a_latent_dead_from_the_start_is_named_at_the_end_of_a_short_run():
    """400 steps, β warm-up 300, logged every 50: the stretch counts from step 300, the last step of
    the warm-up's ramp included, so a 100-step watch fires at the run's last record."""
    watch = LatentCollapseWatch(SimpleNamespace(latent_collapse_steps=100), warmup_steps=300)
    log = records(range(50, 401, 50), lambda s: False, beta=lambda s: min(s, 300) / 300)
    assert [r["step"] for r in map(watch.check, log) if WARNING_KEY in r] == [400]


@pytest.fixture(scope="module")
def numerical(tmp_path_factory):
    return generate_numerical(tmp_path_factory.mktemp("data") / "num", dim=4, modes=1, hetero=0.0,
                              n_train=1024, n_test=256, n_ood=256, seed=0)


def run(data, run_dir, *extra, config="configs/numerical/adassl_v.yaml"):
    """A shipped numerical config, short: 150 steps, β warm-up 50, watch stretch 30 steps."""
    cfg = load_config(config, [
        f"data.path={data}", "data.generator=null", "train.batch_size=256", "train.steps=150", "train.log_every=10",
        "train.threads=1", "model.latent.beta_warmup_steps=50", "train.latent_collapse_steps=30", *extra])
    train(cfg, run_dir)
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_huge_beta_kills_r_and_is_warned_about_once_free_bits_revive_it(numerical, tmp_path, capsys):
    dead = run(numerical, tmp_path / "dead", "model.latent.beta=1000", "model.latent.beta_warmup_steps=0")
    warned = [r for r in dead if WARNING_KEY in r]
    assert len(warned) == 1 and warned[0]["active_dims"] == 0
    assert max(warned[0][f"kl_dim{j}"] for j in range(6)) < ACTIVE_USAGE
    assert f"all 6 dimensions have KL < {ACTIVE_USAGE} nats" in warned[0][WARNING_KEY]
    assert capsys.readouterr().out.count("latent collapse") == 1
    cfg, model = load_run(tmp_path / "dead")
    usage = latent_usage_metrics(model, cfg.data)
    assert usage["active_dims"] == 0 and usage["kl_nats"] < 6 * ACTIVE_USAGE
    assert "r is not in use on the test pairs" in unused_latent_warning(usage)

    revived = run(numerical, tmp_path / "revived", "model.latent.beta=1000", "model.latent.beta_warmup_steps=0",
                  "model.latent.free_bits=0.5")
    assert not any(WARNING_KEY in r for r in revived)
    assert revived[-1]["active_dims"] == 6 and revived[-1]["kl"] > 1.0


@pytest.mark.parametrize("kind", ["adassl_v", "adassl_s"])
def test_the_shipped_configs_short_runs_stay_silent_and_use_r(numerical, tmp_path, kind):
    healthy = run(numerical, tmp_path / "healthy", config=f"configs/numerical/{kind}.yaml")
    assert not any(WARNING_KEY in r for r in healthy)
    assert all(r["active_dims"] == 6 for r in healthy) and healthy[-1]["r_spread"] > 0.5
    cfg, model = load_run(tmp_path / "healthy")
    usage = latent_usage_metrics(model, cfg.data)
    assert usage["active_dims"] == 6 and usage["r_spread"] > 0.5 and unused_latent_warning(usage) is None
    if kind == "adassl_v":
        assert healthy[-1]["kl"] > 1.0 and usage["kl_nats"] > 1.0
    else:  # sparse: every mask coordinate is on in some pairs
        assert min(healthy[-1][f"on_dim{j}"] for j in range(6)) > 0.05 and usage["l0"] > 2.0
        assert len(usage["mask_open"]) == 6 and max(usage["mask_open"]) > 0.05
        logits_bias = model.latent.posterior[-1].bias.data[:6]  # the posterior's first R outputs are the logits
        logits_bias[0], logits_bias[1] = 100.0, -100.0  # coordinate 0 open in every pair, 1 in none
        forced = latent_usage_metrics(model, cfg.data)["mask_open"]
        assert forced[:2] == [1.0, 0.0] and forced[2:] == usage["mask_open"][2:]

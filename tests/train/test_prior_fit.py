"""Refitting the prior to the trained posterior (train.prior_fit_steps)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from data_prep.numerical import generate_numerical
from worldmodel.config import ConfigError, load_config
from worldmodel.data import build_dataset
from worldmodel.models import WorldModel
from worldmodel.train.prior_fit import fit_prior, posterior_draws
from worldmodel.train.loop import train
from worldmodel.train.runs import load_run


@pytest.fixture(scope="module")
def numerical_folder(tmp_path_factory):
    return generate_numerical(tmp_path_factory.mktemp("num") / "num", dim=4, n_train=2000, n_test=50, n_ood=50, seed=0)


def model_and_data(folder, *overrides):
    cfg = load_config("configs/numerical/adassl_v.yaml", [f"data.path={folder}", "model.encoder.out_dim=4",
                                                          "model.latent.dim=4", *overrides])
    dataset = build_dataset(cfg.data, "train")
    return cfg, WorldModel(cfg, tuple(dataset[0]["context"].shape)), dataset


@pytest.mark.parametrize("kind", ["gaussian", "mixture"])
def test_fit_prior_reaches_the_likelihood_of_the_posterior_draws(numerical_folder, kind):
    """After the fit, the prior's mean log density of posterior draws is close to that of the best
    Gaussian p(r | f(x)) in hindsight for a posterior that ignores f(x⁺) (q = N(W f(x), σ²)): the
    draws' own entropy, −½ log(2πe σ²) per dimension."""
    torch.manual_seed(0)
    cfg, model, dataset = model_and_data(numerical_folder, f"model.latent.kind={kind}", "model.latent.components=2")
    w = torch.randn(4, 4)  # a posterior that reads only f(x): the exact prior is N(W f(x), 0.3²)
    model.latent._posterior = lambda fx, seen: (fx @ w, torch.full((len(fx), 4), 0.3))
    stats = fit_prior(model, dataset, steps=1500, draws=2)
    entropy = 4 * 0.5 * torch.log(2 * torch.pi * torch.e * torch.tensor(0.3**2)).item()
    assert stats["prior_nll_before"] > entropy + 1.0
    assert stats["prior_nll_after"] == pytest.approx(entropy, abs=0.15)


def test_draws_are_posterior_samples_of_every_pair(numerical_folder):
    torch.manual_seed(0)
    _, model, dataset = model_and_data(numerical_folder)
    fx, r = posterior_draws(model, dataset, draws=3)
    assert fx.shape == (3 * len(dataset), 4) and r.shape == (3 * len(dataset), 4)
    assert not torch.equal(r[:512], r[512:1024])  # the second draw of the first batch differs from the first


def test_training_refits_the_prior_after_the_last_step_only(numerical_folder, tmp_path):
    cfg = load_config("configs/numerical/adassl_v.yaml", [f"data.path={numerical_folder}", "train.steps=30",
                                                          "train.batch_size=64", "train.checkpoint_every=30",
                                                          "train.prior_fit_steps=200", "train.threads=1"])
    run = train(cfg, tmp_path / "run")
    fit = json.loads((run / "run.json").read_text())["prior_fit"]
    assert fit["prior_nll_after"] < fit["prior_nll_before"] and fit["pairs"] == 2000
    saved = load_file(str(run / "model.safetensors"))
    checkpoint = next((run / "checkpoints").iterdir())
    trained = load_file(str(checkpoint / "model.safetensors"))
    changed = [k for k in saved if not torch.equal(saved[k], trained[k])]
    assert changed and all(k.startswith("latent.prior.") for k in changed)
    assert load_run(run)[1].state_dict()["latent.prior.0.weight"].equal(saved["latent.prior.0.weight"])


def test_fit_prior_rejects_a_latent_without_a_density_prior(numerical_folder):
    _, sparse, dataset = model_and_data(numerical_folder, "model.latent.kind=sparse", "model.predictor.kind=modular")
    with pytest.raises(ValueError, match="gaussian or mixture latent; this run's latent is SparseLatent"):
        fit_prior(sparse, dataset, steps=1)


def test_training_rejects_a_prior_fit_for_a_latent_without_a_density_prior(numerical_folder, tmp_path):
    cfg = load_config("configs/numerical/adassl_s.yaml", [f"data.path={numerical_folder}", "train.prior_fit_steps=10"])
    with pytest.raises(ConfigError, match="train.prior_fit_steps .* model.latent.kind is 'sparse'"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()

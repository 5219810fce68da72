"""The JEPA-style world model: EMA target branch and its momentum schedule, clips end to end."""

import math

import pytest
import torch

from worldmodel.config import load_config
from worldmodel.models import WorldModel
from worldmodel.train.schedules import ema_momentum_at

torch.set_num_threads(1)


def clip_model(*overrides):
    """BYOL world model on (2, 1, 16, 16) clips with a CNN encoder and a BatchNorm projector (buffers)."""
    cfg = load_config(None, ["objective.kind=byol", "objective.hidden=16", "model.encoder.kind=cnn",
                             "model.encoder.width=8", "model.encoder.out_dim=6", "model.encoder.projector_hidden=12",
                             *overrides])
    return WorldModel(cfg, (2, 1, 16, 16))


def clip_batch(b=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {key: torch.randint(0, 256, (b, 2, 1, 16, 16), dtype=torch.uint8, generator=g) for key in ("context", "target")}


def test_ema_update_matches_its_formula_and_copies_buffers():
    torch.manual_seed(0)
    model = clip_model()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(torch.randn_like(p))
        model.encoder.head[1].running_mean.fill_(0.25)
    before = [p.clone() for p in model.target_encoder.parameters()]
    model.update_target(0.9)
    for old, new, online in zip(before, model.target_encoder.parameters(), model.encoder.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * online, atol=1e-6)
    assert torch.equal(model.target_encoder.head[1].running_mean, torch.full((12,), 0.25))


def test_momentum_schedule_rises_from_base_to_one_along_a_cosine():
    assert ema_momentum_at(0, 100, 0.99) == pytest.approx(0.99)
    assert ema_momentum_at(50, 100, 0.99) == pytest.approx(0.995)
    assert ema_momentum_at(25, 100, 0.99) == pytest.approx(1 - 0.01 * (math.cos(math.pi / 4) + 1) / 2)
    assert ema_momentum_at(100, 100, 0.99) == pytest.approx(1.0) == ema_momentum_at(150, 100, 0.99)


def test_no_gradient_reaches_the_target_encoder():
    torch.manual_seed(0)
    model = clip_model("model.latent.kind=gaussian", "model.latent.dim=6", "model.latent.hidden=8")
    out = model(clip_batch(), beta=1.0)
    out["loss"].backward()
    assert all(not p.requires_grad and p.grad is None for p in model.target_encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert not any(p is q for p in model.target_encoder.parameters() for q in model.encoder.parameters())


def test_forward_on_uint8_clips_returns_finite_losses_and_monitor_stats():
    torch.manual_seed(0)
    out = clip_model("model.latent.kind=mixture", "model.latent.dim=6", "model.latent.components=3")(clip_batch(), 0.5)
    for key in ("loss", "ssl", "reg", "kl", "prior_modes", "centre_norm", "residual_norm", "embedding_std"):
        assert out[key].dim() == 0 and torch.isfinite(out[key])
    assert 0.0 <= out["centre_norm"].item() <= 1.0
    assert out["loss"].item() == pytest.approx((out["ssl"] + 0.5 * out["reg"] + out["aux"]).item(), rel=1e-6)


def test_token_predictor_world_model_builds_from_config_and_trains_without_error():
    torch.manual_seed(0)
    model = clip_model("model.encoder.token_dim=4", "model.predictor.kind=tokens", "model.predictor.heads=2",
                       "model.latent.kind=gaussian", "model.latent.dim=3")
    assert model.encoder.out_dim == 4 and model.predictor.token_shape == (1, 4)
    out = model(clip_batch(), 0.1)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and model.predictor.r_token.weight.grad is not None
    with pytest.raises(ValueError, match="token_dim"):
        clip_model("model.predictor.kind=tokens")


def test_posterior_reads_the_online_embedding_of_the_target_clip():
    """q(r | f(x), f(x⁺)): the encoder gets gradient through the posterior's view of x⁺, so it learns
    to show what r must explain; the EMA copy only serves as the prediction's aim."""
    torch.manual_seed(0)
    model = clip_model("model.latent.kind=gaussian", "model.latent.dim=6", "model.latent.hidden=8")
    with torch.no_grad():  # online and EMA encoders differ, as after some training
        for p in model.encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    batch, seen = clip_batch(), []
    infer = model.latent.infer
    model.latent.infer = lambda fx, fx_pos, action=None: seen.append((fx, fx_pos)) or infer(fx, fx_pos, action)
    model(batch, beta=1.0)
    online = model.encode(batch["target"]), model.encode(batch["context"])
    ema = model.target_encoder(batch["target"])
    for (fx, fx_pos), expected in zip(seen, online):
        assert fx_pos.requires_grad and torch.allclose(fx_pos, expected, atol=1e-6)
    assert (seen[0][1] - ema).abs().max() > 1e-3


@pytest.mark.parametrize("recipe, reaches_x_pos", [("ours", True), ("paper", False)])
def test_under_the_paper_recipe_the_posterior_reads_the_ema_target_of_x_pos_without_gradient(recipe, reaches_x_pos):
    """Forward pairs only, so x⁺ enters the loss through the posterior's view of it and the EMA aim g(x⁺):
    the loss's gradient reaches x⁺ under our recipe (q reads f(x⁺)) and not under the paper's (q reads
    g(x⁺), as the aim does); the posterior's input then equals g(x⁺)."""
    torch.manual_seed(0)
    model = clip_model("model.latent.kind=gaussian", "model.latent.dim=6", "model.latent.hidden=8",
                       "objective.symmetric=false", f"recipe={recipe}")
    assert model.posterior_on_target == (not reaches_x_pos)
    with torch.no_grad():  # online and EMA encoders differ, as after some training
        for p in model.encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    batch = {key: clips.float().div(255).requires_grad_() for key, clips in clip_batch().items()}
    model(batch, beta=1.0)["loss"].backward()
    assert batch["context"].grad.abs().sum() > 0
    assert (batch["target"].grad is not None and batch["target"].grad.abs().sum() > 0) == reaches_x_pos
    fx, seen = model.posterior_inputs(batch)
    expected = (model.encode if reaches_x_pos else model.target_encoder)(batch["target"])
    assert torch.allclose(seen, expected, atol=1e-6) and seen.requires_grad == reaches_x_pos

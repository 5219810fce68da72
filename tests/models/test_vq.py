"""The LAPO-style vector-quantised latent: straight-through gradient, EMA codebook in use."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from worldmodel.config import load_config
from worldmodel.models.latents import VQLatent, build_latent


def test_forward_is_the_nearest_code_and_the_gradient_is_straight_through():
    latent = VQLatent(emb_dim=4, dim=3, hidden=16, codes=5)
    z_e = torch.randn(7, 3, requires_grad=True)
    r, index, commitment = latent.quantise(z_e)
    distances = ((z_e[:, None] - latent.codebook[None]) ** 2).sum(-1)
    assert torch.equal(index, distances.argmin(1))
    torch.testing.assert_close(r, latent.codebook[index], rtol=0, atol=1e-6)
    w = torch.randn(7, 3)
    ((r * w).sum() + commitment).backward()
    # d/dz_e [Σ w·r] = w (the code's gradient copied to z_e); d/dz_e [mean_b ‖z_e − sg(e_k)‖²] = 2 (z_e − e_k) / B
    expected = w + 2 * (z_e.detach() - latent.codebook[index]) / 7
    torch.testing.assert_close(z_e.grad, expected)
    assert latent.codebook.grad is None  # the codebook follows its EMA, not gradients


def test_codes_learn_the_discrete_actions_of_a_toy_task():
    """f(x⁺) = f(x) + v_a for one of 4 actions a: the codes come to stand for the actions."""
    torch.manual_seed(0)
    moves = 2 * torch.randn(4, 8)
    latent = VQLatent(emb_dim=8, dim=4, hidden=64, codes=8)
    predictor = torch.nn.Linear(8 + 4, 8)
    optimiser = torch.optim.Adam([*latent.parameters(), *predictor.parameters()], lr=3e-3)
    for step in range(400):
        fx, action = torch.randn(256, 8), torch.randint(4, (256,))
        fx_pos = fx + moves[action]
        sample = latent.infer(fx, fx_pos)
        loss = F.mse_loss(fx + predictor(torch.cat([fx, sample.r], -1)), fx_pos) + 0.25 * sample.reg + sample.aux
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert sample.stats["perplexity"] > 3  # at least the 4 actions' codes in use (1 = a collapsed codebook)
    latent.eval()
    fx, action = torch.randn(2000, 8), torch.randint(4, (2000,))
    with torch.no_grad():
        _, code, _ = latent.quantise(latent._encode(fx, fx + moves[action]))
    purity = sum(torch.bincount(action[code == c], minlength=4).max() for c in code.unique()) / len(code)
    assert purity > 0.95  # each code used stands for one action
    with torch.no_grad():
        predicted = fx + predictor(torch.cat([fx, latent.posterior_mean(fx, fx + moves[action])], -1))
    assert F.mse_loss(predicted, fx + moves[action]) < 0.05 * moves.var(0).mean()  # the codes carry the move
    draws = latent.sample_prior(fx[:3], 5)
    assert draws.shape == (5, 3, 4) and all(any(torch.equal(d, e) for e in latent.codebook) for d in draws.reshape(-1, 4))


def test_vq_is_a_config_choice():
    cfg = load_config(None, ["model.latent.kind=vq", "model.latent.dim=4", "model.latent.codes=6"])
    latent = build_latent(cfg.model.latent, emb_dim=10)
    assert isinstance(latent, VQLatent) and latent.codebook.shape == (6, 4)

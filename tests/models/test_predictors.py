import pytest
import torch
from torch import nn

from worldmodel.models.predictors import AdditivePredictor, MLPPredictor, ModularPredictor, TokenPredictor


def test_modular_is_identity_at_init_and_matches_formula_after_update():
    torch.manual_seed(0)
    pred = ModularPredictor(emb_dim=5, r_dim=3, rank=2)
    fx, r = torch.randn(7, 5), torch.randn(7, 3)
    assert torch.equal(pred(fx, r), fx)
    with torch.no_grad():
        pred.B.normal_()
        pred.b.normal_()
    ref = fx.clone()
    for i in range(3):
        ref = ref + r[:, i : i + 1] * (fx @ pred.A[i].T @ pred.B[i].T + pred.b[i])
    assert torch.allclose(pred(fx, r), ref, atol=1e-5)


def test_modular_of_rank_zero_is_a_learned_linear_map_of_r_with_only_b_as_parameters():
    torch.manual_seed(0)
    pred = ModularPredictor(emb_dim=5, r_dim=3, rank=0)
    assert [name for name, _ in pred.named_parameters()] == ["b"]
    fx, r = torch.randn(7, 5), torch.randn(7, 3)
    assert torch.equal(pred(fx, r), fx)
    with torch.no_grad():
        pred.b.normal_()
    assert torch.allclose(pred(fx, r), fx + sum(r[:, i : i + 1] * pred.b[i] for i in range(3)), atol=1e-6)


def test_predictors_broadcast_over_sample_dimension():
    torch.manual_seed(0)
    fx, r = torch.randn(4, 5), torch.randn(3, 4, 5)
    tokens = TokenPredictor((5, 1), 5, 1, 1)
    nn.init.normal_(tokens.out.weight)  # away from the identity it starts as
    for p in (AdditivePredictor(5, 5), MLPPredictor(5, 5, 16), ModularPredictor(5, 5, 2), ModularPredictor(5, 5, 0),
              tokens):
        out = p(fx.expand(3, 4, 5), r)
        assert out.shape == (3, 4, 5)
        assert torch.allclose(out[1], p(fx, r[1]), atol=1e-6)


def test_mlp_predictor_identity_at_init_and_additive_checks_dims():
    fx, r = torch.randn(4, 5), torch.randn(4, 2)
    assert torch.equal(MLPPredictor(5, 2, 8)(fx, r), fx)
    assert torch.equal(AdditivePredictor(5, 0)(fx, fx[:, :0]), fx)
    with pytest.raises(ValueError, match="additive predictor"):
        AdditivePredictor(5, 2)


def test_token_predictor_is_identity_at_init_and_learns_an_r_dependent_edit_of_one_token():
    """N = 4 tokens of 8 channels; the target moves token 2 by +v or −v as r = +1 or −1, which
    only the r token can tell: the loss must fall far below that of ignoring r (2·‖v‖²/32 per dim)."""
    torch.manual_seed(0)
    pred = TokenPredictor((4, 8), r_dim=1, depth=2, heads=2)
    fx = torch.randn(256, 32)
    assert torch.equal(pred(fx, torch.randn(256, 1)), fx)
    r = torch.randint(0, 2, (256, 1)).float() * 2 - 1
    edit = torch.zeros(32)
    edit[16:24] = 1.0
    target = fx + r * edit
    ignore_r = ((r * edit) ** 2).mean().item()
    opt = torch.optim.Adam(pred.parameters(), lr=3e-3)
    for _ in range(300):
        loss = ((pred(fx, r) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * ignore_r


def test_token_predictor_without_latent_has_no_r_token_and_checks_heads():
    pred = TokenPredictor((4, 8), r_dim=0, depth=1, heads=4)
    assert pred.r_token is None and pred.position.shape == (4, 8)
    with pytest.raises(ValueError, match="heads"):
        TokenPredictor((4, 6), r_dim=2, depth=1, heads=4)


def test_modular_with_squash_and_tied_bias_is_the_authors_adassl_s_edit():
    """Rank 1: t(f, r) = f + B (tanh(r) ⊙ (A f + a)) with B (D, R) and A (R, D) the stacked modules, as the
    authors' wrapper computes it (editor_Bs(tanh(r) * editor_As(x)))."""
    torch.manual_seed(0)
    pred = ModularPredictor(emb_dim=5, r_dim=3, rank=1, squash=True, tied_bias=True)
    assert pred.b.shape == (3, 1)  # one bias per module, in B_i's span
    fx, r = torch.randn(7, 5), 3 * torch.randn(7, 3)
    assert torch.equal(pred(fx, r), fx)
    with torch.no_grad():
        pred.B.normal_()
        pred.b.normal_()
    A, B, a = pred.A[:, 0, :], pred.B[:, :, 0].T, pred.b[:, 0]  # (R, D), (D, R), (R,)
    assert torch.allclose(pred(fx, r), fx + (torch.tanh(r) * (fx @ A.T + a)) @ B.T, atol=1e-5)
    untied = ModularPredictor(emb_dim=5, r_dim=3, rank=1, squash=True)
    untied.load_state_dict({"A": pred.A, "B": pred.B, "b": torch.zeros(3, 5)})
    assert torch.allclose(untied(fx, r), fx + (torch.tanh(r) * (fx @ A.T)) @ B.T, atol=1e-5)  # squash alone
    assert torch.allclose(untied(fx, 1e-3 * r), fx + (1e-3 * r * (fx @ A.T)) @ B.T, atol=1e-6)  # tanh ≈ id near 0
    with pytest.raises(ValueError, match="tied_bias.*rank ≥ 1"):
        ModularPredictor(emb_dim=5, r_dim=3, rank=0, tied_bias=True)

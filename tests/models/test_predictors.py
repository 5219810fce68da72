import pytest
import torch

from worldmodel.models.predictors import AdditivePredictor, MLPPredictor, ModularPredictor


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


def test_predictors_broadcast_over_sample_dimension():
    torch.manual_seed(0)
    fx, r = torch.randn(4, 5), torch.randn(3, 4, 5)
    for p in (AdditivePredictor(5, 5), MLPPredictor(5, 5, 16), ModularPredictor(5, 5, 2)):
        out = p(fx.expand(3, 4, 5), r)
        assert out.shape == (3, 4, 5)
        assert torch.allclose(out[1], p(fx, r[1]), atol=1e-6)


def test_mlp_predictor_identity_at_init_and_additive_checks_dims():
    fx, r = torch.randn(4, 5), torch.randn(4, 2)
    assert torch.equal(MLPPredictor(5, 2, 8)(fx, r), fx)
    assert torch.equal(AdditivePredictor(5, 0)(fx, fx[:, :0]), fx)
    with pytest.raises(ValueError, match="additive predictor"):
        AdditivePredictor(5, 2)

import torch
import torch.nn.functional as F

from worldmodel.config import ObjectiveConfig
from worldmodel.objectives import BYOL


def test_byol_loss_formula_and_stop_gradient():
    torch.manual_seed(0)
    obj = BYOL(4, ObjectiveConfig(hidden=16)).double()
    pred = torch.randn(2, 8, 4, dtype=torch.float64)
    target = torch.randn(2, 8, 4, dtype=torch.float64, requires_grad=True)
    loss = obj(pred, target, pred)
    q = obj.head(pred.reshape(16, 4))
    ref = (2 - 2 * F.cosine_similarity(q, target.reshape(16, 4), dim=-1)).mean()
    assert torch.allclose(loss, ref)
    loss.backward()
    assert target.grad is None


def test_byol_without_predictor_compares_the_embeddings_directly():
    obj = BYOL(4, ObjectiveConfig(byol_predictor=False))
    pred, target = torch.randn(2, 8, 4), torch.randn(2, 8, 4)
    ref = (2 - 2 * F.cosine_similarity(pred, target, dim=-1)).mean()
    assert torch.allclose(obj(pred, target, pred), ref, atol=1e-6)
    assert sum(p.numel() for p in obj.parameters()) == 0

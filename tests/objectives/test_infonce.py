"""InfoNCE family against naive per-row references."""

import math

import pytest
import torch
import torch.nn.functional as F

from worldmodel.config import ObjectiveConfig
from worldmodel.objectives import AnInfoNCE, HInfoNCE, InfoNCE
from worldmodel.objectives.infonce import info_nce
from worldmodel.objectives.similarity import pairwise_similarity


def naive_infonce(pred, target, sim, scale):
    """Loop over rows: −log exp(s·sim(p_i, t_i)) / Σ_{j ≠ partner(i)} exp(s·sim(p_i, t_j))."""
    views, batch, _ = pred.shape
    p, t = pred.reshape(views * batch, -1), target.reshape(views * batch, -1)
    n = len(p)
    losses = []
    for i in range(n):
        partner = (i + batch) % n if views == 2 else None
        terms = [scale[i] * sim(p[i], t[j]) for j in range(n) if j != partner]
        positive = scale[i] * sim(p[i], t[i])
        losses.append(-(positive - torch.logsumexp(torch.stack(terms), 0)))
    return torch.stack(losses).mean()


def cosine(a, b):
    return F.cosine_similarity(a, b, dim=0)


def neg_sq(a, b, w=None):
    d = (a - b) ** 2
    return -(d if w is None else w * d).sum()


@pytest.mark.parametrize("views", [1, 2])
@pytest.mark.parametrize("similarity", ["cosine", "l2"])
def test_infonce_matches_loop(views, similarity):
    torch.manual_seed(0)
    pred, target = torch.randn(views, 7, 5, dtype=torch.float64), torch.randn(views, 7, 5, dtype=torch.float64)
    cfg = ObjectiveConfig(similarity=similarity, temperature=0.3)
    loss = InfoNCE(5, cfg).double()(pred, target, pred)
    sim = cosine if similarity == "cosine" else neg_sq
    ref = naive_infonce(pred, target, sim, [1 / 0.3] * (views * 7))
    assert torch.allclose(loss, ref, atol=1e-6)


def test_aninfonce_matches_loop_with_weights():
    torch.manual_seed(1)
    pred, target = torch.randn(2, 6, 4, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    obj = AnInfoNCE(4, ObjectiveConfig(similarity="l2", temperature=1.0)).double()
    with torch.no_grad():
        obj.raw_weights.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
    w = F.softplus(obj.raw_weights.detach())
    ref = naive_infonce(pred, target, lambda a, b: neg_sq(a, b, w), [1.0] * 12)
    assert torch.allclose(obj(pred, target, pred), ref, atol=1e-6)
    # initial weights are exactly one: equal to plain InfoNCE
    fresh = AnInfoNCE(4, ObjectiveConfig(similarity="l2", temperature=1.0)).double()
    plain = InfoNCE(4, ObjectiveConfig(similarity="l2", temperature=1.0)).double()
    assert torch.allclose(fresh(pred, target, pred), plain(pred, target, pred), atol=1e-6)


def test_hinfonce_uses_per_sample_scale():
    torch.manual_seed(2)
    pred, target, context = (torch.randn(2, 5, 3, dtype=torch.float64) for _ in range(3))
    obj = HInfoNCE(3, ObjectiveConfig(similarity="cosine", temperature=0.5, hidden=8)).double()
    torch.nn.init.normal_(obj.scale_net[-1].weight)
    scale = (F.softplus(obj.scale_net(context.reshape(10, 3))) + 1e-4).squeeze(1).detach()
    ref = naive_infonce(pred, target, cosine, scale)
    assert torch.allclose(obj(pred, target, context), ref, atol=1e-6)


def test_learnable_temperature_receives_gradient_and_starts_at_tau():
    obj = InfoNCE(3, ObjectiveConfig(temperature=0.2, learn_temperature=True))
    assert math.isclose(obj.log_scale.exp().item(), 5.0, rel_tol=1e-6)
    pred = torch.randn(2, 4, 3)
    obj(pred, pred + 0.1 * torch.randn_like(pred), pred).backward()
    assert obj.log_scale.grad is not None and obj.log_scale.grad.abs() > 0


@pytest.mark.parametrize("views", [1, 2])
def test_info_nce_rows_split_over_processes_average_to_the_global_loss(views):
    """Each of W processes scores its slice of the predictions against all gathered targets."""
    torch.manual_seed(3)
    world, local = 3, 4
    pred, target = torch.randn(views, world * local, 5), torch.randn(views, world * local, 5)
    global_logits = pairwise_similarity(pred.reshape(-1, 5), target.reshape(-1, 5), "cosine")
    reference = info_nce(global_logits, views)
    parts = []
    for rank in range(world):
        mine = pred[:, rank * local : (rank + 1) * local].reshape(-1, 5)
        parts.append(info_nce(pairwise_similarity(mine, target.reshape(-1, 5), "cosine"), views, rank, world))
    assert torch.allclose(torch.stack(parts).mean(), reference, atol=1e-6)


def test_logit_clamp_bounds_the_logits_at_plus_minus_c():
    """l2 logits −‖p − t‖² of far-apart points fall below −20; clamped, every such negative counts as −20."""
    torch.manual_seed(0)
    pred, target = 4 * torch.randn(1, 6, 3, dtype=torch.float64), 4 * torch.randn(1, 6, 3, dtype=torch.float64)
    clamped = InfoNCE(3, ObjectiveConfig(similarity="l2", temperature=1.0, logit_clamp=20.0)).double()
    plain = InfoNCE(3, ObjectiveConfig(similarity="l2", temperature=1.0)).double()
    logits = pairwise_similarity(pred[0], target[0], "l2")
    assert logits.min() < -20  # the clamp binds on this batch
    ref = F.cross_entropy(logits.clamp(-20, 20), torch.arange(6))
    assert torch.allclose(clamped(pred, target, pred), ref, atol=1e-10)
    assert not torch.allclose(plain(pred, target, pred), ref, atol=1e-3)

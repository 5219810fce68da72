"""The centre-vector study's objectives (experiments/centre_vector/study_objectives.py): SimSiam and
its collapsing switches; a short run that collapses next to one that does not. The study's table
(experiments/centre_vector/README.md) rests on these modules, so they keep tests of their own."""

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from worldmodel.objectives.centre import CentreStats, collapse_alarm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments" / "centre_vector"))
from study_objectives import CentrePenalty, SimSiam  # noqa: E402


def simsiam(**switches) -> nn.Module:
    return SimSiam(4, hidden=8, **switches)


def test_without_predictor_the_loss_is_the_mean_negative_cosine():
    pred = torch.tensor([[[1.0, 0, 0, 0], [1.0, 1.0, 0, 0]]])  # (V=1, B=2, D=4)
    target = torch.tensor([[[2.0, 0, 0, 0], [0, 3.0, 0, 0]]])
    loss = simsiam(predictor=False)(pred, target, pred)
    assert loss.item() == pytest.approx(-(1.0 + 2 ** -0.5) / 2, abs=1e-6)
    assert not list(simsiam(predictor=False).parameters())


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_stop_gradient_switch_controls_the_target_gradient(stop_gradient):
    pred, target = (torch.randn(2, 6, 4, requires_grad=True) for _ in range(2))
    simsiam(stop_gradient=stop_gradient)(pred, target, pred).backward()
    assert pred.grad.abs().sum() > 0
    assert (target.grad is None) == stop_gradient


def final_centre_stats(objective: nn.Module, steps: int = 100) -> CentreStats:
    """Train a small MLP on two noisy views of Gaussian points; centre statistics of clean views."""
    torch.manual_seed(0)
    data = torch.randn(512, 8)
    encoder = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    optim = torch.optim.SGD([*encoder.parameters(), *objective.parameters()], lr=0.05, momentum=0.9)
    for _ in range(steps):
        batch = data[torch.randint(len(data), (128,))]
        z = torch.stack([encoder(batch + 0.1 * torch.randn_like(batch)) for _ in range(2)])  # (2, B, D)
        loss = objective(z, z.flip(0), z)
        optim.zero_grad()
        loss.backward()
        optim.step()
    encoder.eval()
    return CentreStats.of(encoder(data))


def test_simsiam_without_predictor_collapses_and_the_centre_penalty_does_not():
    collapsed = final_centre_stats(simsiam(predictor=False))
    healthy = final_centre_stats(CentrePenalty())
    assert collapsed.centre_norm > 0.9
    assert collapse_alarm(collapsed) is not None
    assert healthy.centre_norm < 0.2 and healthy.residual_norm > 0.9
    assert collapse_alarm(healthy) is None


def written_formula(pred, target, context, weight):
    """The docstring's formula, term by term: mean_v mean_i −cos(p, t) + λ ‖mean_{v,i} ĝ‖²."""
    V, B, _ = pred.shape
    invariance = sum(-torch.dot(F.normalize(pred[v, i], dim=0), F.normalize(target[v, i], dim=0))
                     for v in range(V) for i in range(B)) / (V * B)
    centre = sum(F.normalize(context[v, i], dim=0) for v in range(V) for i in range(B)) / (V * B)
    return invariance + weight * torch.dot(centre, centre)


def test_centre_penalty_value_and_gradient_match_the_written_formula():
    torch.manual_seed(1)
    objective = CentrePenalty(weight=0.7)
    inputs = [torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    for x in inputs:
        x.data += 0.5  # a non-zero centre
    loss = objective(*inputs)
    expected = written_formula(*inputs, weight=0.7)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    for got, want in zip(torch.autograd.grad(loss, inputs), torch.autograd.grad(expected, inputs)):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    assert torch.autograd.gradcheck(objective, tuple(inputs))


def test_centre_penalty_gradient_matches_the_analytic_form():
    """∂(λ‖s‖²)/∂g_{v,i} = (2λ / VB) (I − ĝĝᵀ) s / ‖g‖, with ĝ = g/‖g‖."""
    torch.manual_seed(2)
    weight = 0.5
    objective = CentrePenalty(weight=weight)
    pred, target = torch.randn(2, 2, 7, 4, dtype=torch.float64)
    context = (torch.randn(2, 7, 4, dtype=torch.float64) + 0.3).requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(pred, target, context), context)

    unit = F.normalize(context.detach(), dim=-1)
    s = unit.mean(dim=(0, 1))
    projected = s - (unit @ s).unsqueeze(-1) * unit
    analytic = 2 * weight / 14 * projected / context.detach().norm(dim=-1, keepdim=True)
    torch.testing.assert_close(grad, analytic, atol=1e-12, rtol=0)

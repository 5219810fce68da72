"""SimSiam and its collapsing switches; a short run that collapses next to one that does not."""

import pytest
import torch
from torch import nn

from worldmodel.config import ObjectiveConfig
from worldmodel.objectives.centre import CentreStats, collapse_alarm
from worldmodel.objectives.centre_penalty import CentrePenalty
from worldmodel.objectives.simsiam import SimSiam


def simsiam(**switches) -> nn.Module:
    return SimSiam(4, ObjectiveConfig(kind="simsiam", hidden=8, **switches))


def test_without_predictor_the_loss_is_the_mean_negative_cosine():
    pred = torch.tensor([[[1.0, 0, 0, 0], [1.0, 1.0, 0, 0]]])  # (V=1, B=2, D=4)
    target = torch.tensor([[[2.0, 0, 0, 0], [0, 3.0, 0, 0]]])
    loss = simsiam(simsiam_predictor=False)(pred, target, pred)
    assert loss.item() == pytest.approx(-(1.0 + 2 ** -0.5) / 2, abs=1e-6)
    assert not list(simsiam(simsiam_predictor=False).parameters())


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_stop_gradient_switch_controls_the_target_gradient(stop_gradient):
    pred, target = (torch.randn(2, 6, 4, requires_grad=True) for _ in range(2))
    simsiam(simsiam_stop_gradient=stop_gradient)(pred, target, pred).backward()
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
    collapsed = final_centre_stats(simsiam(simsiam_predictor=False))
    healthy = final_centre_stats(CentrePenalty(4, ObjectiveConfig(kind="centre_penalty")))
    assert collapsed.centre_norm > 0.9
    assert collapse_alarm(collapsed) is not None
    assert healthy.centre_norm < 0.2 and healthy.residual_norm > 0.9
    assert collapse_alarm(healthy) is None

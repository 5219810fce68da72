"""Centre-vector tools and the centre-penalised objective: values and gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from worldmodel.config import ObjectiveConfig, load_config
from worldmodel.models.world_model import WorldModel
from worldmodel.objectives.centre import (CentreStats, RunningCentre, centre_norm, centre_vector,
                                          collapse_alarm, residual_norm)
from worldmodel.objectives.centre_penalty import CentrePenalty


def test_constant_embedding_has_centre_norm_one_and_no_residual():
    direction = torch.randn(16)
    embeddings = torch.rand(64, 1) * 5 + 0.1  # positive scales do not matter: embeddings are normalised
    embeddings = embeddings * direction
    assert centre_norm(embeddings).item() == pytest.approx(1.0, abs=1e-6)
    assert residual_norm(embeddings).item() == pytest.approx(0.0, abs=1e-3)


def test_symmetric_set_has_centre_norm_zero_and_full_residual():
    half = torch.randn(50, 8)
    embeddings = torch.cat([half, -half])
    assert centre_norm(embeddings).item() == pytest.approx(0.0, abs=1e-6)
    assert residual_norm(embeddings).item() == pytest.approx(1.0, abs=1e-6)


def test_residual_averages_views_before_subtracting_the_centre():
    e1, e2 = torch.eye(2)
    views = torch.stack([torch.stack([e1, -e1]), torch.stack([e2, -e2])])  # (V=2, N=2, D=2)
    # m_0 = (e1 + e2)/2, m_1 = -(e1 + e2)/2, s = 0, ‖m_i − s‖ = sqrt(0.5)
    torch.testing.assert_close(centre_vector(views), torch.zeros(2))
    assert residual_norm(views).item() == pytest.approx(math.sqrt(0.5), abs=1e-6)


def test_bad_shape_names_the_input():
    with pytest.raises(ValueError, match="embeddings: expected shape"):
        centre_norm(torch.randn(2, 3, 4, 5))


def test_running_centre_matches_exact_statistics_on_a_fixed_dataset():
    torch.manual_seed(0)
    dataset = torch.randn(2, 203, 12) + 0.7  # (V, N, D), off-centre so that ‖s‖ is far from 0
    running = RunningCentre()
    for start, stop in [(0, 1), (1, 64), (64, 150), (150, 203)]:  # uneven batches
        running.update(dataset[:, start:stop])
    exact = CentreStats.of(dataset)
    assert running.count == 203
    assert running.stats().centre_norm == pytest.approx(exact.centre_norm, abs=1e-6)
    assert running.stats().residual_norm == pytest.approx(exact.residual_norm, abs=1e-6)
    torch.testing.assert_close(running.centre().float(), centre_vector(dataset), atol=1e-6, rtol=0)
    assert 0.5 < exact.centre_norm < 0.95 and exact.residual_norm > 0.2


def test_running_centre_reset_starts_a_new_window():
    running = RunningCentre()
    running.update(torch.ones(10, 4))
    running.reset()
    half = torch.randn(5, 4)
    running.update(torch.cat([half, -half]))
    assert running.stats().centre_norm == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="dimension 3"):
        running.update(torch.randn(5, 3))


def test_collapse_alarm_thresholds():
    assert collapse_alarm(CentreStats(centre_norm=0.2, residual_norm=0.6)) is None
    assert "centre norm 0.950" in collapse_alarm(CentreStats(centre_norm=0.95, residual_norm=0.3))
    assert "residual norm 0.010" in collapse_alarm(CentreStats(centre_norm=0.3, residual_norm=0.01))


def written_formula(pred, target, context, weight):
    """The docstring's formula, term by term: mean_v mean_i −cos(p, t) + λ ‖mean_{v,i} ĝ‖²."""
    V, B, _ = pred.shape
    invariance = sum(-torch.dot(F.normalize(pred[v, i], dim=0), F.normalize(target[v, i], dim=0))
                     for v in range(V) for i in range(B)) / (V * B)
    centre = sum(F.normalize(context[v, i], dim=0) for v in range(V) for i in range(B)) / (V * B)
    return invariance + weight * torch.dot(centre, centre)


def test_centre_penalty_value_and_gradient_match_the_written_formula():
    torch.manual_seed(1)
    objective = CentrePenalty(5, ObjectiveConfig(kind="centre_penalty", centre_weight=0.7))
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
    objective = CentrePenalty(4, ObjectiveConfig(kind="centre_penalty", centre_weight=weight))
    pred, target = torch.randn(2, 2, 7, 4, dtype=torch.float64)
    context = (torch.randn(2, 7, 4, dtype=torch.float64) + 0.3).requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(pred, target, context), context)

    unit = F.normalize(context.detach(), dim=-1)
    s = unit.mean(dim=(0, 1))
    projected = s - (unit @ s).unsqueeze(-1) * unit
    analytic = 2 * weight / 14 * projected / context.detach().norm(dim=-1, keepdim=True)
    torch.testing.assert_close(grad, analytic, atol=1e-12, rtol=0)


def test_adassl_with_the_centre_penalty_is_one_override_away():
    cfg = load_config("configs/numerical/adassl_v.yaml", ["objective.kind=centre_penalty"])
    torch.manual_seed(0)
    model = WorldModel(cfg, (10,))
    out = model({"context": torch.randn(32, 10), "target": torch.randn(32, 10)}, beta=1.0)
    out["loss"].backward()
    assert model.target_encoder is None  # no EMA encoder
    assert -1.0 <= out["ssl"].item() <= 1.0 + cfg.objective.centre_weight  # −cos ∈ [−1, 1], λ‖s‖² ∈ [0, λ]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())

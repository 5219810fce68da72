"""Centre-vector statistics and the collapse alarm: values on sets with known answers."""

import math

import pytest
import torch

from worldmodel.objectives.centre import CentreStats, centre_norm, centre_vector, collapse_alarm, residual_norm


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


def test_collapse_alarm_thresholds():
    assert collapse_alarm(CentreStats(centre_norm=0.2, residual_norm=0.6)) is None
    assert "centre norm 0.950" in collapse_alarm(CentreStats(centre_norm=0.95, residual_norm=0.3))
    assert "residual norm 0.010" in collapse_alarm(CentreStats(centre_norm=0.3, residual_norm=0.01))

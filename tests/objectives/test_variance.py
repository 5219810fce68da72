"""VICReg's variance and covariance terms: zero for whitened embeddings, one for collapsed ones, the
covariance of duplicated dimensions, and the world model's loss moving by μ·(V + C)."""

import pytest
import torch

from worldmodel.config import load_config
from worldmodel.models.world_model import WorldModel
from worldmodel.objectives.variance import variance_covariance


def test_whitened_embeddings_cost_nothing_and_collapsed_ones_cost_one():
    z = torch.randn(20000, 4)
    v, c = variance_covariance(z)
    assert v.item() < 0.01 and c.item() < 0.01
    v, c = variance_covariance(torch.ones(64, 4))
    assert v.item() == pytest.approx(1 - 1e-2, abs=1e-4) and c.item() == 0  # √ε = 0.01


def test_duplicated_dimensions_pay_their_covariance():
    x = torch.randn(20000, 1) * 2  # variance 4
    v, c = variance_covariance(torch.cat([x, x], 1))
    assert v.item() == 0
    assert c.item() == pytest.approx(2 * 4.0**2 / 2, rel=0.05)  # two off-diagonal entries of 4, over D = 2


def test_world_model_adds_the_weighted_terms_to_its_loss():
    cfg = load_config("configs/numerical/adassl_v.yaml", ["objective.variance_weight=0.5"])
    torch.manual_seed(0)
    model = WorldModel(cfg, (cfg.data.generator_args.get("dim", 6),)).eval()
    batch = {"context": torch.randn(32, model.encoder.net[0].in_features), "target": torch.randn(32, model.encoder.net[0].in_features)}
    torch.manual_seed(1)
    out = model(batch, beta=1.0)
    torch.manual_seed(1)
    model.variance_weight = 0.0
    plain = model(batch, beta=1.0)
    extra = 0.5 * (out["variance_term"] + out["covariance_term"])
    assert extra.item() > 0 and out["loss"].item() == pytest.approx(plain["loss"].item() + extra.item(), rel=1e-5)

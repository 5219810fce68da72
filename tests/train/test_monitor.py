"""The collapse monitor: centre statistics in every forward pass, logged, with one warning."""

import json

import pytest
import torch

from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.models.encoders import MLPEncoder
from worldmodel.models.world_model import collapse_stats
from worldmodel.objectives.centre import CentreStats
from worldmodel.train.loop import train


def test_collapse_stats_of_a_constant_and_of_a_spread_encoder():
    constant = collapse_stats(torch.ones(6, 3), torch.ones(2, 6, 3))
    assert constant["centre_norm"].item() == pytest.approx(1.0)
    assert constant["residual_norm"].item() == pytest.approx(0.0, abs=1e-3)
    assert constant["embedding_std"].item() == 0.0
    torch.manual_seed(0)
    online, targets = torch.randn(64, 5) * torch.arange(1.0, 6.0), torch.randn(2, 64, 5)
    spread = collapse_stats(online, targets)
    exact = CentreStats.of(targets)
    assert spread["centre_norm"].item() == pytest.approx(exact.centre_norm)
    assert spread["residual_norm"].item() == pytest.approx(exact.residual_norm)
    assert spread["embedding_std"].item() == pytest.approx(online.std(0).mean().item())


@pytest.fixture(scope="module")
def numerical(tmp_path_factory):
    return generate_numerical(tmp_path_factory.mktemp("data") / "num", dim=4, modes=1, hetero=0.0,
                              n_train=1024, n_test=256, n_ood=256, seed=0)


def run_metrics(data, run_dir, *extra):
    cfg = load_config("configs/numerical/infonce.yaml", [
        f"data.path={data}", "model.encoder.out_dim=8", "model.encoder.hidden=64", "objective.similarity=cosine",
        "objective.temperature=0.1", "train.batch_size=256", "train.steps=60", "train.log_every=10",
        "optim.warmup_steps=0", "train.threads=1", "train.collapse_grace_steps=20", *extra])
    train(cfg, run_dir)
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_constant_encoder_is_warned_about_once_and_a_healthy_run_not_at_all(numerical, tmp_path, monkeypatch, capsys):
    healthy = run_metrics(numerical, tmp_path / "healthy")
    assert all({"centre_norm", "residual_norm", "embedding_std"} <= set(r) for r in healthy)
    assert not any("collapse_warning" in r for r in healthy)
    assert healthy[-1]["centre_norm"] < 0.5 and healthy[-1]["residual_norm"] > 0.5

    monkeypatch.setattr(MLPEncoder, "forward", lambda self, x: self.net(torch.zeros_like(x.flatten(1).float())))
    collapsed = run_metrics(numerical, tmp_path / "collapsed")
    warned = [r["step"] for r in collapsed if "collapse_warning" in r]
    assert warned == [20]  # the first logged step after the grace period, and only once
    assert collapsed[0]["centre_norm"] == pytest.approx(1.0) and collapsed[0]["embedding_std"] == 0.0
    assert capsys.readouterr().out.count("warning: step 20: collapse: centre norm 1.000 >= 0.9") == 1

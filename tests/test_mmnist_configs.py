"""Every configs/mmnist experiment trains end to end on a tiny generated store (frames, bf16 autocast)."""

import json
import math
from pathlib import Path

import pytest

from data_prep.mmnist import generate_mmnist
from worldmodel.config import load_config
from worldmodel.train.loop import train
from worldmodel.train.runs import load_run

CONFIGS = sorted(Path("configs/mmnist").glob("*.yaml"))


@pytest.fixture(scope="module")
def tiny_mmnist(tmp_path_factory):
    return generate_mmnist(tmp_path_factory.mktemp("data") / "mmnist", videos=6, frames=8, size=32, digit_size=12)


def test_the_experiments_exist():
    assert [c.stem for c in CONFIGS] == ["adassl_mix", "adassl_mix_rollouts", "adassl_s", "adassl_tokens", "adassl_v", "byol",
                                        "infonce"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.stem)
def test_config_trains_on_clips(config, tiny_mmnist, tmp_path):
    cfg = load_config(config, [f"data.path={tiny_mmnist}", "model.encoder.width=8", "model.latent.hidden=16",
                               "model.predictor.hidden=16", "objective.hidden=16", "train.batch_size=8",
                               "train.steps=2", "train.log_every=1", "train.threads=1", "train.mixed_precision=bf16"])
    assert (cfg.data.kind, cfg.data.generator, cfg.model.encoder.kind) == ("frames", "mmnist", "cnn")
    assert load_config(config).train.mixed_precision == "no"  # bf16 autocast measured slower on this CPU
    run = train(cfg, tmp_path / "run")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and all(math.isfinite(r["loss"]) for r in records)
    assert json.loads((run / "run.json").read_text())["in_shape"] == [3, 1, 32, 32]
    tokens = cfg.model.encoder.token_dim
    assert load_run(run)[1].encoder.out_dim == (4 * tokens if tokens else cfg.model.encoder.out_dim)  # 2×2 cells at 32 px


def test_resumed_clip_run_repeats_the_uninterrupted_losses(tiny_mmnist, tmp_path):
    overrides = [f"data.path={tiny_mmnist}", "model.encoder.width=8", "model.latent.hidden=16", "model.predictor.hidden=16",
                 "objective.hidden=16", "train.batch_size=8", "train.steps=4", "train.log_every=1",
                 "train.checkpoint_every=2", "train.threads=1"]
    cfg = load_config("configs/mmnist/adassl_v.yaml", overrides)
    full = train(cfg, tmp_path / "full")
    train(cfg, tmp_path / "part", stop_at=2)
    part = train(cfg, tmp_path / "part", resume=True)
    losses = lambda run: [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(losses(part)) == 4
    assert losses(part) == pytest.approx(losses(full), rel=1e-5)


def collapse_warnings(cfg_overrides, data, run_dir):
    cfg = load_config("configs/mmnist/byol.yaml", [
        f"data.path={data}", "model.encoder.width=8", "model.encoder.out_dim=32", "objective.hidden=32",
        "train.batch_size=16", "train.steps=60", "train.log_every=10", "train.threads=1",
        "train.collapse_grace_steps=20", *cfg_overrides])
    records = [json.loads(line) for line in (train(cfg, run_dir) / "metrics.jsonl").read_text().splitlines()]
    return records, [r["step"] for r in records if "collapse_warning" in r]


def test_byol_without_predictor_or_ema_trips_the_collapse_alarm_and_byol_does_not(tiny_mmnist, tmp_path):
    """The collapsing variant (stop-gradient alone: no predictor, momentum 0) is flagged within 60 steps;
    BYOL with its predictor and EMA target, same data and budget, is not."""
    collapsed, warned = collapse_warnings(["objective.byol_predictor=false", "objective.ema_momentum=0.0"],
                                          tiny_mmnist, tmp_path / "collapsed")
    assert len(warned) == 1 and warned[0] <= 60 and collapsed[-1]["centre_norm"] > 0.9
    healthy, warned = collapse_warnings([], tiny_mmnist, tmp_path / "byol")
    assert warned == [] and max(r["centre_norm"] for r in healthy[2:]) < 0.9

"""End-to-end: generate numerical data, train with train.py's library path, probe, resume."""

import json

import pytest
import torch
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.train.loop import latest_checkpoint, train


@pytest.fixture(scope="module")
def homoscedastic(tmp_path_factory):
    """A small, easy dataset: one mode, no heteroscedasticity, so a short run must succeed."""
    return generate_numerical(tmp_path_factory.mktemp("data") / "num", dim=4, modes=1, hetero=0.0,
                              n_train=4096, n_test=2048, n_ood=2048, seed=0)


def small_config(data, *extra):
    return load_config("configs/numerical/infonce.yaml", [
        f"data.path={data}", "model.encoder.out_dim=4", "model.encoder.hidden=64", "model.latent.dim=4",
        "model.latent.hidden=32", "train.batch_size=256", "train.log_every=20", "train.threads=1", *extra])


def test_short_run_raises_probe_r2(homoscedastic, tmp_path):
    untrained = evaluate_run(train(small_config(homoscedastic, "train.steps=0"), tmp_path / "r0"))
    trained = evaluate_run(train(small_config(homoscedastic, "train.steps=500", "optim.lr=0.003"), tmp_path / "r1"))
    assert trained["r2_test"] > 0.9
    assert trained["r2_test"] > untrained["r2_test"] + 0.1
    steps = [json.loads(line)["step"] for line in (tmp_path / "r1" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(20, 501, 20))
    assert json.loads((tmp_path / "r1" / "eval.json").read_text()) == trained


@pytest.mark.parametrize("method", ["adassl_v", "adassl_s"])
def test_resume_continues_step_count_and_matches_uninterrupted(homoscedastic, tmp_path, method):
    overrides = [f"model.latent.kind={'gaussian' if method == 'adassl_v' else 'sparse'}",
                 "model.predictor.kind=" + ("additive" if method == "adassl_v" else "modular"),
                 "train.checkpoint_every=30", "train.log_every=10"]
    full = train(small_config(homoscedastic, "train.steps=60", *overrides), tmp_path / "full")

    part = tmp_path / "part"
    train(small_config(homoscedastic, "train.steps=60", *overrides), part, stop_at=30)
    assert latest_checkpoint(part).name == "step_30" and not (part / "model.safetensors").exists()
    train(small_config(homoscedastic, "train.steps=60", *overrides), part, resume=True)
    assert json.loads((part / "run.json").read_text())["resumed_from"] == 30

    logged = [json.loads(line) for line in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [10, 20, 30, 40, 50, 60]
    reference = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(logged[3:], reference[3:]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    a, b = load_file(str(part / "model.safetensors")), load_file(str(full / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_bf16_autocast_tracks_fp32(homoscedastic, tmp_path):
    losses = {}
    for precision in ("no", "bf16"):
        run = train(small_config(homoscedastic, "train.steps=40", "train.log_every=10", "optim.lr=0.003",
                                 f"train.mixed_precision={precision}"), tmp_path / precision)
        losses[precision] = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        AcceleratorState._reset_state(reset_partial_state=True)  # the next run uses another precision
    assert losses["bf16"][-1] < losses["bf16"][0] - 0.5  # it learns
    assert losses["bf16"] == pytest.approx(losses["no"], rel=0.05)


def test_compiled_forward_matches_eager_and_saves_the_same_keys(homoscedastic, tmp_path):
    """aot_eager traces the forward and backward as inductor does, without generating C++ (slow on a CPU)."""
    runs = {compiled: train(small_config(homoscedastic, "train.steps=20", "train.log_every=5",
                                         "model.latent.kind=gaussian", "model.predictor.kind=additive",
                                         f"train.compile={backend}"), tmp_path / backend)
            for compiled, backend in ((False, "none"), (True, "aot_eager"))}
    losses = {c: [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
              for c, run in runs.items()}
    assert losses[True] == pytest.approx(losses[False], rel=1e-3)
    eager, compiled = (load_file(str(runs[c] / "model.safetensors")) for c in (False, True))
    assert eager.keys() == compiled.keys()  # no "_orig_mod." prefix: a compiled run loads like any other

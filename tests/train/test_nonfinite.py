"""Numerical faults: a NaN in one training sample stops the run (or is skipped and counted), and
the gradient-norm clip bounds the update."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from faults import make_data, poison, run_info, tiny_config, weights
from worldmodel.train.checkpoints import latest_checkpoint
from worldmodel.train.loop import NonFiniteLoss, train

STEPS = 30


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """(data folder whose first sample of step 6 is NaN, the steps whose batch holds that sample)."""
    folder = make_data(tmp_path_factory.mktemp("data") / "num")
    return folder, poison(folder, step=6, position=0, steps=STEPS)


def test_a_nonfinite_loss_stops_with_step_and_terms_and_saves_nothing_corrupt(poisoned, tmp_path):
    data, hits = poisoned
    assert hits[0] == 6 and len(hits) > 1
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLoss) as err:
        train(tiny_config(data, STEPS, "train.checkpoint_every=5"), run)
    message = str(err.value)
    assert message.startswith("non-finite loss at step 6: loss=nan") and "ssl=nan" in message and "reg=" in message
    assert "train.skip_nonfinite allows 0" in message and "\n" not in message

    assert latest_checkpoint(run).name == "step_5"  # the last one before the fault, intact
    assert not (run / "model.safetensors").exists() and not (run / "checkpoints" / "step_10").exists()
    state = weights(run / "checkpoints" / "step_5")
    assert all(torch.isfinite(t).all() for t in state.values())


def test_skip_nonfinite_skips_and_counts_each_bad_batch_up_to_its_limit(poisoned, tmp_path):
    data, hits = poisoned
    run = train(tiny_config(data, STEPS, f"train.skip_nonfinite={len(hits)}"), tmp_path / "skip")
    assert run_info(run)["skipped_nonfinite"] == len(hits)
    counts = {r["step"]: r["skipped_nonfinite"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}
    assert [counts[step + 1] - counts[step] for step in hits] == [1] * len(hits)  # counted at the bad steps only
    assert all(torch.isfinite(t).all() for t in weights(run).values())

    with pytest.raises(NonFiniteLoss, match=f"non-finite loss at step {hits[-1]}: .*{len(hits)} non-finite batches"):
        train(tiny_config(data, STEPS, f"train.skip_nonfinite={len(hits) - 1}"), tmp_path / "limit")


def test_a_skipped_batch_leaves_the_weights_untouched(poisoned, tmp_path):
    data, hits = poisoned
    bad = hits[0]
    before = train(tiny_config(data, STEPS, "train.skip_nonfinite=1"), tmp_path / "before", stop_at=bad)
    after = tmp_path / "after"
    shutil.copytree(before, after)
    train(tiny_config(data, STEPS, "train.skip_nonfinite=1"), after, resume=True, stop_at=bad + 1)
    a, b = weights(before / "checkpoints" / f"step_{bad}"), weights(after / "checkpoints" / f"step_{bad + 1}")
    assert all(torch.equal(a[k], b[k]) for k in a)


def displacement(run, start):
    """‖θ_run − θ_start‖ over the learned weights (not BatchNorm's running statistics)."""
    a, b = weights(run), weights(start)
    learned = [k for k in a if "running_" not in k and "num_batches" not in k]
    return float(torch.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in learned)))


def test_grad_clip_bounds_the_update(tmp_path):
    data = make_data(tmp_path / "num")
    start = train(tiny_config(data, 0), tmp_path / "start")
    free = train(tiny_config(data, 5, "optim.lr=0.01"), tmp_path / "free")
    clipped = train(tiny_config(data, 5, "optim.lr=0.01", "train.grad_clip=1e-9"), tmp_path / "clipped")
    norms = [json.loads(line)["grad_norm"] for line in (clipped / "metrics.jsonl").read_text().splitlines()]
    assert len(norms) == 5 and min(norms) > 1e-6  # the clip was active at every step
    # Adam normalises the gradient, but a gradient clipped far below its ε barely moves the weights
    assert displacement(clipped, start) < 0.05 * displacement(free, start)

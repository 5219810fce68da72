"""Fault injection around checkpoints: SIGKILL / SIGTERM / SIGINT on a real ``train.py`` process,
saves killed midway, damaged checkpoints, a checkpoint carrying a pickle payload.

Every resumed run must end with weights bit-identical to the uninterrupted run's (CPU, one thread).
"""

from __future__ import annotations

import json
import random
import signal

import pytest
import torch

from faults import (EVERY, assert_same_weights, logged_steps, make_data, run_info, start_training, stderr_of,
                    tiny_config, wait_for_step, weights)
from worldmodel.train import checkpoints
from worldmodel.train.checkpoints import CheckpointError, checkpoint_step, latest_checkpoint, write_step_file
from worldmodel.train.loop import train

LONG = 200  # steps of the runs killed from outside: long enough to be caught in flight
SHORT = 30


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """{steps: folder of the uninterrupted run}."""
    root = tmp_path_factory.mktemp("reference")
    return {steps: train(tiny_config(data, steps), root / str(steps)) for steps in (SHORT, LONG)}


def resume(data, run, steps):
    """Finish ``run`` in this process; returns the step it resumed from."""
    train(tiny_config(data, steps), run, resume=True)
    assert logged_steps(run) == list(range(1, steps + 1))  # every step logged once
    return run_info(run)["resumed_from"]


def test_sigkill_at_a_random_step_then_resume_repeats_at_most_one_interval_and_matches(data, reference, tmp_path):
    kill_at = random.randrange(3, 60)
    run = tmp_path / "run"
    process = start_training(run, data, LONG)
    wait_for_step(run, process, kill_at)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    last = logged_steps(run)[-1]
    checkpoint = latest_checkpoint(run)
    saved = checkpoint_step(checkpoint) if checkpoint else 0  # killed before the first checkpoint: from scratch
    assert last - saved <= EVERY, f"killed after step {last}, newest checkpoint {checkpoint}"

    assert resume(data, run, LONG) == saved
    assert_same_weights(run, reference[LONG])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_save_the_last_step_then_exit(data, reference, tmp_path, signum):
    run = tmp_path / "run"
    process = start_training(run, data, LONG)
    wait_for_step(run, process, 13)
    process.send_signal(signum)
    assert process.wait(timeout=60) == 128 + signum, stderr_of(run)[-2000:]
    stopped = logged_steps(run)[-1]
    assert stopped < LONG and latest_checkpoint(run).name == f"step_{stopped}"  # no finished step lost
    assert f"stopped by {signum.name} after step {stopped}" in stderr_of(run)

    assert resume(data, run, LONG) == stopped
    assert_same_weights(run, reference[LONG])


class Killed(BaseException):
    """Stands for the process dying inside a save."""


def test_a_save_killed_midway_leaves_the_previous_checkpoint_in_use(data, reference, tmp_path, monkeypatch):
    write = checkpoints.write_step_file

    def die_while_saving_step_20(folder, info):
        if info["step"] == 20:
            model = folder / "model.safetensors"
            model.write_bytes(model.read_bytes()[:100])  # half-written
            raise Killed
        write(folder, info)

    monkeypatch.setattr(checkpoints, "write_step_file", die_while_saving_step_20)
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train(tiny_config(data, SHORT), run)
    assert (run / "checkpoints" / ".tmp_step_20").is_dir()
    assert latest_checkpoint(run).name == "step_10"

    monkeypatch.undo()
    assert resume(data, run, SHORT) == 10
    assert_same_weights(run, reference[SHORT])
    assert not list((run / "checkpoints").glob(".tmp*"))


def truncate(path):
    path.write_bytes(path.read_bytes()[:-7])


def flip_a_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def garble(path):
    path.write_text('{"step": 2')


DAMAGE = [("model.safetensors", truncate, r"model.safetensors: \d+ bytes, expected \d+ \(truncated\?\)"),
          ("optimizer.bin", flip_a_byte, r"optimizer.bin: SHA-256 differs from the one in step.json"),
          ("step.json", garble, r"step.json: unreadable \(JSONDecodeError")]


@pytest.mark.parametrize("name, damage, message", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_newest_checkpoint_is_skipped_with_a_warning(data, reference, tmp_path, name, damage, message):
    run = tmp_path / "run"
    train(tiny_config(data, SHORT), run, stop_at=20)
    damage(run / "checkpoints" / "step_20" / name)
    with pytest.warns(UserWarning, match="skipping checkpoint step_20: .*" + message):
        assert resume(data, run, SHORT) == 10
    assert_same_weights(run, reference[SHORT])


def test_no_intact_checkpoint_is_an_error_naming_each_file(data, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(data, SHORT), run, stop_at=20)
    for step in (10, 20):
        truncate(run / "checkpoints" / f"step_{step}" / "model.safetensors")
    with pytest.warns(UserWarning), pytest.raises(CheckpointError) as err:
        train(tiny_config(data, SHORT), run, resume=True)
    message = str(err.value)
    assert "\n" not in message and "no intact checkpoint" in message
    assert all(f"step_{step}/model.safetensors" in message for step in (10, 20))
    assert not (run / "model.safetensors").exists()


class Payload:
    """Unpickling this creates ``marker``: stands for arbitrary code in a crafted file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_checkpoint_carrying_a_pickle_payload_is_refused(data, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "code_ran"
    train(tiny_config(data, SHORT), run, stop_at=10)
    checkpoint = run / "checkpoints" / "step_10"
    torch.save({"state": Payload(marker), "param_groups": []}, checkpoint / "optimizer.bin")
    write_step_file(checkpoint, {"step": 10})  # the hashes match: only the loader stands in the way

    with pytest.raises(CheckpointError, match=r"step_10: cannot be loaded \(UnpicklingError: Weights only load failed"):
        train(tiny_config(data, SHORT), run, resume=True)
    assert not marker.exists()
    torch.load(checkpoint / "optimizer.bin", weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()


def test_checkpoints_hold_no_pickled_weights_and_final_weights_are_safetensors(reference):
    run = reference[SHORT]
    checkpoint = latest_checkpoint(run)
    listed = json.loads((checkpoint / "step.json").read_text())["files"]
    assert "model.safetensors" in listed and not [n for n in listed if n.startswith("pytorch_model")]
    assert all(torch.isfinite(t).all() for t in weights(run).values())

"""Two CPU processes (``accelerate launch``, gloo): only the main process writes checkpoints and
logs, a resumed run ends bit-identical to the uninterrupted one, and a NaN seen by one process
stops both at the same step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from faults import ACCELERATE, assert_same_weights, launch_two_processes, logged_steps, make_data, poison, run_info, tiny_config
from worldmodel.train.loop import train

STEPS = 12


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


def checkpoint_files(run: Path) -> dict[str, list[str]]:
    return {c.name: sorted(p.name for p in c.iterdir()) for c in sorted((run / "checkpoints").iterdir())}


pytestmark = pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate CLI not installed next to this Python")


def test_two_processes_write_once_and_resume_bit_identically(data, tmp_path):
    full = tmp_path / "full"
    done = launch_two_processes(full, data, STEPS, "train.checkpoint_every=6")
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_info(full)["processes"] == 2
    assert logged_steps(full) == list(range(1, STEPS + 1))  # each step logged once, not once per process
    assert len(list((full / "tb").iterdir())) == 1
    single = train(tiny_config(data, STEPS, "train.checkpoint_every=6"), tmp_path / "single")
    assert checkpoint_files(full) == checkpoint_files(single)  # the same files as one process writes, no .tmp

    part = tmp_path / "part"
    shutil.copytree(full, part)
    shutil.rmtree(part / "checkpoints" / "step_12")
    (part / "model.safetensors").unlink()
    done = launch_two_processes(part, data, STEPS, "train.checkpoint_every=6", "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_info(part)["resumed_from"] == 6
    assert logged_steps(part) == list(range(1, STEPS + 1))
    assert_same_weights(part, full)
    metrics = lambda run: [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics(part) == metrics(full)


def test_a_nan_on_one_process_stops_both_at_the_same_step(tmp_path):
    data = make_data(tmp_path / "num")
    poison(data, step=2, position=0, steps=STEPS)  # position 0: in process 0's half of the batch only
    done = launch_two_processes(tmp_path / "run", data, STEPS, "train.checkpoint_every=2")
    assert done.returncode != 0
    assert done.stderr.count("error: non-finite loss at step 2 (on 1 of 2 processes)") == 2, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step_2"]
    assert not (tmp_path / "run" / "model.safetensors").exists()

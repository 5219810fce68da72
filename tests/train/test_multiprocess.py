"""Two CPU processes (accelerate launch, gloo) train exactly like one process on the global batch.

``accelerate launch --cpu --num_processes 2`` starts a single process in accelerate 1.x (its
simple launcher needs mpirun for several CPU processes); the torchrun-based launcher with
ACCELERATE_USE_CPU=true starts two, which accelerate runs as MULTI_CPU with gloo.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.train.loop import train

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = Path(sys.executable).with_name("accelerate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate CLI not installed next to this Python")
def test_two_process_infonce_gathers_negatives_and_matches_one_process(tmp_path):
    data = generate_numerical(tmp_path / "num", dim=4, modes=1, hetero=0.0, n_train=512, n_test=64, n_ood=64, seed=0)
    overrides = [f"data.path={data}", "model.encoder.out_dim=4", "model.encoder.hidden=32", "objective.similarity=cosine",
                 "objective.temperature=0.1", "train.batch_size=64", "train.steps=4", "train.log_every=1",
                 "train.checkpoint_every=4", "optim.warmup_steps=0", "optim.lr=0.01", "train.threads=1"]
    single = train(load_config(ROOT / "configs/numerical/infonce.yaml", overrides), tmp_path / "one")
    command = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               str(ROOT / "train.py"), "--config", str(ROOT / "configs/numerical/infonce.yaml"),
               "--run-dir", str(tmp_path / "two"), *overrides]
    env = os.environ | {"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    read = lambda run: [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    one, two = read(single), read(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3, 4]
    assert json.loads((tmp_path / "two" / "run.json").read_text())["processes"] == 2
    # step 1: the same global batch and weights, so the gathered loss is the single-process loss;
    # later steps: the gradients through the gathered negatives are right too.
    for a, b in zip(two, one):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-9)  # the schedule counts optimiser steps, not × processes
    assert one[0]["loss"] != pytest.approx(one[-1]["loss"], rel=1e-3)  # training moved

"""Helpers of the fault-injection tests: tiny runs in-process or as a real ``train.py`` process."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from data_prep.numerical import generate_numerical
from worldmodel.config import Config, load_config
from worldmodel.data.store import open_array, read_meta, save_array
from worldmodel.train.loop import StepBatchSampler

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/numerical/infonce.yaml"
ACCELERATE = Path(sys.executable).with_name("accelerate")
EVERY = 10  # train.checkpoint_every of every tiny run

# AdaSSL-V (a sampled latent r) with a BYOL EMA target: every kind of state a checkpoint holds.
TINY = ["model.encoder.out_dim=4", "model.encoder.hidden=16", "model.encoder.depth=2", "model.latent.kind=gaussian",
        "model.latent.dim=4", "model.latent.hidden=16", "objective.kind=byol", "objective.hidden=16",
        "optim.warmup_steps=5", "train.batch_size=64", "train.log_every=1", f"train.checkpoint_every={EVERY}",
        "train.keep_checkpoints=2", "train.threads=1"]


def make_data(folder: Path) -> Path:
    """512 training pairs of 4-d numerical data (8 steps per epoch at batch 64)."""
    return generate_numerical(folder, dim=4, modes=1, hetero=0.0, n_train=512, n_test=64, n_ood=64, seed=0)


def poison(data: Path, step: int, position: int, steps: int) -> list[int]:
    """Set to NaN the training sample at ``position`` of ``step``'s global batch (seed 0, batch 64);
    returns every step (< ``steps``) whose batch holds it."""
    split = open_array(data, "split", mmap=False)
    rows = np.flatnonzero(split == read_meta(data)["splits"]["train"])
    batches = list(StepBatchSampler(len(rows), 64, steps, seed=0))
    sample = batches[step][position]
    x = open_array(data, "x", mmap=False).copy()
    x[rows[sample]] = np.nan
    save_array(data, "x", x)
    return [s for s, batch in enumerate(batches) if sample in batch]


def overrides(data: Path, steps: int, *extra: str) -> list[str]:
    return [f"data.path={data}", f"train.steps={steps}", *TINY, *extra]


def tiny_config(data: Path, steps: int, *extra: str) -> Config:
    return load_config(CONFIG, overrides(data, steps, *extra))


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def assert_same_weights(run: Path, reference: Path) -> None:
    """Every tensor of the two runs' final weights is bit-identical."""
    a, b = weights(run), weights(reference)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"weights differ from the uninterrupted run: {differ}"


def logged_steps(run: Path) -> list[int]:
    """Steps of the complete records of metrics.jsonl (a killed writer may leave a torn last line)."""
    steps = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except json.JSONDecodeError:
            pass
    return steps


def run_info(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def start_training(run: Path, data: Path, steps: int, *args: str) -> subprocess.Popen:
    """``python train.py`` as a real process (one torch thread); output goes to files in ``run``'s parent."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "train.py"), "--config", str(CONFIG), "--run-dir", str(run),
               *overrides(data, steps), *args]
    out = open(run.parent / f"{run.name}.stdout", "w")
    err = open(run.parent / f"{run.name}.stderr", "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)


def launch_two_processes(run: Path, data: Path, steps: int, *args: str) -> subprocess.CompletedProcess:
    """``accelerate launch`` of train.py on two CPU processes (gloo), to the end; ``args``: overrides, then flags."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
               str(port), str(ROOT / "train.py"), "--config", str(CONFIG), "--run-dir", str(run),
               *overrides(data, steps), *args]
    env = os.environ | {"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def stderr_of(run: Path) -> str:
    return (run.parent / f"{run.name}.stderr").read_text()


def wait_for_step(run: Path, process: subprocess.Popen, step: int, timeout: float = 120) -> int:
    """Poll metrics.jsonl until ``process`` has logged ``step``; returns the last logged step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"training exited with {process.returncode} before step {step}: {stderr_of(run)[-2000:]}")
        if (run / "metrics.jsonl").is_file() and (logged := logged_steps(run)) and logged[-1] >= step:
            return logged[-1]
        time.sleep(0.002)
    process.kill()
    raise AssertionError(f"training did not reach step {step} in {timeout} s")


def load_module(path: Path, name: str):
    """Import a script (e.g. ``train.py``) by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

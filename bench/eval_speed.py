"""Evaluation time against training time: eval.py's solvers and the reference ones, side by side (target ≤ 0.25×).

    python bench/eval_speed.py [--run mmnist=DIR --train-cpu mmnist=SECONDS ...] [--root /tmp/eval_speed]

For every run (default: the moving-digits and numerical AdaSSL-V runs of configs/mmnist/adassl_v.yaml
and configs/numerical/adassl_v.yaml under ``--root``, trained first with ``train.threads=1`` when
missing), ``evaluate_run`` runs twice in this process with one thread, as the training did: with the
reference solvers (ridge α by grid search over every α and fold; DCI's final lasso on the raw rows) and with
eval.py's own. Printed: wall seconds and their ratio to the run's training wall time (``run.json``);
CPU seconds and their ratio to the training's CPU seconds (measured when this script trains the run,
else given with ``--train-cpu``), steadier on a shared machine; and the ``r2_*``, ``acc_*`` and ``dci_*``
metrics of both. The run folder keeps the second (eval.py's) results.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from worldmodel.eval.evaluate import evaluate_run

CONFIGS = {"mmnist": "configs/mmnist/adassl_v.yaml", "numerical": "configs/numerical/adassl_v.yaml"}


def ensure_run(name: str, run_dir: Path, root: Path) -> float | None:
    """Train the run with the named config (data under ``root``) when it has no model yet; its CPU seconds, or None."""
    if (run_dir / "run.json").is_file():
        return None
    command = [sys.executable, "train.py", "--config", CONFIGS[name], "--run-dir", str(run_dir),
               f"data.path={root / 'data' / name}", "train.threads=1"]
    print("training:", " ".join(command), file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def timed_eval(run_dir: Path, fast: bool) -> tuple[float, float, dict[str, float]]:
    """(wall seconds, CPU seconds, metrics) of one evaluate_run."""
    clock, cpu = time.perf_counter(), time.process_time()
    metrics = evaluate_run(run_dir, fast=fast)
    return time.perf_counter() - clock, time.process_time() - cpu, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", default=[], metavar="NAME=DIR",
                        help=f"an existing run folder for NAME in {sorted(CONFIGS)} (repeatable)")
    parser.add_argument("--train-cpu", action="append", default=[], metavar="NAME=SECONDS",
                        help="CPU seconds (user + sys) the training of an existing run took, e.g. from `time`")
    parser.add_argument("--root", default="/tmp/eval_speed", help="where missing runs and their data are made")
    args = parser.parse_args()
    root = Path(args.root)
    given = dict(item.split("=", 1) for item in args.run)
    train_cpu = {name: float(seconds) for name, seconds in (item.split("=", 1) for item in args.train_cpu)}
    if unknown := (set(given) | set(train_cpu)) - set(CONFIGS):
        parser.error(f"--run / --train-cpu: unknown name(s) {sorted(unknown)}; expected {sorted(CONFIGS)}")
    runs = {name: Path(given.get(name, root / name)) for name in (given or CONFIGS)}
    for name, run_dir in runs.items():
        if (seconds := ensure_run(name, run_dir, root)) is not None:
            train_cpu[name] = seconds
    torch.set_num_threads(1)
    rows = []
    with threadpool_limits(1):
        for name, run_dir in runs.items():
            training = json.loads((run_dir / "run.json").read_text())["wall_time_s"]
            reference_s, reference_cpu, reference = timed_eval(run_dir, fast=False)
            fast_s, fast_cpu, fast = timed_eval(run_dir, fast=True)
            rows.append((name, "wall", training, reference_s, fast_s))
            if name in train_cpu:
                rows.append((name, "CPU", train_cpu[name], reference_cpu, fast_cpu))
            print(f"\n{name} ({run_dir}): metrics, reference solvers → eval.py's")
            for key in sorted(k for k in fast if k.startswith(("r2_", "acc_", "dci_"))):
                print(f"  {key:<36} {reference[key]:9.4f} {fast[key]:9.4f}  Δ {fast[key] - reference[key]:+.2e}")
    print(f"\n{'run':<10} {'time':<5} {'training s':>10} {'eval (reference) s':>19} {'ratio':>7} {'eval s':>8} "
          f"{'ratio':>7} {'speed-up':>9}")
    for name, clock, training, reference_s, fast_s in rows:
        print(f"{name:<10} {clock:<5} {training:>10.0f} {reference_s:>19.1f} {reference_s / training:>6.2f}× "
              f"{fast_s:>8.1f} {fast_s / training:>6.2f}× {reference_s / fast_s:>8.1f}×")


if __name__ == "__main__":
    main()

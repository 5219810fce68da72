"""Evaluation time against training time: eval.py's solvers and the reference ones, side by side (target ≤ 0.25×).

    python bench/eval_speed.py [--run mmnist=DIR] [--run numerical=DIR] [--root /tmp/eval_speed]

For every run (default: the moving-digits and numerical AdaSSL-V runs of configs/mmnist/adassl_v.yaml
and configs/numerical/adassl_v.yaml under ``--root``, trained first with ``train.threads=1`` when
missing), ``evaluate_run`` runs twice in this process with one thread, as the training did: with the
reference solvers (grid search over every α or C and fold; DCI's final lasso on the raw rows) and with
eval.py's own. Printed: seconds, their ratio to the run's training wall time (``run.json``), and the
``r2_*``, ``acc_*`` and ``dci_*`` metrics of both. The run folder keeps the second (eval.py's) results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from worldmodel.eval.evaluate import evaluate_run

CONFIGS = {"mmnist": "configs/mmnist/adassl_v.yaml", "numerical": "configs/numerical/adassl_v.yaml"}


def ensure_run(name: str, run_dir: Path, root: Path) -> Path:
    """The run folder, trained with the named config (data under ``root``) when it has no model yet."""
    if not (run_dir / "run.json").is_file():
        command = [sys.executable, "train.py", "--config", CONFIGS[name], "--run-dir", str(run_dir),
                   f"data.path={root / 'data' / name}", "train.threads=1"]
        print("training:", " ".join(command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True)
    return run_dir


def timed_eval(run_dir: Path, fast: bool) -> tuple[float, dict[str, float]]:
    clock = time.perf_counter()
    metrics = evaluate_run(run_dir, fast=fast)
    return time.perf_counter() - clock, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", default=[], metavar="NAME=DIR",
                        help=f"an existing run folder for NAME in {sorted(CONFIGS)} (repeatable)")
    parser.add_argument("--root", default="/tmp/eval_speed", help="where missing runs and their data are made")
    args = parser.parse_args()
    root = Path(args.root)
    given = dict(item.split("=", 1) for item in args.run)
    if unknown := set(given) - set(CONFIGS):
        parser.error(f"--run: unknown name(s) {sorted(unknown)}; expected {sorted(CONFIGS)}")
    runs = {name: ensure_run(name, Path(given.get(name, root / name)), root) for name in (given or CONFIGS)}
    torch.set_num_threads(1)
    rows = []
    with threadpool_limits(1):
        for name, run_dir in runs.items():
            training = json.loads((run_dir / "run.json").read_text())["wall_time_s"]
            reference_s, reference = timed_eval(run_dir, fast=False)
            fast_s, fast = timed_eval(run_dir, fast=True)
            rows.append((name, training, reference_s, fast_s))
            print(f"\n{name} ({run_dir}): metrics, reference solvers → eval.py's")
            for key in sorted(k for k in fast if k.startswith(("r2_", "acc_", "dci_"))):
                print(f"  {key:<36} {reference[key]:9.4f} {fast[key]:9.4f}  Δ {fast[key] - reference[key]:+.2e}")
    print(f"\n{'run':<10} {'training s':>10} {'eval (reference) s':>19} {'ratio':>7} {'eval s':>8} {'ratio':>7} {'speed-up':>9}")
    for name, training, reference_s, fast_s in rows:
        print(f"{name:<10} {training:>10.0f} {reference_s:>19.1f} {reference_s / training:>6.2f}× "
              f"{fast_s:>8.1f} {fast_s / training:>6.2f}× {reference_s / fast_s:>8.1f}×")


if __name__ == "__main__":
    main()

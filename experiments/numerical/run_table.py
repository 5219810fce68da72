"""The numerical comparison: methods × seeds → R² (test, ood), mean ± std, as a markdown table.

    python experiments/numerical/run_table.py --out runs/numerical_table [--seeds 0 1 2] [--jobs 2]

Each run is ``train.py`` then ``eval.py`` in its own process (``--jobs`` at a time, one torch
thread each); the table, per-run numbers and wall times go to ``OUT/table.md`` and
``OUT/results.json``. Extra ``key=value`` arguments are passed to every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

METHODS = ["infonce", "aninfonce", "hinfonce", "adassl_v", "adassl_s"]


def run_one(method: str, seed: int, out: Path, overrides: list[str]) -> dict:
    run_dir = out / method / f"seed{seed}"
    start = time.perf_counter()
    train = [sys.executable, "train.py", "--config", f"configs/numerical/{method}.yaml", "--run-dir", str(run_dir),
             f"train.seed={seed}", *overrides]
    for cmd in (train, [sys.executable, "eval.py", "--run", str(run_dir)]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = json.loads((run_dir / "eval.json").read_text())
    train_time = json.loads((run_dir / "run.json").read_text())["wall_time_s"]
    return {"method": method, "seed": seed, **metrics, "train_time_s": train_time,
            "total_time_s": time.perf_counter() - start}


def summarise(rows: list[dict]) -> str:
    lines = ["| method | R² test | R² ood | train time / run (s) |", "|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]

        def stat(key: str, digits: int = 3) -> str:
            values = [r[key] for r in mine]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"

        lines.append(f"| {method} | {stat('r2_test')} | {stat('r2_ood')} | {stat('train_time_s', 0)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/numerical_table")
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("overrides", nargs="*", help="key=value passed to every run")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    jobs = [(m, s) for m in args.methods for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: run_one(*job, out, args.overrides), jobs))
    table = summarise(rows)
    wall = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps({"runs": rows, "wall_time_s": wall}, indent=2))
    (out / "table.md").write_text(table + f"\n\nwhole table: {wall / 60:.1f} min\n")
    print(table)
    print(f"whole table: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()

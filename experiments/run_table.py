"""A family's comparison: methods × seeds → probe metrics, mean ± std, as a markdown table.

    python experiments/run_table.py numerical --out runs/numerical_table [--seeds 0 1 2] [--jobs 2]
    python experiments/run_table.py mmnist --out runs/mmnist_table --methods byol adassl_v adassl_mix

Method m of family F is ``configs/F/m.yaml``. Each run is ``train.py`` then ``eval.py`` in its own
process (``--jobs`` at a time, one torch thread each); the table (the family's metrics from
``eval.json``), per-run numbers and wall times go to ``OUT/table.md`` and ``OUT/results.json``.
A missing built-in dataset is generated once before the runs start. A run that finished in an
earlier invocation (``RUN/table_row.json``) is reused, so an interrupted table continues where it
stopped. Extra ``key=value`` arguments are passed to every run.
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

from worldmodel.config import load_config
from worldmodel.data import ensure_dataset

FAMILIES = {
    "numerical": {"methods": ["infonce", "aninfonce", "hinfonce", "adassl_v", "adassl_s"],
                  "metrics": ["r2_test", "r2_ood"]},
    "mmnist": {"methods": ["byol", "infonce", "adassl_v", "adassl_s", "adassl_mix", "adassl_tokens"],
               "metrics": ["r2_position", "r2_velocity", "r2_acceleration", "r2_action_from_r",
                           "r2_action_from_embedding_r", "r2_position_predicted"]},
}


def run_one(family: str, method: str, seed: int, out: Path, overrides: list[str]) -> dict:
    run_dir = out / method / f"seed{seed}"
    done = run_dir / "table_row.json"
    if done.is_file():  # finished by an earlier invocation: reuse it
        return json.loads(done.read_text())
    start = time.perf_counter()
    # --resume: a run an earlier invocation left unfinished continues from its checkpoint (none: from step 0)
    train = [sys.executable, "train.py", "--config", f"configs/{family}/{method}.yaml", "--run-dir", str(run_dir),
             "--resume", f"train.seed={seed}", *overrides]
    for cmd in (train, [sys.executable, "eval.py", "--run", str(run_dir)]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = json.loads((run_dir / "eval.json").read_text())
    train_time = json.loads((run_dir / "run.json").read_text())["wall_time_s"]
    row = {"method": method, "seed": seed, **metrics, "train_time_s": train_time, "total_time_s": time.perf_counter() - start}
    done.write_text(json.dumps(row, indent=2))
    return row


def summarise(rows: list[dict], metrics: list[str]) -> str:
    lines = ["| method | " + " | ".join(metrics) + " | train time / run (s) |", "|---" * (len(metrics) + 2) + "|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]

        def stat(key: str, digits: int = 3) -> str:
            values = [r[key] for r in mine if key in r]
            if not values:  # e.g. r2_action_from_r of a method without r
                return "—"
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"

        lines.append(f"| {method} | " + " | ".join(map(stat, metrics)) + f" | {stat('train_time_s', 0)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=sorted(FAMILIES), help="configs/FAMILY/METHOD.yaml")
    parser.add_argument("--out", type=Path, help="default runs/FAMILY_table")
    parser.add_argument("--methods", nargs="+", help="default: all of the family's methods")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("overrides", nargs="*", help="key=value passed to every run")
    args = parser.parse_args()
    family = FAMILIES[args.family]
    methods = args.methods or family["methods"]
    unknown = sorted(set(methods) - set(family["methods"]))
    if unknown:
        parser.error(f"--methods {unknown} not in family {args.family}; expected some of {family['methods']}")
    out = args.out or Path(f"runs/{args.family}_table")
    out.mkdir(parents=True, exist_ok=True)
    overrides = ["train.threads=1", *args.overrides]
    for method in methods:  # generate a missing dataset once, not in every parallel run
        ensure_dataset(load_config(f"configs/{args.family}/{method}.yaml", overrides).data)
    start = time.perf_counter()
    jobs = [(m, s) for m in methods for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: run_one(args.family, *job, out, overrides), jobs))
    table = summarise(rows, family["metrics"])
    wall = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps({"runs": rows, "wall_time_s": wall}, indent=2))
    (out / "table.md").write_text(table + f"\n\nwhole table: {wall / 60:.1f} min\n")
    print(table)
    print(f"whole table: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()

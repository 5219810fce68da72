"""Training throughput on Moving-digits: fp32 vs bf16 autocast on CPU, side by side, and the
share of step time spent waiting for data.

    python bench/train_throughput.py [--config configs/mmnist/adassl_v.yaml --steps 60 --warmup 20 --rounds 2]

Generates a small moving-digits store in a temporary folder (or reads ``--data``), then trains
the config for ``--steps`` steps with ``train.mixed_precision`` ``no`` and ``bf16``, alternating
``--rounds`` times so that other load on a shared machine hits both alike. From the cumulative
``data_time`` / ``compute_time`` in metrics.jsonl, after the first ``--warmup`` steps, it prints
clips/s (training samples, i.e. (context clip, target clip) pairs, per second of step time) and
the data wait share = data time / (data + compute time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from data_prep.mmnist import generate_mmnist

ROOT = Path(__file__).resolve().parents[1]


def measure(config: str, data: Path, run_dir: Path, precision: str, args: argparse.Namespace) -> tuple[float, float]:
    """(clips/s, data wait share) of one ``train.py`` run (its own process: Accelerate fixes the
    precision once per process), over the steps after the warm-up."""
    overrides = [f"data.path={data}", f"train.mixed_precision={precision}", f"train.steps={args.steps}",
                 f"train.log_every={args.warmup}", f"train.checkpoint_every={args.steps}",
                 f"train.batch_size={args.batch_size}", f"train.threads={args.threads}"]
    subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", config, "--run-dir", str(run_dir), *overrides],
                   cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    first, last = records[0], records[-1]
    data_time = last["data_time"] - first["data_time"]
    compute_time = last["compute_time"] - first["compute_time"]
    return (last["step"] - first["step"]) * args.batch_size / (data_time + compute_time), data_time / (data_time + compute_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/mmnist/adassl_v.yaml")
    parser.add_argument("--data", type=Path, help="an mmnist dataset folder (default: generate 40 videos)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of the rates; must divide --steps")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.steps % args.warmup or args.steps <= args.warmup:
        parser.error("--warmup must divide --steps and be smaller")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data or generate_mmnist(tmp / "mmnist", videos=40, frames=32)
        results: dict[str, list[tuple[float, float]]] = {"no": [], "bf16": []}
        for round_ in range(args.rounds):
            for precision in results:
                results[precision].append(measure(args.config, data, tmp / f"{precision}_{round_}", precision, args))
    print(f"\n{args.config}: batch {args.batch_size}, {args.steps - args.warmup} timed steps x {args.rounds} rounds, "
          f"{args.threads} threads, torch {torch.__version__}")
    print(f"{'precision':<10} {'clips/s (each round)':<28} {'mean':>8} {'data wait':>10}")
    means = {}
    for precision, rows in results.items():
        rates = [rate for rate, _ in rows]
        means[precision] = sum(rates) / len(rates)
        wait = sum(share for _, share in rows) / len(rows)
        print(f"{precision:<10} {', '.join(f'{r:.1f}' for r in rates):<28} {means[precision]:>8.1f} {wait:>10.1%}")
    print(f"bf16 / fp32: {means['bf16'] / means['no']:.2f}x")


if __name__ == "__main__":
    main()

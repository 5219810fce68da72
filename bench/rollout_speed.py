"""Rollout speed: batched futures (all samples × starts in one batch per step) against a per-sample loop.

    OMP_NUM_THREADS=1 python bench/rollout_speed.py [--run RUN] [--starts 32 --samples 64 --horizon 16]

Without ``--run`` the model is a fresh configs/mmnist/adassl_mix.yaml world model (the cost of a
rollout does not depend on the weights) with random stand-in probes; with ``--run`` the run and
the probes eval.py saved. Timed: encoding the start clips is excluded (shared by both), the rollout
plus the probe decoding of every step of every future is included; best of ``--repeats``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldmodel.config import load_config
from worldmodel.models import WorldModel
from worldmodel.eval.probes import LinearProbe, load_probes
from worldmodel.rollout.futures import decode, roll_out, sample_futures
from worldmodel.train.runs import load_run
from timing import best_time  # bench/timing.py


def per_sample_loop(model, start, horizon: int, samples: int) -> torch.Tensor:
    """The naive reference: one rollout per future, (N, B, H+1, D)."""
    draw = lambda e: model.latent.sample_prior(e, 1)[0]
    return torch.stack([roll_out(model, start, horizon, draw) for _ in range(samples)])



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a run evaluated by eval.py (default: fresh adassl_mix model)")
    parser.add_argument("--starts", type=int, default=32)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.run:
        _, model = load_run(args.run)
        probes = [p for p in load_probes(f"{args.run}/probes").values() if p.info.get("input") == "embedding"]
    else:
        model = WorldModel(load_config("configs/mmnist/adassl_mix.yaml"), (3, 1, 64, 64)).eval()
        rng = np.random.default_rng(0)
        probes = [LinearProbe(rng.standard_normal((4, 64)), np.zeros(4)) for _ in range(3)]
    with torch.no_grad():
        start = torch.randn(args.starts, model.encoder.out_dim)

        def run(futures):
            paths = futures(model, start, args.horizon, args.samples)
            return [decode(p, paths) for p in probes]
        fast = best_time(lambda: run(sample_futures), args.repeats)
        slow = best_time(lambda: run(per_sample_loop), args.repeats)
    print(f"{args.starts} starts × {args.samples} samples × {args.horizon} steps, {len(probes)} probes, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"batched          {fast * 1000:8.1f} ms")
    print(f"per-sample loop  {slow * 1000:8.1f} ms")
    print(f"speed-up         {slow / fast:8.1f}×")


if __name__ == "__main__":
    main()

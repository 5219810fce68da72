"""Cost of the pixel decoder: fitting it against training the run, and batched rendering against a per-frame loop.

    python bench/decoder_cost.py --run RUN [--starts 16 --samples 8 --horizon 12]

RUN is a frame run with a decoder fitted by ``python decode.py --run RUN``. Printed:

- fit / training: CPU seconds of ``decode.py`` (the fit RUN/decoder/config.json records: embedding cache +
  its optimiser steps) over those of ``train.py`` (the run's config and ``train.steps``), measured side by
  side in this run, one thread each: each command runs twice in a scratch folder, for ``--cost-steps``
  (the decoder 5 × as many) and 4 × that many steps, and the difference gives the CPU time per step, the shorter run the fixed cost
  (start-up, data, embedding cache); both totals are extrapolated to the full step counts, so load
  from other processes on the machine does not enter the ratio;
- rendering: ``starts`` held-out starts × ``samples`` sampled futures × ``horizon`` steps (plus the
  prior-mean and true rows) decoded in one batch and written as PNG grids, GIFs, MP4s and a contact
  sheet, timed whole; and the decoding alone, batched against one frame at a time (best of ``--repeats``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from worldmodel.data import build_dataset
from worldmodel.decode.data import encode_clips, future_frames
from worldmodel.decode.fit import FitConfig, frame_run
from worldmodel.decode.store import load_decoder
from worldmodel.rollout.futures import mean_future, sample_futures
from worldmodel.rollout.render import render_rollouts
from worldmodel.rollout.starts import pick_starts
from timing import best_time  # bench/timing.py


def frame_by_frame(decoder, path: torch.Tensor, last: torch.Tensor) -> list[torch.Tensor]:
    """The per-frame loop batched decoding is measured against: (..., H+1, D) paths from (B, C, H, W) last
    frames, one decoder call per frame (with the frame decoded before it, for a decoder that reads it)."""
    flat = path.reshape(-1, *path.shape[-2:])
    starts = last.expand(*path.shape[:-2], *last.shape[1:]).reshape(-1, *last.shape[1:])
    decoded = []
    for steps, frame in zip(flat, starts):
        frame = frame[None]
        for h in range(1, len(steps)):
            frame = decoder(steps[h][None], steps[h - 1][None], frame)
            decoded.append(frame)
    return decoded



def child_cpu_seconds(cmd: list[str]) -> float:
    """Run ``cmd`` (it must succeed) and return the CPU seconds (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def full_cost(command, short: int, steps: int) -> float:
    """CPU seconds of ``command(n)`` extrapolated to ``steps`` from runs of ``short`` and 4·``short`` steps."""
    few, more = child_cpu_seconds(command(short)), child_cpu_seconds(command(4 * short))
    per_step = (more - few) / (3 * short)
    return few - short * per_step + steps * per_step


def fit_against_training(run: Path, training_steps: int, cost_steps: int) -> tuple[float, float]:
    """CPU seconds of a full decoder fit (as RUN/decoder/config.json records it) and of the run's full
    training (``training_steps``)."""
    fit = json.loads((run / "decoder" / "config.json").read_text())["fit"]
    config = run / "config.yaml"
    with tempfile.TemporaryDirectory() as scratch:
        short = Path(scratch) / "run"

        def train(steps: int) -> list[str]:
            return [sys.executable, "train.py", "--config", str(config), "--run-dir", str(short), "--overwrite",
                    f"train.steps={steps}", "train.threads=1", f"train.checkpoint_every={steps}"]

        def decode(steps: int) -> list[str]:
            # the fit's first `steps` steps, then a checkpoint and exit (--stop-at): no scoring afterwards
            return [sys.executable, "decode.py", "--run", str(short), "--overwrite", "--threads", "1", "--steps", str(fit["steps"]),
                    "--stop-at", str(steps), "--batch-size", str(fit["batch_size"]), "--width", str(fit["width"]),
                    "--lr", str(fit["lr"]), "--rollout-steps", str(fit.get("rollout_steps", 0)),
                    "--rollout-fraction", str(fit.get("rollout_fraction", FitConfig.rollout_fraction))] + ([] if fit["context_frame"] else ["--no-context-frame"])

        training = full_cost(train, cost_steps, training_steps)
        # on the short run (a fit's cost does not depend on the weights); a decoder step is about 5× cheaper than a
        # training step, so 5× as many steps keep the difference well above the noise of the embedding cache
        fitting = full_cost(decode, 5 * cost_steps, fit["steps"])
    return fitting, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a frame run with a fitted decoder")
    parser.add_argument("--starts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="keep the rendered files in this folder (default: a temporary one)")
    parser.add_argument("--cost-steps", type=int, default=10, help="steps of the short training and fit runs (and 4× that)")
    args = parser.parse_args()
    run = Path(args.run)
    cfg, model = frame_run(run)
    torch.set_num_threads(cfg.train.threads or torch.get_num_threads())
    fit, training = fit_against_training(run, cfg.train.steps, args.cost_steps)
    print(f"decoder fit {fit:.0f} CPU s / training {training:.0f} CPU s = {fit / training:.3f}  (target ≤ 0.25)")

    torch.manual_seed(0)
    test = build_dataset(cfg.data, "test")
    first = test.first[pick_starts(test, args.horizon, args.starts, np.random.default_rng(0))]
    decoder = load_decoder(run)
    with torch.no_grad():
        fx = encode_clips(model, test, first)
        paths, deterministic = sample_futures(model, fx, args.horizon, args.samples), mean_future(model, fx, args.horizon)
    truth = future_frames(test, first, args.horizon).float() / 255
    futures = [(paths, truth[:, 0]), (deterministic, truth[:, 0])]  # every frame a grid shows but the true ones
    batched = best_time(lambda: [decoder.decode_future(path, last) for path, last in futures], args.repeats)
    with torch.no_grad():
        looped = best_time(lambda: [frame_by_frame(decoder, path, last) for path, last in futures], 1)
    frames = sum(path[..., 1:, 0].numel() for path, _ in futures)
    print(f"decoding {frames} frames: batched {batched:.2f} s, per-frame loop {looped:.2f} s = {looped / batched:.1f}× slower")

    def render() -> None:
        with tempfile.TemporaryDirectory() as scratch:
            samples, prior_mean = (decoder.decode_future(path, last) for path, last in futures)
            render_rollouts(Path(args.out or scratch), samples, prior_mean, truth, run.name, test.gap,
                            [f"held-out start {i}" for i in range(len(first))], shown=args.samples)

    cpu = time.process_time()
    seconds = best_time(render, 1)
    cpu = time.process_time() - cpu
    print(f"rendering {len(first)} starts × {args.samples} samples × {args.horizon} steps (decode + PNG, GIF, MP4, sheet): "
          f"{seconds:.1f} s wall, {cpu:.1f} s CPU (target ≤ 20 s); decoding is {batched / seconds:.0%} of it")


if __name__ == "__main__":
    main()

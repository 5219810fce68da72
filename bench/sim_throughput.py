"""Simulator recording throughput: ``data_prep sim`` vs. a bare ``env.step`` + render loop.

    python bench/sim_throughput.py [--envs Reacher-v5 CarRacing-v3 --episodes 20 --frames 64 --size 64]

Needs the sim extra (``pip install -e ".[sim]"``). For each environment, in one run and one process:
(a) a bare loop over the same gymnasium environment, with the same render settings, that only
calls ``env.step`` with a random action and takes the picture (``render()`` for MuJoCo, the
observation for CarRacing and Breakout, which render it inside ``step``), ``--episodes`` × ``--frames``
steps with a reset per episode (and at a game over); (b) :func:`data_prep.sim.generate_sim` writing the same number of
frames with one worker (policy, cropping, resizing, state, the parts and the final store).
Prints frames per second of both and the ratio (target ≥ 0.8×). The order alternates over
``--repeats`` and the best of each is kept, as the machine's load varies.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from data_prep.sim import ENVS, _cached_env, generate_sim


def bare_loop(env_name: str, episodes: int, frames: int, size: int) -> float:
    """Frames per second of reset + step + picture, nothing recorded."""
    adapter = _cached_env(env_name, size)
    env, rng = adapter.env, np.random.default_rng(0)
    render = env_name not in ("CarRacing-v3", "Breakout")
    discrete = getattr(adapter, "discrete", False)
    start = time.perf_counter()
    for episode in range(episodes):
        env.reset(seed=episode)
        for _ in range(frames):
            if discrete:
                ended = env.step(int(rng.integers(len(adapter.action_columns))))[2]
            else:
                ended = env.step(rng.uniform(adapter.action_low, adapter.action_high).astype(np.float32))[2]
            if render:
                env.render()
            if ended:
                env.reset(seed=episode)
    return episodes * frames / (time.perf_counter() - start)


def generator(env_name: str, episodes: int, frames: int, size: int) -> float:
    """Frames per second of ``generate_sim`` into a fresh temporary folder."""
    folder = Path(tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        summary = generate_sim(folder / "d", env_name, episodes=episodes, frames=frames, size=size)
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(folder)
    return summary.frames / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    for env_name in args.envs:
        _cached_env(env_name, args.size)  # environment creation and the renderer's context: not timed
        bare, ours = [], []
        for repeat in range(args.repeats):
            runs = [(bare, bare_loop), (ours, generator)]
            for results, fn in runs[:: 1 if repeat % 2 == 0 else -1]:
                results.append(fn(env_name, args.episodes, args.frames, args.size))
        print(f"{env_name}: bare env.step + render {max(bare):7.1f} frames/s | data_prep sim {max(ours):7.1f} frames/s "
              f"| ratio {max(ours) / max(bare):.2f}x  ({args.episodes} episodes x {args.frames} frames, {args.size} px)")


if __name__ == "__main__":
    main()

"""Loader throughput: random frame pairs from the frame store vs. decoding them on the fly.

    python bench/loader_throughput.py [--videos 64 --frames 64 --batches 20]

Writes moving-digit videos as H.264 mp4s (64×64, 10 fps), prepares them into a frame store with
``data_prep videos``, then draws the same random batches of 256 (context, target) pairs,
gap 1, and times: (a) ``FramePairs.__getitems__`` (vectorised indexing of the memory-mapped
store) and (b) decord decoding each pair from its mp4 — how V-JEPA-style loaders read clips
(here with one open ``VideoReader`` per video kept between pairs, which favours decord).
Checks that both give the same pixels, and prints pairs per second and the ratio (target ≥ 20×).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import decord
import numpy as np
import torch

from data_prep.mmnist import generate_mmnist
from data_prep.videos import prepare_videos
from worldmodel.data.frames import FramePairs

BATCH = 256


def decord_batch(readers: list[decord.VideoReader], video: np.ndarray, start: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, target) (B, 1, 3, H, W) uint8 decoded from the mp4s."""
    clips = np.stack([readers[v].get_batch([s, s + 1]).asnumpy() for v, s in zip(video, start)])
    clips = torch.from_numpy(clips).permute(0, 1, 4, 2, 3)
    return clips[:, :1], clips[:, 1:]


def pairs_per_second(fn, batches: list[list[int]]) -> float:
    start = time.perf_counter()
    for indices in batches:
        fn(indices)
    return len(batches) * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20, help="batches timed for each loader")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    try:
        generate_mmnist(work / "mmnist", videos=args.videos, frames=args.frames, mp4=True)
        mp4s = work / "mmnist" / "mp4"
        prepare_videos(mp4s, work / "store", size=64, fps=10)
        pairs = FramePairs(work / "store", context=1, gap=1, split="all")
        readers = [decord.VideoReader(str(p), num_threads=1) for p in sorted(mp4s.glob("*.mp4"))]
        rng = np.random.default_rng(0)
        batches = [rng.integers(0, len(pairs), BATCH).tolist() for _ in range(args.batches)]
        ours = pairs.__getitems__(batches[0])
        theirs = decord_batch(readers, pairs.video[batches[0]], pairs.start[batches[0]])
        assert torch.equal(ours["context"], theirs[0]) and torch.equal(ours["target"], theirs[1]), "loaders disagree"
        store_rate = pairs_per_second(pairs.__getitems__, batches * 10)
        decord_rate = pairs_per_second(lambda i: decord_batch(readers, pairs.video[i], pairs.start[i]), batches)
        print(f"{len(pairs)} pairs from {args.videos} videos of {args.frames} frames, 64x64, batches of {BATCH}")
        print(f"  FramePairs (frame store)  {store_rate:10.0f} pairs/s")
        print(f"  decord on the fly         {decord_rate:10.0f} pairs/s")
        print(f"  ratio                     {store_rate / decord_rate:10.1f}x")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

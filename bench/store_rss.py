"""Peak resident memory while iterating over a frame store larger than 4 GB.

    python bench/store_rss.py [--gb 4.2 --batches 0]

Writes a store of 64×64 RGB frames (``--gb`` gigabytes; deleted at the end), then, each in a
fresh process, iterates in random batches of 256 (context, target) pairs, gap 1, over every
pair (or ``--batches`` batches) with (a) ``FramePairs`` (memory map + released pages) and
(b) the same fancy indexing on a plain ``np.load(mmap_mode="r")`` map. Prints each process's
peak RSS (target for FramePairs: < 1 GB; ``import torch`` alone accounts for about 0.57 GB) and
its pairs per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from worldmodel.data.frames import FramePairs
from worldmodel.data.store import FRAMES_KIND, write_frames, write_manifest, write_meta

FRAME = (64, 64, 3)
VIDEO_FRAMES = 1000
BATCH = 256


def write_big_store(folder: Path, gigabytes: float) -> int:
    """A store of ``gigabytes`` of frames in videos of 1000 frames; returns the frame count."""
    videos = int(np.ceil(gigabytes * 1e9 / (VIDEO_FRAMES * np.prod(FRAME))))
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (VIDEO_FRAMES, *FRAME), dtype=np.uint8)
    clips = (np.roll(block, v, axis=0) for v in range(videos))
    write_frames(folder, clips, [VIDEO_FRAMES] * videos, FRAME)
    write_manifest(folder, [{"id": f"v{v}", "path": "generated", "frames": VIDEO_FRAMES, "fps": 10,
                             "height": 64, "width": 64, "status": "ok"} for v in range(videos)])
    write_meta(folder, FRAMES_KIND, "bench.store_rss", {"gigabytes": gigabytes})
    return videos * VIDEO_FRAMES


def warm_page_cache(path: Path) -> None:
    """Read the file once so that both runs find it in the page cache (if it fits)."""
    with open(path, "rb", buffering=0) as fh:
        while fh.read(64 * 2**20):
            pass


def iterate(folder: Path, plain: bool, batches: int, results) -> None:
    pairs = FramePairs(folder, context=1, gap=1, split="all")
    frames = np.load(folder / "frames.npy", mmap_mode="r") if plain else None
    order = np.random.default_rng(0).permutation(len(pairs))
    steps = batches or len(order) // BATCH
    print(f"  ({'plain' if plain else 'FramePairs'}: {peak_rss_gb():.2f} GB resident after setup)")
    start = time.perf_counter()
    for b in range(steps):
        indices = order[b * BATCH : (b + 1) * BATCH]
        if plain:
            first = pairs.first[indices]
            frames[np.stack([first, first + 1], 1)].sum(dtype=np.uint64)  # same gather, no page release
        else:
            pairs.__getitems__(indices.tolist())
    rate = steps * BATCH / (time.perf_counter() - start)
    results.put((peak_rss_gb(), rate, steps))


def peak_rss_gb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(folder: Path, plain: bool, batches: int) -> tuple[float, float, int]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=iterate, args=(folder, plain, batches, results))
    proc.start()
    out = results.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=4.2, help="size of the store in GB")
    parser.add_argument("--batches", type=int, default=0, help="batches per run; 0 = one pass over every pair")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the store (default: a temporary folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_rss_", dir=args.dir))
    try:
        frames = write_big_store(work, args.gb)
        size = (work / "frames.npy").stat().st_size / 1e9
        print(f"store: {frames} frames of 64x64x3, {size:.2f} GB")
        warm_page_cache(work / "frames.npy")
        for name, plain in (("FramePairs", False), ("plain np.load mmap", True)):
            rss, rate, steps = measure(work, plain, args.batches)
            print(f"  {name:20s} peak RSS {rss:6.2f} GB   {rate:8.0f} pairs/s   ({steps} batches of {BATCH})")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""Preprocessing throughput of ``data_prep videos`` vs. a bare PyAV decode of the same files.

    python bench/preprocess_throughput.py [--videos 8 --frames 150 --size 240 --repeats 3]

Writes camera-pan videos (natural images, H.264, 30 fps) to a temporary folder, then times, in
alternation, (a) a bare PyAV decode: every frame decoded and converted to an RGB array, and
(b) ``prepare_videos`` with one worker: decode, resample, resize to 64 px, write the store —
at the source frame rate (every frame converted, like the bare decode) and at 10 fps.
Prints source frames per second and the ratio ours / bare (the target is ≥ 0.8×).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
import torch

from data_prep.camera_pan import generate_camera_pan
from data_prep.videos import prepare_videos


def bare_decode(paths: list[Path]) -> int:
    frames = 0
    for path in paths:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
                frames += 1
    return frames


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--size", type=int, default=240, help="source videos are size x size")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench_prep_"))
    try:
        generate_camera_pan(work / "src", videos=args.videos, frames=args.frames, size=args.size, fps=30, mp4=True)
        paths = sorted((work / "src" / "mp4").glob("*.mp4"))
        total = bare_decode(paths)  # also warms the page cache
        runs = {"bare PyAV decode": lambda: bare_decode(paths)}
        for fps in (0, 10):
            runs[f"prepare_videos fps={fps or 'source'}"] = (
                lambda fps=fps: prepare_videos(work / "src" / "mp4", work / f"out{fps}", size=64, fps=fps, overwrite=True))
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn))
        bare = statistics.median(times["bare PyAV decode"])
        print(f"{len(paths)} videos, {total} source frames of {args.size}x{args.size} at 30 fps; median of {args.repeats}")
        for name, values in times.items():
            seconds = statistics.median(values)
            print(f"  {name:28s} {total / seconds:8.0f} source frames/s   ratio to bare decode {bare / seconds:.2f}x")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""Preprocessing throughput of ``data_prep videos`` vs. a bare PyAV decode of the same files.

    python bench/preprocess_throughput.py [--videos 8 --frames 150 --size 240 --repeats 3]

Writes camera-pan videos (natural images, H.264, 30 fps) to a temporary folder, then times, in
alternation, (a) a bare PyAV decode: every frame decoded and converted to an RGB array, with PyAV's default
decoder threading and, for reference, with frame threads (the setting ``data_prep`` uses), and
(b) ``prepare_videos`` with one worker: decode, resample, resize to 64 px, write the store —
at the source frame rate (every frame converted, like the bare decode) and at 10 fps.
Prints source frames per second and the ratio ours / bare (the target is ≥ 0.8×), by wall time
and by CPU time of the process (steadier on a shared machine; both runs use one core).
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


def bare_decode(paths: list[Path], thread_type: str | None = None) -> int:
    """Decode every frame to an RGB array; PyAV's default decoder threading unless given."""
    frames = 0
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = thread_type or stream.thread_type
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                frames += 1
    return frames


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


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
        runs = {"bare PyAV decode": lambda: bare_decode(paths),
                "bare, frame threads": lambda: bare_decode(paths, "AUTO")}
        for fps in (0, 10):
            runs[f"prepare_videos fps={fps or 'source'}"] = (
                lambda fps=fps: prepare_videos(work / "src" / "mp4", work / f"out{fps}", size=64, fps=fps, overwrite=True))
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn))
        median = {name: [statistics.median(column) for column in zip(*values)] for name, values in times.items()}
        bare_wall, bare_cpu = median["bare PyAV decode"]
        print(f"{len(paths)} videos, {total} source frames of {args.size}x{args.size} at 30 fps; median of {args.repeats}")
        for name, (wall, cpu) in median.items():
            print(f"  {name:28s} {total / wall:6.0f} source frames/s   ratio to bare decode {bare_wall / wall:.2f}x wall, "
                  f"{bare_cpu / cpu:.2f}x CPU time")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

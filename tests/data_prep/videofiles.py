"""Real video files written with PyAV for the data_prep tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from data_prep.render import write_mp4


def moving_pattern(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a smooth colour gradient and a bright square moving one pixel per
    frame, so that every frame differs from its neighbours."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, rng.integers(0, 255))], -1)
    clip = np.repeat(base[None], frames, 0).astype(np.uint8)
    for t in range(frames):
        y, x = (5 + t) % (height - 12), (3 + 2 * t) % (width - 12)
        clip[t, y : y + 12, x : x + 12] = 255
    return clip


def write_pattern_video(path: Path, frames: int = 30, fps: float = 30, height: int = 48, width: int = 80, seed: int = 0) -> Path:
    """Write :func:`moving_pattern` as an H.264 mp4 at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(path, moving_pattern(frames, height, width, seed), fps)
    return path


def write_audio_only(path: Path) -> Path:
    """An mp4 with one AAC audio stream and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path

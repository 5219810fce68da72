"""Small rendering helpers shared by the synthetic generators, and an H.264 writer."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def bilinear_crop(image: np.ndarray, top: float, left: float, height: int, width: int) -> np.ndarray:
    """The (height, width, ...) window of ``image`` (H, W, ...) whose top-left corner is at the
    fractional position (top, left), bilinearly interpolated; float32.

    The window plus one pixel below and to the right must lie inside the image:
    0 ≤ top ≤ H − height − 1, 0 ≤ left ≤ W − width − 1.
    """
    y0, x0 = int(np.floor(top)), int(np.floor(left))
    fy, fx = np.float32(top - y0), np.float32(left - x0)
    rows = image[max(y0, 0) : y0 + height + 1, max(x0, 0) : x0 + width + 1].astype(np.float32)
    if y0 < 0 or x0 < 0 or rows.shape[:2] != (height + 1, width + 1):
        raise ValueError(f"window at ({top:.2f}, {left:.2f}) of size {height}x{width} leaves the {image.shape[:2]} image")
    vertical = (1 - fy) * rows[:height] + fy * rows[1:]
    return (1 - fx) * vertical[:, :width] + fx * vertical[:, 1:]


def shifted_sprite(sprite: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``sprite`` (h, w) moved down/right by the fractions (dy, dx) ∈ [0, 1): (h + 1, w + 1) float32.

    Bilinear shifting moves the sprite's centre of mass by exactly (dy, dx).
    """
    padded = np.pad(sprite.astype(np.float32), ((1, 2), (1, 2)))
    h, w = sprite.shape
    return bilinear_crop(padded, 1 - dy, 1 - dx, h + 1, w + 1)


def write_mp4(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """Write (T, H, W, C) uint8 frames (C = 1 or 3, H and W even) as an H.264 mp4, atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.mp4")
    t, h, w, c = frames.shape
    if c == 1:
        frames = np.repeat(frames, 3, axis=-1)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    os.replace(tmp, path)

"""Fit frames to a square of ``size`` pixels: short side to size and centre crop, or pad."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_frames(frames: np.ndarray, size: int, pad: bool = False) -> np.ndarray:
    """(n, H, W, C) uint8 → (n, size, size, C) uint8.

    Default: centre-crop the long side to a square, then resize (bilinear, antialiased).
    ``pad=True`` keeps the whole frame: the long side is resized to ``size`` and the short side
    is centred between black bars.
    """
    n, h, w, c = frames.shape
    if not pad:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        frames = frames[:, top : top + side, left : left + side]
        new_h = new_w = size
    else:
        scale = size / max(h, w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    if x.shape[-2:] != (new_h, new_w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    resized = x.permute(0, 2, 3, 1).numpy()
    if not pad:
        return np.ascontiguousarray(resized)
    out = np.zeros((n, size, size, c), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[:, top : top + new_h, left : left + new_w] = resized
    return out

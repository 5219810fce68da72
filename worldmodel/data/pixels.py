"""Pixels as the models read them: dataset folders keep frames as uint8, the networks take floats in [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor


def unit_float(frames: Tensor) -> Tensor:
    """Frames of any shape as float32 in [0, 1]: uint8 is divided by 255, float is passed on as float32.
    The division is in place on the fresh float copy of uint8 frames: one allocation a batch, not two."""
    return frames.float().div_(255) if frames.dtype == torch.uint8 else frames.float()

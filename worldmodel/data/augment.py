"""On-device augmentation of uint8 clip batches with kornia.

The loaders return uint8 clips so that the host-to-device transfer is 4× smaller than float;
:func:`to_float` and :class:`ClipAugment` run after the transfer, batched, on the device::

    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    context, target = augment(batch["context"], batch["target"])   # float32 in [0, 1]

Spatial augmentations move pixels: positions, velocities and camera motions in the ground
truth then no longer describe the augmented frames, so probe on un-augmented batches.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import Tensor, nn


def to_float(clips: Tensor) -> Tensor:
    """uint8 (..., C, H, W) → float32 in [0, 1], same shape and device."""
    return clips.to(torch.float32).div_(255)


class ClipAugment(nn.Module):
    """Random resized crop, optional horizontal flip and colour jitter for clip batches.

    Input: context, target uint8 (B, k, C, H, W); output: float32 in [0, 1], same shapes. One
    draw of the parameters is used for every frame of a clip (so motion within the clip is
    kept), and with ``same_on_pair`` also for its target (so the change from context to target
    is the data's, not the augmentation's). Saturation and hue need C = 3.
    """

    def __init__(
        self,
        size: tuple[int, int],
        crop_scale: tuple[float, float] = (0.8, 1.0),
        flip: bool = False,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
        same_on_pair: bool = True,
    ) -> None:
        super().__init__()
        steps: list[nn.Module] = [K.RandomResizedCrop(size, scale=crop_scale)]
        if flip:
            steps.append(K.RandomHorizontalFlip())
        self.needs_colour = saturation > 0 or hue > 0
        if brightness or contrast or self.needs_colour:
            steps.append(K.ColorJiggle(brightness, contrast, saturation, hue, p=1.0))
        self.pipeline = K.VideoSequential(*steps, data_format="BTCHW", same_on_frame=True)
        self.same_on_pair = same_on_pair

    def forward(self, context: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        if self.needs_colour and context.shape[2] != 3:
            raise ValueError(f"saturation/hue jitter needs 3 channels, got clips of shape {tuple(context.shape)}")
        if not self.same_on_pair:
            return self.pipeline(to_float(context)), self.pipeline(to_float(target))
        k = context.shape[1]
        both = self.pipeline(to_float(torch.cat([context, target], dim=1)))
        return both[:, :k], both[:, k:]

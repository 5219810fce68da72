"""SimCLR on augmented views of single clips: a term that makes the encoder keep what tells clips apart.

The pair objectives (InfoNCE, BYOL with r) train the encoder on what changes from x to x⁺; on a
simulator they keep what predicts the next frame most cheaply (a floor's phase, a body's bob) and can
drop the body's pose. Two random views of one clip (a resized crop of 60–100 % of its area, then
brightness, contrast and a gain per colour, one draw for all its frames so the clip's motion is kept)
pulled together against the other clips' views give the encoder a reason to keep the pose: a crop moves
the whole picture, so where a repeating background sits stops telling clips apart.

Used two ways: ``experiments/augment_pretrain.py`` trains an encoder by this term alone (to freeze
under a latent), and ``objective.augment_weight`` adds it to any world model's loss
(:class:`~worldmodel.models.world_model.WorldModel`).

Reference: A Simple Framework for Contrastive Learning of Visual Representations. Ting Chen, Simon
Kornblith, Mohammad Norouzi, Geoffrey Hinton. ICML 2020. https://arxiv.org/abs/2002.05709
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from worldmodel.data.pixels import unit_float
from worldmodel.objectives.infonce import info_nce
from worldmodel.objectives.similarity import pairwise_similarity


class ClipAugment(nn.Module):
    """Random views of clips (B, T, C, H, W) (uint8, or float in [0, 1]) → float in [0, 1], one draw per
    clip for all its frames: a resized crop (area ``scale`` of the frame, aspect 3/4–4/3), then
    brightness, contrast and a per-channel gain."""

    def __init__(self, size: tuple[int, int], scale: tuple[float, float] = (0.6, 1.0), brightness: float = 0.2,
                 contrast: float = 0.4, gain: float = 0.3) -> None:
        super().__init__()
        self.crop = K.RandomResizedCrop(size, scale=scale, ratio=(3 / 4, 4 / 3))
        self.brightness, self.contrast, self.gain = brightness, contrast, gain

    def forward(self, clips: Tensor) -> Tensor:
        b, t, c, h, w = clips.shape
        x = unit_float(clips)
        x = self.crop(x.reshape(b, t * c, h, w)).reshape(b, t, c, h, w)
        draw = lambda spread, *shape: 1 + spread * (2 * torch.rand(b, *shape, device=x.device) - 1)  # noqa: E731
        mean = x.mean((1, 2, 3, 4), keepdim=True)
        x = (x - mean) * draw(self.contrast, 1, 1, 1, 1) + mean * draw(self.brightness, 1, 1, 1, 1)
        return (x * draw(self.gain, 1, c, 1, 1)).clamp(0, 1)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """SimCLR's loss of two views z1, z2 (B, D): each view's positive is the other view of its clip,
    its negatives the 2B − 2 other views (cosine similarity over ``temperature``). Scalar."""
    pred, target = torch.cat([z1, z2]), torch.cat([z2, z1])
    return info_nce(pairwise_similarity(pred, target, "cosine") / temperature, views=2)


class AugmentContrast(nn.Module):
    """The term: NT-Xent of a projection head's outputs on two :class:`ClipAugment` views of each clip;
    the negatives are the other clips of the batch this process sees (not gathered across processes).

    Args:
        dim: D, the encoder's embedding size.
        frame_size: (H, W) of the clips' frames.
        crop_scale: the smallest crop, as a share of the frame's area.
        temperature: NT-Xent's temperature.
    """

    def __init__(self, dim: int, frame_size: tuple[int, int], crop_scale: float = 0.6, temperature: float = 0.5) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Linear(dim, 256), nn.LeakyReLU(), nn.Linear(256, 64))  # SimCLR's projection head
        self.augment = ClipAugment(frame_size, scale=(crop_scale, 1.0))
        self.temperature = temperature

    def forward(self, encoder: nn.Module, clips: Tensor) -> Tensor:
        """``encoder``: (B, T, C, H, W) → (B, D); ``clips`` (B, T, C, H, W). Scalar loss."""
        views = [self.head(encoder(self.augment(clips))) for _ in range(2)]
        return nt_xent(*views, self.temperature)

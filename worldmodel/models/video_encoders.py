"""Encoders for clips of k frames: (B, k, C, H, W) → (B, D).

A clip enters as stacked channels: its k frames become one (B, k·C, H, W) image, so the
first convolution sees every frame at once and can measure motion (velocity needs k ≥ 2,
acceleration k ≥ 3). uint8 clips are scaled to [0, 1] inside the model, on its device, so
the loaders ship uint8 (4× less to transfer than float32).

Both encoders end in a head from the backbone's features to the D-dim embedding: a linear
map, or with ``projector_hidden > 0`` a projector MLP (Linear-BN-ReLU-Linear). The CNN can
instead keep its feature map as the embedding (``token_dim > 0``): each of the N cells of the
final map becomes a token of ``token_dim`` channels (1×1 convolution), flattened to D = N·token_dim
in row-major cell order, for the token predictor (``token_shape`` = (N, token_dim)).

With ``keypoints = K > 0`` the CNN reads K keypoints off each image instead: K heatmaps from its
quarter-resolution map, each reduced to its expected (x, y) by a spatial soft-argmax (kornia).
A keypoint moves with what it sits on and its coordinates are continuous, so an object's
position reaches the head to a fraction of a pixel, linearly, and differences of positions across
the clip's frames (velocity, acceleration) stay linearly readable.
"""

from __future__ import annotations

import math

import torch
from kornia.geometry.subpix import spatial_soft_argmax2d
from torch import Tensor, nn
from torchvision.models import resnet18

from worldmodel.data.pixels import unit_float
from worldmodel.models.backbones import FreezableBackbone, load_backbone_weights


def stack_frames(clips: Tensor) -> Tensor:
    """(B, k, C, H, W) or (B, C, H, W) → (B, k·C, H, W) float; uint8 is scaled to [0, 1]."""
    images = clips.reshape(clips.shape[0], -1, *clips.shape[-2:])
    return unit_float(images)


def embedding_head(in_dim: int, out_dim: int, projector_hidden: int) -> nn.Module:
    """Linear in_dim → out_dim, or a projector in_dim → hidden → out_dim (Linear-BN-ReLU-Linear)."""
    if projector_hidden <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, projector_hidden), nn.BatchNorm1d(projector_hidden), nn.ReLU(),
                         nn.Linear(projector_hidden, out_dim))


def conv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Halve the resolution: 4×4 conv stride 2, GroupNorm (8 groups), ReLU. (B, in, H, W) → (B, out, H/2, W/2)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.GroupNorm(math.gcd(8, out_ch), out_ch), nn.ReLU())


def keypoint_coordinates(heatmaps: Tensor) -> Tensor:
    """(N, K, h, w) heatmaps → (N, K, 2) expected (x, y) under each map's softmax, in cells from the map's centre."""
    maps = heatmaps.float()
    centre = torch.tensor([maps.shape[-1] - 1, maps.shape[-2] - 1], device=maps.device) / 2
    return spatial_soft_argmax2d(maps, normalized_coordinates=False) - centre


class Keypoints(nn.Module):
    """(N, K, h, w) heatmaps → (N, 2K) flattened :func:`keypoint_coordinates` (x₁, y₁, x₂, …), in the input's dtype."""

    def forward(self, heatmaps: Tensor) -> Tensor:
        return keypoint_coordinates(heatmaps).to(heatmaps.dtype).flatten(1)


class FlattenTokens(nn.Module):
    """(B, c, N) channel-major map → (B, N·c): token n occupies dims n·c … (n + 1)·c − 1."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2).flatten(1)


class ConvEncoder(FreezableBackbone):
    """Small CNN, the fast default on CPU: (B, k, C, H, W) → (B, out_dim).

    Four stride-2 blocks of width w, 2w, 4w, 8w turn a 64×64 image into a (8w, 4, 4) map, which
    is flattened (not pooled, so that where things are stays linearly readable) and mapped to
    the embedding. GroupNorm makes every sample's embedding independent of the rest of the
    batch, so a batch split over processes encodes exactly as on one process.

    ``frames``: ``stacked`` reads the clip as one image of k·C channels; ``separate`` runs the
    CNN on each frame (shared weights) and concatenates the k frames' features in time order
    before the head, so each frame's content (where the digit is at every frame, hence its
    velocity and acceleration as differences) reaches the head on its own.

    ``keypoints`` K > 0: after the second block, a 3×3 convolution makes K heatmaps of the
    (2w, H/4, W/4) map and each image's features are their 2K soft-argmax coordinates (map cells
    from the centre); the last two blocks are not built.

    ``weights``: a safetensors file of a ConvEncoder's state dict of the same shape (backbone and
    head, e.g. one trained by ``experiments/supervised_ceiling.py --save-encoder``); ``freeze``: the
    convolutional backbone gets no gradient, only the head learns.
    """

    def __init__(self, in_shape: tuple[int, ...], out_dim: int, width: int = 32, projector_hidden: int = 0,
                 token_dim: int = 0, frames: str = "stacked", keypoints: int = 0, weights: str = "",
                 freeze: bool = False) -> None:
        super().__init__()
        height, wide = in_shape[-2:]
        if height % 16 or wide % 16:
            raise ValueError(f"cnn encoder: frame size {height}×{wide} must be a multiple of 16")
        if frames not in ("stacked", "separate"):
            raise ValueError(f"cnn encoder: frames {frames!r}; expected 'stacked' or 'separate'")
        if frames == "separate" and token_dim > 0:
            raise ValueError("cnn encoder: frames 'separate' gives one feature vector per frame, not tokens; "
                             "use token_dim 0 or frames 'stacked'")
        if keypoints > 0 and token_dim > 0:
            raise ValueError("cnn encoder: keypoints are a feature vector per image, not tokens; use token_dim 0 with them")
        self.separate = frames == "separate" and len(in_shape) == 4
        steps = in_shape[0] if self.separate else 1
        channels = [math.prod(in_shape[-3 if self.separate else 0:-2]), width, 2 * width, 4 * width, 8 * width]
        cells = (height // 16) * (wide // 16)
        blocks = [conv_block(a, b) for a, b in zip(channels[:-1], channels[1:])]
        if token_dim > 0:
            self.token_shape = (cells, token_dim)
            self.out_dim = cells * token_dim
            self.backbone = nn.Sequential(*blocks)
            self.head = nn.Sequential(nn.Conv2d(channels[-1], token_dim, 1), nn.Flatten(2), FlattenTokens())
        else:
            self.token_shape = None
            self.out_dim = out_dim
            if keypoints > 0:
                self.backbone = nn.Sequential(*blocks[:2], nn.Conv2d(channels[2], keypoints, 3, padding=1), Keypoints())
                features = 2 * keypoints
            else:
                self.backbone = nn.Sequential(*blocks, nn.Flatten())
                features = channels[-1] * cells
            self.head = embedding_head(steps * features, out_dim, projector_hidden)
        if weights:
            load_backbone_weights(self, weights)
        self.set_freeze(freeze)

    def forward(self, clips: Tensor) -> Tensor:
        with self.backbone_grad():
            if self.separate:
                features = self.backbone(stack_frames(clips.flatten(0, 1))).reshape(len(clips), -1)  # frames (B·k, C, H, W)
            else:
                features = self.backbone(stack_frames(clips))
        return self.head(features)


class ResNet18Encoder(nn.Module):
    """torchvision ResNet-18 (random init, never downloaded) for 64 px clips: (B, k, C, H, W) → (B, out_dim).

    Stem for small frames: a 3×3 stride-1 convolution from k·C channels and no max-pool (the
    ImageNet stem, 7×7 stride 2 + pool, would shrink 64 px to 16 px before the first block).
    The 512 globally pooled features go through the embedding head.
    """

    def __init__(self, in_shape: tuple[int, ...], out_dim: int, projector_hidden: int = 0) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.token_shape = None
        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(math.prod(in_shape[:-2]), 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        features = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net
        self.head = embedding_head(features, out_dim, projector_hidden)

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.backbone(stack_frames(clips)))

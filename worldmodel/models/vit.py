"""Transformer encoders for real video: a video ViT trained from scratch, and timm backbones loaded
from a local weights file (frozen or fine-tuned, as DINO-WM trains on frozen DINOv2 features).

Clips enter as (B, k, C, H, W) (or images (B, C, H, W)); uint8 is scaled to [0, 1] inside the model.

:class:`VideoViT`: a Conv3d cuts the clip into tubelets of t frames × p × p pixels, each a token of
``width`` channels plus a learned position; timm's transformer :class:`~timm.models.vision_transformer.Block`
layers follow (pre-norm, as in ViT), then a LayerNorm. The embedding is the mean of the N tokens
through the embedding head, or with ``token_dim > 0`` the N tokens themselves, each mapped to
``token_dim`` channels and flattened to D = N·token_dim (token n at dims n·c … (n+1)·c − 1, as the
CNN's feature-map tokens), for the token predictor, which adds r as one more token
(``token_shape`` = (N, token_dim)). N = (k / t) · (H / p) · (W / p).

:class:`TimmEncoder`: any timm model by name (``pretrained=False``: nothing is downloaded), its
weights read from a safetensors file; each frame of the clip goes through the backbone (normalised
with the mean and std the model was trained with), and the k pooled feature vectors, concatenated
in time order, through a trainable embedding head.
"""

from __future__ import annotations

import timm
import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from worldmodel.data.pixels import unit_float
from worldmodel.models.backbones import FreezableBackbone, load_backbone_weights
from worldmodel.models.video_encoders import embedding_head

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6)}
"""ViT sizes: (width, blocks, heads), as ViT-Ti/16 and ViT-S/16."""


def as_clips(x: Tensor) -> Tensor:
    """(B, k, C, H, W) or (B, C, H, W) → (B, k, C, H, W) float; uint8 is scaled to [0, 1]."""
    clips = x if x.ndim == 5 else x.unsqueeze(1)
    return unit_float(clips)


def clip_shape(in_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(k, C, H, W) of clips (k, C, H, W) or images (C, H, W) (k = 1)."""
    return tuple(in_shape) if len(in_shape) == 4 else (1, *in_shape)


class VideoViT(nn.Module):
    """Video ViT from scratch: (B, k, C, H, W) → (B, out_dim), or (B, N·token_dim) tokens.

    ``size`` ``tiny`` (192 wide, 12 blocks, 3 heads) or ``small`` (384, 12, 6); ``blocks`` > 0
    overrides the depth. H and W must be multiples of ``patch``, k a multiple of ``tubelet``.
    """

    def __init__(self, in_shape: tuple[int, ...], out_dim: int, size: str = "tiny", blocks: int = 0, patch: int = 8,
                 tubelet: int = 1, projector_hidden: int = 0, token_dim: int = 0) -> None:
        super().__init__()
        frames, channels, height, wide = clip_shape(in_shape)
        if size not in SIZES:
            raise ValueError(f"vit encoder: model.encoder.size {size!r}; expected one of {list(SIZES)}")
        if height % patch or wide % patch:
            raise ValueError(f"vit encoder: frame size {height}×{wide} is not divisible by model.encoder.patch {patch}")
        if frames % tubelet:
            raise ValueError(f"vit encoder: {frames} frames per clip are not divisible by model.encoder.tubelet {tubelet}")
        width, depth, heads = SIZES[size]
        self.width, self.depth, self.heads = width, blocks or depth, heads
        n = (frames // tubelet) * (height // patch) * (wide // patch)
        self.patch_embed = nn.Conv3d(channels, width, (tubelet, patch, patch), stride=(tubelet, patch, patch))
        self.position = nn.Parameter(torch.zeros(1, n, width))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(*[Block(width, heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(self.depth)])
        self.norm = nn.LayerNorm(width, eps=1e-6)
        if token_dim > 0:
            self.token_shape = (n, token_dim)
            self.out_dim = n * token_dim
            self.head = nn.Linear(width, token_dim)
        else:
            self.token_shape = None
            self.out_dim = out_dim
            self.head = embedding_head(width, out_dim, projector_hidden)

    def tokens(self, clips: Tensor) -> Tensor:
        """(B, k, C, H, W) → (B, N, width) patch tokens after the blocks and the final norm."""
        x = self.patch_embed(as_clips(clips).transpose(1, 2))  # (B, width, k/t, H/p, W/p)
        return self.norm(self.blocks(x.flatten(2).transpose(1, 2) + self.position))

    def forward(self, clips: Tensor) -> Tensor:
        tokens = self.tokens(clips)
        if self.token_shape is not None:
            return self.head(tokens).flatten(1)
        return self.head(tokens.mean(1))


class TimmEncoder(FreezableBackbone):
    """A timm backbone on each frame, features concatenated over the clip: (B, k, C, H, W) → (B, out_dim).

    ``name``: a timm model name (``timm.list_models()``); ``weights``: a safetensors file of its state
    dict ("" keeps the random initialisation); ``freeze``: the backbone gets no gradient and stays in
    eval mode (BatchNorm statistics and dropout as trained), only the head learns. ``img_size`` is
    passed to architectures that take it (ViTs), so they read frames of any size divisible by
    their patch.
    """

    def __init__(self, in_shape: tuple[int, ...], out_dim: int, name: str, weights: str = "", freeze: bool = False,
                 projector_hidden: int = 0) -> None:
        super().__init__()
        frames, channels, height, wide = clip_shape(in_shape)
        if not timm.is_model(name):
            raise ValueError(f"model.encoder.timm_name {name!r} is not a timm model; see timm.list_models()")
        kwargs = dict(pretrained=False, num_classes=0, in_chans=channels)
        try:
            self.backbone = timm.create_model(name, img_size=(height, wide), **kwargs)
        except TypeError:  # an architecture without an image size (CNNs)
            self.backbone = timm.create_model(name, **kwargs)
        if weights:
            load_backbone_weights(self.backbone, weights)
        self.set_freeze(freeze)
        mean, std = (self.backbone.pretrained_cfg.get(key) for key in ("mean", "std"))
        if mean is None or len(mean) != channels:
            mean, std = (0.5,) * channels, (0.5,) * channels
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.token_shape = None
        self.out_dim = out_dim
        self.head = embedding_head(frames * self.backbone.num_features, out_dim, projector_hidden)

    def features(self, clips: Tensor) -> Tensor:
        """(B, k, C, H, W) → (B, k·F) the backbone's pooled features of each frame, in time order."""
        x = as_clips(clips)
        images = (x.flatten(0, 1) - self.mean) / self.std
        with self.backbone_grad():
            return self.backbone(images).reshape(len(x), -1)

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.features(clips))

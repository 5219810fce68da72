"""Encoders f: observations → embeddings (vectors here, clips in :mod:`~worldmodel.models.video_encoders`)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from worldmodel.models.video_encoders import ConvEncoder, ResNet18Encoder
from worldmodel.models.video_resnets import VideoResNetEncoder
from worldmodel.models.vit import TimmEncoder, VideoViT


def mlp(in_dim: int, hidden: int, out_dim: int, depth: int, act: type[nn.Module] = nn.LeakyReLU,
        batch_norm: bool = False) -> nn.Sequential:
    """``depth`` linear layers with activations between them: in_dim → hidden … → out_dim; with
    ``batch_norm`` each hidden layer is Linear → BatchNorm1d → activation."""
    if depth < 1:
        raise ValueError(f"MLP depth must be ≥ 1, got {depth}")
    dims = [in_dim] + [hidden] * (depth - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < depth - 1:
            layers += [nn.BatchNorm1d(b), act()] if batch_norm else [act()]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Vector encoder: (B, in_dim) → (B, out_dim), leaky-ReLU MLP."""

    def __init__(self, in_dim: int, hidden: int, depth: int, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.token_shape = None
        self.net = mlp(in_dim, hidden, out_dim, depth)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1).float())


def build_encoder(cfg, in_shape: tuple[int, ...]) -> nn.Module:
    """Encoder named by ``cfg.kind`` (an EncoderConfig) for observations of shape ``in_shape``.

    ``mlp``: vectors (d,); ``cnn``, ``resnet18``, ``vit``, ``timm`` and ``video_resnet``: clips (k, C, H, W) or
    images (C, H, W).
    """
    if cfg.kind == "mlp":
        return MLPEncoder(math.prod(in_shape), cfg.hidden, cfg.depth, cfg.out_dim)
    if len(in_shape) not in (3, 4):
        raise ValueError(f"model.encoder.kind {cfg.kind!r} needs clips (k, C, H, W) or images (C, H, W); "
                         f"the data gives {tuple(in_shape)}")
    if cfg.kind == "cnn":
        return ConvEncoder(in_shape, cfg.out_dim, cfg.width, cfg.projector_hidden, cfg.token_dim, cfg.frames, cfg.keypoints)
    if cfg.kind == "resnet18":
        return ResNet18Encoder(in_shape, cfg.out_dim, cfg.projector_hidden)
    if cfg.kind == "vit":
        return VideoViT(in_shape, cfg.out_dim, cfg.size, cfg.blocks, cfg.patch, cfg.tubelet, cfg.projector_hidden,
                        cfg.token_dim)
    if cfg.kind == "timm":
        return TimmEncoder(in_shape, cfg.out_dim, cfg.timm_name, cfg.weights, cfg.freeze, cfg.projector_hidden)
    if cfg.kind == "video_resnet":
        return VideoResNetEncoder(in_shape, cfg.out_dim, cfg.arch, cfg.weights, cfg.freeze, cfg.projector_hidden)
    raise ValueError(f"model.encoder.kind {cfg.kind!r}; expected mlp, cnn, resnet18, vit, timm or video_resnet")

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


class Standardised(nn.Module):
    """An encoder whose embedding has every coordinate standardised: (B, *in) → (B, D), each coordinate
    with zero mean and unit spread over the batch in training (BatchNorm1d without a learned scale or
    shift), by the running statistics at eval.

    No axis of the embedding can then be much narrower than the others. A narrow axis is a factor
    whose moves are small against InfoNCE's distances, so the prediction loss hardly notices a miss
    there and a sparse r's mask on it stops following the factor (docs/results/camera_pan.md).
    Unlike the CNN's GroupNorm, this makes a training embedding depend on its batch: with several
    processes each standardises over its own share.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        if encoder.token_shape is not None:
            raise ValueError("model.encoder.standardise works on vector embeddings; use token_dim 0 with it")
        self.encoder = encoder
        self.out_dim = encoder.out_dim
        self.token_shape = None
        self.norm = nn.BatchNorm1d(encoder.out_dim, affine=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.encoder(x))


def build_encoder(cfg, in_shape: tuple[int, ...]) -> nn.Module:
    """Encoder named by ``cfg.kind`` (an EncoderConfig) for observations of shape ``in_shape``, wrapped
    in :class:`Standardised` with ``cfg.standardise``.

    ``mlp``: vectors (d,); ``cnn``, ``resnet18``, ``vit``, ``timm`` and ``video_resnet``: clips (k, C, H, W) or
    images (C, H, W).
    """
    encoder = _named_encoder(cfg, in_shape)
    return Standardised(encoder) if cfg.standardise else encoder


def _named_encoder(cfg, in_shape: tuple[int, ...]) -> nn.Module:
    if cfg.kind == "mlp":
        return MLPEncoder(math.prod(in_shape), cfg.hidden, cfg.depth, cfg.out_dim)
    if len(in_shape) not in (3, 4):
        raise ValueError(f"model.encoder.kind {cfg.kind!r} needs clips (k, C, H, W) or images (C, H, W); "
                         f"the data gives {tuple(in_shape)}")
    if cfg.kind == "cnn":
        return ConvEncoder(in_shape, cfg.out_dim, cfg.width, cfg.projector_hidden, cfg.token_dim, cfg.frames, cfg.keypoints,
                           cfg.weights, cfg.freeze)
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

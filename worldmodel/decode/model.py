"""The pixel decoder: a frozen world model's embedding (or its patch tokens) → the clip's last frame.

    e (B, D) ──standardise──► Linear → (w, H/16, W/16) map            (vector embeddings)
    e (B, N·c) ──standardise──► tokens as a (c, H/16, W/16) map → 1×1 conv → (w, H/16, W/16)   (token embeddings)
          ──► 3 × [ConvTranspose 4×4 stride 2, GroupNorm, ReLU], channels w/2, w/4, w/8 (≥ 8)
          ──► ConvTranspose 4×4 stride 2 → C channels, sigmoid → (B, C, H, W) in [0, 1]

It is fitted after training on the frozen encoder's embeddings (:mod:`worldmodel.decode.fit`), so it
never shapes the representation (as the decoders of JEPA-WMs and EB-JEPA). The standardisation
(per-dimension mean and std of the embeddings it was fitted on) is part of the module, saved with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

UPSAMPLINGS = 4  # the map starts at 1/16 of the frame, like the CNN encoder's last map


@dataclass
class DecoderConfig:
    """Shapes of what the decoder reads and writes, and its width.

    ``embed_dim`` D; ``frame_shape`` (C, H, W) of a decoded frame; ``token_shape`` (N, c) when the
    embedding is N patch tokens of c channels on an (H/16, W/16) grid, else None; ``width`` the channels
    of the first map (halved at each upsampling, at least 8)."""

    embed_dim: int
    frame_shape: tuple[int, int, int]
    token_shape: tuple[int, int] | None = None
    width: int = 64

    def __post_init__(self) -> None:
        self.frame_shape = tuple(int(s) for s in self.frame_shape)
        self.token_shape = None if self.token_shape is None else tuple(int(s) for s in self.token_shape)


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Double the resolution: (B, in, h, w) → (B, out, 2h, 2w)."""
    return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.GroupNorm(math.gcd(8, out_ch), out_ch), nn.ReLU())


class FrameDecoder(nn.Module):
    """(B, D) embeddings → (B, C, H, W) frames in [0, 1] (see the module docstring)."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        channels, height, width = cfg.frame_shape
        self.grid = (math.ceil(height / 2**UPSAMPLINGS), math.ceil(width / 2**UPSAMPLINGS))
        self.register_buffer("shift", torch.zeros(cfg.embed_dim))
        self.register_buffer("scale", torch.ones(cfg.embed_dim))
        if cfg.token_shape is not None:
            cells, token_dim = cfg.token_shape
            if cells != self.grid[0] * self.grid[1] or cells * token_dim != cfg.embed_dim:
                raise ValueError(f"decoder: {cells} tokens of {token_dim} channels do not tile a {self.grid} grid of "
                                 f"a {height}×{width} frame with D = {cfg.embed_dim}")
            self.stem = nn.Conv2d(token_dim, cfg.width, 1)
        else:
            self.stem = nn.Linear(cfg.embed_dim, cfg.width * self.grid[0] * self.grid[1])
        widths = [cfg.width] + [max(cfg.width >> (i + 1), 8) for i in range(UPSAMPLINGS - 1)]
        self.up = nn.Sequential(*[up_block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nn.ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1)

    @torch.no_grad()
    def standardise_with(self, embeddings: Tensor) -> None:
        """Set the input standardisation from (M, D) embeddings: per-dimension mean and std."""
        self.shift.copy_(embeddings.mean(0))
        self.scale.copy_(embeddings.std(0).clamp_min(1e-6))

    def forward(self, embeddings: Tensor) -> Tensor:
        z = (embeddings.float() - self.shift) / self.scale
        if self.cfg.token_shape is not None:
            cells, token_dim = self.cfg.token_shape
            z = self.stem(z.reshape(len(z), cells, token_dim).transpose(1, 2).reshape(len(z), token_dim, *self.grid))
        else:
            z = self.stem(z).reshape(len(z), self.cfg.width, *self.grid)
        _, height, width = self.cfg.frame_shape
        return torch.sigmoid(self.out(self.up(z))[..., :height, :width])

    @torch.no_grad()
    def decode(self, embeddings: Tensor, batch_size: int = 1024) -> Tensor:
        """(..., D) embeddings → (..., C, H, W) float frames in [0, 1], in batches, without gradient."""
        flat = embeddings.reshape(-1, embeddings.shape[-1])
        frames = [self(flat[i : i + batch_size]) for i in range(0, len(flat), batch_size)]
        out = torch.cat(frames) if frames else flat.new_zeros((0, *self.cfg.frame_shape))
        return out.reshape(*embeddings.shape[:-1], *self.cfg.frame_shape)

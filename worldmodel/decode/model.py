"""The pixel decoder: a frozen world model's embedding (or its patch tokens) → the clip's last frame.

    e (B, D) ──standardise──► Linear → (w, H/16, W/16) map            (vector embeddings)
    e (B, N·c) ──standardise──► tokens as a (c, H/16, W/16) map → 1×1 conv → (w, H/16, W/16)   (token embeddings)
          ──► 3 × [ConvTranspose 4×4 stride 2, GroupNorm, ReLU], channels w/2, w/4, w/8 (≥ 8)
          ──► ConvTranspose 4×4 stride 2 → C channels, sigmoid → (B, C, H, W) in [0, 1]

With ``context_frame`` the decoder also reads the frame seen before the decoded one (the last frame of the
context clip, or in a rollout the previous decoded frame) and that frame's embedding: the embedding places
the objects, the frame gives their look. The previous embedding joins the stem (``[e, e_prev]``); a
mirrored convolutional encoder of the previous frame feeds every upsampling (U-Net skips). A coarse flow
(2 channels, in pixels) is read from the (H/16, W/16) map and upsampled bilinearly, so it moves regions
rigidly rather than reshaping them; the last layer writes C pixel channels and a mask m, and the frame is

    m · warp(previous frame, flow) + (1 − m) · generated pixels

(the flow-and-mask output of video-prediction decoders such as SV2P's). It starts as "copy the previous
frame" (zero flow, m ≈ 0.9), so fitting can only move it away from that baseline where the embedding
says how the frame changes.

It is fitted after training on the frozen encoder's embeddings (:mod:`worldmodel.decode.fit`), so it
never shapes the representation (as the decoders of JEPA-WMs and EB-JEPA). The standardisation
(per-dimension mean and std of the embeddings it was fitted on) is part of the module, saved with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.geometry.transform import remap
from kornia.geometry import create_meshgrid
from torch import Tensor, nn

UPSAMPLINGS = 4  # the map starts at 1/16 of the frame, like the CNN encoder's last map
COPY_MASK_LOGIT = 2.2  # a context decoder starts with m = sigmoid(2.2) ≈ 0.9 on the warped previous frame


@dataclass
class DecoderConfig:
    """Shapes of what the decoder reads and writes, and its width.

    ``embed_dim`` D; ``frame_shape`` (C, H, W) of a decoded frame; ``token_shape`` (N, c) when the
    embedding is N patch tokens of c channels on an (H/16, W/16) grid, else None; ``width`` the channels
    of the first map (halved at each upsampling, at least 8); ``context_frame`` whether it also reads the
    previous frame and its embedding (module docstring)."""

    embed_dim: int
    frame_shape: tuple[int, int, int]
    token_shape: tuple[int, int] | None = None
    width: int = 64
    context_frame: bool = False

    def __post_init__(self) -> None:
        self.frame_shape = tuple(int(s) for s in self.frame_shape)
        self.token_shape = None if self.token_shape is None else tuple(int(s) for s in self.token_shape)


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Double the resolution: (B, in, h, w) → (B, out, 2h, 2w)."""
    return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.GroupNorm(math.gcd(8, out_ch), out_ch), nn.ReLU())


def down_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Halve the resolution: (B, in, h, w) → (B, out, h/2, w/2)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.GroupNorm(math.gcd(8, out_ch), out_ch), nn.ReLU())


def warp(frames: Tensor, flow: Tensor) -> Tensor:
    """(B, C, H, W) frames sampled at each pixel plus ``flow`` (B, 2, H, W) (x, y) in pixels (bilinear, border;
    kornia's remap)."""
    grid = create_meshgrid(*frames.shape[-2:], normalized_coordinates=False, device=flow.device, dtype=flow.dtype)
    return remap(frames, grid[..., 0] + flow[:, 0], grid[..., 1] + flow[:, 1], mode="bilinear",
                 padding_mode="border", align_corners=True)


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
        reads = 2 if cfg.context_frame else 1  # the embedding, and the previous frame's
        if cfg.token_shape is not None:
            self.stem = nn.Conv2d(reads * token_dim, cfg.width, 1)
        else:
            self.stem = nn.Linear(reads * cfg.embed_dim, cfg.width * self.grid[0] * self.grid[1])
        widths = [cfg.width] + [max(cfg.width >> (i + 1), 8) for i in range(UPSAMPLINGS - 1)]  # H/16 … H/2
        skips = widths if cfg.context_frame else [0] * UPSAMPLINGS
        self.up = nn.ModuleList([up_block(a + s, b) for a, s, b in zip(widths[:-1], skips[:-1], widths[1:])])
        out_channels = channels + 1 if cfg.context_frame else channels  # pixels (+ the mask)
        self.out = nn.ConvTranspose2d(widths[-1] + skips[-1], out_channels, 4, stride=2, padding=1)
        if cfg.context_frame:
            down = [channels] + widths[::-1]  # C → w/8 at H/2 … w at H/16
            self.down = nn.ModuleList([down_block(a, b) for a, b in zip(down[:-1], down[1:])])
            self.flow = nn.Conv2d(2 * cfg.width, 2, 3, padding=1)  # (x, y) in pixels on the H/16 grid
            with torch.no_grad():  # start as "copy the previous frame": no flow, mask on the warped frame
                self.flow.weight.mul_(0.01)
                self.flow.bias.zero_()
                self.out.weight[:, channels:].mul_(0.01)
                self.out.bias[channels:].fill_(COPY_MASK_LOGIT)

    @property
    def reads_context(self) -> bool:
        """Whether :meth:`forward` needs the previous frame and its embedding."""
        return self.cfg.context_frame

    @torch.no_grad()
    def standardise_with(self, embeddings: Tensor) -> None:
        """Set the input standardisation from (M, D) embeddings: per-dimension mean and std."""
        self.shift.copy_(embeddings.mean(0))
        self.scale.copy_(embeddings.std(0).clamp_min(1e-6))

    def _map(self, embeddings: Tensor) -> Tensor:
        """(B, D) → the standardised embedding as a (B, D / cells, *grid) map (token embeddings) or (B, D)."""
        z = (embeddings.float() - self.shift) / self.scale
        if self.cfg.token_shape is None:
            return z
        cells, token_dim = self.cfg.token_shape
        return z.reshape(len(z), cells, token_dim).transpose(1, 2).reshape(len(z), token_dim, *self.grid)

    def forward(self, embeddings: Tensor, previous: Tensor | None = None, context: Tensor | None = None) -> Tensor:
        """(B, D) embeddings → (B, C, H, W) frames; a context decoder also takes the previous frame's
        embedding ``previous`` (B, D) and the previous frame ``context`` (B, C, H, W) float in [0, 1]."""
        if self.cfg.context_frame and (previous is None or context is None):
            raise ValueError("this decoder reads the previous frame and its embedding: pass previous= and context=")
        z = self._map(embeddings)
        if self.cfg.context_frame:
            z = torch.cat([z, self._map(previous)], dim=1)
        z = self.stem(z)
        if self.cfg.token_shape is None:
            z = z.reshape(len(z), self.cfg.width, *self.grid)
        channels, height, width = self.cfg.frame_shape
        if not self.cfg.context_frame:
            for block in self.up:
                z = block(z)
            return torch.sigmoid(self.out(z)[..., :height, :width])
        padded = F.pad(context.float(), (0, self.grid[1] * 2**UPSAMPLINGS - width, 0, self.grid[0] * 2**UPSAMPLINGS - height))
        skips, h = [], padded
        for block in self.down:  # (B, w/8, H/2) … (B, w, H/16)
            h = block(h)
            skips.append(h)
        z = torch.cat([z, skips[-1]], dim=1)
        flow = F.interpolate(self.flow(z), size=padded.shape[-2:], mode="bilinear")[..., :height, :width]
        for block, skip in zip(self.up, skips[-2::-1]):
            z = torch.cat([block(z), skip], dim=1)
        out = self.out(z)[..., :height, :width]
        pixels, mask = torch.sigmoid(out[:, :channels]), torch.sigmoid(out[:, channels:])
        return mask * warp(context.float(), flow) + (1 - mask) * pixels

    @torch.no_grad()
    def decode(self, embeddings: Tensor, previous: Tensor | None = None, context: Tensor | None = None,
               batch_size: int = 1024) -> Tensor:
        """(..., D) embeddings (with (..., D) ``previous`` and (..., C, H, W) ``context`` for a context decoder)
        → (..., C, H, W) float frames in [0, 1], in batches, without gradient."""
        flat = embeddings.reshape(-1, embeddings.shape[-1])
        extra = [] if not self.cfg.context_frame else [previous.reshape(flat.shape), context.reshape(-1, *self.cfg.frame_shape)]
        frames = [self(flat[i : i + batch_size], *(x[i : i + batch_size] for x in extra)) for i in range(0, len(flat), batch_size)]
        out = torch.cat(frames) if frames else flat.new_zeros((0, *self.cfg.frame_shape))
        return out.reshape(*embeddings.shape[:-1], *self.cfg.frame_shape)

    @torch.no_grad()
    def decode_future(self, path: Tensor, last_frame: Tensor) -> Tensor:
        """A rolled-out path (..., H+1, D) (step 0 the context clip's embedding) and the context clip's last
        frame (..., C, H, W) float in [0, 1] → (..., H+1, C, H, W) frames. Step 0 is the last frame itself
        for a context decoder, which then decodes step h from step h's embedding, step h−1's embedding and
        the frame it decoded for step h−1; a decoder without context decodes every step's embedding alone."""
        if not self.cfg.context_frame:
            return self.decode(path)
        frames = [last_frame.float().expand(*path.shape[:-2], *self.cfg.frame_shape)]
        for h in range(1, path.shape[-2]):
            frames.append(self.decode(path[..., h, :], path[..., h - 1, :], frames[-1]))
        return torch.stack(frames, dim=-4)

"""A self-supervised encoder from single clips: SimCLR on augmented views, to freeze under a latent.

    python experiments/augment_pretrain.py --config configs/sim/cheetah/adassl_v.yaml --save-encoder PATH [key=value ...]

The config's encoder f (same architecture and data) is trained with no label and no pair: two augmented
views of one context clip are pulled together against the other clips of the batch (NT-Xent on a
projection head's outputs, cosine similarity, temperature ``--temperature``). The same random crop and
photometric change applies to every frame of a clip, so the clip's motion is kept. A crop moves the
whole picture, so what a repeating background says about the camera's position changes between the two
views while a body's pose does not: the objective then has a reason to keep the pose, which the
pair-prediction objectives of the shipped simulator configs do not (HalfCheetah's encoders keep the
floor's phase and read the torques at ≤ 0.19 where a supervised encoder reads 0.49).

Printed: the loss at the start and end, then what ridge probes read from the frozen encoder, as
``supervised_ceiling.py`` prints it (state from f(x), action from [f(x), f(x⁺)], held-out pairs).
``--save-encoder PATH`` writes the encoder for ``model.encoder.weights=PATH model.encoder.freeze=true``.

Reference: A Simple Framework for Contrastive Learning of Visual Representations. Ting Chen, Simon
Kornblith, Mohammad Norouzi, Geoffrey Hinton. ICML 2020. https://arxiv.org/abs/2002.05709
"""

from __future__ import annotations

import argparse
import time

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from supervised_ceiling import frozen_readouts, pretraining_args, report, save_weights
from worldmodel.data import build_dataset
from worldmodel.models.encoders import build_encoder, mlp
from worldmodel.objectives.infonce import info_nce
from worldmodel.objectives.similarity import pairwise_similarity
from worldmodel.train.schedules import lr_factor


class ClipAugment(nn.Module):
    """Random views of clips (B, T, C, H, W) uint8 → float in [0, 1], one draw per clip for all its frames:
    a resized crop (area ``scale`` of the frame, aspect 3/4–4/3), then brightness, contrast and a
    per-channel gain."""

    def __init__(self, size: tuple[int, int], scale: tuple[float, float] = (0.6, 1.0), brightness: float = 0.2,
                 contrast: float = 0.4, gain: float = 0.3) -> None:
        super().__init__()
        self.crop = K.RandomResizedCrop(size, scale=scale, ratio=(3 / 4, 4 / 3))
        self.brightness, self.contrast, self.gain = brightness, contrast, gain

    def forward(self, clips: Tensor) -> Tensor:
        b, t, c, h, w = clips.shape
        x = self.crop(clips.float().div(255).reshape(b, t * c, h, w)).reshape(b, t, c, h, w)
        draw = lambda spread, *shape: 1 + spread * (2 * torch.rand(b, *shape) - 1)
        mean = x.mean((1, 2, 3, 4), keepdim=True)
        x = (x - mean) * draw(self.contrast, 1, 1, 1, 1) + mean * draw(self.brightness, 1, 1, 1, 1)
        return (x * draw(self.gain, 1, c, 1, 1)).clamp(0, 1)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """SimCLR's loss of two views z1, z2 (B, D): each view's positive is the other view of its clip,
    its negatives the 2B − 2 other views. Scalar."""
    pred, target = torch.cat([z1, z2]), torch.cat([z2, z1])
    return info_nce(pairwise_similarity(pred, target, "cosine") / temperature, views=2)


def pretrain(cfg, seed: int = 0, steps: int | None = None, temperature: float = 0.5,
             crop_scale: float = 0.6) -> tuple[nn.Module, list[float]]:
    """Train ``cfg``'s encoder with :func:`nt_xent` on its train clips → (encoder in eval mode, losses per step);
    views are crops of ``crop_scale`` to all of a frame's area."""
    torch.manual_seed(seed)
    train = build_dataset(cfg.data, "train")
    first = train.__getitems__([0])["context"]
    encoder = build_encoder(cfg.model.encoder, tuple(first.shape[1:]))
    head = mlp(cfg.model.encoder.out_dim, 256, 64, depth=2)
    augment = ClipAugment(tuple(first.shape[-2:]), scale=(crop_scale, 1.0))
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    steps = steps or cfg.train.steps
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.optim.lr * lr_factor(step, cfg.optim.warmup_steps, steps, cfg.optim.schedule)
        clips = train.__getitems__(torch.randint(len(train), (cfg.train.batch_size,), generator=generator).tolist())["context"]
        loss = nt_xent(head(encoder(augment(clips))), head(encoder(augment(clips))), temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return encoder.eval(), losses


def main() -> None:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, help="training steps (default the config's train.steps)")
        parser.add_argument("--temperature", type=float, default=0.5)
        parser.add_argument("--crop-scale", type=float, default=0.6,
                            help="smallest crop, as a share of the frame's area (on HalfCheetah 0.3 keeps the loss at chance)")

    args, cfg = pretraining_args(__doc__, options)
    clock = time.perf_counter()
    encoder, losses = pretrain(cfg, args.seed, args.steps, args.temperature, args.crop_scale)
    if args.save_encoder:
        save_weights(encoder, args.save_encoder)
    results = frozen_readouts(encoder, build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test"))
    report(f"SimCLR steps of {cfg.train.batch_size} clips", losses, time.perf_counter() - clock, results, args.json)


if __name__ == "__main__":
    main()

"""A self-supervised encoder from single clips: SimCLR on augmented views, to freeze under a latent.

    python experiments/augment_pretrain.py --config configs/sim/cheetah/adassl_v.yaml --save-encoder PATH [key=value ...]

The config's encoder f (same architecture and data) is trained with no label and no pair, by SimCLR
alone (:mod:`worldmodel.objectives.augment`): two augmented views of one context clip, one draw of crop
and photometric change for all its frames, are pulled together against the other clips of the batch
(NT-Xent on a projection head's outputs, temperature ``--temperature``). ``objective.augment_weight``
adds the same term to a world model's own training instead.

Printed: the loss at the start and end, then what ridge probes read from the frozen encoder, as
``supervised_ceiling.py`` prints it (state from f(x), action from [f(x), f(x⁺)], held-out pairs).
``--save-encoder PATH`` writes the encoder for ``model.encoder.weights=PATH model.encoder.freeze=true``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from supervised_ceiling import frozen_readouts, pretraining_args, report, save_weights
from worldmodel.data import build_dataset
from worldmodel.models.encoders import build_encoder
from worldmodel.objectives.augment import AugmentContrast
from worldmodel.train.schedules import lr_factor


def pretrain(cfg, seed: int = 0, steps: int | None = None, temperature: float = 0.5,
             crop_scale: float = 0.6) -> tuple[nn.Module, list[float]]:
    """Train ``cfg``'s encoder with :class:`AugmentContrast` on its train clips → (encoder in eval mode, losses per step);
    views are crops of ``crop_scale`` to all of a frame's area."""
    torch.manual_seed(seed)
    train = build_dataset(cfg.data, "train")
    first = train.__getitems__([0])["context"]
    encoder = build_encoder(cfg.model.encoder, tuple(first.shape[1:]))
    contrast = AugmentContrast(cfg.model.encoder.out_dim, tuple(first.shape[-2:]), crop_scale, temperature)
    params = [*encoder.parameters(), *contrast.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    steps = steps or cfg.train.steps
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.optim.lr * lr_factor(step, cfg.optim.warmup_steps, steps, cfg.optim.schedule)
        clips = train.__getitems__(torch.randint(len(train), (cfg.train.batch_size,), generator=generator).tolist())["context"]
        loss = contrast(encoder, clips)
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

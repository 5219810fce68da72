"""What a config's encoder can read at its budget when it is told the answer: a supervised ceiling.

    python experiments/supervised_ceiling.py --config configs/sim/reacher/adassl_v.yaml [key=value ...]

The config's encoder f (same architecture, data, clips, steps, batch size and optimiser settings) is
trained end to end, without any self-supervised objective, to regress from f(x) the standardised
ground truth ``gt_<truth>`` (``--truth``, default ``state``) at the context's last frame and, by a
linear head on [f(x), f(x⁺)], the pair's standardised action (inverse dynamics). Then, as eval.py does, ridge probes are fitted on the
frozen embeddings of the train pairs and scored on the held-out ones, per state column and per action
dimension. If the supervised encoder cannot read a quantity at this budget and resolution, no
self-supervised latent of the same encoder can be expected to; if it can, the gap is the objective's.
Printed: the loss at the start and end, then R² per column.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.eval.probes import fit_ridge_probe
from worldmodel.models.encoders import build_encoder
from worldmodel.train.schedules import lr_factor


def columns(dataset, key: str, width: int) -> list[str]:
    """Column names of ``key`` as the store's meta.json lists them (simulators), else ``key_i``."""
    return ((dataset.store.meta.get("columns") or {}).get(key) or [f"{key}_{i}" for i in range(width)])[:width]


def standardiser(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return values.mean(0), values.std(0).clamp_min(1e-6)


@torch.no_grad()
def embed(encoder: nn.Module, dataset, truth: str, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Frozen f(x), f(x⁺), ``gt_<truth>`` (as "state"), action and video of every pair of a split."""
    parts = {"fx": [], "fx_pos": [], "state": [], "action": []}
    for i in range(0, len(dataset), batch_size):
        batch = dataset.__getitems__(list(range(i, min(i + batch_size, len(dataset)))))
        parts["fx"].append(encoder(batch["context"]))
        parts["fx_pos"].append(encoder(batch["target"]))
        parts["state"].append(batch[f"gt_{truth}"])
        parts["action"].append(batch["action"])
    out = {k: torch.cat(v).double().numpy() for k, v in parts.items()}
    return out | {"video": np.asarray(dataset.video)}


def ceiling(cfg, truth: str = "state", seed: int = 0, save_encoder: str | None = None,
            action_weight: float = 1.0) -> tuple[list[float], dict[str, float]]:
    """Train ``cfg``'s encoder supervised (module docstring) → (losses per step, held-out R² per column);
    ``action_weight`` weights the inverse-dynamics term (0: the encoder is told the state only, never the action);
    ``save_encoder``: also write the trained encoder's state dict there (safetensors), for
    ``model.encoder.weights`` (with ``model.encoder.freeze=true``: a latent trained on these frozen features)."""
    torch.manual_seed(seed)
    train, test = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")
    first = train.__getitems__([0])
    encoder = build_encoder(cfg.model.encoder, tuple(first["context"].shape[1:]))
    state_dim, action_dim, dim = first[f"gt_{truth}"].shape[1], first["action"].shape[1], cfg.model.encoder.out_dim
    state_head, action_head = nn.Linear(dim, state_dim), nn.Linear(2 * dim, action_dim)
    params = [*encoder.parameters(), *state_head.parameters(), *action_head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scale = train.__getitems__(list(range(0, len(train), max(1, len(train) // 2000))))
    state_norm, action_norm = standardiser(scale[f"gt_{truth}"]), standardiser(scale["action"])
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(cfg.train.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.optim.lr * lr_factor(step, cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.schedule)
        batch = train.__getitems__(torch.randint(len(train), (cfg.train.batch_size,), generator=generator).tolist())
        fx, fx_pos = encoder(batch["context"]), encoder(batch["target"])
        state = (batch[f"gt_{truth}"] - state_norm[0]) / state_norm[1]
        action = (batch["action"] - action_norm[0]) / action_norm[1]
        loss = F.mse_loss(state_head(fx), state) + action_weight * F.mse_loss(action_head(torch.cat([fx, fx_pos], 1)), action)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    encoder.eval()
    if save_encoder:
        save_weights(encoder, save_encoder)
    return losses, frozen_readouts(encoder, train, test, truth)


def save_weights(encoder: nn.Module, path: str) -> None:
    """The encoder's state dict as safetensors at ``path`` (folders created), for ``model.encoder.weights``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file({name: value.contiguous() for name, value in encoder.state_dict().items()}, path)


def frozen_readouts(encoder: nn.Module, train, test, truth: str = "state") -> dict[str, float]:
    """Held-out R² of ridge probes on the frozen encoder, as eval.py fits them: each ``gt_<truth>``
    column from f(x), each action dimension from [f(x), f(x⁺)]; fitted on ``train``, scored on ``test``."""
    fit, score = embed(encoder, train, truth), embed(encoder, test, truth)
    results = {}
    for key, features in (("state", ("fx",)), ("action", ("fx", "fx_pos"))):
        x_fit, x_score = (np.concatenate([part[f] for f in features], 1) for part in (fit, score))
        for i, column in enumerate(columns(train, truth if key == "state" else key, fit[key].shape[1])):
            probe = fit_ridge_probe(x_fit, fit[key][:, i : i + 1], fit["video"])  # one per column, as eval.py's
            results[column] = probe.r2(x_score, score[key][:, i : i + 1])
    return results


def pretraining_args(doc: str, add_arguments: Callable[[argparse.ArgumentParser], None]) -> tuple[argparse.Namespace, object]:
    """Parse a pretraining script's command line: ``--config``, ``--seed``, ``--save-encoder``, ``--json``,
    the script's own options (``add_arguments``) and dotted overrides → (arguments, loaded config), with
    the config's thread count set."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="a frame config whose data has gt_state and an action")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-encoder", help="also write the trained encoder (safetensors) for model.encoder.weights")
    parser.add_argument("--json", help="also write the probes' R² to this file")
    add_arguments(parser)
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. train.steps=800")
    args = parser.parse_args()
    cfg = load_config(args.config, args.overrides)
    torch.set_num_threads(cfg.train.threads or torch.get_num_threads())
    return args, cfg


def main() -> None:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--truth", default="state", help="the ground truth f(x) regresses: gt_<truth> (default state)")
        parser.add_argument("--action-weight", type=float, default=1.0,
                            help="weight of the inverse-dynamics term (0: the encoder never sees an action label)")

    args, cfg = pretraining_args(__doc__, options)
    clock = time.perf_counter()
    losses, results = ceiling(cfg, args.truth, args.seed, args.save_encoder, args.action_weight)
    report(f"supervised steps of {cfg.train.batch_size} pairs", losses, time.perf_counter() - clock, results, args.json)


def report(steps: str, losses: list[float], seconds: float, results: dict[str, float], json_path: str | None) -> None:
    """Print the loss at the start and end of training and the probes' R², and write them to ``json_path``."""
    window = max(1, min(50, len(losses) // 10))
    print(f"{len(losses)} {steps}, {seconds:.0f} s with the probes; "
          f"loss {np.mean(losses[:window]):.3f} → {np.mean(losses[-window:]):.3f}")
    print("R² on the held-out pairs (state from f(x), action from [f(x), f(x⁺)]): "
          + ", ".join(f"{column} {r2:.3f}" for column, r2 in results.items()))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

"""Fit the pixel decoder of a finished frame-based run (``python decode.py --run RUN``).

The world model is frozen: its embeddings are computed once (:func:`~worldmodel.decode.data.decoder_data`)
and the decoder learns, by AdamW on the mean squared pixel error (+ ``l1_weight`` · mean absolute
error), to map them to the target frames. Batches are drawn with a generator seeded by (seed, step), so a
fit resumed from its checkpoint (``RUN/decoder/checkpoint.pt``, every ``checkpoint_every`` steps)
continues exactly as if it had never stopped.

Rollout training (``rollout_steps`` K ≥ 2, against exposure bias): in a rollout the decoder reads the
frame it decoded itself for the step before, but one-step pairs only ever show it true previous frames,
so its errors compound step after step. A share ``rollout_fraction`` of each batch is therefore step d
(d drawn uniformly from 2 … K per batch) of a rollout chain (:mod:`worldmodel.decode.data`): steps 1 … d−1
are decoded from the chain's rolled-out embeddings, each reading the frame decoded before it, without
gradient (scheduled sampling with the model's own frames), and step d is fitted on the true frame.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from worldmodel.data import build_dataset
from worldmodel.data.pixels import unit_float
from worldmodel.decode.data import DecoderData, decoder_data
from worldmodel.decode.model import DecoderConfig, FrameDecoder
from worldmodel.decode.store import DecoderError, decoder_dir, has_decoder, save_decoder
from worldmodel.train.runs import derived_stamp, load_run, record_derived
from worldmodel.train.schedules import lr_factor

CHECKPOINT = "checkpoint.pt"


@dataclass
class FitConfig:
    """How the decoder is fitted. ``threads`` 0: the run's ``train.threads``; ``rollout_steps`` K ≥ 2 fits
    ``rollout_fraction`` of each batch on steps 2 … K of rollouts (module docstring), 0 or 1 on one-step
    pairs only."""

    steps: int = 1200
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    l1_weight: float = 0.0
    width: int = 64
    predictions: bool = True
    context_frame: bool = True
    rollout_steps: int = 4
    rollout_fraction: float = 0.25
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 0


def frame_run(run_dir: str | Path):
    """(config, frozen model) of a run the decoder can serve; :class:`DecoderError` for any other run."""
    cfg, model = load_run(run_dir)
    if cfg.data.kind != "frames":
        raise DecoderError(f"{run_dir}: a {cfg.data.kind!r} run has no frames to decode; "
                           "the pixel decoder serves runs with data.kind 'frames'")
    return cfg, model.requires_grad_(False)


def rollout_share(fit: FitConfig) -> int:
    """How many samples of each batch are rollout steps (0 without rollout training)."""
    return round(fit.rollout_fraction * fit.batch_size) if fit.rollout_steps >= 2 else 0


def draw_batch(data: DecoderData, fit: FitConfig, step: int) -> tuple[Tensor, Tensor, int]:
    """(one-step sample indices, rollout chain indices, rollout depth d) of a step's batch, a function of
    (seed, step) only."""
    generator = torch.Generator().manual_seed(fit.seed * 1_000_003 + step)
    rolled = rollout_share(fit)
    if rolled and data.chains is None:
        raise ValueError(f"decoder fit: rollout_steps {fit.rollout_steps} needs rollout chains in the data (or rollout_steps 0)")
    index = torch.randint(len(data), (fit.batch_size - rolled,), generator=generator)
    if not rolled:
        return index, index[:0], 0
    chain = torch.randint(len(data.chains), (rolled,), generator=generator)
    return index, chain, int(torch.randint(2, fit.rollout_steps + 1, (), generator=generator))


def rollout_step(decoder: FrameDecoder, data: DecoderData, chain: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    """Step ``depth`` of the rollout chains ``chain`` decoded after the decoder's own frames for steps
    1 … depth−1 (no gradient through those) → (decoded, true frames), each (b, C, H, W) in [0, 1]."""
    path, rows = data.chains[chain, : depth + 1], data.chain_frame[chain]
    if not decoder.reads_context:
        return decoder(path[:, depth]), unit_float(data.frames[rows[:, depth]])
    previous = decoder.decode_future(path[:, :depth], unit_float(data.frames[rows[:, 0]]))[:, -1]
    return decoder(path[:, depth], path[:, depth - 1], previous), unit_float(data.frames[rows[:, depth]])


def decoder_loss(decoder: FrameDecoder, data: DecoderData, fit: FitConfig, step: int) -> Tensor:
    """Mean squared (+ ``l1_weight`` · absolute) pixel error of a step's batch (:func:`draw_batch`) against its frames."""
    index, chain, depth = draw_batch(data, fit, step)
    decoded, truth = decoder(*data.decoder_inputs(index)), unit_float(data.frames[data.frame[index]])
    if len(chain):
        rolled, rolled_truth = rollout_step(decoder, data, chain, depth)
        decoded, truth = torch.cat([decoded, rolled]), torch.cat([truth, rolled_truth])
    loss = F.mse_loss(decoded, truth)
    return loss + fit.l1_weight * F.l1_loss(decoded, truth) if fit.l1_weight else loss


def train_decoder(decoder: FrameDecoder, data: DecoderData, fit: FitConfig, state: dict | None = None,
                  checkpoint: Path | None = None, stop_at: int | None = None, progress: bool = False,
                  extra: dict | None = None) -> dict:
    """Optimise ``decoder`` on ``data`` from step 0, or from a checkpoint ``state``, up to ``fit.steps`` (or
    ``stop_at``); every ``fit.checkpoint_every`` steps (and at ``stop_at``) the state, with ``extra``, is
    written to ``checkpoint`` (atomically). Returns the final state (``step``, ``losses``, ``seconds``)."""
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=fit.lr, weight_decay=fit.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, fit.warmup_steps, fit.steps, "cosine"))
    start, seconds, losses = 0, 0.0, []
    if state is not None:
        decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, seconds, losses = state["step"], state["seconds"], list(state["losses"])
    end = min(fit.steps, stop_at if stop_at is not None else fit.steps)
    clock = time.perf_counter()
    decoder.train()

    def snapshot(step: int) -> dict:
        return {"decoder": decoder.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "step": step, "fit": dataclasses.asdict(fit), "seconds": seconds + time.perf_counter() - clock,
                "losses": losses} | (extra or {})

    bar = tqdm(total=fit.steps, initial=start, desc="decoder", dynamic_ncols=True, disable=not progress)
    for step in range(start, end):
        loss = decoder_loss(decoder, data, fit, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        bar.update()
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        if checkpoint is not None and ((step + 1) % fit.checkpoint_every == 0 or step + 1 == end) and step + 1 < fit.steps:
            torch.save(snapshot(step + 1), checkpoint.with_suffix(".tmp"))
            os.replace(checkpoint.with_suffix(".tmp"), checkpoint)
    bar.close()
    decoder.eval()
    return snapshot(end)


def fit_decoder(run_dir: str | Path, fit: FitConfig | None = None, resume: bool = False, overwrite: bool = False,
                stop_at: int | None = None, progress: bool = True) -> tuple[FrameDecoder, dict]:
    """Fit, save and return the decoder of a run and the fit's facts (``fit_seconds``, losses, sizes).

    ``resume`` continues from ``RUN/decoder/checkpoint.pt``; without it or ``overwrite`` a run that
    already has a decoder (or a started fit) is refused rather than overwritten. ``stop_at``: end
    after this step with a checkpoint (continue later with ``resume``); nothing is saved as fitted then.
    """
    fit = fit or FitConfig()
    folder = decoder_dir(run_dir)
    checkpoint = folder / CHECKPOINT
    if resume and not checkpoint.is_file():
        raise DecoderError(f"{run_dir}: no decoder fit to resume ({checkpoint} missing)")
    if not resume and not overwrite and (checkpoint.is_file() or has_decoder(run_dir)):
        raise DecoderError(f"{folder}: a decoder fit exists; pass --resume to continue it or --overwrite to fit anew")
    stamp = derived_stamp(run_dir)
    state = torch.load(checkpoint, weights_only=True) if resume else None
    if state is not None and state["fit"] != dataclasses.asdict(fit):
        raise DecoderError(f"{checkpoint}: fitted with {state['fit']}; resume with the same options")
    if state is not None and state["model_sha256"] != stamp["model_sha256"]:
        raise DecoderError(f"{checkpoint}: started on another model than the one now in {run_dir}; fit anew with --overwrite")
    cfg, model = frame_run(run_dir)
    torch.set_num_threads(fit.threads or cfg.train.threads or torch.get_num_threads())
    clock = time.perf_counter()
    data = decoder_data(model, build_dataset(cfg.data, "train"), fit.predictions, fit.context_frame, fit.rollout_steps)
    if rollout_share(fit) and not len(data.chains):
        raise DecoderError(f"{run_dir}: no training video holds {fit.rollout_steps} consecutive pairs; "
                           "ask for fewer --rollout-steps")
    with torch.random.fork_rng():  # the initial weights depend on the seed only: a fit is reproducible
        torch.manual_seed(fit.seed)
        decoder = FrameDecoder(DecoderConfig(data.inputs.shape[1], tuple(data.frames.shape[1:]),
                                             model.encoder.token_shape, fit.width, fit.context_frame))
    decoder.standardise_with(data.inputs[data.kind == 0])
    folder.mkdir(parents=True, exist_ok=True)
    cache_seconds = (state or {}).get("cache_seconds", 0.0) + time.perf_counter() - clock  # every (re)start pays it
    final = train_decoder(decoder, data, fit, state, checkpoint, stop_at, progress, stamp | {"cache_seconds": cache_seconds})
    losses = final["losses"]
    window = max(1, min(50, len(losses) // 10))
    facts = {"fit_seconds": final["seconds"] + cache_seconds,
             "cache_seconds": cache_seconds, "steps": final["step"], "train_samples": len(data),
             "first_loss": sum(losses[:window]) / window, "last_loss": sum(losses[-window:]) / window}
    if final["step"] < fit.steps:
        return decoder, facts
    save_decoder(folder, decoder, {"fit": dataclasses.asdict(fit), "facts": facts} | stamp)
    record_derived(run_dir, ["decoder"], stamp)
    checkpoint.unlink(missing_ok=True)
    return decoder, facts

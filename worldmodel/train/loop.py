"""The training loop, top to bottom, on Accelerate.

Accelerate owns the device, mixed precision, multi-process data parallelism and checkpoint
state; this file owns the order of things. Every step's randomness (latent samples, masks) is
seeded from (seed, step, rank) and the batch order from (seed, epoch), so a run resumed from a
checkpoint repeats exactly the steps an uninterrupted run would have taken: its final weights
are bit-identical on CPU.

Faults: SIGTERM / SIGINT end the run after the current step with a checkpoint
(:class:`TrainingInterrupted`; a second signal stops at once); a non-finite loss stops it before
the weights change (:class:`NonFiniteLoss`), or skips and counts up to
``train.skip_nonfinite`` such batches. Under several processes these decisions are agreed on
every step, so all processes stop at the same step. Checkpoints: see
:mod:`worldmodel.train.checkpoints`.

Run folder: see :mod:`worldmodel.train.runs` (its contents, the lock that gives it to one
training, and when a fresh start into it is refused).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from accelerate import Accelerator
from safetensors.torch import save_file
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from worldmodel.config import Config, ConfigError, flat_config, save_config
from worldmodel.data import build_dataset, passthrough_collate
from worldmodel.models import WorldModel
from worldmodel.train.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from worldmodel.train.monitor import MetricsLog
from worldmodel.train.optim import weight_decay_groups
from worldmodel.train.trackers import require_tracker
from worldmodel.train.prior_fit import fit_prior, has_density_prior
from worldmodel.train.runs import claim_run
from worldmodel.train.schedules import beta_at, ema_momentum_at, lr_factor


class NonFiniteLoss(FloatingPointError):
    """The loss of a step was NaN or infinite; the message gives the step and the loss terms."""


class TrainingInterrupted(Exception):
    """SIGTERM or SIGINT ended the run after a checkpoint; ``signal``, ``step``, ``checkpoint``."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        self.signal, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(f"stopped by {signal.Signals(signum).name} after step {step}; "
                         f"checkpoint {checkpoint}; continue with --resume")


class StepBatchSampler(Sampler[list[int]]):
    """Batches for steps ``start … steps−1``: epoch e is a permutation seeded by (seed, e).

    Each of ``world`` processes takes its contiguous slice of the global batch, so the
    processes together see exactly the batch a single process would. With ``groups`` (n,) (each
    sample's video) and ``group_size`` G > 1, an epoch is instead a shuffled sequence of runs of G
    samples of one video (each video's samples shuffled, cut into runs of G, a video's remainder
    left out of that epoch), so a batch holds B / G videos with G pairs each: the negatives of a
    contrastive objective then include other moments of the same video (``data.pairs_per_video``).
    """

    def __init__(self, n: int, global_batch: int, steps: int, seed: int, start: int = 0,
                 rank: int = 0, world: int = 1, groups: np.ndarray | None = None, group_size: int = 1) -> None:
        if global_batch % world:
            raise ConfigError(f"train.batch_size {global_batch} is not divisible by {world} processes")
        if n < global_batch:
            raise ConfigError(f"dataset has {n} samples, fewer than train.batch_size {global_batch}")
        if group_size > 1 and groups is None:
            raise ConfigError(f"data.pairs_per_video {group_size} needs a dataset of videos (data.kind frames)")
        if group_size > 1 and (global_batch // world) % group_size:
            raise ConfigError(f"data.pairs_per_video {group_size} does not divide the batch of each process "
                              f"({global_batch // world})")
        self.n, self.global_batch, self.steps, self.seed = n, global_batch, steps, seed
        self.start, self.rank, self.local = start, rank, global_batch // world
        self.group_size = group_size
        self.videos = None  # with groups: each video's sample indices
        usable = n
        if group_size > 1:
            order = np.argsort(np.asarray(groups), kind="stable")
            counts = np.unique(np.asarray(groups), return_counts=True)[1]
            self.videos = [torch.from_numpy(members) for members in np.split(order, np.cumsum(counts)[:-1])]
            usable = int((counts // group_size).sum()) * group_size
        self.per_epoch = usable // global_batch
        if self.per_epoch == 0:
            raise ConfigError(f"data.pairs_per_video {group_size}: too few runs of {group_size} pairs of one video "
                              f"for a batch of {global_batch}")

    def _grouped(self, generator: torch.Generator) -> torch.Tensor:
        """One epoch's order: runs of ``group_size`` samples of one video, the runs shuffled."""
        runs = []
        for members in self.videos:
            members = members[torch.randperm(len(members), generator=generator)]
            runs += list(members[: len(members) // self.group_size * self.group_size].split(self.group_size))
        return torch.cat([runs[i] for i in torch.randperm(len(runs), generator=generator)])

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self) -> Iterator[list[int]]:
        perm, epoch = None, -1
        for step in range(self.start, self.steps):
            if step // self.per_epoch != epoch:
                epoch = step // self.per_epoch
                generator = torch.Generator().manual_seed(self.seed * 100003 + epoch)
                perm = torch.randperm(self.n, generator=generator) if self.videos is None else self._grouped(generator)
            pos = (step % self.per_epoch) * self.global_batch + self.rank * self.local
            yield perm[pos : pos + self.local].tolist()


class StopRequests:
    """Context manager turning SIGTERM and SIGINT into a request to stop after the current step.

    ``signum`` is the first signal received (None before). A second signal restores the
    previous handlers and re-raises it, for a user who does not want to wait. Outside the main
    thread (where Python cannot install handlers) it records nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            self._restore()
            signal.raise_signal(signum)
        self.signum = signum

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        self._restore()


def agree(accelerator: Accelerator, *flags: bool) -> list[int]:
    """For each flag, how many processes raised it (one all-reduce; no communication alone)."""
    counts = torch.tensor([float(f) for f in flags], device=accelerator.device)
    if accelerator.num_processes > 1:
        counts = accelerator.reduce(counts, reduction="sum")
    return [int(c) for c in counts.tolist()]


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _nonfinite_message(step: int, out: dict[str, torch.Tensor], seen_by: int, world: int, skipped: int,
                       allowed: int) -> str:
    """One line: the step, this process's loss terms, and what the run did about it."""
    terms = ", ".join(f"{k}={float(v.detach()):.6g}" for k, v in out.items())
    where = f" (on {seen_by} of {world} processes)" if world > 1 else ""
    return (f"non-finite loss at step {step}{where}: {terms}; {skipped} non-finite batches, "
            f"train.skip_nonfinite allows {allowed}; the weights of this step were not updated")


def train(cfg: Config, run_dir: str | Path, resume: bool = False, stop_at: int | None = None,
          overwrite: bool = False) -> Path:
    """Train the world model described by ``cfg``; returns the run folder.

    ``resume`` continues from the newest intact checkpoint; ``stop_at`` ends this invocation
    after that global step with a checkpoint (for time-sliced jobs), to be resumed later;
    ``overwrite`` deletes an earlier run in the folder first (see :func:`~worldmodel.train.runs.claim_run`).

    Raises:
        RunFolderError: another training holds the folder, or it holds a run and neither
            ``resume`` nor ``overwrite`` was given.
        NonFiniteLoss: a step's loss was NaN/inf (beyond ``train.skip_nonfinite`` skips).
        TrainingInterrupted: SIGTERM/SIGINT arrived; a checkpoint of the last step was saved.
        CheckpointError: ``resume`` found checkpoints but none intact and loadable.
    """
    if stop_at is not None and stop_at < 1:
        raise ConfigError(f"--stop-at {stop_at}: expected a step ≥ 1")
    require_tracker(cfg.train.log_with)  # a missing tracker package stops the run before it starts
    run_dir = Path(run_dir)
    # step_scheduler_with_optimizer=False: the LR schedule counts optimiser steps, not steps × processes
    accelerator = Accelerator(mixed_precision=cfg.train.mixed_precision, step_scheduler_with_optimizer=False)
    lock = claim_run(run_dir, resume, overwrite) if accelerator.is_main_process else None
    try:
        return _train(accelerator, cfg, run_dir, resume, stop_at)
    finally:
        if lock is not None:
            lock.release()


def _train(accelerator: Accelerator, cfg: Config, run_dir: Path, resume: bool, stop_at: int | None) -> Path:
    main = accelerator.is_main_process
    if main:
        save_config(cfg, run_dir / "config.yaml")
    torch.manual_seed(cfg.train.seed)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)

    with accelerator.main_process_first():
        dataset = build_dataset(cfg.data, "train")
    in_shape = tuple(dataset[0]["context"].shape)
    model = WorldModel(cfg, in_shape)
    if cfg.train.prior_fit_steps > 0 and not has_density_prior(model.latent):
        raise ConfigError(f"train.prior_fit_steps ({cfg.train.prior_fit_steps}) refits a gaussian or mixture prior; "
                          f"model.latent.kind is {cfg.model.latent.kind!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(weight_decay_groups(params, cfg.optim.weight_decay, cfg.optim.decay_1d), lr=cfg.optim.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.schedule)
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    core: WorldModel = accelerator.unwrap_model(model)
    forward = model if cfg.train.compile == "none" else torch.compile(model, backend=cfg.train.compile)  # shares model's parameters

    start, skipped = 0, 0
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        info = load_checkpoint(accelerator, checkpoint)
        start, skipped = info["step"], info.get("skipped_nonfinite", 0)
        accelerator.print(f"resumed from {checkpoint} at step {start}")

    end = cfg.train.steps if stop_at is None else min(stop_at, cfg.train.steps)
    sampler = StepBatchSampler(len(dataset), cfg.train.batch_size, end, cfg.train.seed,
                               start, accelerator.process_index, accelerator.num_processes,
                               getattr(dataset, "video", None), cfg.data.pairs_per_video)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=passthrough_collate,
                        num_workers=cfg.data.num_workers, persistent_workers=cfg.data.num_workers > 0)
    log = MetricsLog(run_dir, cfg.train, start, cfg.name, flat_config(cfg), cfg.model.latent.beta_warmup_steps) if main else None
    bar = tqdm(total=cfg.train.steps, initial=start, disable=not main, desc=cfg.name, dynamic_ncols=True,
               mininterval=1.0)

    t_start = time.perf_counter()
    data_time = compute_time = 0.0
    grad_norm = None
    tick = time.perf_counter()
    try:
        with StopRequests() as stop:
            for step, batch in enumerate(loader, start=start):
                batch = _to_device(batch, accelerator.device)
                t_data = time.perf_counter()
                torch.manual_seed(cfg.train.seed * 1_000_003 + step * 101 + accelerator.process_index)

                beta = beta_at(step, cfg.model.latent.beta, cfg.model.latent.beta_warmup_steps)
                # a skipped batch must not leave its trace in running statistics (BatchNorm) either
                buffers = [b.detach().clone() for b in model.buffers()] if cfg.train.skip_nonfinite else None
                with accelerator.autocast():
                    out = forward(batch, beta)
                loss = out["loss"]
                nonfinite, signalled = agree(accelerator, not torch.isfinite(loss), stop.signum is not None)
                if nonfinite:
                    skipped += 1
                    message = _nonfinite_message(step, out, nonfinite, accelerator.num_processes, skipped,
                                                 cfg.train.skip_nonfinite)
                    if skipped > cfg.train.skip_nonfinite:
                        raise NonFiniteLoss(message)
                    tqdm.write(f"warning: {message}; batch skipped")
                    for buffer, saved in zip(model.buffers(), buffers):
                        buffer.copy_(saved)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    accelerator.backward(loss)
                    if cfg.train.grad_clip > 0:
                        grad_norm = float(accelerator.clip_grad_norm_(params, cfg.train.grad_clip))
                    optimizer.step()
                    core.update_target(ema_momentum_at(step, cfg.train.steps, cfg.objective.ema_momentum))
                scheduler.step()  # the schedule follows the step, skipped or not

                now = time.perf_counter()
                data_time += t_data - tick
                compute_time += now - t_data
                tick = now
                bar.update(1)
                done = step + 1
                if done % cfg.train.log_every == 0 or done == cfg.train.steps:
                    means = accelerator.reduce(torch.stack([v.detach().float() for v in out.values()]),
                                               reduction="mean")
                    if main:
                        record = {"step": done, "beta": beta, "lr": scheduler.get_last_lr()[0],
                                  **dict(zip(out, means.tolist())), "skipped_nonfinite": skipped,
                                  "data_time": data_time, "compute_time": compute_time}
                        if grad_norm is not None:
                            record["grad_norm"] = grad_norm
                        log.write(record)
                        share = data_time / max(data_time + compute_time, 1e-9)
                        bar.set_postfix(loss=f"{record['loss']:.4f}", data=f"{share:.0%}")
                if done % cfg.train.checkpoint_every == 0 or done == end or signalled:
                    saved = save_checkpoint(accelerator, run_dir, done, cfg.train.keep_checkpoints,
                                            skipped_nonfinite=skipped)
                if signalled:  # a process that received no signal itself stops as if by SIGTERM
                    raise TrainingInterrupted(stop.signum or signal.SIGTERM, done, saved)
    finally:
        bar.close()
        if main:
            log.close()

    prior_fit = {}
    if main and end == cfg.train.steps and cfg.train.prior_fit_steps > 0:
        prior_fit = fit_prior(core, dataset, cfg.train.prior_fit_steps, seed=cfg.train.seed)
        accelerator.print("prior refitted to the posterior: {prior_nll_before:.3f} -> {prior_nll_after:.3f} nats".format(**prior_fit))
    if main and end == cfg.train.steps:
        save_file({k: v.contiguous() for k, v in core.state_dict().items()}, str(run_dir / "model.safetensors"))
        (run_dir / "run.json").write_text(json.dumps(
            {"in_shape": list(in_shape), "steps": cfg.train.steps, "resumed_from": start,
             "skipped_nonfinite": skipped, "wall_time_s": time.perf_counter() - t_start, "data_time_s": data_time,
             "compute_time_s": compute_time, "processes": accelerator.num_processes, "prior_fit": prior_fit}, indent=2))
    accelerator.wait_for_everyone()
    return run_dir

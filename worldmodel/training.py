"""The training loop, top to bottom, on Accelerate.

Accelerate owns the device, mixed precision, multi-process data parallelism and checkpoint
state; this file owns the order of things. Every step's randomness (latent samples, masks) is
seeded from (seed, step, rank) and the batch order from (seed, epoch), so a run resumed from a
checkpoint repeats exactly the steps an uninterrupted run would have taken.

Run folder::

    config.yaml          the resolved config
    metrics.jsonl        one JSON object per logged step (losses averaged over processes)
    tb/                  TensorBoard events
    checkpoints/step_N/  Accelerate state (model, EMA target, optimiser, scheduler, RNG) + step.json
    model.safetensors    final weights;  run.json: input shape, steps, wall time
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Iterator

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Sampler
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from worldmodel.config import Config, load_config, save_config
from worldmodel.data import build_dataset, passthrough_collate
from worldmodel.models import WorldModel
from worldmodel.models.world_model import beta_at, ema_momentum_at
from worldmodel.objectives.centre import CentreStats, collapse_alarm


class StepBatchSampler(Sampler[list[int]]):
    """Batches for steps ``start … steps−1``: epoch e is a permutation seeded by (seed, e).

    Each of ``world`` processes takes its contiguous slice of the global batch, so the
    processes together see exactly the batch a single process would.
    """

    def __init__(self, n: int, global_batch: int, steps: int, seed: int, start: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        if global_batch % world:
            raise ValueError(f"train.batch_size {global_batch} is not divisible by {world} processes")
        if n < global_batch:
            raise ValueError(f"dataset has {n} samples, fewer than train.batch_size {global_batch}")
        self.n, self.global_batch, self.steps, self.seed = n, global_batch, steps, seed
        self.start, self.rank, self.local = start, rank, global_batch // world
        self.per_epoch = n // global_batch

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self) -> Iterator[list[int]]:
        perm, epoch = None, -1
        for step in range(self.start, self.steps):
            if step // self.per_epoch != epoch:
                epoch = step // self.per_epoch
                perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
            pos = (step % self.per_epoch) * self.global_batch + self.rank * self.local
            yield perm[pos : pos + self.local].tolist()


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """Linear warm-up, then cosine decay to 0 (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _checkpoint_step(path: Path) -> int:
    """N of a ``step_N`` checkpoint folder."""
    return int(path.name.split("_")[1])


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Newest complete checkpoint (one with ``step.json``, written last) or None."""
    done = [p for p in (run_dir / "checkpoints").glob("step_*") if (p / "step.json").is_file()]
    return max(done, key=_checkpoint_step, default=None)


def save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, keep: int) -> None:
    """Write state to a temporary folder, then rename: a killed save never looks complete."""
    root = run_dir / "checkpoints"
    final, tmp = root / f"step_{step}", root / f".tmp_step_{step}"
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / "step.json").write_text(json.dumps({"step": step}))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        done = sorted(root.glob("step_*"), key=_checkpoint_step)
        for old in done[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


class MetricsLog:
    """The main process's ``metrics.jsonl`` and TensorBoard events, with the collapse alarm.

    From step ``train.collapse_grace_steps`` on (a fresh encoder's embeddings all point alike,
    which is not collapse), each record's ``centre_norm`` and ``residual_norm`` go through
    :func:`~worldmodel.objectives.centre.collapse_alarm` with the thresholds of ``train``; the
    first time it fires, the message is printed and stored in that record as
    ``collapse_warning`` (and as TensorBoard text).
    """

    def __init__(self, run_dir: Path, train_cfg) -> None:
        self.file = open(run_dir / "metrics.jsonl", "a")
        self.writer = SummaryWriter(str(run_dir / "tb"))
        self.cfg = train_cfg
        self.warned = False

    def write(self, record: dict[str, float]) -> None:
        step = record["step"]
        if self.warned or step < self.cfg.collapse_grace_steps:
            alarm = None
        else:
            alarm = collapse_alarm(CentreStats(record["centre_norm"], record["residual_norm"]),
                                   self.cfg.collapse_max_centre_norm, self.cfg.collapse_min_residual_norm)
        if alarm:
            self.warned = True
            record = record | {"collapse_warning": alarm}
            tqdm.write(f"warning: step {step}: {alarm}")
            self.writer.add_text("collapse_warning", alarm, step)
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        for key, value in record.items():
            if key != "step" and isinstance(value, float):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.file.close()
        self.writer.close()


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def train(cfg: Config, run_dir: str | Path, resume: bool = False, stop_at: int | None = None) -> Path:
    """Train the world model described by ``cfg``; returns the run folder.

    ``resume`` continues from the newest complete checkpoint; ``stop_at`` ends this invocation
    after that global step with a checkpoint (for time-sliced jobs), to be resumed later.
    """
    run_dir = Path(run_dir)
    # step_scheduler_with_optimizer=False: the LR schedule counts optimiser steps, not steps × processes
    accelerator = Accelerator(mixed_precision=cfg.train.mixed_precision, step_scheduler_with_optimizer=False)
    main = accelerator.is_main_process
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    torch.manual_seed(cfg.train.seed)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)

    with accelerator.main_process_first():
        dataset = build_dataset(cfg.data, "train")
    in_shape = tuple(dataset[0]["context"].shape)
    model = WorldModel(cfg, in_shape)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.schedule)
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    core: WorldModel = accelerator.unwrap_model(model)

    start = 0
    if resume:
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is not None:
            accelerator.load_state(str(checkpoint))
            start = json.loads((checkpoint / "step.json").read_text())["step"]
            accelerator.print(f"resumed from {checkpoint} at step {start}")

    end = cfg.train.steps if stop_at is None else min(stop_at, cfg.train.steps)
    sampler = StepBatchSampler(len(dataset), cfg.train.batch_size, end, cfg.train.seed,
                               start, accelerator.process_index, accelerator.num_processes)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=passthrough_collate,
                        num_workers=cfg.data.num_workers, persistent_workers=cfg.data.num_workers > 0)
    log = MetricsLog(run_dir, cfg.train) if main else None
    bar = tqdm(total=cfg.train.steps, initial=start, disable=not main, desc=cfg.name, dynamic_ncols=True,
               mininterval=1.0)

    t_start = time.perf_counter()
    data_time = compute_time = 0.0
    tick = time.perf_counter()
    for step, batch in enumerate(loader, start=start):
        batch = _to_device(batch, accelerator.device)
        t_data = time.perf_counter()
        torch.manual_seed(cfg.train.seed * 1_000_003 + step * 101 + accelerator.process_index)

        beta = beta_at(step, cfg.model.latent.beta, cfg.model.latent.beta_warmup_steps)
        with accelerator.autocast():
            out = model(batch, beta)
        loss = out["loss"]
        if not torch.isfinite(loss):
            terms = {k: float(v) for k, v in out.items()}
            raise FloatingPointError(f"non-finite loss at step {step}: {terms}")
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.train.grad_clip > 0:
            accelerator.clip_grad_norm_(params, cfg.train.grad_clip)
        optimizer.step()
        scheduler.step()
        core.update_target(ema_momentum_at(step, cfg.train.steps, cfg.objective.ema_momentum))

        now = time.perf_counter()
        data_time += t_data - tick
        compute_time += now - t_data
        tick = now
        bar.update(1)
        done = step + 1
        if done % cfg.train.log_every == 0 or done == cfg.train.steps:
            means = accelerator.reduce(torch.stack([v.detach().float() for v in out.values()]), reduction="mean")
            if main:
                record = {"step": done, "beta": beta, "lr": scheduler.get_last_lr()[0],
                          **dict(zip(out, means.tolist())), "data_time": data_time, "compute_time": compute_time}
                log.write(record)
                share = data_time / max(data_time + compute_time, 1e-9)
                bar.set_postfix(loss=f"{record['loss']:.4f}", data=f"{share:.0%}")
        if done % cfg.train.checkpoint_every == 0 or done == end:
            save_checkpoint(accelerator, run_dir, done, cfg.train.keep_checkpoints)
    bar.close()

    if main and end == cfg.train.steps:
        save_file({k: v.contiguous() for k, v in core.state_dict().items()}, str(run_dir / "model.safetensors"))
        (run_dir / "run.json").write_text(json.dumps(
            {"in_shape": list(in_shape), "steps": cfg.train.steps, "resumed_from": start,
             "wall_time_s": time.perf_counter() - t_start, "data_time_s": data_time,
             "compute_time_s": compute_time, "processes": accelerator.num_processes}, indent=2))
    if main:
        log.close()
    accelerator.wait_for_everyone()
    return run_dir


def load_run(run_dir: str | Path) -> tuple[Config, WorldModel]:
    """The config and trained model (eval mode, CPU) of a finished run."""
    run_dir = Path(run_dir)
    for name in ("config.yaml", "run.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir}: not a finished run (missing {name})")
    cfg = load_config(run_dir / "config.yaml")
    in_shape = tuple(json.loads((run_dir / "run.json").read_text())["in_shape"])
    model = WorldModel(cfg, in_shape)
    model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    return cfg, model.eval()

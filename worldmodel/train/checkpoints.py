"""Checkpoints that are complete or invisible, verified before they are loaded.

A checkpoint is the folder ``RUN/checkpoints/step_N``, written by the main process only:
Accelerate's state (``model.safetensors`` with the online and EMA target weights; optimiser,
scheduler and RNG state loaded with ``weights_only=True``, so no pickled code runs) and
``step.json``, written last::

    {"step": N, "skipped_nonfinite": 0, "files": {"model.safetensors": {"bytes": …, "sha256": …}, …}}

Saving writes into ``.tmp_step_N``, fsyncs every file and renames the folder: a save killed at
any moment leaves either no ``step_N`` or a complete one. Resuming takes the newest checkpoint
whose files match their recorded sizes and hashes; a truncated or corrupt one is skipped with a
warning naming the file, and when none is intact :class:`CheckpointError` lists why.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from worldmodel.train.runs import file_sha256

STEP_FILE = "step.json"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message names the file and what was expected."""


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk (a folder's fsync makes the names in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """{name: {"bytes", "sha256"}} of the files in ``folder`` (except step.json), fsynced."""
    files = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != STEP_FILE):
        _fsync(path)
        files[path.name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    return files


def checkpoint_step(path: Path) -> int:
    """N of a ``step_N`` checkpoint folder."""
    return int(path.name.split("_")[1])


def write_step_file(folder: Path, info: dict[str, Any]) -> None:
    """Write ``step.json`` (``info`` plus the file manifest) last, then fsync it and the folder."""
    path = folder / STEP_FILE
    path.write_text(json.dumps({**info, "files": file_manifest(folder)}, indent=1))
    _fsync(path)
    _fsync(folder)


def save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, keep: int, **info: Any) -> Path:
    """Save the state of every prepared object as ``checkpoints/step_{step}``; keep the newest ``keep``.

    Every process calls this; only the main process writes (under DDP the processes hold the same
    weights and optimiser state, and the per-process RNG states Accelerate would add are not
    needed: every step reseeds from (seed, step, rank)). All return once the checkpoint is in
    place. ``info`` goes into step.json next to the step.
    """
    root = run_dir / "checkpoints"
    final, tmp = root / f"step_{step}", root / f".tmp_step_{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a save that was killed
        accelerator.save_state(str(tmp))
        write_step_file(tmp, {"step": step, **info})
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        _fsync(root)
        for old in sorted(root.glob("step_*"), key=checkpoint_step)[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def read_step_file(checkpoint: Path) -> dict[str, Any]:
    """step.json of ``checkpoint`` after checking every listed file's size and SHA-256."""
    path = checkpoint / STEP_FILE
    try:
        info = json.loads(path.read_text())
        files, step = info["files"], int(info["step"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: unreadable ({type(err).__name__}: {err}); expected JSON with 'step' and 'files'") from None
    if step != checkpoint_step(checkpoint):
        raise CheckpointError(f"{path}: step {step}, expected {checkpoint_step(checkpoint)} as the folder name says")
    for name, expected in files.items():
        file = checkpoint / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing; step.json lists it")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"{file}: {size} bytes, expected {expected['bytes']} (truncated?)")
        if file_sha256(file) != expected["sha256"]:
            raise CheckpointError(f"{file}: SHA-256 differs from the one in step.json (corrupt)")
    return info


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """The ``step_N`` folders holding a step.json, newest first (``.tmp_*`` folders never count)."""
    found = [p for p in (run_dir / "checkpoints").glob("step_*") if (p / STEP_FILE).is_file()]
    return sorted(found, key=checkpoint_step, reverse=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """Newest intact checkpoint of ``run_dir``, or None when it has none at all.

    Damaged checkpoints are skipped with a warning naming the file; if every checkpoint is
    damaged, :class:`CheckpointError` lists them all (resuming from scratch would silently
    lose the run).
    """
    problems = []
    for checkpoint in complete_checkpoints(Path(run_dir)):
        try:
            read_step_file(checkpoint)
            return checkpoint
        except CheckpointError as err:
            warnings.warn(f"skipping checkpoint {checkpoint.name}: {err}", stacklevel=2)
            problems.append(str(err))
    if problems:
        raise CheckpointError(f"{run_dir}: no intact checkpoint: " + "; ".join(problems))
    return None


def load_checkpoint(accelerator: Accelerator, checkpoint: Path) -> dict[str, Any]:
    """Load ``checkpoint`` into the prepared objects; returns its step.json.

    Accelerate loads tensors with ``weights_only=True``: a file that would run code when
    unpickled is refused, reported as :class:`CheckpointError` naming the checkpoint.
    """
    info = read_step_file(checkpoint)
    try:
        accelerator.load_state(str(checkpoint))
    except Exception as err:  # UnpicklingError, shape mismatch, …: one line naming the checkpoint
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{checkpoint}: cannot be loaded ({type(err).__name__}: {reason})") from err
    return info

"""Run folders: who owns one, what may start in it, and whether what was derived from it is current.

Readers (eval, rollouts, the decoder) import this module, never the training loop. A run folder::

    train.lock           while a training writes the folder: its pid (an exclusive flock on it)
    config.yaml          the resolved config
    metrics.jsonl, tb/   the training log (one record per logged step) and TensorBoard events
    checkpoints/step_N/  Accelerate state + step.json (see worldmodel.train.checkpoints)
    model.safetensors    final weights;  run.json: input shape, steps, wall time
    --- derived (written after training, from model.safetensors) ---
    eval.json            eval.py's metrics;  reference_motion.png (eval.py --reference-motion)
    probes/              eval.py's probes (probes.npz, probes.json), read by rollout.py
    rollouts/            rollout.py's metrics.json, rollouts.npz and plots
    decoder/             the pixel decoder, if fitted
    provenance.json      {derived name: {"model_sha256": hash of the model.safetensors it came from}}

Ownership: :func:`claim_run` takes ``train.lock`` for one training; a second training into the
folder gets :class:`RunFolderError` naming the pid; a lock left by a process that died is taken
over with a notice. A folder that holds a trained model, checkpoints or derived files is refused
to a fresh start: continue it (``resume``) or clear it (``overwrite``: the training and derived
files above are deleted, nothing else).

Provenance: a writer of a derived file takes :func:`derived_stamp` right after it loads the model
(:func:`load_run`) and records it with :func:`record_derived` after writing; a reader calls :func:`check_derived`, which
refuses a file recorded from another model.safetensors (the run was trained again), one without a
record, and any while a training holds the folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

LOCK = "train.lock"
PROVENANCE = "provenance.json"
TRAINING_FILES = ("model.safetensors", "run.json", "checkpoints", "metrics.jsonl", "tb", "config.yaml")
DERIVED_FILES = ("eval.json", "reference_motion.png", "probes", "rollouts", "decoder", PROVENANCE)
RESULT_FILES = ("model.safetensors", "run.json", *DERIVED_FILES)  # a folder holding any of these has a trained run


class RunFolderError(ValueError):
    """A run folder cannot be used as asked; the message names the folder and what was expected."""


# ------------------------------------------------------------------------------------ ownership

def _lock_owner(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


class RunLock:
    """The exclusive ``train.lock`` of a run folder, held until :meth:`release` (or process exit).

    The kernel's flock decides who owns the folder (it dies with its process, so a crash leaves no
    false owner); the pid written inside names the owner in messages.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        while True:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self.fd)
                raise RunFolderError(f"{run_dir}: in use by another training (pid {_lock_owner(self.path)}, {self.path}); "
                                     "expected one training per run folder: wait for it or choose another --run-dir") from None
            try:
                if os.fstat(self.fd).st_ino == os.stat(self.path).st_ino:
                    break  # else the owner released (unlinked) the file between our open and flock: again
            except FileNotFoundError:
                pass
            os.close(self.fd)
        previous = os.read(self.fd, 64).decode(errors="replace").strip()
        if previous:
            print(f"notice: {self.path}: taking over the lock left by pid {previous}, which is no longer running",
                  file=sys.stderr)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def training_owner(run_dir: str | Path) -> str | None:
    """The pid (as written) of the training that holds ``run_dir`` now, or None."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _lock_owner(path)
    finally:
        os.close(fd)  # closing drops the shared lock taken to look
    return None


def _make_folder(run_dir: Path) -> None:
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists() and not parent.is_dir():
            raise RunFolderError(f"{run_dir}: cannot create the run folder, {parent} is a file; expected a folder path")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"{run_dir}: cannot create the run folder ({err.strerror})") from None


def _has_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "checkpoints").glob("step_*"))


def clear_run(run_dir: Path) -> list[str]:
    """Delete the training and derived files of ``run_dir`` (nothing else); returns the names deleted."""
    deleted = []
    for name in (*TRAINING_FILES, *DERIVED_FILES):
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        deleted.append(name)
    return deleted


def claim_run(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> RunLock:
    """Create ``run_dir`` if needed and take its lock for a training; returns the lock to release.

    - another training holds it → :class:`RunFolderError` (pid named);
    - it holds a trained model, checkpoints or derived files: a fresh start is refused unless
      ``overwrite`` (which deletes them); ``resume`` continues from the newest checkpoint;
    - ``resume`` without any checkpoint: a folder with nothing trained starts from step 0 with a
      notice (so a time-sliced job may always pass ``--resume``); one that holds a model or
      derived files but no checkpoint is refused (starting from zero would replace that model).
    """
    if resume and overwrite:
        raise RunFolderError(f"{run_dir}: --resume and --overwrite contradict each other; expected one of them")
    run_dir = Path(run_dir)
    _make_folder(run_dir)
    lock = RunLock(run_dir)
    try:
        results = [name for name in RESULT_FILES if (run_dir / name).exists()]
        checkpoints = _has_checkpoint(run_dir)
        if overwrite:
            if deleted := clear_run(run_dir):
                print(f"notice: {run_dir}: --overwrite deleted {', '.join(deleted)}", file=sys.stderr)
        elif resume and not checkpoints:
            if results:
                raise RunFolderError(f"{run_dir}: --resume found no checkpoint but the folder holds {', '.join(results)}; "
                                     "expected checkpoints/step_N (use --overwrite to train again from step 0)")
            print(f"notice: {run_dir}: --resume found no checkpoint; starting from step 0", file=sys.stderr)
        elif not resume and (results or checkpoints):
            held = results + ["checkpoints/"] * checkpoints
            raise RunFolderError(f"{run_dir}: holds a trained or started run ({', '.join(held)}); "
                                 "expected --resume to continue it or --overwrite to delete it and start again")
    except BaseException:
        lock.release()
        raise
    return lock


# ------------------------------------------------------------------------------------ provenance

def model_hash(run_dir: str | Path) -> str:
    """SHA-256 (hex) of ``RUN/model.safetensors``."""
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise RunFolderError(f"{Path(run_dir)}: not a finished run (missing model.safetensors); train it first")
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def derived_stamp(run_dir: str | Path) -> dict[str, str]:
    """``{"model_sha256": …}`` of the model now in ``run_dir``: take it right after loading the model."""
    return {"model_sha256": model_hash(run_dir)}


def _read_provenance(run_dir: Path) -> dict:
    path = run_dir / PROVENANCE
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{path}: unreadable ({err}); expected JSON written by eval.py / rollout.py") from None
    if not isinstance(records, dict):
        raise RunFolderError(f"{path}: expected a JSON object {{derived name: stamp}}")
    return records


def record_derived(run_dir: str | Path, names: list[str], stamp: dict[str, str]) -> None:
    """Record that the derived files ``names`` (e.g. ``["eval.json", "probes"]``) came from ``stamp``."""
    run_dir = Path(run_dir)
    records = _read_provenance(run_dir) | {name: stamp for name in names}
    tmp = run_dir / f".{PROVENANCE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(records, indent=2) + "\n")
    os.replace(tmp, run_dir / PROVENANCE)


def check_derived(run_dir: str | Path, name: str, remedy: str = "python eval.py --run RUN") -> None:
    """Refuse the derived file ``RUN/name`` unless it came from the model now in the run folder.

    ``remedy``: the command that writes it again (named in the message, RUN replaced by the folder).
    """
    run_dir = Path(run_dir)
    again = remedy.replace("RUN", str(run_dir))
    if (owner := training_owner(run_dir)) is not None:
        raise RunFolderError(f"{run_dir}: a training (pid {owner}) is writing this run folder; "
                             f"expected a finished run: wait for it, then run `{again}`")
    if not (run_dir / name).exists():
        raise RunFolderError(f"{run_dir / name}: missing; run `{again}` first")
    recorded = _read_provenance(run_dir).get(name)
    if recorded is None:
        raise RunFolderError(f"{run_dir / name}: no record of the model it came from ({PROVENANCE}); "
                             f"expected one: run `{again}` again")
    if recorded.get("model_sha256") != model_hash(run_dir):
        raise RunFolderError(f"{run_dir / name}: computed from another model.safetensors (the run was trained again); "
                             f"run `{again}` again")


# ------------------------------------------------------------------------------------ loading

def load_run(run_dir: str | Path):
    """``(cfg, model)``: the config and trained model (eval mode, CPU) of a finished run (safetensors: no pickles).

    Raises :class:`RunFolderError` with one line for a folder that is not a finished run, one a
    training is writing, an unreadable model.safetensors, weights that do not fit config.yaml, or
    non-finite weights.
    """
    import torch
    from safetensors.torch import load_file

    from worldmodel.config import load_config
    from worldmodel.models import WorldModel

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder; expected a folder written by train.py")
    if (owner := training_owner(run_dir)) is not None:
        raise RunFolderError(f"{run_dir}: a training (pid {owner}) is writing this run folder; "
                             "expected a finished run: wait for it to end")
    for name in ("config.yaml", "run.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise RunFolderError(f"{run_dir}: not a finished run (missing {name}); "
                                 "finish it with `python train.py --config … --run-dir RUN --resume`")
    cfg = load_config(run_dir / "config.yaml")
    try:
        in_shape = tuple(json.loads((run_dir / "run.json").read_text())["in_shape"])
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{run_dir / 'run.json'}: unreadable ({type(err).__name__}: {err}); "
                             "expected the JSON train.py writes, with 'in_shape'") from None
    path = run_dir / "model.safetensors"
    try:
        state = load_file(str(path))
    except Exception as err:  # SafetensorError, OSError: a truncated or foreign file
        raise RunFolderError(f"{path}: not a readable safetensors file ({str(err).strip().splitlines()[0]}); "
                             "expected the weights train.py writes") from None
    bad = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if bad:
        raise RunFolderError(f"{path}: non-finite weights (NaN or inf) in {len(bad)} tensors, e.g. {bad[0]!r}; "
                             "expected finite weights (the training diverged: retrain, e.g. with a lower optim.lr)")
    model = WorldModel.to_load(cfg, in_shape)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise RunFolderError(f"{path}: does not fit {run_dir / 'config.yaml'} "
                             f"({str(err).strip().splitlines()[0]}); expected the weights of that config") from None
    return cfg, model.eval()

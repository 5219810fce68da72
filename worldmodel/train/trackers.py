"""Experiment trackers of a run (``train.log_with``), through Accelerate's tracker classes.

``metrics.jsonl`` is the run's plain record and is always written; a tracker shows the same
records live:

- ``tensorboard`` (default): events in ``RUN/tb/``; a resumed run purges the events after its
  checkpoint's step, so each step appears once;
- ``wandb``: project ``name`` (the config's name), files under ``RUN/``;
- ``mlflow``: experiment ``name``, at ``MLFLOW_TRACKING_URI`` (MLflow's default: ``./mlruns``);
- ``aim``: an Aim repository in ``RUN/``;
- ``none``: metrics.jsonl only.

wandb, mlflow and aim receive the resolved config as flat ``section.key`` parameters and start a
new tracker run on resume (the steps a killed run logged after its checkpoint stay in its own
tracker run). The packages are optional: :func:`require_tracker` names the missing one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from worldmodel.config import CHOICES, ConfigError

TRACKERS = CHOICES["train.log_with"]

PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "aim": "aim"}
"""The package each tracker needs (pip name = import name)."""


class TrackerUnavailable(ConfigError):
    """``train.log_with`` names a tracker whose package is not installed; one line naming it."""


def require_tracker(name: str) -> None:
    """Raise :class:`TrackerUnavailable` if the package of tracker ``name`` is not importable."""
    package = PACKAGES.get(name)
    if package is not None and importlib.util.find_spec(package) is None:
        raise TrackerUnavailable(f"train.log_with is {name!r}, but the package {package!r} is not installed "
                                 f"(pip install {package}), or set train.log_with=none")


def open_tracker(name: str, run_dir: Path, project: str, start: int, params: dict[str, Any]):
    """The started Accelerate tracker ``name`` (None for ``none``), main process only.

    ``start`` is the step the run resumes from (0 for a fresh run); ``params`` the flat config.
    """
    require_tracker(name)
    from accelerate.tracking import AimTracker, MLflowTracker, TensorBoardTracker, WandBTracker

    if name == "none":
        return None
    if name == "tensorboard":  # the config is config.yaml next to tb/; no hparams folder in tb/
        # events of steps after ``start`` (logged by a killed run past its checkpoint) are purged
        tracker = TensorBoardTracker("tb", run_dir, purge_step=start + 1 if start else None)
    elif name == "wandb":
        tracker = WandBTracker(project, dir=str(run_dir), name=run_dir.name)
    elif name == "mlflow":
        tracker = MLflowTracker(experiment_name=project, run_name=run_dir.name)
    elif name == "aim":
        tracker = AimTracker(project, str(run_dir))
    else:
        raise TrackerUnavailable(f"train.log_with is {name!r}; expected one of {list(TRACKERS)}")
    tracker.start()
    if name != "tensorboard":
        tracker.store_init_configuration(params)
    return tracker


def loggable(record: dict[str, Any]) -> dict[str, float | int | str]:
    """The values of a metrics record a tracker shows: numbers (scalars) and strings (warnings, as
    text); the step is passed on its own."""
    return {k: v for k, v in record.items()
            if k != "step" and not isinstance(v, bool) and isinstance(v, (int, float, str))}

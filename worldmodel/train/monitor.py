"""The training monitor: the run's metrics.jsonl and experiment tracker, with the collapse alarms."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typing import Any

from tqdm.auto import tqdm

from worldmodel.objectives.centre import CentreStats, collapse_alarm
from worldmodel.train.latent_monitor import LatentCollapseWatch
from worldmodel.train.trackers import loggable, open_tracker

class MetricsLog:
    """The main process's ``metrics.jsonl`` and experiment tracker (``train.log_with``, see
    :mod:`worldmodel.train.trackers`), with the collapse alarm.

    Opened at step ``start`` of a resumed run, it first drops the records after ``start`` (a
    killed run may have logged steps past its last checkpoint, and a torn last line), and
    TensorBoard purges its events after ``start``: each step appears once in both logs.
    ``project`` (the config's name) and ``params`` (:func:`~worldmodel.config.flat_config`) name
    and describe the run to wandb, MLflow and Aim.

    From step ``train.collapse_grace_steps`` on (a fresh encoder's embeddings all point alike,
    which is not collapse), each record's ``centre_norm`` and ``residual_norm`` go through
    :func:`~worldmodel.objectives.centre.collapse_alarm` with the thresholds of ``train``; the
    first time it fires, the message is printed and stored in that record as
    ``collapse_warning`` (and as tracker text). Collapse of r: :mod:`worldmodel.train.latent_monitor`.
    """

    def __init__(self, run_dir: Path, train_cfg, start: int = 0, project: str = "worldmodel",
                 params: dict[str, Any] | None = None, beta_warmup_steps: int = 0) -> None:
        path = run_dir / "metrics.jsonl"
        kept = self._records_up_to(path, start)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(record) + "\n" for record in kept))
        os.replace(tmp, path)
        self.file = open(path, "a")
        self.tracker = open_tracker(train_cfg.log_with, run_dir, project, start, params or {})
        self.cfg = train_cfg
        self.warned = any("collapse_warning" in record for record in kept)
        self.latent_watch = LatentCollapseWatch(train_cfg, kept, beta_warmup_steps)

    @staticmethod
    def _records_up_to(path: Path, start: int) -> list[dict]:
        """The complete records of ``path`` for steps ≤ ``start``."""
        if not path.is_file():
            return []
        records = []
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the torn last line of a killed run
                continue
            if record["step"] <= start:
                records.append(record)
        return records

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
        record = self.latent_watch.check(record)
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tracker is not None:
            self.tracker.log(loggable(record), step=step)

    def close(self) -> None:
        self.file.close()
        if self.tracker is not None:
            self.tracker.finish()

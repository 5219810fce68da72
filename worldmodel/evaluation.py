"""Evaluation of trained runs: linear probes of the true latents, written to ``eval.json``.

Numerical runs: a linear probe f(x) → z is fitted on the train split and scored (R²) on the
test split and on the out-of-distribution split (z drawn with a much broader covariance), so
``r2_ood`` measures whether f recovers z up to a linear map, not just locally.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from worldmodel.data import build_dataset
from worldmodel.probes import embed, fit_linear_probe, probe_r2
from worldmodel.training import load_run


def evaluate_run(run_dir: str | Path, data: str | Path | None = None) -> dict[str, float]:
    """Probe the run's embeddings; writes and returns ``{metric: number}``."""
    run_dir = Path(run_dir)
    cfg, model = load_run(run_dir)
    data_cfg = dataclasses.replace(cfg.data, path=str(data)) if data else cfg.data
    if data_cfg.kind != "numerical":
        raise ValueError(f"eval: data.kind {data_cfg.kind!r} is not supported yet; expected 'numerical'")
    feats, truth = {}, {}
    for split in ("train", "test", "ood"):
        ds = build_dataset(data_cfg, split)
        feats[split] = embed(model, ds.tensors["context"])
        truth[split] = ds.tensors["gt_z"].double().numpy()
    probe = fit_linear_probe(feats["train"], truth["train"])
    metrics = {f"r2_{split}": probe_r2(probe, feats[split], truth[split]) for split in ("train", "test", "ood")}
    (run_dir / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def format_table(metrics: dict[str, float]) -> str:
    width = max(map(len, metrics))
    return "\n".join(f"{name:<{width}}  {value:8.4f}" for name, value in metrics.items())

"""Evaluation of trained runs: linear probes of the true latents, written to ``eval.json``.

Numerical runs: a linear probe f(x) → z is fitted on the train split and scored (R²) on the
test split and on the out-of-distribution split (z drawn with a much broader covariance), so
``r2_ood`` measures whether f recovers z up to a linear map, not just locally.

Frame runs: a linear probe from the embedding of the context clip to each per-frame ground-truth
array of the store (taken at the clip's last frame: e.g. ``position``, ``velocity``,
``acceleration`` of moving digits) is fitted on the train videos and scored on the held-out
test videos: ``r2_<name>`` (test) and ``r2_<name>_train``. The clips are not augmented.
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
    if data_cfg.kind == "numerical":
        metrics = _numerical_metrics(model, data_cfg)
    elif data_cfg.kind == "frames":
        metrics = _frames_metrics(model, data_cfg)
    else:
        raise ValueError(f"eval: data.kind {data_cfg.kind!r} is not supported; expected 'numerical' or 'frames'")
    (run_dir / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _numerical_metrics(model, data_cfg) -> dict[str, float]:
    """r2_train, r2_test, r2_ood of a linear probe f(x) → z."""
    feats, truth = {}, {}
    for split in ("train", "test", "ood"):
        ds = build_dataset(data_cfg, split)
        feats[split] = embed(model, ds.tensors["context"])
        truth[split] = ds.tensors["gt_z"].double().numpy()
    probe = fit_linear_probe(feats["train"], truth["train"])
    return {f"r2_{split}": probe_r2(probe, feats[split], truth[split]) for split in ("train", "test", "ood")}


def _frames_metrics(model, data_cfg) -> dict[str, float]:
    """r2_<name> (test videos) and r2_<name>_train of a linear probe f(context clip) → gt_<name>."""
    feats, truth = {}, {}
    for split in ("train", "test"):
        ds = build_dataset(data_cfg, split)
        batch = ds.__getitems__(list(range(len(ds))))
        feats[split] = embed(model, batch["context"], batch_size=512)
        truth[split] = {key[3:]: value.double().reshape(len(value), -1).numpy()
                        for key, value in batch.items() if key.startswith("gt_")}
    metrics = {}
    for name, train_truth in truth["train"].items():
        probe = fit_linear_probe(feats["train"], train_truth)
        metrics[f"r2_{name}"] = probe_r2(probe, feats["test"], truth["test"][name])
        metrics[f"r2_{name}_train"] = probe_r2(probe, feats["train"], train_truth)
    return metrics


def format_table(metrics: dict[str, float]) -> str:
    width = max(map(len, metrics))
    return "\n".join(f"{name:<{width}}  {value:8.4f}" for name, value in metrics.items())

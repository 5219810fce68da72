"""Rollouts of a finished run (``python rollout.py --run DIR``): futures, scores, plots, files.

Writes ``RUN/rollouts/``: ``metrics.json`` (flat name → number, see
:func:`worldmodel.rollout.futures.flat_metrics`), ``rollouts.npz`` (per decoded variable
``<name>_samples`` (N, B, H+1, T), ``<name>_prior_mean`` (the deterministic future) and
``<name>_truth`` (B, H+1, T), the per-step scores ``<name>_<score>`` (H+1,); ``video`` and ``start`` of the start clips; with
``save_embeddings`` also ``embeddings`` (N, B, H+1, D) and ``deterministic_embeddings``), and PNGs:
``fan_<name>.png``, ``errors_<name>.png``, ``modes.png`` (Moving digits), ``steer.png`` (simulators
with a ``steer`` action column), ``spread.png`` (numerical); simulators also save ``actions_sampled`` (N, B, A)
and ``actions_true`` (B, A) over every held-out pair.
The start clips come from the held-out videos (test split) and leave room for the whole horizon;
numerical and image-pair runs start from test pairs and roll one step (image pairs: the paired
image's embedding, scored against that image's ground truth).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from worldmodel.decode.store import has_decoder
from worldmodel.rollout import plots, render
from worldmodel.eval.evaluate import format_table
from worldmodel.eval.probes import LinearProbe, load_probes
from worldmodel.rollout.futures import decode, flat_metrics, future_metrics, mean_future, sample_futures
from worldmodel.tasks import task_for
from worldmodel.train.runs import check_derived, derived_stamp, load_run, record_derived

TRAJECTORY_VARIABLES = ("position", "camera_position", "z")


def embedding_probes(probes: dict[str, LinearProbe]) -> dict[str, LinearProbe]:
    """The probes from an embedding to a ground-truth array (``target`` ``gt_<name>``), not to the action."""
    return {name: p for name, p in probes.items()
            if p.info.get("input") == "embedding" and p.info.get("target", "").startswith("gt_")}


def _baseline(baseline: str | Path, cfg, context: torch.Tensor, horizon: int) -> dict[str, np.ndarray]:
    """Decoded deterministic futures {probe name: (B, H+1, T)} of another run (e.g. without r) from the same clips."""
    base_cfg, base_model = load_run(baseline)
    if (base_cfg.data.kind, base_cfg.data.context, base_cfg.data.gap) != (cfg.data.kind, cfg.data.context, cfg.data.gap):
        raise ValueError(f"--baseline {baseline}: its data (kind, context, gap) differ from the run's; expected "
                         f"{(cfg.data.kind, cfg.data.context, cfg.data.gap)}")
    check_derived(baseline, "probes")
    with torch.no_grad():
        future = mean_future(base_model, base_model.encode(context), horizon)
    return {name: decode(p, future) for name, p in embedding_probes(load_probes(Path(baseline) / "probes")).items()}


def rollout_run(run_dir: str | Path, starts: int = 16, samples: int = 32, horizon: int = 12, seed: int = 0,
                save_embeddings: bool = False, baseline: str | Path | None = None) -> dict[str, float]:
    """Sample, decode and score futures of a run; writes and returns ``RUN/rollouts/metrics.json``.

    Futures are read with the probes eval.py saved and, for frame runs with a pixel decoder
    (``decode.py``), rendered as pictures. A frame run with a decoder needs no probes, so footage
    without ground truth renders too; any other run needs eval.py's probes first.
    ``baseline``: a run folder (evaluated too) whose deterministic future is scored as ``<name>_baseline_h<h>``.
    """
    run_dir = Path(run_dir)
    cfg, model = load_run(run_dir)
    stamp = derived_stamp(run_dir)
    pixels = cfg.data.kind == "frames" and has_decoder(run_dir)
    probes = {}
    if not pixels or (run_dir / "probes").exists():
        check_derived(run_dir, "probes")
        probes = load_probes(run_dir / "probes")
    if cfg.model.latent.kind == "oracle":
        raise ValueError(f"{run_dir}: an oracle-latent run has no prior to sample r from; rollouts need a learned prior")
    torch.manual_seed(seed)
    task = task_for(cfg.data)
    chosen = task.starts(cfg.data, horizon, starts, np.random.default_rng(seed))
    dataset, batch, horizon, truth, arrays = chosen.dataset, chosen.batch, chosen.horizon, chosen.truth, chosen.arrays
    with torch.no_grad():
        clock = time.perf_counter()
        start = model.encode(batch["context"])
        paths = sample_futures(model, start, horizon, samples)
        deterministic = mean_future(model, start, horizon)
        seconds = time.perf_counter() - clock
    out = run_dir / "rollouts"
    out.mkdir(exist_ok=True)
    metrics = {"starts": len(start), "samples": samples, "horizon": horizon, "rollout_seconds": seconds}
    if save_embeddings:
        arrays |= {"embeddings": paths.numpy(), "deterministic_embeddings": deterministic.numpy()}
    base = _baseline(baseline, cfg, batch["context"], horizon) if baseline else {}
    for name, probe in embedding_probes(probes).items():
        if (true := truth(name)) is None:
            continue
        decoded = {"samples": decode(probe, paths), "prior_mean": decode(probe, deterministic), "truth": true}
        scores = future_metrics(decoded["samples"], decoded["prior_mean"], decoded["truth"])
        if name in base:
            scores["baseline"] = np.sqrt(((base[name] - decoded["truth"]) ** 2).mean(-1)).mean(0)
        metrics |= flat_metrics(name, scores)
        arrays |= {f"{name}_{key}": value for key, value in (decoded | scores).items()}
        plots.error_plot(out / f"errors_{name}.png", scores, name, samples)
        if name in TRAJECTORY_VARIABLES:
            plots.fan_plot(out / f"fan_{name}.png", decoded["samples"], decoded["prior_mean"], decoded["truth"], name)
    metrics |= task.rollout_extras(model, cfg.data, probes, chosen, arrays, samples, out)
    if pixels:  # pixels: scores and pictures (RUN/rollouts/render)
        metrics |= render.render_run(run_dir, cfg, dataset, batch["video"].numpy(), batch["start"].numpy(), paths, deterministic, out)
    np.savez(out / "rollouts.npz", **arrays)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    record_derived(run_dir, ["rollouts"], stamp)
    return metrics


def summary_table(metrics: dict[str, float], steps: tuple[int, ...] = (1, 4)) -> str:
    """The metrics without per-step scores, plus those at the given steps and the last one, as a table."""
    shown = {*steps, int(metrics["horizon"])}
    keep = {k: v for k, v in metrics.items() if not re.search(r"_h\d+$", k) or int(k.rsplit("_h", 1)[1]) in shown}
    return format_table(keep)

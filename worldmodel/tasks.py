"""What is specific to one kind of data (``data.kind``), behind one small interface.

A :class:`Task` says which splits eval.py encodes and what it probes (:meth:`Task.evaluate`),
which starts rollout.py rolls out and against what truth (:meth:`Task.starts`), what rollout.py
scores besides the decoded futures (:meth:`Task.rollout_extras`), and whether a camera motion
estimated from the frames can be probed (``reference_motion``). :func:`task_for` picks the task
of a DataConfig; evaluation and rollouts hold no other per-kind branches.

- ``numerical``: splits train / test / ood; probes of z (also from the raw observation); one-step
  rollouts from test pairs, the spread of sampled z⁺ against the true conditional std.
- ``frames``: probes of every per-frame ground-truth array (folds grouped by video), read also on
  the prediction; latent-action metrics when the data has actions; rollouts from held-out clips,
  and sampled actions scored against the true ones: on moving digits the split of sampled
  accelerations into modes, on simulators each action column's mean and std and the steering split.
- ``image_pairs``: probes of the context image's ground truth; one-step rollouts to the paired image.

The metrics themselves are described in :mod:`worldmodel.eval.evaluate` and
:mod:`worldmodel.rollout.report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from worldmodel.data import build_dataset
from worldmodel.data.numeric import true_conditional_std
from worldmodel.data.store import read_meta
from worldmodel.eval.actions import action_metrics
from worldmodel.eval.mask_factors import mask_factor_metrics
from worldmodel.eval.metrics import embedding_probe, ground_truth_probes, shared_metrics
from worldmodel.eval.probes import LinearProbe, fit_ridge_probe, is_categorical
from worldmodel.eval.progress import stage
from worldmodel.eval.readouts import encode_pairs
from worldmodel.rollout import plots
from worldmodel.rollout.futures import (MODES, STEER_MODES, acceleration_modes, action_moments, decode,
                                        discrete_action_modes, spread_metrics, steering_modes)
from worldmodel.rollout.starts import future_truth, pick_starts

Metrics = dict[str, float]
Probes = dict[str, LinearProbe]


@dataclass
class Starts:
    """Where rollouts begin: ``batch`` holds B pairs of ``dataset`` (``context`` among its keys);
    ``horizon`` the steps rolled out; ``truth(name)`` the ground truth ``name`` along the rollout,
    (B, H+1, T), or None where the data has none per step; ``arrays`` name the starts in rollouts.npz."""

    dataset: object
    batch: dict[str, torch.Tensor]
    horizon: int
    truth: Callable[[str], np.ndarray | None]
    arrays: dict[str, np.ndarray]


class Task:
    """The interface; one subclass per data kind."""

    kind: str
    splits: tuple[str, ...] = ("train", "test")  # encoded by eval.py; probes fit on the first
    reference_motion: bool = False  # eval.py --reference-motion applies

    def evaluate(self, model, data_cfg) -> tuple[Metrics, Probes]:
        """eval.json's task metrics and the probes saved for rollouts."""
        raise NotImplementedError

    def starts(self, data_cfg, horizon: int, count: int, rng: np.random.Generator) -> Starts:
        """Up to ``count`` held-out starts for rollouts of ``horizon`` steps (or fewer, where the data has fewer)."""
        raise NotImplementedError

    def rollout_extras(self, model, data_cfg, probes: Probes, starts: Starts, arrays: dict, samples: int,
                       out: Path) -> Metrics:
        """Task-specific rollout scores; may add to ``arrays`` (saved in rollouts.npz) and write PNGs to ``out``."""
        return {}

    def readouts(self, model, data_cfg, batch_size: int = 512) -> tuple[dict, dict]:
        """({split: dataset}, {split: :func:`encode_pairs` readouts}) of the task's splits, in order."""
        datasets = {split: build_dataset(data_cfg, split) for split in self.splits}
        pairs = {}
        for split, dataset in datasets.items():
            with stage(f"encoding {split} ({len(dataset):,} pairs)"):
                pairs[split] = encode_pairs(model, dataset, batch_size)
        return datasets, pairs


def _test_pairs(data_cfg, count: int, rng: np.random.Generator):
    """(test dataset, sorted indices of up to ``count`` random pairs, their batch)."""
    dataset = build_dataset(data_cfg, "test")
    index = np.sort(rng.choice(len(dataset), min(count, len(dataset)), replace=False))
    return dataset, index, dataset.__getitems__(list(index))


class NumericalTask(Task):
    kind = "numerical"
    splits = ("train", "test", "ood")

    def evaluate(self, model, data_cfg) -> tuple[Metrics, Probes]:
        """r2_train, r2_test, r2_ood, r2_predicted of a probe f(x) → z; r2_{test,ood}_observation of the
        same probe from the raw observation x (the reference an encoder has to beat); the shared metrics."""
        datasets, pairs = self.readouts(model, data_cfg, batch_size=4096)
        with stage("ridge probe z"):
            probe = embedding_probe(pairs["train"], "gt_z", None)
        metrics = {f"r2_{split}": probe.r2(pairs[split]["embedding"], pairs[split]["gt_z"]) for split in pairs}
        observed = {split: dataset.tensors["context"].double().numpy() for split, dataset in datasets.items()}
        with stage("ridge probe z from the observation"):
            raw = fit_ridge_probe(observed["train"], pairs["train"]["gt_z"])
        metrics |= {f"r2_{split}_observation": raw.r2(observed[split], pairs[split]["gt_z"]) for split in ("test", "ood")}
        metrics["r2_predicted"] = probe.r2(pairs["test"]["prediction"], pairs["test"]["gt_z_pos"])
        probe.info["r2_test"] = metrics["r2_test"]
        shared, probes = shared_metrics(pairs["train"], pairs["test"], ["gt_z"], None)
        return metrics | shared, {"z": probe} | probes

    def starts(self, data_cfg, horizon: int, count: int, rng: np.random.Generator) -> Starts:
        """Test pairs, one step: truth (z, z⁺)."""
        dataset, index, batch = _test_pairs(data_cfg, count, rng)
        truth = lambda name: torch.stack([batch["gt_z"], batch["gt_z_pos"]], dim=1).double().numpy()
        return Starts(dataset, batch, 1, truth, {"index": index})

    def rollout_extras(self, model, data_cfg, probes, starts, arrays, samples, out) -> Metrics:
        """The spread of the sampled z⁺ against the true conditional std of z⁺ given z (``spread.png``)."""
        true_std = true_conditional_std(read_meta(data_cfg.path), starts.batch["gt_z"].double().numpy())
        sampled = arrays["z_samples"][:, :, 1]
        arrays |= {"z_true_std": true_std, "z_sampled_std": sampled.std(0)}
        plots.spread_plot(out / "spread.png", sampled.std(0), true_std)
        return spread_metrics(sampled, true_std)


def _next_truth(dataset, name: str) -> np.ndarray:
    """(N, T) ground truth ``name`` at the last frame of each pair's target clip."""
    index = dataset.first + dataset.context - 1 + dataset.gap
    return np.asarray(dataset.store.ground_truth[name][index], dtype=np.float64).reshape(len(index), -1)


class FramesTask(Task):
    kind = "frames"
    reference_motion = True

    def evaluate(self, model, data_cfg) -> tuple[Metrics, Probes]:
        """:func:`ground_truth_probes` plus r2_<name>_predicted per regression probe (the probe on the
        prediction against the truth at the target clip's last frame); the shared metrics; the
        latent-action metrics when the data has actions."""
        datasets, pairs = self.readouts(model, data_cfg)
        train, test = pairs["train"], pairs["test"]
        metrics, probes = ground_truth_probes(train, test, train["video"])
        for name, probe in probes.items():
            metrics[f"r2_{name}_predicted"] = probe.r2(test["prediction"], _next_truth(datasets["test"], name))
        shared, action_probes = shared_metrics(train, test, [f"gt_{name}" for name in probes], train["video"])
        if "action" in train:  # per action dimension, inverse dynamics, few labels, state columns
            with stage("latent-action metrics"):
                store = datasets["train"].store
                if "gt_state" in train:  # the state at the target's last frame: which changes r carries
                    for split, readout in pairs.items():
                        readout["gt_state_next"] = _next_truth(datasets[split], "state")
                shared |= action_metrics(train, test, train["video"], store.meta.get("columns"),
                                         store.action.get("discrete", False))
        return metrics | shared, probes | action_probes

    def starts(self, data_cfg, horizon: int, count: int, rng: np.random.Generator) -> Starts:
        """Start clips of the test videos that leave room for ``horizon`` steps; truth along the video."""
        dataset = build_dataset(data_cfg, "test")
        index = pick_starts(dataset, horizon, count, rng)
        batch = dataset.__getitems__(list(index))
        truth = lambda name: future_truth(dataset, index, name, horizon)
        return Starts(dataset, batch, horizon, truth, {"video": batch["video"].numpy(), "start": batch["start"].numpy()})

    def rollout_extras(self, model, data_cfg, probes, starts, arrays, samples, out) -> Metrics:
        """Sampled actions over every held-out pair: N prior samples of r per context decoded with the
        ``action_from_embedding_r`` probe (from [f(x), r]) and scored against the pairs' true actions
        by the dataset's writer's entry in :data:`SAMPLED_ACTION_SCORES` (none: no scores)."""
        score = SAMPLED_ACTION_SCORES.get(starts.dataset.store.meta.get("writer"))
        if score is None or "action_from_embedding_r" not in probes:
            return {}
        pairs = encode_pairs(model, starts.dataset)
        fx = torch.from_numpy(pairs["embedding"]).float()
        with torch.no_grad():
            r = model.latent.sample_prior(fx, samples)  # (N, B, R)
        sampled = decode(probes["action_from_embedding_r"], torch.cat([fx.expand(samples, *fx.shape), r], dim=-1))
        return score(sampled, pairs, starts.dataset, arrays, out)


def _split_metrics(prefix: str, split: dict, names: tuple[str, ...]) -> Metrics:
    """A mode split's scalars as ``<prefix>_<key>`` and its fractions as ``<prefix>_{true,sampled}_<mode>``."""
    return ({f"{prefix}_{key}": value for key, value in split.items() if np.isscalar(value)}
            | {f"{prefix}_{kind}_{mode}": float(split[f"{kind}_fractions"][i])
               for kind in ("true", "sampled") for i, mode in enumerate(names)})


def digit_modes(sampled: np.ndarray, pairs: dict, dataset, arrays: dict, out: Path) -> Metrics:
    """Moving digits: :func:`acceleration_modes` of the sampled actions (N, B, A) against the pairs'
    (``modes_*``, ``modes.png``)."""
    modes = acceleration_modes(sampled, pairs["action"], pairs["gt_label"])
    arrays |= {f"modes_{key}": np.asarray(value) for key, value in modes.items()}
    plots.mode_plot(out / "modes.png", modes)
    return _split_metrics("modes", modes, MODES)


def simulator_actions(sampled: np.ndarray, pairs: dict, dataset, arrays: dict, out: Path) -> Metrics:
    """Simulators: :func:`action_moments` of the sampled actions (N, B, A) against the pairs' per
    column of meta.json ``columns.action``; with a ``steer`` column, :func:`steering_modes` of the
    steering per step (the pair's sum over its gap, divided by the gap) (``steer_*``, ``steer.png``);
    with discrete actions, :func:`discrete_action_modes` (``action_class_*``, ``action_classes.png``)."""
    columns = dataset.store.meta["columns"]["action"]
    true = pairs["action"]
    arrays |= {"actions_sampled": sampled, "actions_true": true}
    metrics = action_moments(sampled, true, columns)
    if dataset.store.action.get("discrete", False):
        split = discrete_action_modes(sampled, true)
        arrays |= {f"action_class_{key}": np.asarray(value) for key, value in split.items()}
        plots.action_class_plot(out / "action_classes.png", split, columns)
        metrics |= _split_metrics("action_class", split, tuple(columns))
    if "steer" in columns:
        column = columns.index("steer")
        steer_sampled, steer_true = sampled[..., column] / dataset.gap, true[:, column] / dataset.gap
        steer = steering_modes(steer_sampled, steer_true)
        arrays |= {f"steer_{key}": np.asarray(value) for key, value in steer.items()}
        plots.steer_plot(out / "steer.png", steer, steer_sampled, steer_true)
        metrics |= _split_metrics("steer", steer, STEER_MODES)
    return metrics


SAMPLED_ACTION_SCORES: dict[str, Callable[..., Metrics]] = {"data_prep.mmnist": digit_modes, "data_prep.sim": simulator_actions}


class ImagePairsTask(Task):
    kind = "image_pairs"

    def evaluate(self, model, data_cfg) -> tuple[Metrics, Probes]:
        """:func:`ground_truth_probes` of the context image's embedding, and r2_attributes. Per-pair
        regression ground truth (how the pair's images differ, e.g. the camera-events generator's
        ``shift_x``) is also read from the pair: ``r2_<name>_from_r`` (ridge probe from r̄) and
        ``r2_<name>_from_pair`` (from [f(x), f(x⁺)], what any embedding gives); a sparse r's mask per
        factor (:mod:`worldmodel.eval.mask_factors`)."""
        datasets, pairs = self.readouts(model, data_cfg)
        train, test = pairs["train"], pairs["test"]
        metrics, probes = ground_truth_probes(train, test, None)
        if probes:
            metrics["r2_attributes"] = float(np.mean([metrics[f"r2_{name}"] for name in probes]))
        both = lambda p: np.concatenate([p["embedding"], p["embedding_next"]], 1)  # noqa: E731
        for name in datasets["train"].store.meta["pair_ground_truth"]:
            key = f"gt_{name}"
            if is_categorical(train[key]):
                continue
            if train["r"].shape[1]:
                metrics[f"r2_{name}_from_r"] = fit_ridge_probe(train["r"], train[key]).r2(test["r"], test[key])
            metrics[f"r2_{name}_from_pair"] = fit_ridge_probe(both(train), train[key]).r2(both(test), test[key])
        return metrics | mask_factor_metrics(model, train, test), probes

    def starts(self, data_cfg, horizon: int, count: int, rng: np.random.Generator) -> Starts:
        """Test pairs, one step (the paired image's embedding); truth the per-image ground truth of the
        context and of the paired image (None for a per-pair column: it has no value per image)."""
        dataset, index, batch = _test_pairs(data_cfg, count, rng)
        ends = np.stack([dataset.images[end][dataset.pairs[index]] for end in ("context", "target")], axis=1)  # (B, 2)
        per_image = dataset.store.ground_truth
        truth = lambda name: (np.asarray(per_image[name][ends], dtype=np.float64).reshape(*ends.shape, -1)
                              if name in per_image else None)
        return Starts(dataset, batch, 1, truth, {"pair": batch["pair"].numpy()})


TASKS: dict[str, Task] = {task.kind: task for task in (NumericalTask(), FramesTask(), ImagePairsTask())}


def task_for(data_cfg) -> Task:
    """The task of a DataConfig's ``kind``; ValueError naming it when there is none."""
    if data_cfg.kind not in TASKS:
        raise ValueError(f"data.kind {data_cfg.kind!r} is not supported; expected one of {', '.join(map(repr, TASKS))}")
    return TASKS[data_cfg.kind]

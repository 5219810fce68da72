"""Evaluation of trained runs: probes of the true latents, written to ``eval.json``.

All probes are ridge probes with α chosen by cross-validation on the train rows (see
:mod:`worldmodel.eval.probes`); the regression probes are saved to ``RUN/probes/`` for rollout.py.

Numerical runs: a probe f(x) → z is fitted on the train split and scored (R²) on the train,
test and out-of-distribution splits (z drawn with a much broader covariance), so ``r2_ood``
measures whether f recovers z up to a linear map, not just locally. ``r2_predicted``: the same
probe applied to the prediction t(f(x), r̄) (r̄ the posterior mean) against z⁺.
``r2_test_observation``, ``r2_ood_observation``: a probe from the raw observation x = g(z) itself;
the mixing g is piecewise linear, so x alone already carries much of z linearly.

Frame runs: a probe from the embedding of the context clip to each per-frame ground-truth array
of the store (taken at the clip's last frame: e.g. ``position``, ``velocity``, ``acceleration``
of moving digits) is fitted on the train videos (folds grouped by video) and scored on the
held-out test videos: ``r2_<name>`` (test), ``r2_<name>_train``, and ``r2_<name>_predicted``,
the probe read on the prediction t(f(x), r̄) against the truth at the target clip's last frame
(how well rollouts can be decoded). Categorical ground truth (integer, ≤ 16 values, e.g.
``label``) gets a logistic probe: ``acc_<name>``, ``acc_<name>_train``. The clips are not augmented.

Image-pair runs (``data.kind: image_pairs``): the embedding of the context image is probed the
same way for each ground-truth array of the folder (per image, e.g. the digit-pair generator's
``label``, ``thickness``, ``slant``, ``size``; or per pair, from the extra columns of pairs.csv),
fitted on the train split and scored on the test split, whose images the train pairs never show
(digit-pair generator): ``acc_<name>``, ``r2_<name>`` and ``r2_attributes``, the mean test R²
over the regression targets.

Numerical and frame runs, when the run has a latent and the data an action: ``r2_action_from_r``, a probe from
r̄ to the true action (z⁺ − z; the summed acceleration or camera motion between the clips);
``r2_action_from_embedding_r``, a probe from [f(x), r] with r a posterior draw r ~ q, against
``r2_action_from_embedding``, from f(x) alone: the action r carries given the context, also when r
encodes it together with the state (e.g. as the next velocity, from which the context's velocity must
be subtracted). That probe is fitted and scored on draws, not on r̄, because rollout.py feeds it
prior draws: fitted on r̄, it gives large weights to dimensions that r̄ leaves near-constant but
draws fill with noise (unused dimensions, at the prior's scale), and decodes every draw as a large
action. Then
``dci_d``, ``dci_c``, ``dci_i`` (:mod:`worldmodel.eval.dci`) of the embeddings against the regression
ground truth, and on the test split ``centre_norm`` ‖s‖, ``residual_norm`` ρ
(:mod:`worldmodel.objectives.centre`) and ``embedding_std`` (per-dimension std, averaged).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from worldmodel.data import build_dataset
from worldmodel.eval.actions import action_metrics
from worldmodel.eval.dci import dci_scores
from worldmodel.eval.latent_usage import latent_usage_metrics
from worldmodel.eval.readouts import encode_pairs
from worldmodel.objectives.centre import CentreStats
from worldmodel.eval.probes import LinearProbe, classifier_accuracy, fit_ridge_probe, is_categorical, save_probes
from worldmodel.eval.reference_motion import check_reference_motion, reference_motion_metrics
from worldmodel.train.runs import derived_stamp, load_run, record_derived


def evaluate_run(run_dir: str | Path, data: str | Path | None = None,
                 reference_motion: str | None = None) -> dict[str, float]:
    """Probe the run's embeddings; writes and returns ``{metric: number}``.

    ``reference_motion`` (``phase``): also probe r against a camera-motion estimate from the
    frames (:mod:`worldmodel.eval.reference_motion`), for footage without ground truth.
    """
    run_dir = Path(run_dir)
    cfg, model = load_run(run_dir)
    stamp = derived_stamp(run_dir)  # the model these metrics and probes come from
    torch.manual_seed(0)  # the posterior draws of encode_pairs
    # another folder (e.g. prepared with `data_prep videos`) is read as it is, not as the run's generator wrote it
    data_cfg = dataclasses.replace(cfg.data, path=str(data), generator=None, generator_args={}) if data else cfg.data
    if reference_motion:
        check_reference_motion(model, data_cfg)
    if data_cfg.kind == "numerical":
        metrics, probes = _numerical_metrics(model, data_cfg)
    elif data_cfg.kind == "frames":
        metrics, probes = _frames_metrics(model, data_cfg)
    elif data_cfg.kind == "image_pairs":
        metrics, probes = _image_pair_metrics(model, data_cfg)
    else:
        raise ValueError(f"eval: data.kind {data_cfg.kind!r} is not supported; expected 'numerical', 'frames' or 'image_pairs'")
    if reference_motion:
        metrics |= reference_motion_metrics(model, data_cfg, run_dir, reference_motion)
    metrics |= latent_usage_metrics(model, data_cfg)  # kl_nats / l0, active_dims, r_spread
    save_probes(run_dir / "probes", probes)
    (run_dir / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    record_derived(run_dir, ["eval.json", "probes"] + ["reference_motion.png"] * bool(reference_motion), stamp)
    return metrics


def _shared_metrics(train: dict, test: dict, factors: list[str], groups: np.ndarray | None) -> tuple[dict, dict]:
    """r2_action_from_r (and its probe, when there are r and an action), DCI against the ``factors``
    ground-truth keys, and the collapse statistics of the test embeddings."""
    metrics, probes = {}, {}
    if train["r"].shape[1] and "action" in train:
        inputs = {"r": lambda split: split["r"], "embedding": lambda split: split["embedding"],
                  "embedding_r": lambda split: np.concatenate([split["embedding"], split["r_draw"]], axis=1)}
        for name, features in inputs.items():
            probe = fit_ridge_probe(features(train), train["action"], groups)
            metrics[f"r2_action_from_{name}"] = probe.r2(features(test), test["action"])
            probe.info |= {"input": name, "target": "action", "r2_test": metrics[f"r2_action_from_{name}"]}
            probes[f"action_from_{name}"] = probe
    stack = lambda split: np.concatenate([split[key] for key in factors], axis=1)
    if factors:  # footage prepared by `data_prep videos` has no ground truth
        metrics |= dci_scores(train["embedding"], stack(train), test["embedding"], stack(test), groups)
    stats = CentreStats.of(torch.from_numpy(test["embedding"]))
    metrics |= {"centre_norm": stats.centre_norm, "residual_norm": stats.residual_norm,
                "embedding_std": float(test["embedding"].std(0).mean())}
    return metrics, probes


def _embedding_probe(train: dict, key: str, groups: np.ndarray | None) -> LinearProbe:
    probe = fit_ridge_probe(train["embedding"], train[key], groups)
    probe.info |= {"input": "embedding", "target": key}
    return probe


def _numerical_metrics(model, data_cfg) -> tuple[dict[str, float], dict[str, LinearProbe]]:
    """r2_train, r2_test, r2_ood, r2_predicted of a probe f(x) → z; r2_{test,ood}_observation of the
    same probe from the raw observation x (the reference an encoder has to beat); the shared metrics."""
    datasets = {split: build_dataset(data_cfg, split) for split in ("train", "test", "ood")}
    pairs = {split: encode_pairs(model, dataset, batch_size=4096) for split, dataset in datasets.items()}
    probe = _embedding_probe(pairs["train"], "gt_z", None)
    metrics = {f"r2_{split}": probe.r2(pairs[split]["embedding"], pairs[split]["gt_z"]) for split in pairs}
    observed = {split: dataset.tensors["context"].double().numpy() for split, dataset in datasets.items()}
    raw = fit_ridge_probe(observed["train"], pairs["train"]["gt_z"])
    metrics |= {f"r2_{split}_observation": raw.r2(observed[split], pairs[split]["gt_z"]) for split in ("test", "ood")}
    metrics["r2_predicted"] = probe.r2(pairs["test"]["prediction"], pairs["test"]["gt_z_pos"])
    probe.info["r2_test"] = metrics["r2_test"]
    shared, probes = _shared_metrics(pairs["train"], pairs["test"], ["gt_z"], None)
    return metrics | shared, {"z": probe} | probes


def _next_truth(dataset, name: str) -> np.ndarray:
    """(N, T) ground truth ``name`` at the last frame of each pair's target clip."""
    index = dataset.first + dataset.context - 1 + dataset.gap
    return np.asarray(dataset.store.ground_truth[name][index], dtype=np.float64).reshape(len(index), -1)


def _ground_truth_probes(train: dict, test: dict, groups: np.ndarray | None) -> tuple[dict, dict[str, LinearProbe]]:
    """Per ground-truth array of :func:`encode_pairs`' readouts: r2_<name>, r2_<name>_train and its
    probe (regression) or acc_<name>, acc_<name>_train (categorical)."""
    metrics, probes = {}, {}
    for key in sorted(k for k in train if k.startswith("gt_")):
        name = key[3:]
        if is_categorical(train[key]):
            accuracy = classifier_accuracy(train["embedding"], train[key], test["embedding"], test[key], groups)
            metrics[f"acc_{name}_train"], metrics[f"acc_{name}"] = accuracy
            continue
        probe = _embedding_probe(train, key, groups)
        metrics[f"r2_{name}"] = probe.r2(test["embedding"], test[key])
        metrics[f"r2_{name}_train"] = probe.r2(train["embedding"], train[key])
        probe.info["r2_test"] = metrics[f"r2_{name}"]
        probes[name] = probe
    return metrics, probes


def _frames_metrics(model, data_cfg) -> tuple[dict[str, float], dict[str, LinearProbe]]:
    """:func:`_ground_truth_probes` plus r2_<name>_predicted per regression probe; then the shared metrics."""
    datasets = {split: build_dataset(data_cfg, split) for split in ("train", "test")}
    train, test = (encode_pairs(model, datasets[split]) for split in ("train", "test"))
    metrics, probes = _ground_truth_probes(train, test, train["video"])
    for name, probe in probes.items():
        metrics[f"r2_{name}_predicted"] = probe.r2(test["prediction"], _next_truth(datasets["test"], name))
    shared, action_probes = _shared_metrics(train, test, [f"gt_{name}" for name in probes], train["video"])
    if "action" in train:  # per action dimension, inverse dynamics, few labels, state columns
        shared |= action_metrics(train, test, train["video"], datasets["train"].store.meta.get("columns"))
    return metrics | shared, probes | action_probes


def _image_pair_metrics(model, data_cfg) -> tuple[dict[str, float], dict[str, LinearProbe]]:
    """:func:`_ground_truth_probes` of the context image's embedding, and r2_attributes."""
    train, test = (encode_pairs(model, build_dataset(data_cfg, split)) for split in ("train", "test"))
    metrics, probes = _ground_truth_probes(train, test, None)
    if probes:
        metrics["r2_attributes"] = float(np.mean([metrics[f"r2_{name}"] for name in probes]))
    return metrics, probes


def format_table(metrics: dict[str, float]) -> str:
    """One ``name  value`` line per metric, names aligned."""
    width = max(map(len, metrics))
    return "\n".join(f"{name:<{width}}  {value:8.4f}" for name, value in metrics.items())

"""Groups of evaluation metrics that several tasks share, computed from :func:`~worldmodel.eval.readouts.encode_pairs`
readouts of a train and a test split (dicts of float64 arrays; ``groups`` (N_train,) the video of each
train pair, so that cross-validation folds never split a video, or None)."""

from __future__ import annotations

import numpy as np
import torch

from worldmodel.eval.dci import dci_scores
from worldmodel.eval.probes import LinearProbe, classifier_accuracy, fit_ridge_probe, is_categorical
from worldmodel.eval.progress import stage
from worldmodel.objectives.centre import CentreStats


def embedding_probe(train: dict, key: str, groups: np.ndarray | None) -> LinearProbe:
    """Ridge probe f(x) (``embedding``) → ``train[key]``, its info naming input and target."""
    probe = fit_ridge_probe(train["embedding"], train[key], groups)
    probe.info |= {"input": "embedding", "target": key}
    return probe


def ground_truth_probes(train: dict, test: dict, groups: np.ndarray | None) -> tuple[dict, dict[str, LinearProbe]]:
    """Per ground-truth array ``gt_<name>``: r2_<name>, r2_<name>_train and its probe (regression)
    or acc_<name>, acc_<name>_train (categorical, logistic)."""
    metrics, probes = {}, {}
    for key in sorted(k for k in train if k.startswith("gt_")):
        name = key[3:]
        if is_categorical(train[key]):
            with stage(f"logistic probe {name}"):
                accuracy = classifier_accuracy(train["embedding"], train[key], test["embedding"], test[key], groups)
            metrics[f"acc_{name}_train"], metrics[f"acc_{name}"] = accuracy
            continue
        with stage(f"ridge probe {name}"):
            probe = embedding_probe(train, key, groups)
        metrics[f"r2_{name}"] = probe.r2(test["embedding"], test[key])
        metrics[f"r2_{name}_train"] = probe.r2(train["embedding"], train[key])
        probe.info["r2_test"] = metrics[f"r2_{name}"]
        probes[name] = probe
    return metrics, probes


def shared_metrics(train: dict, test: dict, factors: list[str], groups: np.ndarray | None) -> tuple[dict, dict]:
    """r2_action_from_{r, embedding, embedding_r} and their probes (when there are r and an action),
    DCI against the ``factors`` ground-truth keys (when they hold 2 columns or more: disentanglement
    needs factors to tell apart), and the collapse statistics of the test embeddings."""
    metrics, probes = {}, {}
    if train["r"].shape[1] and "action" in train:
        inputs = {"r": lambda split: split["r"], "embedding": lambda split: split["embedding"],
                  "embedding_r": lambda split: np.concatenate([split["embedding"], split["r_draw"]], axis=1)}
        with stage("action probes"):
            for name, features in inputs.items():
                probe = fit_ridge_probe(features(train), train["action"], groups)
                metrics[f"r2_action_from_{name}"] = probe.r2(features(test), test["action"])
                probe.info |= {"input": name, "target": "action", "r2_test": metrics[f"r2_action_from_{name}"]}
                probes[f"action_from_{name}"] = probe
    stack = lambda split: np.concatenate([split[key] for key in factors], axis=1)
    if factors and (train_factors := stack(train)).shape[1] >= 2:  # footage has no ground truth
        with stage(f"DCI ({train_factors.shape[1]} factor columns)"):
            metrics |= dci_scores(train["embedding"], train_factors, test["embedding"], stack(test), groups)
    stats = CentreStats.of(torch.from_numpy(test["embedding"]))
    metrics |= {"centre_norm": stats.centre_norm, "residual_norm": stats.residual_norm,
                "embedding_std": float(test["embedding"].std(0).mean())}
    return metrics, probes

"""Evaluation of image-pair runs (``data.kind: image_pairs``): what the embedding of one image keeps.

For every pair of the train and test splits, the embedding f(x) of the context image is probed
for each ground-truth array of the folder (per image, e.g. the digit-pair generator's ``label``,
``thickness``, ``slant``, ``size``; or per pair, from the extra columns of pairs.csv):

- categorical ground truth (integer, ≤ 16 values, e.g. ``label``): a logistic probe, scored by
  accuracy: ``acc_<name>`` (test pairs) and ``acc_<name>_train``;
- the rest (the fine-grained attributes): a ridge probe, scored by R²: ``r2_<name>`` (test),
  ``r2_<name>_train``, and ``r2_attributes``, the mean of the test R² over these names.

Both are fitted on the train split and scored on the test split, whose images the train pairs
never show (for the digit-pair generator).
"""

from __future__ import annotations

import numpy as np

from worldmodel.data import build_dataset
from worldmodel.probes import LinearProbe, classifier_accuracy, fit_ridge_probe, is_categorical


def image_pair_metrics(model, data_cfg) -> tuple[dict[str, float], dict[str, LinearProbe]]:
    """({metric: number}, {name: regression probe}) for an image-pair run; data_cfg: its DataConfig."""
    from worldmodel.evaluation import encode_pairs  # evaluation calls this module

    train, test = (encode_pairs(model, build_dataset(data_cfg, split)) for split in ("train", "test"))
    metrics, probes = {}, {}
    for key in sorted(k for k in train if k.startswith("gt_")):
        name = key[3:]
        if is_categorical(train[key]):
            metrics[f"acc_{name}_train"], metrics[f"acc_{name}"] = classifier_accuracy(
                train["embedding"], train[key], test["embedding"], test[key])
            continue
        probe = fit_ridge_probe(train["embedding"], train[key])
        metrics[f"r2_{name}"] = probe.r2(test["embedding"], test[key])
        metrics[f"r2_{name}_train"] = probe.r2(train["embedding"], train[key])
        probe.info |= {"input": "embedding", "target": key, "r2_test": metrics[f"r2_{name}"]}
        probes[name] = probe
    if probes:
        metrics["r2_attributes"] = float(np.mean([metrics[f"r2_{name}"] for name in probes]))
    return metrics, probes

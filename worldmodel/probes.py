"""Linear probes from frozen embeddings to ground truth, and their scores."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from torch import Tensor

from worldmodel.models import WorldModel


@torch.no_grad()
def embed(model: WorldModel, inputs: Tensor, batch_size: int = 4096) -> np.ndarray:
    """Online embeddings f(x): (N, *in_shape) → (N, D) float64 numpy, in batches."""
    chunks = [model.encode(inputs[i : i + batch_size]).double().cpu() for i in range(0, len(inputs), batch_size)]
    return torch.cat(chunks).numpy()


def fit_linear_probe(features: np.ndarray, targets: np.ndarray) -> LinearRegression:
    """Least-squares affine map (N, D) → (N, T)."""
    return LinearRegression().fit(features, targets)


def probe_r2(probe: LinearRegression, features: np.ndarray, targets: np.ndarray) -> float:
    """R² of the probe's predictions, averaged uniformly over target dimensions."""
    return float(r2_score(targets, probe.predict(features), multioutput="uniform_average"))

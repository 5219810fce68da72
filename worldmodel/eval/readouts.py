"""Readouts of a trained model over a dataset split: embeddings, r, predictions, ground truth."""

from __future__ import annotations

import numpy as np
import torch

from worldmodel.data import in_order_batches

@torch.inference_mode()
def encode_pairs(model, dataset, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Readouts of every pair of a dataset split, float64 numpy:

    ``embedding`` f(x) (N, D); ``embedding_next`` f(x⁺) (N, D); ``r`` the posterior mean r̄ given (f(x), f(x⁺)) (N, R), ``r_draw`` one
    posterior draw r ~ q (N, R; from the global torch RNG);
    ``prediction`` t(f(x), r̄) (N, D); ``action`` (N, A) and ``video`` (N,) when the data has them;
    ``gt_<name>`` (N, T) the ground truth, flattened per sample.
    """
    chunks: dict[str, list[np.ndarray]] = {}
    for batch in in_order_batches(dataset, batch_size):
        fx, seen = model.posterior_inputs(batch)
        r = model.latent.posterior_mean(fx, seen, batch.get("action"))
        draw = model.latent.infer(fx, seen, batch.get("action")).r
        out = {"embedding": fx, "embedding_next": seen, "r": r, "r_draw": draw, "prediction": model.predictor(fx, r)}
        out |= {key: value for key, value in batch.items() if key == "action" or key == "video" or key.startswith("gt_")}
        for key, value in out.items():
            chunks.setdefault(key, []).append(value.double().reshape(len(value), -1).cpu().numpy())
    arrays = {key: np.concatenate(parts) for key, parts in chunks.items()}
    if "video" in arrays:
        arrays["video"] = arrays["video"][:, 0].astype(np.int64)
    return arrays

"""Footage without ground truth: r against the reference motion per axis, next to two baselines
read from the same pairs, so that a low score of r tells failure from unpredictability.

- ``r``: a ridge probe from r (the posterior mean) to the reference motion (dx, dy);
- ``embeddings``: a ridge probe from [f(x), f(x⁺)], the encoder's two embeddings (what r could
  at most be computed from, linearly);
- ``flow``: a ridge probe from a two-number global optical flow (Lucas–Kanade, :func:`global_flow`)
  between the last context and last target frames: a read-out that knows nothing of the model.

Where ``flow`` predicts the reference and r does not, the motion was there to learn and r did not
learn it (see the latent-collapse numbers in the same eval.json); where neither does, the
reference itself is noise on this footage. Metrics: ``r2_<input>_to_reference_<dx|dy>`` (test
videos; probes fitted on the train videos, folds grouped by video).
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.filters import gaussian_blur2d, spatial_gradient
from kornia.geometry.transform import translate
from sklearn.metrics import r2_score

from worldmodel.data import in_order_batches
from worldmodel.eval.probes import fit_ridge_probe

AXES = ("dx", "dy")


@torch.no_grad()
def global_flow(before: np.ndarray, after: np.ndarray, iterations: int = 6, sigma: float = 1.5,
                margin: float = 0.15) -> np.ndarray:
    """One translation per pair by iterative global Lucas–Kanade: v minimising Σ (after(x + v) − before(x))².

    Args:
        before, after: (N, H, W) grey frames.
        iterations: Gauss–Newton steps, each re-sampling ``after`` at x + v (bilinear).
        sigma: Gaussian blur (pixels) applied first, so that moves of a few pixels stay in the linear range.
        margin: fraction of each border left out of the sums (where the shifted frame has no pixels).

    Returns:
        (N, 2) float64 (vx, vy) in pixels, the move of the content: a camera displacement (dx, dy)
        (the camera-pan convention: content moves by −(dx, dy)) gives v ≈ −(dx, dy).
    """
    blur = lambda x: gaussian_blur2d(torch.as_tensor(x, dtype=torch.float32)[:, None], (7, 7), (sigma, sigma))
    a, b = blur(before), blur(after)
    grad = spatial_gradient(a)[:, 0]  # (N, 2, H, W): d/dx, d/dy per pixel (Sobel, normalised)
    h, w = a.shape[-2:]
    inner = (slice(None), slice(None), slice(int(margin * h), h - int(margin * h)), slice(int(margin * w), w - int(margin * w)))
    g = grad[inner].flatten(2)  # (N, 2, P)
    hessian = g @ g.transpose(1, 2) + 1e-6 * torch.eye(2)  # (N, 2, 2)
    v = torch.zeros(len(a), 2)
    for _ in range(iterations):
        residual = (translate(b, -v) - a)[inner].flatten(2)  # after(x + v) − before(x), (N, 1, P)
        v = v - torch.linalg.solve(hessian, (g * residual).sum(-1))
    return v.double().numpy()


@torch.no_grad()
def pair_inputs(model, dataset, batch_size: int = 256) -> dict[str, np.ndarray]:
    """For every pair of a frame-pair dataset: ``embeddings`` [f(x), f(x⁺)] (N, 2D) and ``flow``
    (N, 2), the :func:`global_flow` from the last context frame to the last target frame."""
    parts: dict[str, list[np.ndarray]] = {"embeddings": [], "flow": []}
    for batch in in_order_batches(dataset, batch_size):
        both = torch.cat([model.encode(batch["context"]), model.encode(batch["target"])], dim=1)
        parts["embeddings"].append(both.double().numpy())
        grey = lambda clips: clips[:, -1].float().mean(1).numpy()  # (B, H, W) of the last frame
        parts["flow"].append(global_flow(grey(batch["context"]), grey(batch["target"])))
    return {key: np.concatenate(value) for key, value in parts.items()}


def per_axis_metrics(train: dict[str, np.ndarray], test: dict[str, np.ndarray], groups: np.ndarray) -> dict[str, float]:
    """``r2_<input>_to_reference_<axis>`` for inputs r, embeddings, flow: ridge probes fitted on
    ``train`` (folds grouped by ``groups``), scored per axis on ``test``; each dict holds the
    inputs and ``reference`` (N, 2)."""
    metrics = {}
    for name in ("r", "embeddings", "flow"):
        probe = fit_ridge_probe(train[name], train["reference"], groups)
        scores = r2_score(test["reference"], probe.predict(test[name]), multioutput="raw_values")
        metrics |= {f"r2_{name}_to_reference_{axis}": float(score) for axis, score in zip(AXES, scores)}
    return metrics

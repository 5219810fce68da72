"""Footage without ground truth: r against the reference motion per axis, next to two baselines
read from the same pairs, so that a low score of r tells failure from unpredictability.

- ``r``: a ridge probe from r (the posterior mean) to the reference motion (dx, dy);
- ``embeddings``: a ridge probe from [f(x), f(x⁺)], the encoder's two embeddings (what r could
  at most be computed from, linearly);
- ``embeddings_trees``: gradient-boosted trees on the same [f(x), f(x⁺)]: what the pair holds of the
  motion in any form (an encoder that keeps a camera's position modulo a repeating texture holds the
  move, but not linearly);
- ``flow``: a ridge probe from a two-number global optical flow (Lucas–Kanade, :func:`global_flow`)
  between the last context and last target frames: a read-out that knows nothing of the model.

Where ``flow`` predicts the reference and r does not, the motion was there to learn and r did not
learn it (see the latent-collapse numbers in the same eval.json); where neither does, the
reference itself is noise on this footage. Metrics: ``r2_<input>_to_reference_<dx|dy>`` (test
videos; probes fitted on the train videos, folds grouped by video). Footage that turns or zooms (a
car's camera) is not a translation: ``r2_{r,embeddings}_to_reference_{rotation,zoom}`` probe the
rotation and zoom of a global similarity fitted by the same Lucas–Kanade (:func:`global_motion`).
:func:`motion_diagnosis` reads all of these into one line per axis (eval.json's
``reference_motion_diagnosis``): does r track it, and if not, which step loses it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d, spatial_gradient
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score

from worldmodel.data import in_order_batches
from worldmodel.eval.probes import fit_ridge_probe

AXES = ("dx", "dy")
SIMILARITY_AXES = ("rotation", "zoom")


MODELS = {"translation": 2, "similarity": 4}  # parameters: (vx, vy) [, rotation (rad), log zoom]


@torch.no_grad()
def global_motion(before: np.ndarray, after: np.ndarray, model: str = "translation", iterations: int = 10,
                  sigma: float = 1.5, margin: float = 0.15) -> np.ndarray:
    """One global motion per pair by iterative (Gauss–Newton) Lucas–Kanade: the parameters p minimising
    Σ (after(W_p(x)) − before(x))², where W_p maps a pixel of ``before`` to where its content is in ``after``.

    Models, with x measured from the frame's centre: ``translation`` W(x) = x + v; ``similarity``
    W(x) = e^s R(θ) x + v (the linearised update uses ∂W/∂p at p = 0, the warp itself is exact).

    Args:
        before, after: (N, H, W) grey frames.
        model: ``translation`` or ``similarity``.
        iterations: Gauss–Newton steps, each re-sampling ``after`` at W_p(x) (bilinear).
        sigma: Gaussian blur (pixels) applied first, so that moves of a few pixels stay in the linear range.
        margin: fraction of each border left out of the sums (where the warped frame has no pixels).

    Returns:
        (N, 2) (vx, vy) or (N, 4) (vx, vy, θ, s) float64: the content's move in pixels (a camera
        displacement (dx, dy), the camera-pan convention, gives v ≈ −(dx, dy)), its rotation θ in radians
        (clockwise on screen, as image rows grow downwards) and its log scale change s (> 0: the content
        grows, as when the camera moves in).
    """
    if model not in MODELS:
        raise ValueError(f"global motion model {model!r}; expected one of {list(MODELS)}")
    blur = lambda x: gaussian_blur2d(torch.as_tensor(x, dtype=torch.float32)[:, None], (7, 7), (sigma, sigma))
    a, b = blur(before), blur(after)
    n, _, h, w = a.shape
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    inner = (slice(int(margin * h), h - int(margin * h)), slice(int(margin * w), w - int(margin * w)))
    gx, gy = spatial_gradient(a)[:, 0, :, inner[0], inner[1]].flatten(2).unbind(1)  # (N, P) each: d/dx, d/dy
    x, y = xs[inner].flatten(), ys[inner].flatten()
    jacobian = torch.stack([gx, gy, gy * x - gx * y, gx * x + gy * y][: MODELS[model]], dim=-1)  # (N, P, K)
    hessian = jacobian.transpose(1, 2) @ jacobian + 1e-6 * torch.eye(MODELS[model])  # (N, K, K)
    p = torch.zeros(n, 4)
    for _ in range(iterations):
        zoom, cos, sin = (p[:, 3].exp(), p[:, 2].cos(), p[:, 2].sin())
        zoom, cos, sin, vx, vy = (v[:, None, None] for v in (zoom, cos, sin, p[:, 0], p[:, 1]))
        grid = torch.stack([(zoom * (cos * xs - sin * ys) + vx) / ((w - 1) / 2),
                            (zoom * (sin * xs + cos * ys) + vy) / ((h - 1) / 2)], dim=-1)  # (N, H, W, 2)
        warped = F.grid_sample(b, grid, mode="bilinear", padding_mode="border", align_corners=True)
        residual = (warped - a)[:, 0, inner[0], inner[1]].flatten(1)  # after(W(x)) − before(x), (N, P)
        p[:, : MODELS[model]] -= torch.linalg.solve(hessian, (jacobian * residual[..., None]).sum(1))
    return p[:, : MODELS[model]].double().numpy()


def to_grey(frames: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, C, H, W) frames (uint8 or float) → (N, H, W) float64 channel means."""
    return np.asarray(frames, dtype=np.float64).mean(axis=1)


def global_flow(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(N, 2) (vx, vy): the :func:`global_motion` translation, the two-number flow read-out."""
    return global_motion(before, after, "translation")


def frame_motion(dataset, reference: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 batch_size: int = 256) -> dict[str, np.ndarray]:
    """For every pair of a frame-pair dataset, from its last context frame to its last target frame
    (grey, (B, H, W)), in one pass over the pairs: ``reference`` (N, 2), the camera's (dx, dy) by the
    ``reference`` estimator (phase correlation in eval); ``flow`` (N, 2), the :func:`global_flow`; and
    ``similarity`` (N, 2), the rotation (degrees) and log zoom of the :func:`global_motion` similarity
    (the reference for rotation and zoom). The pair baselines' [f(x), f(x⁺)] (``embeddings``) are the
    posterior's inputs, which :func:`~worldmodel.eval.readouts.encode_pairs` returns."""
    parts: dict[str, list[np.ndarray]] = {"reference": [], "flow": [], "similarity": []}
    for batch in in_order_batches(dataset, batch_size):
        before, after = to_grey(batch["context"][:, -1]), to_grey(batch["target"][:, -1])
        parts["reference"].append(reference(before, after))
        parts["flow"].append(global_flow(before, after))
        rotation, zoom = global_motion(before, after, "similarity")[:, 2:].T
        parts["similarity"].append(np.stack([np.degrees(rotation), zoom], axis=1))
    return {key: np.concatenate(value) for key, value in parts.items()}


def per_axis_metrics(train: dict[str, np.ndarray], test: dict[str, np.ndarray], groups: np.ndarray,
                     target: str = "reference", axes: tuple[str, ...] = AXES,
                     inputs: tuple[str, ...] = ("r", "embeddings", "flow")) -> dict[str, float]:
    """``r2_<input>_to_reference_<axis>`` for each input: ridge probes fitted on ``train`` (folds
    grouped by ``groups``), scored per axis on ``test``; each dict holds the inputs and ``target``
    (N, len(axes))."""
    metrics = {}
    for name in inputs:
        probe = fit_ridge_probe(train[name], train[target], groups)
        scores = r2_score(test[target], probe.predict(test[name]), multioutput="raw_values")
        metrics |= {f"r2_{name}_to_reference_{axis}": float(score) for axis, score in zip(axes, scores)}
    return metrics


def pair_trees_metrics(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, float]:
    """``r2_embeddings_trees_to_reference_<axis>`` for dx, dy, rotation and zoom: gradient-boosted trees
    from [f(x), f(x⁺)] (``embeddings``), one per axis, fitted on ``train`` and scored on ``test`` (the
    ``reference`` (N, 2) and ``similarity`` (N, 2) of :func:`frame_motion`)."""
    metrics = {}
    for target, axes in (("reference", AXES), ("similarity", SIMILARITY_AXES)):
        for k, axis in enumerate(axes):
            trees = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(train["embeddings"], train[target][:, k])
            predicted = trees.predict(test["embeddings"])
            metrics[f"r2_embeddings_trees_to_reference_{axis}"] = float(r2_score(test[target][:, k], predicted))
    return metrics


def similarity_metrics(train: dict[str, np.ndarray], test: dict[str, np.ndarray], groups: np.ndarray) -> dict[str, float]:
    """Rotation and zoom: ``r2_{r,embeddings}_to_reference_{rotation,zoom}`` (the :func:`frame_motion`
    ``similarity`` as the reference; the two-number flow cannot express them, so it is no baseline here)
    and ``reference_{rotation,zoom}_std`` on the test pairs (degrees; log zoom), which say whether the
    footage turns or zooms at all: where it does not, the R² are of noise. Also ``reference_{dx,dy}_std``,
    the translation's spread (pixels a pair): how large the moves are that r is asked to read."""
    metrics = per_axis_metrics(train, test, groups, "similarity", SIMILARITY_AXES, ("r", "embeddings"))
    spread = zip(AXES + SIMILARITY_AXES, [*test["reference"].std(axis=0), *test["similarity"].std(axis=0)])
    return metrics | {f"reference_{axis}_std": float(value) for axis, value in spread}


TRACKS = 0.8  # R² at which r counts as tracking an axis of the reference motion
MOVES = {"rotation": 1.0, "zoom": 0.03}  # std a pair (degrees; log zoom) below which the footage hardly turns / zooms:
# on pure pans at 32 px, which neither turn nor zoom, the similarity fit's own noise is 0.42° and 0.015
HOLDS, DROPS = 0.5, 0.1  # the pair's embeddings read an axis at R² ≥ HOLDS and ≥ DROPS above r: the latent drops it
SHIFT_NOISE = 0.1  # px a pair: phase correlation's own spread on an axis the camera never moves along (pans along x only
SHIFT_NOISE_SHARE = 0.1  # over photographs at 32 / 64 px, experiments/shift_noise.py: 0.03–0.08 px for moves ≤ 1 px, up to
# 0.13 px (7.5 % of the other axis' 1.7 px spread) for moves ≤ 3 px); a dx / dy spread under max(SHIFT_NOISE,
# SHIFT_NOISE_SHARE × the other's) is that noise
SMALL_MOVE = 1.0  # pixels a pair (std) under which a missed dx / dy gets the hint to take pairs further apart: on
# HalfCheetah footage at 32 px r reads dx at 0.20 / 0.27 / 0.63 with moves of 0.15 / 0.58 / 1.6 px (data.gap 1 / 4 / 12)


def shift_noise(metrics: dict, axis: str) -> float:
    """The spread (px a pair) of dx or dy that phase correlation reports on footage that never moves along
    ``axis``: ``SHIFT_NOISE``, or ``SHIFT_NOISE_SHARE`` of the other axis' ``reference_<axis>_std`` when
    that is larger (a large move along one axis spreads the estimate along the other)."""
    other = AXES[1 - AXES.index(axis)]
    return max(SHIFT_NOISE, SHIFT_NOISE_SHARE * metrics.get(f"reference_{other}_std", 0.0))


def motion_diagnosis(metrics: dict) -> list[str]:
    """One line per axis of the reference motion saying whether r tracks it and, where not, which step
    loses it, from the ``r2_{r,embeddings,flow}_to_reference_<axis>``, ``reference_<axis>_std`` and
    ``active_dims`` entries of ``metrics`` (eval.json's), in this order:

    - r reads the axis at R² ≥ ``TRACKS``: it tracks it;
    - the footage hardly turns or zooms (std below ``MOVES``), or hardly moves along dx / dy (std below
      :func:`shift_noise`, the phase correlation's own noise): no verdict, the R² are of noise;
    - r is not in use (no active dimension): the latent collapsed;
    - the pair's embeddings read it at R² ≥ ``HOLDS``, ≥ ``DROPS`` above r: the latent drops what the encoder holds;
    - only trees on the pair (``r2_embeddings_trees_to_reference_<axis>``) read it so: the encoder holds it,
      but maps the camera's pose non-linearly, so r, a displacement of that map, is not linear in the move;
    - the global flow reads it (dx, dy) or the footage turns or zooms (rotation, zoom), and the
      embeddings do not (or no better than r): the encoder is the limit;
    - nothing reads dx or dy, the flow included: the reference is not a global translation of this
      footage, and a miss cannot be told from unpredictability.

    A missed dx or dy whose moves are under ``SMALL_MOVE`` pixels a pair (``reference_<axis>_std``) adds
    a hint: pairs further apart give r larger moves to read. r is read as the difference of two
    embeddings, so a move much smaller than the range of views the encoder maps is lost in the map's error.
    """
    lines = []
    for axis in AXES + SIMILARITY_AXES:
        if f"r2_r_to_reference_{axis}" not in metrics:
            continue
        r, embeddings = metrics[f"r2_r_to_reference_{axis}"], metrics[f"r2_embeddings_to_reference_{axis}"]
        flow, std = metrics.get(f"r2_flow_to_reference_{axis}"), metrics.get(f"reference_{axis}_std")
        step = std if axis in AXES else None  # a translation's spread says how far, not whether, it moves
        std = None if axis in AXES else std
        noise = shift_noise(metrics, axis) if axis in AXES else None
        trees = metrics.get(f"r2_embeddings_trees_to_reference_{axis}")
        read = f"r {r:.2f}, the pair's embeddings {embeddings:.2f}" + (f", the global flow {flow:.2f}" if flow is not None else "")
        moves = {"rotation": "turns", "zoom": "zooms"}.get(axis)
        if r >= TRACKS:
            lines.append(f"{axis}: r tracks it (R² {r:.2f})")
        elif std is not None and std < MOVES[axis]:
            lines.append(f"{axis}: the footage hardly {moves} (std {std:.3g} a pair), "
                         f"so its R² are of noise: no verdict")
        elif step is not None and step < noise:
            lines.append(f"{axis}: the camera hardly moves along it ({step:.2f} px a pair (std), under the phase "
                         f"correlation's own noise of {noise:.2f} px), so its R² are of noise: no verdict")
        elif metrics.get("active_dims", 1) == 0:
            lines.append(f"{axis}: missed ({read}): r is not in use, the latent collapsed")
        elif embeddings >= HOLDS and embeddings - r >= DROPS:
            lines.append(f"{axis}: missed ({read}): the embeddings hold it and r drops it "
                         f"(lower β, free bits or a larger r: docs/footage.md)")
        elif trees is not None and trees >= HOLDS and trees - r >= DROPS:
            lines.append(f"{axis}: missed ({read}): the embeddings hold it, but not linearly (trees on the pair "
                         f"{trees:.2f}): the encoder maps the camera's pose non-linearly (e.g. modulo a repeating "
                         f"texture), so r, a displacement of that map, is not linear in the move (docs/footage.md)")
        elif (flow is not None and flow >= TRACKS) or std is not None:
            seen = "the global flow reads it" if std is None else f"the footage {moves} (std {std:.3g} a pair)"
            lines.append(f"{axis}: missed ({read}): {seen}, the embeddings do not: the encoder is the limit")
        else:
            lines.append(f"{axis}: missed ({read}): nothing reads it, the flow included; the reference is not a "
                         f"global translation of this footage, so the miss cannot be told from unpredictability")
        if step is not None and step < SMALL_MOVE and lines[-1].startswith(f"{axis}: missed"):
            lines[-1] += (f"; the camera moves only {step:.2f} px a pair (std): pairs further apart (a larger data.gap, "
                          f"or a lower --fps in data_prep videos) give r larger moves to read")
    return lines

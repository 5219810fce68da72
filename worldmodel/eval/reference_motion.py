"""A reference for camera motion where footage has no ground truth, and how well r predicts it.

**Estimate** (``phase``): the global translation between the last context frame and the last
target frame of each pair, by Fourier-domain cross-correlation with scikit-image's
:func:`~skimage.registration.phase_cross_correlation` (sub-pixel by upsampling the correlation
around its peak). Each frame is converted to grey and to its gradient magnitude
(:func:`skimage.filters.sobel`), its mean removed and multiplied by a Hann window, so that the
wrap-around edges of the discrete Fourier transform do not pull the peak to zero shift. The
spectrum is not whitened (``normalization=None``): whitening amplifies faint texture, which
H.264 flattens. On 64 px camera-pan mp4s prepared with ``data_prep videos`` (see
``bench/reference_motion_mp4.py``) the R² against the true motion is 0.96, against 0.93 for
whitened intensities. The result follows the
convention of the camera-pan generator's ``camera_motion``: (dx, dy) is the camera's
displacement in pixels, the image content moves by −(dx, dy).

**Metrics** (added to ``eval.json`` by ``eval.py --reference-motion phase``): r is the posterior
mean of q(r | f(x), f(x⁺)); a ridge probe r → reference motion is fitted on the train videos
and scored on the test videos: ``r2_r_to_reference_motion``. Where the folder records the true
camera motion (the store's ``action`` is ``camera_motion``, as camera-pan folders), ``r2_reference_motion_to_truth`` (the estimate itself against
the truth) and ``r2_r_to_true_motion`` are reported next to it. ``reference_motion.png`` in the
run folder plots the probe's predictions against the reference on the test pairs. Per axis, with
two baselines read from the same pairs (:mod:`worldmodel.eval.motion_baselines`):
``r2_{r,embeddings,flow}_to_reference_{dx,dy}``; and the rotation and zoom of a global similarity
between the same frames: ``r2_{r,embeddings}_to_reference_{rotation,zoom}``,
``reference_{rotation,zoom}_std``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.filters import sobel, window
from skimage.registration import phase_cross_correlation
from sklearn.metrics import r2_score
from torch.utils.data import Dataset, Subset

from worldmodel.data import build_dataset
from worldmodel.eval.motion_baselines import frame_motion, pair_trees_metrics, per_axis_metrics, similarity_metrics
from worldmodel.eval.probes import fit_ridge_probe
from worldmodel.eval.readouts import encode_pairs
from worldmodel.tasks import task_for

MAX_PAIRS = 4000  # pairs per split used by the metrics, evenly spaced over the split


def _windowed_edges(frame: np.ndarray, hann: np.ndarray) -> np.ndarray:
    """(H, W) grey frame → its gradient magnitude, mean removed, times the (H, W) window."""
    edges = sobel(frame)
    return (edges - edges.mean()) * hann


def phase_correlation_motion(before: np.ndarray, after: np.ndarray, upsample_factor: int = 20) -> np.ndarray:
    """Camera displacement from each ``before`` frame to its ``after`` frame.

    Args:
        before, after: (N, H, W) grey frames.
        upsample_factor: sub-pixel precision 1 / upsample_factor pixels.

    Returns:
        (N, 2) float64 (dx, dy) in pixels: the content of ``after`` is that of ``before`` moved
        by −(dx, dy).
    """
    if before.shape != after.shape or before.ndim != 3:
        raise ValueError(f"before and after: expected two (N, H, W) arrays of one shape, got {before.shape} and {after.shape}")
    hann = window("hann", before.shape[1:])
    motion = np.empty((len(before), 2))
    for i, (a, b) in enumerate(zip(before, after)):
        shift, _, _ = phase_cross_correlation(_windowed_edges(a, hann), _windowed_edges(b, hann),
                                              upsample_factor=upsample_factor, normalization=None)
        motion[i] = shift[::-1]  # (row, col) shift that registers `after` onto `before` = (dy, dx)
    return motion


METHODS = {"phase": phase_correlation_motion}  # --reference-motion METHOD → its (dx, dy) estimator


def evenly_spaced(dataset: Dataset, max_pairs: int) -> Subset:
    """Up to ``max_pairs`` pairs of ``dataset`` spread evenly over it (all when it is smaller)."""
    chosen = np.unique(np.linspace(0, len(dataset) - 1, min(max_pairs, len(dataset))).round().astype(int))
    return Subset(dataset, chosen.tolist())


def check_reference_motion(model, data_cfg, method: str = "phase") -> None:
    """Raise ValueError, before any work, when the run cannot be probed against reference motion."""
    if method not in METHODS:
        raise ValueError(f"reference motion method {method!r}; expected one of {list(METHODS)}")
    if not task_for(data_cfg).reference_motion:
        raise ValueError(f"--reference-motion needs a run on frames (data.kind 'frames', e.g. a folder from "
                         f"`data_prep videos`); this run's data.kind is {data_cfg.kind!r}")
    if model.latent.dim == 0:
        raise ValueError("--reference-motion probes r, but this run's model.latent.kind has no r (latent dim 0)")


def reference_motion_metrics(model, data_cfg, out_dir: str | Path, method: str = "phase",
                             max_pairs: int = MAX_PAIRS) -> dict[str, float]:
    """``r2_r_to_reference_motion`` (and, with true motion, ``r2_reference_motion_to_truth`` and
    ``r2_r_to_true_motion``) for a frames run; writes ``out_dir/reference_motion.png``.

    data_cfg: the DataConfig to read (kind ``frames``); up to ``max_pairs`` pairs per split are used.
    """
    check_reference_motion(model, data_cfg, method)
    sets = {}
    for split in ("train", "test"):
        dataset = build_dataset(data_cfg, split)
        camera_motion = dataset.store.action.get("sum_of") == "camera_motion"
        pairs = evenly_spaced(dataset, max_pairs)
        sets[split] = encode_pairs(model, pairs) | frame_motion(pairs, METHODS[method])  # the reference and baselines
        # the pair baselines read what r is inferred from: f(x) and the posterior's f(x⁺) (the EMA target's
        # under the authors' recipe)
        sets[split]["embeddings"] = np.concatenate([sets[split]["embedding"], sets[split]["embedding_next"]], axis=1)
    train, test = sets["train"], sets["test"]
    probe = fit_ridge_probe(train["r"], train["reference"], train["video"])
    metrics = {"r2_r_to_reference_motion": probe.r2(test["r"], test["reference"]),
               "reference_motion_pairs": float(len(test["r"]))}
    metrics |= per_axis_metrics(train, test, train["video"]) | similarity_metrics(train, test, train["video"])
    metrics |= pair_trees_metrics(train, test)
    if camera_motion:  # the store's action is the true camera move (a simulator's is the agent's action)
        metrics["r2_reference_motion_to_truth"] = float(r2_score(test["action"], test["reference"]))
        truth_probe = fit_ridge_probe(train["r"], train["action"], train["video"])
        metrics["r2_r_to_true_motion"] = truth_probe.r2(test["r"], test["action"])
    plot_reference_scatter(test["reference"], probe.predict(test["r"]), metrics["r2_r_to_reference_motion"],
                           Path(out_dir) / "reference_motion.png")
    return metrics


def plot_reference_scatter(reference: np.ndarray, predicted: np.ndarray, r2: float, path: Path) -> None:
    """Scatter of predicted against reference motion, one panel per axis: (N, 2) and (N, 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), constrained_layout=True)
    for axis, ax, name in zip(range(2), axes, ("dx", "dy")):
        low, high = reference[:, axis].min(), reference[:, axis].max()
        ax.plot([low, high], [low, high], color="grey", linewidth=1)
        ax.scatter(reference[:, axis], predicted[:, axis], s=4, alpha=0.4)
        ax.set_xlabel(f"reference {name} (phase correlation, px)")
        ax.set_ylabel(f"linear probe from r, {name} (px)")
    fig.suptitle(f"test pairs: R² = {r2:.3f}")
    fig.savefig(path, dpi=100)
    plt.close(fig)

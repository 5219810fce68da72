"""Start clips of frame rollouts: where a held-out video leaves room for the horizon, and its future truth."""

from __future__ import annotations

import numpy as np


def pick_starts(dataset, horizon: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of up to ``count`` pairs of a :class:`FramePairs` whose video lasts
    ``horizon`` more steps of ``gap`` frames after the context clip."""
    last = dataset.first + dataset.context - 1
    end = dataset.store.offsets[dataset.video + 1]
    eligible = np.flatnonzero(last + horizon * dataset.gap < end)
    if not len(eligible):
        raise ValueError(f"rollout: no held-out clip leaves room for --horizon {horizon} steps of {dataset.gap} frames; "
                         "ask for a shorter horizon")
    return np.sort(rng.choice(eligible, min(count, len(eligible)), replace=False))


def future_truth(dataset, index: np.ndarray, name: str, horizon: int) -> np.ndarray | None:
    """(B, H+1, T) ground truth ``name`` at the last context frame and every step after it; None when the
    dataset has none of that name (probes fitted with ``eval.py --data`` on another folder, for footage)."""
    if name not in dataset.store.ground_truth:
        return None
    frames = (dataset.first[index] + dataset.context - 1)[:, None] + dataset.gap * np.arange(horizon + 1)
    return np.asarray(dataset.store.ground_truth[name][frames], dtype=np.float64).reshape(*frames.shape, -1)

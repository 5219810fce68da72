"""What a footage run's embeddings hold of a simulator's true camera pose, linearly and not.

    python experiments/footage_truth.py --run RUN --footage FOOTAGE --store STORE [--column camera_x --period 1.3333]

For footage made from a simulator store (``bench/store_to_mp4.py`` then ``data_prep videos``), frame i
of FOOTAGE is frame i of STORE, so the store's true state can score what the run's encoder f keeps.
Held out: every fifth video. Printed, per ``--column``:

- f(x) → the column (ridge): the camera's position as a linear map of the embedding;
- with ``--period P``, f(x) → (sin, cos)(2π · column / P) (ridge): the position modulo P, what an encoder
  can hold of a camera moving over a texture that repeats every P (HalfCheetah's floor: 1.333 m);
- [f(x), f(x⁺)] → the column's change from frame t to t + 1, by ridge and by gradient-boosted trees:
  the move as eval's linear pair baseline reads it, and as a non-linear read-out does.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV

from worldmodel.api import load
from worldmodel.data.store import FrameStore

HOLD_OUT_EVERY = 5


def held_out_r2(model, x: np.ndarray, y: np.ndarray, test: np.ndarray) -> float:
    """R² on ``test`` of ``model`` fitted on the rest: x (N, D), y (N,) or (N, K), test (N,) bool."""
    return float(model.fit(x[~test], y[~test]).score(x[test], y[test]))


def truth_readouts(f: np.ndarray, column: np.ndarray, video: np.ndarray, period: float | None = None) -> dict[str, float]:
    """R² of the read-outs listed in the module docstring.

    f: (N, D) embeddings of consecutive frames; column: (N,) the true value at each frame; video: (N,)
    the video of each frame (pairs never cross videos; every fifth video is held out)."""
    test = video % HOLD_OUT_EVERY == 0
    out = {"position_ridge": held_out_r2(RidgeCV(), f, column, test)}
    if period:
        angle = 2 * np.pi * column / period
        out["phase_ridge"] = held_out_r2(RidgeCV(), f, np.stack([np.sin(angle), np.cos(angle)], 1), test)
    t = np.nonzero(video[:-1] == video[1:])[0]
    pair, move = np.concatenate([f[t], f[t + 1]], 1), column[t + 1] - column[t]
    out["move_pair_ridge"] = held_out_r2(RidgeCV(), pair, move, test[t])
    out["move_pair_trees"] = held_out_r2(HistGradientBoostingRegressor(max_iter=300, random_state=0), pair, move, test[t])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run trained on FOOTAGE")
    parser.add_argument("--footage", required=True, help="the folder `data_prep videos` wrote from STORE's mp4s")
    parser.add_argument("--store", required=True, help="the simulator store the mp4s were written from")
    parser.add_argument("--column", nargs="+", default=["camera_x", "camera_z"], help="state columns to score")
    parser.add_argument("--period", type=float, help="the texture's period along the first column")
    args = parser.parse_args()
    footage, store = FrameStore(args.footage), FrameStore(args.store)
    if len(footage.frames) != len(store.frames):
        raise SystemExit(f"error: {args.footage} has {len(footage.frames)} frames and {args.store} {len(store.frames)}: "
                         "expected the same frames, one footage video per store episode")
    names = store.meta["columns"]["state"]
    state = np.asarray(store.ground_truth["state"])
    f = load(args.run).embed(torch.from_numpy(np.array(footage.frames)).unsqueeze(1)).numpy()  # a copy: the store is read-only
    video = np.searchsorted(footage.offsets, np.arange(len(f)), side="right") - 1
    for i, name in enumerate(args.column):
        scores = truth_readouts(f, state[:, names.index(name)], video, args.period if i == 0 else None)
        print(name + ": " + ", ".join(f"{key} {value:.3f}" for key, value in scores.items()))


if __name__ == "__main__":
    main()

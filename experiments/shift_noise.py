"""The noise of the phase-correlation reference on an axis the camera never moves along.

    python experiments/shift_noise.py [--sizes 32 64] [--pairs 700]

Pans along x only (dy = 0 exactly) over the bundled photographs (``data_prep.camera_pan.SCENES``, short
side 4 × the view), moves drawn uniformly up to 0.25, 1 and 3 px; each view is grey and rounded to
integers as a decoded frame is. Printed per view size and largest move: the true spread of dx, the error
of the dx that :func:`~worldmodel.eval.reference_motion.phase_correlation_motion` reads, and the spread of
the dy it reports, which should be 0. eval's "hardly moves" verdict for dx / dy
(:func:`~worldmodel.eval.motion_baselines.shift_noise`) is set from this spread.
"""

from __future__ import annotations

import argparse

import numpy as np

from data_prep.camera_pan import load_scenes
from data_prep.render import bilinear_crop
from worldmodel.eval.reference_motion import phase_correlation_motion

LARGEST_MOVES = (0.25, 1.0, 3.0)  # px


def x_only_pans(size: int, pairs: int, largest: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pairs, size, size) grey views before and after a move of dx ~ U(−largest, largest) along x, and dx (pairs,)."""
    rng = np.random.default_rng(seed)
    scenes = load_scenes(4 * size)
    before, after, dx = [], [], rng.uniform(-largest, largest, pairs)
    for i, move in enumerate(dx):
        scene = scenes[i % len(scenes)]
        left, top = rng.uniform(8, np.array(scene.shape[1::-1]) - size - 8)
        before.append(np.round(bilinear_crop(scene, top, left, size, size).mean(-1)))
        after.append(np.round(bilinear_crop(scene, top, left + move, size, size).mean(-1)))
    return np.array(before), np.array(after), dx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--pairs", type=int, default=700)
    args = parser.parse_args()
    print("| view (px) | moves up to (px) | dx spread, true (px) | dx error, std (px) | dy reported, std (px) |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for largest in LARGEST_MOVES:
            before, after, dx = x_only_pans(size, args.pairs, largest)
            estimate = phase_correlation_motion(before, after)
            print(f"| {size} | {largest:g} | {dx.std():.3f} | {(estimate[:, 0] - dx).std():.3f} | {estimate[:, 1].std():.3f} |")


if __name__ == "__main__":
    main()

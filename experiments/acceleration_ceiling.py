"""How much of a Moving-digits clip's acceleration a linear probe can read from exact positions.

    python experiments/acceleration_ceiling.py --config configs/mmnist/adassl_v.yaml

eval.py's ``r2_acceleration`` is a ridge probe from the context clip's embedding to the
acceleration event at the clip's last frame. This script fits the same probe (same train / test
videos, α by video-grouped cross-validation) to the *true* centres of mass of the clip's k frames
instead of an embedding: the best any embedding that stores the positions linearly can do. Without
a wall bounce the acceleration is the second difference of the positions, so the probe is exact
there; a bounce inside the clip also changes the velocity (by −2v on one axis), which a linear read-out
of positions cannot tell apart from an acceleration event. Printed: R² over all test clips, over
the test clips without a bounce, and the fraction of clips with one; then a probe fitted on the
clips without a bounce only, scored on those (the exact second difference: R² 1).
"""

from __future__ import annotations

import argparse

import numpy as np

from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.eval.probes import fit_ridge_probe


def clip_features(dataset) -> dict[str, np.ndarray]:
    """Per pair of a FramePairs split: positions (N, k·P) of the context frames, acceleration (N, P) at
    the last one, bounce (N,) bool (a velocity change not explained by the events), video (N,)."""
    truth = dataset.store.ground_truth
    frames = dataset.first[:, None] + np.arange(dataset.context)  # (N, k) global frame indices
    position = np.asarray(truth["position"], dtype=np.float64)
    velocity = np.asarray(truth["velocity"], dtype=np.float64)
    acceleration = np.asarray(truth["acceleration"], dtype=np.float64)
    steps = frames[:, 1:]  # frames whose velocity change is inside the clip
    unexplained = velocity[steps] - velocity[steps - 1] - acceleration[steps]
    return {
        "positions": position[frames].reshape(len(frames), -1),
        "acceleration": acceleration[frames[:, -1]],
        "bounce": np.abs(unexplained).max(axis=(1, 2)) > 1e-4,
        "video": dataset.video,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="a Moving-digits config (its data section is used)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. data.context=4")
    args = parser.parse_args()
    data_cfg = load_config(args.config, args.overrides).data
    train, test = (clip_features(build_dataset(data_cfg, split)) for split in ("train", "test"))
    probe = fit_ridge_probe(train["positions"], train["acceleration"], train["video"])
    free = ~test["bounce"]
    print(f"linear read-out of the acceleration from the exact positions of the clip's {data_cfg.context} frames")
    print(f"  R² all test clips        {probe.r2(test['positions'], test['acceleration']):.3f}  ({len(free)} clips)")
    print(f"  R² clips without bounce  {probe.r2(test['positions'][free], test['acceleration'][free]):.3f}  ({free.sum()} clips)")
    print(f"  clips with a bounce      {test['bounce'].mean():.1%}")
    keep = ~train["bounce"]
    free_probe = fit_ridge_probe(train["positions"][keep], train["acceleration"][keep], train["video"][keep])
    print(f"  fitted and scored on clips without bounce  {free_probe.r2(test['positions'][free], test['acceleration'][free]):.3f}")


if __name__ == "__main__":
    main()

"""Reference motion on real footage where the truth is known: camera-pan mp4s through ``data_prep videos``.

    python bench/reference_motion_mp4.py [--videos 40 --frames 32 --size 64]
    python bench/reference_motion_mp4.py --run runs/camera_pan-adassl_v/seed0

Writes camera-pan videos with their ground truth and as H.264 mp4s, prepares the mp4s with
``data_prep videos`` (every frame kept, same size), and scores the phase-correlation estimate of
each frame-to-frame camera move against the recorded ``camera_motion`` (R², mean absolute
error, overall and per scene), side by side on the lossless generated frames and on the decoded
mp4 frames. Views of little texture (the sky of ``rocket``) leave the motion along their edges
undetermined (the aperture problem), and compression removes faint texture: expect the largest
errors there, and fewer at 64 px than at 32 px.

With ``--run`` (a camera-pan run folder), the videos are generated with the run's
``data.generator_args`` (size, scenes, speeds; a fresh seed so that they are new to the run),
and the run is evaluated on both folders: ``r2_r_to_reference_motion`` on the prepared mp4s (no
ground truth used) next to ``r2_r_to_true_motion`` on the generated frames.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import r2_score

from data_prep.camera_pan import SCENES, generate_camera_pan
from data_prep.videos import prepare_videos
from worldmodel.config import load_config
from worldmodel.data.store import FrameStore
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.eval.reference_motion import phase_correlation_motion


def successive_motion(store: FrameStore) -> np.ndarray:
    """(N, 2) phase-correlation motion from each frame's predecessor (NaN at a video's first frame)."""
    grey = store.frames.astype(np.float64).mean(-1)
    motion = np.full((len(grey), 2), np.nan)
    later = np.setdiff1d(np.arange(1, len(grey)), store.offsets[:-1])
    motion[later] = phase_correlation_motion(grey[later - 1], grey[later])
    return motion


def score(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    keep = ~np.isnan(estimate[:, 0])
    return float(r2_score(truth[keep], estimate[keep])), float(np.abs(estimate[keep] - truth[keep]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=64, help="frame size without --run (default 64)")
    parser.add_argument("--run", help="a camera-pan run folder: its data options, and evaluated on both folders")
    args = parser.parse_args()
    options = {"size": args.size}
    if args.run:
        options = {**load_config(Path(args.run) / "config.yaml").data.generator_args, "seed": 1}
    with tempfile.TemporaryDirectory() as tmp:
        pan = generate_camera_pan(Path(tmp) / "pan", videos=args.videos, frames=args.frames, mp4=True, **options)
        size = FrameStore(pan).frames.shape[1]
        prepared = Path(tmp) / "videos"
        prepare_videos(pan / "mp4", prepared, size=size, fps=0)
        truth_store, mp4_store = FrameStore(pan), FrameStore(prepared)
        if [Path(row["id"]).stem for row in mp4_store.videos] != [row["id"] for row in truth_store.videos] or \
                mp4_store.frames.shape != truth_store.frames.shape:
            raise SystemExit("the prepared mp4s do not line up frame by frame with the generated videos")
        truth = np.asarray(truth_store.ground_truth["camera_motion"], dtype=np.float64)
        print(f"{args.videos} videos x {args.frames} frames, {options}; phase correlation vs recorded camera_motion")
        print(f"{'frames':<28} {'R²':>7} {'MAE px':>7}")
        scene = np.asarray(truth_store.ground_truth["scene"])
        for name, store in (("generated (lossless)", truth_store), ("mp4 -> data_prep videos", mp4_store)):
            estimate = successive_motion(store)
            r2, mae = score(estimate, truth)
            per_scene = {SCENES[s]: round(score(estimate[scene == s], truth[scene == s])[1], 2) for s in np.unique(scene).astype(int)}
            print(f"{name:<28} {r2:7.4f} {mae:7.3f}   MAE per scene: {per_scene}")
        if args.run:  # evaluated in a copy: evaluate_run writes eval.json and plots into the run folder
            run = shutil.copytree(args.run, Path(tmp) / "run", ignore=shutil.ignore_patterns("checkpoints", "tb"))
            on_mp4 = evaluate_run(run, prepared, reference_motion="phase")
            on_truth = evaluate_run(run, pan, reference_motion="phase")
            print(f"run {args.run}: r2_r_to_reference_motion (mp4s) {on_mp4['r2_r_to_reference_motion']:.4f}   "
                  f"r2_r_to_true_motion (generated) {on_truth['r2_r_to_true_motion']:.4f}   "
                  f"r2_action_from_r (generated) {on_truth.get('r2_action_from_r', float('nan')):.4f}")


if __name__ == "__main__":
    main()

"""What the synthetic video generators share: bouncing motion, their common command-line
options, and writing generated videos with ground truth as a frame store (plus optional mp4s)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from data_prep.render import write_mp4
from worldmodel.cli import at_least
from worldmodel.data.store import FRAMES_KIND, save_array, write_frames, write_manifest, write_meta


def reflect(position: np.ndarray, velocity: np.ndarray, upper: np.ndarray) -> None:
    """Bounce off the walls 0 and ``upper`` in place: positions past a wall are mirrored back
    and that velocity component changes sign. position, velocity, upper: (..., 2)."""
    low, high = position < 0, position > upper
    position[low] = -position[low]
    position[high] = 2 * upper[high] - position[high]
    velocity[low | high] *= -1


def add_generator_parser(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str,
    generate: Callable[..., Path], extra: Sequence[str], videos: int, frames: int,
) -> argparse.ArgumentParser:
    """Register a generator's subcommand with the options every generator has (--videos
    --frames --size --fps --seed --mp4); ``extra`` names the generator's own keyword arguments,
    which the caller adds to the returned parser as options of the same names."""
    parser = subparsers.add_parser(name, help=summary, description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="dataset folder to write (created if missing)")
    parser.add_argument("--videos", type=at_least(1), default=videos, help=f"number of videos (default {videos})")
    parser.add_argument("--frames", type=at_least(2), default=frames, help=f"frames per video (default {frames})")
    parser.add_argument("--size", type=at_least(1), default=64, help="frames are size x size pixels (default 64)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate recorded in the manifest and mp4s (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; video v uses the stream (seed, v)")
    parser.add_argument("--mp4", action="store_true", help="also write each video as an H.264 file under OUT/mp4/")

    def run(args: argparse.Namespace) -> None:
        common = {k: getattr(args, k) for k in ("videos", "frames", "size", "fps", "seed", "mp4")}
        generate(args.out, **common, **{k: getattr(args, k) for k in extra})
        print(f"wrote {args.videos} videos x {args.frames} frames to {args.out}")

    parser.set_defaults(func=run)
    return parser


def write_generated(
    out: str | Path,
    simulate: Callable[[np.random.Generator], tuple[np.ndarray, dict[str, np.ndarray]]],
    descriptions: Mapping[str, str],
    action: Mapping[str, str],
    writer: str,
    options: Mapping[str, Any],
) -> Path:
    """Simulate ``options["videos"]`` videos and write them as a frame store (plus mp4s if asked).

    simulate(rng) → (clip (T, H, W, C) uint8, {name: (T, ...)} ground truth), called with the
    random stream (seed, v) for video v; descriptions: {ground-truth name: meaning and units};
    action: how a transition's action is derived (``{"sum_of": name, "description": ...}``);
    options: the generator's options, recorded in ``meta.json`` (``videos``, ``seed``, ``fps``,
    ``mp4`` are used here).
    """
    for name, low in (("videos", 1), ("frames", 2), ("size", 1)):  # checked before the folder is made
        if not (isinstance(options[name], int) and options[name] >= low):
            raise ValueError(f"{writer}: {name} is {options[name]!r}; expected a whole number ≥ {low}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # unfinished until meta.json is written last
    clips, truths, rows = [], [], []
    for v in tqdm(range(options["videos"]), desc=writer, unit="video"):
        clip, gt = simulate(np.random.default_rng([options["seed"], v]))
        path = f"mp4/{v:05d}.mp4" if options["mp4"] else "generated"
        if options["mp4"]:
            (out / "mp4").mkdir(exist_ok=True)
            write_mp4(out / path, clip, options["fps"])
        clips.append(clip)
        truths.append(gt)
        rows.append({"id": f"{v:05d}", "path": path, "frames": len(clip), "fps": options["fps"],
                     "height": clip.shape[1], "width": clip.shape[2], "status": "ok"})
    write_frames(out, clips, [len(c) for c in clips], clips[0].shape[1:])
    for name in descriptions:
        save_array(out, f"gt_{name}", np.concatenate([gt[name] for gt in truths]).astype(np.float32))
    write_manifest(out, rows)
    write_meta(out, FRAMES_KIND, writer, options, ground_truth=dict(descriptions), action=dict(action))
    return out

"""``python -m data_prep camera-events OUT``: camera moves whose factors switch on and off, as image pairs.

A variant of ``camera-pan`` for sparse latents (AdaSSL-S): each pair is two views of one of
scikit-image's bundled photographs (``scenes``, by default all of ``camera_pan.SCENES``; short side
``scene_scale`` × ``size``),
and between them each of three factors is independently **on** with probability ``on_prob``:

- ``pan_x``: the view moves right or left by a uniform [``shift_min``, ``shift_max``] pixels;
- ``pan_y``: the same, down or up;
- ``zoom``: the view's side is divided by e^z, z uniform in ±[``zoom_min``, ``zoom_max``]
  (z > 0 zooms in), about the view's centre;

with ``scale_jitter`` j > 0 the context view's own side is size · e^b, b uniform in [−j, j] per pair
(the target's is then size · e^(b − z)), so views of one photograph differ in scale as well as in place
and an encoder has a reason to map scale (with j = 0 every context view is at one scale); b is then
written as the per-pair ground truth ``view_scale``;

a pair with every factor off (probability (1 − on_prob)³) is a **stop**: the target equals the
context. Views are resampled bilinearly (scipy ``map_coordinates``) to ``size`` × ``size``, uint8 RGB.
Every pair has two images of its own; a seeded ``test_fraction`` of the pairs is the test split.

Per-pair ground truth (``pair_gt_<name>.npy``, float32): ``shift_x``, ``shift_y`` (pixels, 0 when
off), ``zoom`` (z, 0 when off), and ``active_pan_x``, ``active_pan_y``, ``active_zoom`` (1 on, 0 off),
the factors whose on/off an AdaSSL-S mask should match (``eval.py``: ``mask_precision_<factor>``,
``mask_recall_<factor>``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.ndimage import map_coordinates

from data_prep.camera_pan import SCENES, load_scenes
from data_prep.image_pairs import SPLITS, pair_generator_parser, write_image_pairs
from worldmodel.cli import at_least

FACTORS = ("pan_x", "pan_y", "zoom")


def view(scene: np.ndarray, centre: np.ndarray, side: float, size: int) -> np.ndarray:
    """The square of side ``side`` scene pixels centred at ``centre`` (y, x), resampled to (size, size, 3) uint8."""
    offsets = (np.arange(size) + 0.5) / size * side - side / 2
    ys, xs = np.meshgrid(centre[0] + offsets, centre[1] + offsets, indexing="ij")
    window = np.stack([map_coordinates(scene[..., c], [ys, xs], order=1, mode="nearest") for c in range(3)], -1)
    return np.round(np.clip(window, 0, 255)).astype(np.uint8)


def draw_moves(rng: np.random.Generator, pairs: int, on_prob: float, shift: tuple[float, float],
               zoom: tuple[float, float]) -> dict[str, np.ndarray]:
    """Per pair: which factors are on and by how much ({name: (P,)}, the ground truth of the docstring)."""
    active = rng.random((pairs, len(FACTORS))) < on_prob
    sign = rng.choice([-1.0, 1.0], (pairs, len(FACTORS)))
    amount = sign * np.stack([rng.uniform(*shift, pairs), rng.uniform(*shift, pairs), rng.uniform(*zoom, pairs)], 1)
    amount *= active
    return {"shift_x": amount[:, 0], "shift_y": amount[:, 1], "zoom": amount[:, 2],
            **{f"active_{name}": active[:, i].astype(np.float32) for i, name in enumerate(FACTORS)}}


def generate_camera_events(out: str | Path, pairs: int = 12000, size: int = 32, scene_scale: float = 4.0,
                           on_prob: float = 0.5, shift_min: float = 2.0, shift_max: float = 5.0,
                           zoom_min: float = 0.1, zoom_max: float = 0.25, test_fraction: float = 0.2,
                           seed: int = 0, scenes: Sequence[str] = SCENES, scale_jitter: float = 0.0) -> Path:
    """Write the camera-event pair folder ``out`` (see the module docstring); returns ``out``."""
    if not (0 < on_prob <= 1 and 0 <= shift_min <= shift_max and 0 <= zoom_min <= zoom_max and 0 < test_fraction < 1
            and scale_jitter >= 0):
        raise ValueError(f"0 < on_prob ≤ 1, 0 ≤ shift_min ≤ shift_max, 0 ≤ zoom_min ≤ zoom_max, 0 < test_fraction < 1 and "
                         f"scale_jitter ≥ 0 expected, got {on_prob}, {shift_min}, {shift_max}, {zoom_min}, {zoom_max}, "
                         f"{test_fraction}, {scale_jitter}")
    scenes = list(scenes)
    options = {k: v for k, v in locals().items() if k != "out"}
    names, scenes = scenes, load_scenes(round(scene_scale * size), scenes)
    margin = size * np.exp(zoom_max + scale_jitter) / 2 + shift_max + 1  # both views stay inside the scene
    if 2 * margin >= min(scenes[0].shape[:2]):
        raise ValueError(f"scene_scale {scene_scale} leaves no room for a {size} px view zoomed out by "
                         f"e^{zoom_max + scale_jitter:g} and moved by {shift_max} px; expected > {2 * margin / size:.2f}")
    rng = np.random.default_rng(seed)
    moves = draw_moves(rng, pairs, on_prob, (shift_min, shift_max), (zoom_min, zoom_max))
    if scale_jitter > 0:  # ground truth of each context view's scale, log(side / size)
        moves["view_scale"] = rng.uniform(-scale_jitter, scale_jitter, pairs)
    sides = size * np.exp(moves.get("view_scale", np.zeros(pairs)))
    images = np.zeros((2 * pairs, size, size, 3), np.uint8)
    scene_of = rng.integers(len(scenes), size=pairs)
    for p in range(pairs):
        scene = scenes[scene_of[p]]
        centre = rng.uniform(margin, np.array(scene.shape[:2]) - margin)
        moved = centre + [moves["shift_y"][p], moves["shift_x"][p]]
        images[2 * p] = view(scene, centre, sides[p], size)
        images[2 * p + 1] = view(scene, moved, sides[p] * np.exp(-moves["zoom"][p]), size)
    split = np.where(rng.random(pairs) < test_fraction, SPLITS["test"], SPLITS["train"])
    manifest = [{"id": f"pair{i // 2:05d}_{'ab'[i % 2]}", "path": f"skimage.data.{names[scene_of[i // 2]]}", "frames": 1,
                 "fps": 0, "height": size, "width": size, "status": "ok"} for i in range(2 * pairs)]
    return write_image_pairs(out, images, manifest, np.arange(0, 2 * pairs, 2), np.arange(1, 2 * pairs, 2), split,
                             "data_prep.camera_events", options, pair_gt=moves)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = pair_generator_parser(subparsers, "camera-events", "camera moves (pan x, pan y, zoom) that switch on and off, as image pairs", __doc__)
    p.add_argument("--pairs", type=at_least(1), default=12000, help="number of pairs (default 12000)")
    p.add_argument("--size", type=at_least(8), default=32, help="views are size x size pixels (default 32)")
    p.add_argument("--on-prob", type=float, default=0.5, help="probability that each factor is on in a pair (default 0.5)")
    p.add_argument("--scene-scale", type=float, default=4.0, help="scene short side in units of --size (default 4)")
    p.add_argument("--scenes", nargs="+", choices=SCENES, default=list(SCENES), help="photographs to take views of (default all)")
    p.add_argument("--shift", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX"),
                   help="a pan moves the view by a uniform [MIN, MAX] pixels (default 2 5)")
    p.add_argument("--zoom", type=float, nargs=2, default=(0.1, 0.25), metavar=("MIN", "MAX"),
                   help="a zoom scales the view's side by e^-z, |z| uniform in [MIN, MAX] (default 0.1 0.25)")
    p.add_argument("--scale-jitter", type=float, default=0.0,
                   help="context views' side is size * e^b, b uniform in [-j, j] (default 0: one scale)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes, views, moves and split")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    out = generate_camera_events(args.out, args.pairs, args.size, args.scene_scale, args.on_prob, *args.shift, *args.zoom,
                                 seed=args.seed, scenes=args.scenes, scale_jitter=args.scale_jitter)
    print(f"wrote {args.pairs} camera-event pairs to {out}")

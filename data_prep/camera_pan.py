"""``python -m data_prep camera-pan OUT``: a virtual camera panning over natural images.

Generating process for each video v (random stream ``(seed, v)``):

- the scene is one of scikit-image's bundled colour photographs (``SCENES``, or the subset named
  by ``scenes``), resized so that its short side is ``scene_scale`` × ``size`` pixels;
- the camera sees a ``size`` × ``size`` window whose top-left corner c starts uniformly inside
  the scene, with a velocity u of uniform direction and speed in [speed_min, speed_max]
  (pixels per frame);
- at every frame t ≥ 1, with probability ``change_prob`` the camera changes what it does,
  each with probability 1/3: **pan** (new uniform direction and speed), **stop** (u = 0) or
  **reverse** (u ← −u); then c ← c + u, bouncing off the scene borders;
- frames are the window bilinearly interpolated at the fractional corner, uint8 RGB.

Per-frame ground truth (``gt_<name>.npy``, float32): ``camera_position`` (N, 2) (x, y) of the
window's top-left corner in scene pixels; ``camera_motion`` (N, 2) (dx, dy) = c_t − c_{t−1}
(0 at t = 0; the image content moves by −(dx, dy)); ``camera_event`` (N,) 0 none, 1 pan,
2 stop, 3 reverse; ``scene`` (N,) index into ``SCENES``. The action of a transition from frame
c to c + d is the camera displacement Σ camera_motion over frames c+1 … c+d.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import skimage.data
from skimage.transform import resize

from data_prep.render import bilinear_crop
from data_prep.synthetic import add_generator_parser, reflect, write_generated

SCENES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
EVENTS = {"none": 0, "pan": 1, "stop": 2, "reverse": 3}
GROUND_TRUTH = {
    "camera_position": "(x, y) of the view's top-left corner in scene pixels",
    "camera_motion": "(dx, dy) camera displacement since the previous frame, pixels",
    "camera_event": "0 none, 1 pan, 2 stop, 3 reverse",
    "scene": f"index into {list(SCENES)}",
}


def load_scenes(short_side: int, names: Sequence[str] = SCENES) -> list[np.ndarray]:
    """The bundled photographs ``names`` as float32 RGB in [0, 255], short side ``short_side`` pixels."""
    unknown = sorted(set(names) - set(SCENES))
    if unknown or not names:
        raise ValueError(f"scenes {list(names)}: expected a non-empty subset of {list(SCENES)}")
    scenes = []
    for name in names:
        image = getattr(skimage.data, name)()[..., :3]
        scale = short_side / min(image.shape[:2])
        shape = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        scenes.append(resize(image, shape, anti_aliasing=True, preserve_range=True).astype(np.float32))
    return scenes


def _random_velocity(rng: np.random.Generator, speed_min: float, speed_max: float) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    return rng.uniform(speed_min, speed_max) * np.array([np.cos(angle), np.sin(angle)])


def simulate_video(rng, scene, scene_index, frames, size, change_prob, speed_min, speed_max):
    """One video: (frames (T, size, size, 3) uint8, ground truth {name: (T, ...)})."""
    upper = np.array([scene.shape[1], scene.shape[0]], float) - size - 1  # (x, y)
    corner = rng.uniform(0, upper)
    velocity = _random_velocity(rng, speed_min, speed_max)
    clip = np.zeros((frames, size, size, 3), np.uint8)
    gt = {"camera_position": np.zeros((frames, 2)), "camera_motion": np.zeros((frames, 2)),
          "camera_event": np.zeros(frames), "scene": np.full(frames, scene_index, float)}
    for t in range(frames):
        if t > 0:
            previous = corner.copy()
            if rng.random() < change_prob:
                event = rng.choice(["pan", "stop", "reverse"])
                velocity = {"pan": _random_velocity(rng, speed_min, speed_max), "stop": 0 * velocity,
                            "reverse": -velocity}[event]
                gt["camera_event"][t] = EVENTS[event]
            corner += velocity
            reflect(corner, velocity, upper)
            gt["camera_motion"][t] = corner - previous
        gt["camera_position"][t] = corner
        window = bilinear_crop(scene, corner[1], corner[0], size, size)
        clip[t] = np.round(np.clip(window, 0, 255)).astype(np.uint8)
    return clip, gt


def generate_camera_pan(
    out: str | Path,
    videos: int = 200,
    frames: int = 32,
    size: int = 64,
    scene_scale: float = 4.0,
    speed_min: float = 1.0,
    speed_max: float = 4.0,
    change_prob: float = 0.1,
    fps: float = 10.0,
    seed: int = 0,
    mp4: bool = False,
    scenes: Sequence[str] = SCENES,
) -> Path:
    """Write a camera-pan frame store to ``out`` (see the module docstring); returns ``out``."""
    if scene_scale <= 1 + 2 * speed_max / size:
        raise ValueError(f"scene_scale must leave room to pan (> {1 + 2 * speed_max / size:.2f}), got {scene_scale}")
    scenes = list(scenes)
    options = {k: v for k, v in locals().items() if k != "out"}
    images = load_scenes(round(scene_scale * size), scenes)

    def simulate(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        s = int(rng.integers(len(images)))
        return simulate_video(rng, images[s], SCENES.index(scenes[s]), frames, size, change_prob, speed_min, speed_max)

    action = {"sum_of": "camera_motion", "description": "camera displacement (dx, dy) between context and target"}
    return write_generated(out, simulate, GROUND_TRUTH, action, "data_prep.camera_pan", options)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_generator_parser(subparsers, "camera-pan", "a virtual camera panning over natural images", __doc__,
                             generate_camera_pan, ("scene_scale", "speed_min", "speed_max", "change_prob", "scenes"),
                             videos=200, frames=32)
    p.add_argument("--scene-scale", type=float, default=4.0, help="scene short side in units of --size (default 4)")
    p.add_argument("--speed-min", type=float, default=1.0, help="slowest pan, pixels per frame (default 1)")
    p.add_argument("--speed-max", type=float, default=4.0, help="fastest pan, pixels per frame (default 4)")
    p.add_argument("--change-prob", type=float, default=0.1, help="per-frame probability of a pan/stop/reverse event")
    p.add_argument("--scenes", nargs="+", choices=SCENES, default=list(SCENES), help="photographs to pan over (default all)")


"""``python -m data_prep mmnist OUT``: moving digits with stochastic, digit-dependent acceleration.

Generating process for each video v (random stream ``(seed, v)``), K = ``digits`` digits:

- each digit is a random 8×8 image from scikit-learn's bundled digits, upscaled to
  ``digit_size`` pixels (bilinear, intensities in [0, 1]) with label l ∈ {0…9};
- its top-left corner p starts uniformly in [0, size − digit_size − 1]² and its velocity v
  has a uniform direction and a speed uniform in [speed_min, speed_max] (pixels per frame);
- at every frame t ≥ 1, independently per digit, an **acceleration event** happens with
  probability ``accel_prob``. The axis is x with probability π(l) = 0.1 + 0.8·l/9, else y
  (the choice is multimodal and depends on the digit: 0s mostly change vertically, 9s
  horizontally); the change is a = ±``accel_scale``·|v|·u, u ~ U(0.5, 1.5), random sign
  (heteroscedastic: its size scales with the current speed |v|). If the new speed would
  leave [speed_min, speed_max] the sign of a is flipped, so speeds stay near that band
  instead of drifting up (which would make wall bounces ever more frequent); the new
  component is clipped to ±``max_speed``. The recorded acceleration is the velocity change
  actually applied;
- then p ← p + v, and the digit bounces off the walls (position mirrored, component negated);
  with ``wrap`` there are no walls: the frame is a torus, a digit leaving one side enters on the
  opposite one (drawn in both places while it crosses), and p is taken modulo the frame size, so
  velocity changes only by acceleration events;
- frames are the pixel-wise maximum of the digits, rendered at sub-pixel positions by
  bilinear shifting, stored as uint8 with one channel.

Per-frame ground truth (``gt_<name>.npy``, float32, digits in order, pixel coordinates with
pixel (row i, column j) centred at (x=j, y=i)):
``position`` (N, 2K) (x, y) of each digit's intensity centre of mass; ``velocity`` (N, 2K)
(vx, vy) after frame t's update; ``acceleration`` (N, 2K) the stochastic change at frame t;
``label`` (N, K); ``accel_event`` (N, K) 1 where an event happened at frame t. The action of a
transition from frame c to c + d is Σ acceleration over frames c+1 … c+d (``meta.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage.transform import resize
from sklearn.datasets import load_digits

from data_prep.render import shifted_sprite
from data_prep.synthetic import add_generator_parser, reflect, write_generated
from worldmodel.cli import at_least

GROUND_TRUTH = {
    "position": "(x, y) of each digit's centre of mass, pixels",
    "velocity": "(vx, vy) of each digit after this frame's update, pixels/frame",
    "acceleration": "(ax, ay) stochastic velocity change applied at this frame, pixels/frame",
    "label": "digit class of each digit",
    "accel_event": "1 where an acceleration event happened at this frame",
}


def axis_x_probability(labels: np.ndarray) -> np.ndarray:
    """π(l) = 0.1 + 0.8·l/9: probability that an acceleration of digit l is along x."""
    return 0.1 + 0.8 * labels / 9


def _accelerate(rng, velocity, labels, accel_prob, accel_scale, speed_min, speed_max, max_speed):
    """Draw this frame's events; update ``velocity`` (K, 2) in place; return (a (K, 2), events (K,))."""
    k = len(labels)
    events = rng.random(k) < accel_prob
    axes = np.where(rng.random(k) < axis_x_probability(labels), 0, 1)
    change = rng.choice([-1.0, 1.0], k) * accel_scale * np.linalg.norm(velocity, axis=1) * rng.uniform(0.5, 1.5, k)
    accel = np.zeros((k, 2))
    for j in np.flatnonzero(events):
        new = velocity[j].copy()
        new[axes[j]] = np.clip(new[axes[j]] + change[j], -max_speed, max_speed)
        if not speed_min <= np.linalg.norm(new) <= speed_max:
            new[axes[j]] = np.clip(velocity[j, axes[j]] - change[j], -max_speed, max_speed)
        accel[j] = new - velocity[j]
        velocity[j] = new
    return accel, events


def simulate_video(rng, sprites, labels, frames, size, accel_prob, accel_scale, speed_min, speed_max, max_speed,
                   wrap=False):
    """One video: (frames (T, size, size, 1) uint8, ground truth {name: (T, ...)})."""
    k, digit_size = len(sprites), sprites[0].shape[0]
    upper = np.full((k, 2), float(size) if wrap else size - digit_size - 1.0)
    top_left = rng.uniform(0, upper)  # (K, 2) as (x, y)
    angle = rng.uniform(0, 2 * np.pi, k)
    velocity = rng.uniform(speed_min, speed_max, k)[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    centres = np.array([_centre_of_mass(s) for s in sprites])  # (K, 2) as (x, y)
    clip = np.zeros((frames, size, size, 1), np.uint8)
    gt = {name: np.zeros((frames, k if name in ("label", "accel_event") else 2 * k)) for name in GROUND_TRUTH}
    for t in range(frames):
        if t > 0:
            accel, events = _accelerate(rng, velocity, labels, accel_prob, accel_scale, speed_min, speed_max, max_speed)
            top_left += velocity
            if wrap:
                top_left %= size
            else:
                reflect(top_left, velocity, upper)
            gt["acceleration"][t], gt["accel_event"][t] = accel.ravel(), events
        clip[t, :, :, 0] = _render(sprites, top_left, size, wrap)
        gt["position"][t] = ((top_left + centres) % size if wrap else top_left + centres).ravel()
        gt["velocity"][t] = velocity.ravel()
        gt["label"][t] = labels
    return clip, gt


def _centre_of_mass(sprite: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(sprite.shape)
    return np.array([(xs * sprite).sum(), (ys * sprite).sum()]) / sprite.sum()


def _render(sprites: list[np.ndarray], top_left: np.ndarray, size: int, wrap: bool = False) -> np.ndarray:
    """(size, size) uint8: the maximum of the sprites placed at fractional (x, y) corners; with ``wrap``
    the corners lie in [0, size) and what passes the right or bottom edge is folded back to the left or top."""
    pad = max(s.shape[0] for s in sprites) + 1 if wrap else 0
    canvas = np.zeros((size + pad, size + pad), np.float32)
    for sprite, (x, y) in zip(sprites, top_left):
        x0, y0 = int(x), int(y)
        shifted = shifted_sprite(sprite, y - y0, x - x0)
        h, w = shifted.shape
        np.maximum(canvas[y0 : y0 + h, x0 : x0 + w], shifted, out=canvas[y0 : y0 + h, x0 : x0 + w])
    if wrap:  # rows, then columns (the corner goes through both)
        np.maximum(canvas[:pad], canvas[size:], out=canvas[:pad])
        np.maximum(canvas[:, :pad], canvas[:, size:], out=canvas[:, :pad])
    return np.round(np.clip(canvas[:size, :size], 0, 1) * 255).astype(np.uint8)


def generate_mmnist(
    out: str | Path,
    videos: int = 300,
    frames: int = 32,
    size: int = 64,
    digits: int = 1,
    digit_size: int = 20,
    speed_min: float = 1.0,
    speed_max: float = 3.0,
    max_speed: float = 5.0,
    accel_prob: float = 0.5,
    accel_scale: float = 0.75,
    fps: float = 10.0,
    seed: int = 0,
    mp4: bool = False,
    wrap: bool = False,
) -> Path:
    """Write a moving-digits frame store to ``out`` (see the module docstring); returns ``out``."""
    if not 0 < digit_size <= size - 2:
        raise ValueError(f"digit_size must be in 1 … size − 2 = {size - 2}, got {digit_size}")
    if not 0 < speed_min <= speed_max <= max_speed:
        raise ValueError(f"need 0 < speed_min ≤ speed_max ≤ max_speed, got {speed_min}, {speed_max}, {max_speed}")
    options = {k: v for k, v in locals().items() if k != "out"}
    bank = load_digits()

    def simulate(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        chosen = rng.integers(0, len(bank.images), digits)
        sprites = [resize(bank.images[i] / 16.0, (digit_size, digit_size), order=1) for i in chosen]
        return simulate_video(rng, sprites, bank.target[chosen].astype(float), frames, size,
                              accel_prob, accel_scale, speed_min, speed_max, max_speed, wrap)

    action = {"sum_of": "acceleration", "description": "velocity change (stochastic acceleration) between context and target"}
    return write_generated(out, simulate, GROUND_TRUTH, action, "data_prep.mmnist", options)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_generator_parser(subparsers, "mmnist", "moving digits with stochastic acceleration", __doc__,
                             generate_mmnist, ("digits", "digit_size", "accel_prob", "accel_scale", "wrap"), videos=300, frames=32)
    p.add_argument("--digits", type=at_least(1), default=1, help="digits per video (default 1; with more, the ground truth lists them in a random order)")
    p.add_argument("--digit-size", type=at_least(1), default=20, help="digit side in pixels (default 20)")
    p.add_argument("--accel-prob", type=float, default=0.5, help="per-frame probability of an acceleration event (default 0.5)")
    p.add_argument("--accel-scale", type=float, default=0.75, help="size of a change relative to the current speed (default 0.75)")
    p.add_argument("--wrap", action="store_true", help="no walls: digits leave one side and enter on the opposite one")


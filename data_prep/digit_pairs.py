"""``python -m data_prep digit-pairs OUT``: natural image pairs from scikit-learn's handwritten digits.

The images are :func:`sklearn.datasets.load_digits` (1797 grey 8 × 8 scans of the digits 0–9
written by 43 people; bundled with scikit-learn, nothing is downloaded), scaled to [0, 1] and
resized bilinearly to ``size`` × ``size``, stored as uint8 one-channel images.

- split: a seeded ``test_fraction`` of the images is held out; pairs never cross splits, so the
  test pairs show only images that no train pair shows;
- pairs: every image is the context of ``pairs_per_image`` pairs whose target is another image
  of the same digit in the same split, drawn uniformly (seed ``seed``): two handwritten
  images of one class, which differ in how they were written;
- per-image ground truth ``gt_<name>.npy`` (N,) float32: ``label`` (the digit, categorical) and
  the attributes ``thickness``, ``slant`` and ``size`` measured on the stored pixels
  (:mod:`data_prep.stroke_attributes` gives the formulas).

The folder is an image-pair folder (:mod:`data_prep.image_pairs`), read by ``data.kind: image_pairs``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from skimage.transform import resize

from data_prep.image_pairs import SPLITS, pair_generator_parser, write_image_pairs
from data_prep.stroke_attributes import ATTRIBUTES, measure
from worldmodel.cli import at_least

DESCRIPTIONS = {"label": "the digit 0-9", **ATTRIBUTES}


def digit_images(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, size, size, 1) uint8, labels (N,) int64) of scikit-learn's digits."""
    digits = load_digits()
    scaled = resize(digits.images / 16.0, (len(digits.images), size, size), order=1, anti_aliasing=False)
    return np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)[..., None], digits.target.astype(np.int64)


def draw_pairs(labels: np.ndarray, is_test: np.ndarray, pairs_per_image: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(context (P,), target (P,)): each image with ``pairs_per_image`` other images of its label
    and split, uniformly; labels, is_test (N,)."""
    context, target = [], []
    for i, (label, test) in enumerate(zip(labels, is_test)):
        others = np.flatnonzero((labels == label) & (is_test == test) & (np.arange(len(labels)) != i))
        if not len(others):
            raise ValueError(f"digit {label}: image {i} has no other image of its class in its split")
        context.append(np.full(pairs_per_image, i))
        target.append(rng.choice(others, pairs_per_image))
    return np.concatenate(context), np.concatenate(target)


def generate_digit_pairs(out: str | Path, size: int = 32, pairs_per_image: int = 4, test_fraction: float = 0.2,
                         seed: int = 0) -> Path:
    """Write the digit-pair folder ``out`` (see the module docstring); returns ``out``."""
    if size < 8 or pairs_per_image < 1 or not 0 < test_fraction < 1:
        raise ValueError(f"size ≥ 8, pairs_per_image ≥ 1 and 0 < test_fraction < 1 expected, "
                         f"got {size}, {pairs_per_image}, {test_fraction}")
    options = {k: v for k, v in locals().items() if k != "out"}
    images, labels = digit_images(size)
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(images)) < test_fraction
    context, target = draw_pairs(labels, is_test, pairs_per_image, rng)
    split = np.where(is_test[context], SPLITS["test"], SPLITS["train"])
    attributes = measure(images[..., 0] / 255.0)
    manifest = [{"id": f"digit{i:04d}", "path": "sklearn.datasets.load_digits", "frames": 1, "fps": 0,
                 "height": size, "width": size, "status": "ok"} for i in range(len(images))]
    return write_image_pairs(out, images, manifest, context, target, split, "data_prep.digit_pairs", options,
                             categories={"label": [str(d) for d in range(10)]},
                             image_gt={"label": labels, **attributes}, image_gt_descriptions=DESCRIPTIONS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = pair_generator_parser(subparsers, "digit-pairs", "image pairs of one digit from scikit-learn's handwritten digits", __doc__)
    p.add_argument("--size", type=at_least(1), default=32, help="images are size x size pixels (default 32)")
    p.add_argument("--pairs-per-image", type=at_least(1), default=4, help="pairs with each image as context (default 4)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of the images held out for test (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the pairing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    out = generate_digit_pairs(args.out, args.size, args.pairs_per_image, args.test_fraction, args.seed)
    print(f"wrote digit pairs to {out}")

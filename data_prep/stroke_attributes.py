"""Fine-grained attributes of a handwritten image, measured from its pixels.

For a grey image I (H, W) in [0, 1] with bright ink on a dark background (x the column, y the
row, pointing down), the ink is the set of pixels with I > 0.5, and μ_pq = Σ I·(x − x̄)^p·(y − ȳ)^q
are the intensity-weighted central moments (:func:`skimage.measure.moments_central`):

- ``thickness`` = ink area / skeleton length, in pixels: the mean stroke width (the skeleton is
  :func:`skimage.morphology.skeletonize` of the ink, its length the number of its pixels);
- ``slant`` = −μ11 / μ02: horizontal shift of the ink per row downwards, negated, i.e. the shear
  of the strokes; positive when the top of the character leans to the right;
- ``size`` = √((μ20 + μ02) / μ00), in pixels: the radius of gyration of the intensity.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import moments_central
from skimage.morphology import skeletonize

ATTRIBUTES = {
    "thickness": "mean stroke width, pixels: ink area (I > 0.5) / skeleton length",
    "slant": "shear -mu11/mu02 of the intensity; > 0 when the top leans right",
    "size": "radius of gyration sqrt((mu20 + mu02) / mu00) of the intensity, pixels",
}


def stroke_attributes(image: np.ndarray) -> dict[str, float]:
    """{thickness, slant, size} of one (H, W) grey image in [0, 1] (see the module docstring)."""
    if image.ndim != 2:
        raise ValueError(f"image: expected one (H, W) grey image, got shape {image.shape}")
    ink = image > 0.5
    length = skeletonize(ink).sum()
    if length == 0:
        raise ValueError("image: no ink (no pixel above 0.5) to measure")
    mu = moments_central(image.astype(np.float64), order=2)  # mu[i, j] = Σ I (y − ȳ)^i (x − x̄)^j
    return {"thickness": float(ink.sum() / length),
            "slant": float(-mu[1, 1] / mu[2, 0]),
            "size": float(np.sqrt((mu[0, 2] + mu[2, 0]) / mu[0, 0]))}


def measure(images: np.ndarray) -> dict[str, np.ndarray]:
    """(N, H, W) grey images in [0, 1] → {attribute: (N,) float32}."""
    rows = [stroke_attributes(image) for image in images]
    return {name: np.array([row[name] for row in rows], dtype=np.float32) for name in ATTRIBUTES}

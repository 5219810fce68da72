"""Stroke attributes measured from pixels, and the digit-pair generator built on them."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from data_prep.digit_pairs import generate_digit_pairs
from data_prep.stroke_attributes import measure, stroke_attributes
from worldmodel.data.images import ImagePairs
from worldmodel.data.store import FrameStore, read_meta


def slanted_bar(width: int, shear: float, size: int = 48, length: int = 30) -> np.ndarray:
    """A bar ``width`` px wide and ``length`` rows tall whose column moves by −shear per row
    downwards (its top leans right for shear > 0): (size, size) float in {0, 1}."""
    image = np.zeros((size, size))
    top = (size - length) // 2
    for row in range(top, top + length):
        centre = size / 2 + shear * (size / 2 - row)
        left = int(round(centre - width / 2))
        image[row, left : left + width] = 1
    return image


def test_thickness_is_the_stroke_width():
    """The skeleton of a bar w wide and L long stops short of its ends by up to w, so area /
    length lies between w and w·L / (L − w); it grows with w, upright or slanted."""
    length = 30
    for shear in (0.0, 0.4):
        thickness = [stroke_attributes(slanted_bar(width, shear, length=length))["thickness"] for width in (1, 3, 5, 7)]
        for width, value in zip((1, 3, 5, 7), thickness):
            assert width - 0.1 <= value <= width * length / (length - width)
        assert np.all(np.diff(thickness) > 1.5)


def test_slant_is_the_shear_with_the_sign_of_the_lean():
    upright, right, left = (stroke_attributes(slanted_bar(4, shear))["slant"] for shear in (0.0, 0.4, -0.4))
    assert upright == pytest.approx(0, abs=0.01)
    assert right == pytest.approx(0.4, abs=0.03) and left == pytest.approx(-0.4, abs=0.03)


def test_size_is_the_radius_of_gyration():
    """A uniform disk of radius R has radius of gyration R / √2."""
    for radius in (10, 16):
        image = np.zeros((40, 40))
        image[disk((20, 20), radius)] = 1  # pixels strictly inside: a slightly smaller disk
        assert stroke_attributes(image)["size"] == pytest.approx(radius / np.sqrt(2), rel=0.05)


def test_blank_and_badly_shaped_images_are_refused():
    with pytest.raises(ValueError, match="no ink"):
        stroke_attributes(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"expected one \(H, W\) grey image"):
        stroke_attributes(np.zeros((2, 8, 8)))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return generate_digit_pairs(tmp_path_factory.mktemp("digits") / "pairs", size=16, pairs_per_image=2, seed=3)


def test_pairs_join_two_different_images_of_one_digit_within_a_split(digits):
    store = FrameStore(digits, kind="image_pairs")
    labels = store.ground_truth["label"]
    assert len(store.frames) == 1797 and store.frames.shape[1:] == (16, 16, 1)
    held_out = set()
    for split in ("train", "test"):
        pairs = ImagePairs(digits, split)
        context, target = (pairs.images[end][pairs.pairs] for end in ("context", "target"))
        assert np.all(labels[context] == labels[target]) and np.all(context != target)
        images = set(context) | set(target)
        assert not images & held_out
        held_out |= images
    assert len(ImagePairs(digits, "test")) == pytest.approx(0.2 * 2 * 1797, rel=0.15)


def test_stored_attributes_are_measured_on_the_stored_pixels(digits):
    store = FrameStore(digits, kind="image_pairs")
    measured = measure(store.frames[:50, :, :, 0] / 255.0)
    for name, values in measured.items():
        np.testing.assert_allclose(store.ground_truth[name][:50], values, rtol=1e-6)
    assert read_meta(digits)["categories"] == {"label": [str(d) for d in range(10)]}
    batch = ImagePairs(digits, "train").__getitems__([0, 1, 2])
    assert {"gt_label", "gt_thickness", "gt_slant", "gt_size"} <= set(batch)
    # ones are thinner-looking and taller than zeros: the attributes separate classes on average
    ones, zeros = (store.ground_truth["label"][:] == d for d in (1, 0))
    assert store.ground_truth["size"][ones].mean() != pytest.approx(store.ground_truth["size"][zeros].mean(), rel=0.02)

import numpy as np
import pytest

from worldmodel.eval.mask_factors import mask_factor_scores


def active_sets(n, rng):
    return rng.random((n, 3)) < 0.5


def test_a_mask_that_follows_the_factors_scores_one_whatever_its_coordinate_order():
    rng = np.random.default_rng(0)
    train, test = active_sets(2000, rng), active_sets(1000, rng)
    # coordinates: factor 2, a dead one, factor 0, factor 1, factor 0 again
    layout = lambda a: np.stack([a[:, 2], np.zeros(len(a), bool), a[:, 0], a[:, 1], a[:, 0]], 1)  # noqa: E731
    scores = mask_factor_scores(layout(train), train, layout(test), test, ["pan_x", "pan_y", "zoom"])
    for name, coords in (("pan_x", 2), ("pan_y", 1), ("zoom", 1)):
        assert scores[f"mask_precision_{name}"] == 1.0 and scores[f"mask_recall_{name}"] == 1.0
        assert scores[f"mask_coords_{name}"] == coords


def test_flipped_bits_lower_precision_and_recall_by_their_rate():
    rng = np.random.default_rng(1)
    train, test = active_sets(4000, rng), active_sets(4000, rng)
    noisy = test ^ (rng.random(test.shape) < 0.1)
    scores = mask_factor_scores(train, train, noisy, test, ["a", "b", "c"])
    for name in "abc":
        assert scores[f"mask_precision_{name}"] == pytest.approx(0.9, abs=0.02)
        assert scores[f"mask_recall_{name}"] == pytest.approx(0.9, abs=0.02)


def test_a_mask_that_is_always_on_or_random_gets_no_factor():
    rng = np.random.default_rng(2)
    train, test = active_sets(2000, rng), active_sets(1000, rng)
    masks = np.stack([np.ones(2000, bool), rng.random(2000) < 0.5], 1)
    scores = mask_factor_scores(masks, train, masks[:1000], test, ["a", "b", "c"])
    assert all(scores[f"mask_coords_{n}"] == 0 and scores[f"mask_recall_{n}"] == 0 for n in "abc")

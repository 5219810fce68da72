import numpy as np
import pytest

from worldmodel.eval.mask_factors import mask_factor_scores, pair_factor_scores


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


def embedding_pairs(active, rng, visible):
    """3-d embeddings whose coordinate j moves by 1 when factor j is on; factor 2's move is hidden in
    ``1 - visible`` of its pairs (the embedding does not change there)."""
    start = rng.normal(size=active.shape)
    shown = active & np.array([True, True, False]) | (active & (rng.random(active.shape) < visible))
    return {"embedding": start, "embedding_next": start + shown * rng.choice([-1.0, 1.0], active.shape)}


def test_the_pair_ceiling_reads_a_visible_move_and_misses_a_hidden_one():
    rng = np.random.default_rng(3)
    train, test = active_sets(3000, rng), active_sets(2000, rng)
    scores = pair_factor_scores(embedding_pairs(train, rng, 0.6), embedding_pairs(test, rng, 0.6), train, test, ["a", "b", "c"])
    for name in "ab":
        assert scores[f"pair_precision_{name}"] > 0.99 and scores[f"pair_recall_{name}"] > 0.99
    assert scores["pair_precision_c"] > 0.9  # a move is never seen where the factor is off (the trees fit some noise)
    assert scores["pair_recall_c"] == pytest.approx(0.6, abs=0.06)  # 40 % of its moves do not show

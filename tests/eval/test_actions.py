"""Latent-action metrics: per-dimension R² of r, inverse dynamics, few labels, state columns."""

from __future__ import annotations

import numpy as np

from worldmodel.eval.actions import action_metrics


def readouts(rng: np.random.Generator, videos: int, r_noise: float) -> dict[str, np.ndarray]:
    """Pairs of a process whose embedding moves by a linear map of a 2-d action; r sees only the
    first action dimension (plus noise), the state is the embedding's first 3 coordinates."""
    n = videos * 50
    action = rng.uniform(-1, 1, (n, 2))
    embedding = rng.normal(size=(n, 6))
    mix = np.array([[1.0, 0, 0.5, 0, 0, 0], [0, 1.0, 0, 0, -0.5, 0]])
    return {"embedding": embedding, "embedding_next": embedding + action @ mix, "action": action,
            "r": np.stack([action[:, 0] + r_noise * rng.normal(size=n), rng.normal(size=n)], 1),
            "gt_state": embedding[:, :3] * [1, 2, 3], "video": np.repeat(np.arange(videos), 50)}


def test_each_action_dimension_is_scored_and_few_labels_nearly_suffice():
    rng = np.random.default_rng(0)
    train, test = readouts(rng, 40, 0.1), readouts(rng, 10, 0.1)
    columns = {"action": ["steer", "gas"], "state": ["x", "y", "z"]}
    m = action_metrics(train, test, train["video"], columns)
    assert m["r2_action_from_r_steer"] > 0.95 and abs(m["r2_action_from_r_gas"]) < 0.02
    assert m["r2_action_inverse_dynamics_steer"] > 0.99 and m["r2_action_inverse_dynamics_gas"] > 0.99
    assert m["r2_action_inverse_dynamics"] > 0.99
    assert m["few_label_ratio_10pct"] > 0.9 and m["r2_action_from_r_1pct"] < m["r2_action_from_r_10pct"] + 0.05
    assert min(m[f"r2_state_{c}"] for c in "xyz") > 0.99
    assert "r2_state_change_from_r_x" not in m  # no state at the target: no change to score


def test_r_is_scored_against_each_state_columns_change():
    """The state's x changes by the action r sees (steer), y by the one it does not (gas), z not at all."""
    rng = np.random.default_rng(2)
    train, test = readouts(rng, 40, 0.1), readouts(rng, 10, 0.1)
    for split in (train, test):
        split["gt_state_next"] = split["gt_state"] + split["action"] @ np.array([[1.0, 0, 0], [0, 1.0, 0]])
    m = action_metrics(train, test, train["video"], {"state": ["x", "y", "z"]})
    assert m["r2_state_change_from_r_x"] > 0.95
    assert abs(m["r2_state_change_from_r_y"]) < 0.02
    assert "r2_state_change_from_r_z" not in m  # z never changes: nothing to read, no R² of a constant
    for split in (train, test):
        split["gt_state_next"] = split["gt_state"]  # a state that never changes over a pair: no change scores
    assert not any(key.startswith("r2_state_change") for key in action_metrics(train, test, train["video"]))


def test_no_latent_gives_only_inverse_dynamics_and_unnamed_columns():
    rng = np.random.default_rng(1)
    train, test = readouts(rng, 20, 0.1), readouts(rng, 5, 0.1)
    for split in (train, test):
        split["r"] = split["r"][:, :0]
        del split["gt_state"]
    m = action_metrics(train, test, train["video"])
    assert set(m) == {"r2_action_inverse_dynamics", "r2_action_inverse_dynamics_dim0", "r2_action_inverse_dynamics_dim1",
                      "r2_action_inverse_dynamics_1pct", "r2_action_inverse_dynamics_10pct",
                      "few_label_ratio_inverse_dynamics_1pct", "few_label_ratio_inverse_dynamics_10pct"}


def test_the_pairs_own_few_label_ratio_falls_when_it_holds_the_action_weakly_over_many_directions():
    """The reference for r's few-label ratio: the same fit on the pair. Held plainly in 6 coordinates the
    action survives 10 % of the labels; held weakly, spread over 48 noisy coordinates, it does not."""
    rng = np.random.default_rng(3)
    plain = [readouts(rng, videos, 0.1) for videos in (40, 10)]
    m = action_metrics(plain[0], plain[1], plain[0]["video"])
    assert m["few_label_ratio_inverse_dynamics_10pct"] > 0.95
    spread = rng.normal(size=(2, 48)) * 0.15
    for split in plain:
        split["embedding_next"] = rng.normal(size=(len(split["action"]), 48)) + split["action"] @ spread
        split["embedding"] = rng.normal(size=(len(split["action"]), 48))
    m = action_metrics(plain[0], plain[1], plain[0]["video"])
    assert 0.05 < m["r2_action_inverse_dynamics"] < 0.6 and m["few_label_ratio_inverse_dynamics_10pct"] < 0.8, m


def class_readouts(rng: np.random.Generator, videos: int, r_informative: bool) -> dict[str, np.ndarray]:
    """Pairs of a process with 4 discrete actions (one-hot, uniformly drawn) whose class moves the
    embedding by its own offset; r holds the class's offset plus noise, or noise alone."""
    n = videos * 50
    label = rng.integers(4, size=n)
    action = np.eye(4)[label]
    offsets = np.random.default_rng(99).normal(size=(4, 6)) * 2  # the same in every split
    embedding = rng.normal(size=(n, 6))
    signal = offsets[label, :2] if r_informative else np.zeros((n, 2))
    return {"embedding": embedding, "embedding_next": embedding + offsets[label], "action": action,
            "r": signal + 0.3 * rng.normal(size=(n, 2)), "video": np.repeat(np.arange(videos), 50)}


def test_discrete_actions_are_scored_as_classes():
    rng = np.random.default_rng(2)
    train, test = class_readouts(rng, 30, True), class_readouts(rng, 8, True)
    m = action_metrics(train, test, train["video"], {"action": ["noop", "fire", "right", "left"]}, discrete=True)
    assert 0.2 < m["accuracy_action_majority"] < 0.32  # the share of the most common train class among the test pairs
    assert m["accuracy_action_inverse_dynamics"] > 0.97 and m["accuracy_action_from_r"] > 0.9
    assert m["accuracy_action_from_r_10pct"] > 0.85 and m["few_label_accuracy_ratio_10pct"] > 0.9
    assert m["accuracy_action_from_r_1pct"] <= m["accuracy_action_from_r"] + 0.02
    assert m["r2_action_inverse_dynamics_noop"] > 0.9  # the per-column R² of the one-hot columns stays
    assert m["accuracy_action_from_r_nonlinear"] > 0.85 and m["accuracy_action_inverse_dynamics_nonlinear"] > 0.9
    noise = action_metrics(*(class_readouts(rng, v, False) for v in (30, 8)), np.repeat(np.arange(30), 50), discrete=True)
    assert noise["accuracy_action_from_r"] < noise["accuracy_action_majority"] + 0.05
    assert noise["accuracy_action_from_r_nonlinear"] < noise["accuracy_action_majority"] + 0.05
    assert "few_label_accuracy_ratio_10pct" not in noise  # no ratio of two chance-level scores
    assert not any(key.startswith("accuracy") for key in action_metrics(train, test, train["video"]))


def test_a_latent_that_holds_the_action_nonlinearly_is_read_by_the_tree_probe():
    """r = ± the class's offset, the sign flipped at random per pair: no linear map reads the class
    (each class's r is centred on 0), the boosted trees read it from |r|."""
    rng = np.random.default_rng(3)
    train, test = class_readouts(rng, 30, True), class_readouts(rng, 8, True)
    for split in (train, test):
        split["r"] = split["r"] * rng.choice([-1.0, 1.0], size=(len(split["r"]), 1))
    m = action_metrics(train, test, train["video"], discrete=True)
    assert m["accuracy_action_from_r"] < m["accuracy_action_majority"] + 0.1
    assert m["accuracy_action_from_r_nonlinear"] > 0.8

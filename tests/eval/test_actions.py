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


def test_no_latent_gives_only_inverse_dynamics_and_unnamed_columns():
    rng = np.random.default_rng(1)
    train, test = readouts(rng, 20, 0.1), readouts(rng, 5, 0.1)
    for split in (train, test):
        split["r"] = split["r"][:, :0]
        del split["gt_state"]
    m = action_metrics(train, test, train["video"])
    assert set(m) == {"r2_action_inverse_dynamics", "r2_action_inverse_dynamics_dim0", "r2_action_inverse_dynamics_dim1"}

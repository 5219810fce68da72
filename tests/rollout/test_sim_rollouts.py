"""Sampled actions on simulator data: the steering split, per-column moments, and eval.py then
rollout.py on a tiny recorded simulator folder with a ``steer`` column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import eval as eval_cli
import rollout as rollout_cli
from data_prep.sim import generate_sim
from worldmodel.config import load_config
from worldmodel.data.store import FrameStore, open_array, read_meta
from worldmodel.eval.reference_motion import reference_motion_metrics
from worldmodel.rollout.futures import action_moments, classify_steer, discrete_action_modes, steering_modes
from worldmodel.train.loop import train
from worldmodel.train.runs import load_run

HERE = Path(__file__).resolve().parent
THIRD = 1 / 3


def test_steer_codes_cut_at_plus_minus_one_third():
    steer = np.array([-1.0, -0.34, -THIRD, 0.0, THIRD, 0.34, 1.0])
    assert classify_steer(steer).tolist() == [0, 0, 1, 1, 1, 2, 2]  # ±1/3 itself counts as straight


def test_steering_modes_have_the_known_fractions_and_gap():
    true = np.array([-0.9, 0.0, 0.1, 0.8])  # left 1/4, straight 2/4, right 1/4
    sampled = np.array([[-0.5, -0.5, -0.5, 0.0], [0.9, 0.9, 0.9, 0.9]])  # left 3/8, straight 1/8, right 4/8
    split = steering_modes(sampled, true)
    np.testing.assert_array_equal(split["true_fractions"], [0.25, 0.5, 0.25])
    np.testing.assert_array_equal(split["sampled_fractions"], [0.375, 0.125, 0.5])
    assert split["gap_pp"] == 37.5 and split["threshold"] == THIRD


def test_uniform_steering_splits_in_thirds():
    """CarRacing's biased policy draws steer uniform in [-1, 1]: about a third each way."""
    steer = np.random.default_rng(0).uniform(-1, 1, 30000)
    split = steering_modes(steer[None], steer)
    np.testing.assert_allclose(split["true_fractions"], [THIRD] * 3, atol=0.01)
    assert split["gap_pp"] == 0


def test_discrete_action_modes_count_each_pairs_most_applied_action():
    true = np.array([[1.0, 0, 0], [0, 0, 1], [0, 2, 1], [0, 0, 1]])  # classes 0, 2, 1 (2 of 3 steps), 2
    sampled = np.array([[[0.9, 0.1, 0.0]] * 4, [[0.1, 0.2, 0.3]] * 4])  # class 0 for every pair, then class 2
    split = discrete_action_modes(sampled, true)
    np.testing.assert_array_equal(split["true_fractions"], [0.25, 0.25, 0.5])
    np.testing.assert_array_equal(split["sampled_fractions"], [0.5, 0.0, 0.5])
    assert split["gap_pp"] == 25.0


def test_action_moments_per_column():
    sampled = np.array([[[1.0, 10.0], [3.0, 10.0]], [[5.0, 10.0], [7.0, 10.0]]])  # (N=2, B=2, A=2)
    true = np.array([[0.0, -1.0], [2.0, 1.0]])
    moments = action_moments(sampled, true, ["steer", "gas"])
    assert moments == {"actions_sampled_mean_steer": 4.0, "actions_sampled_mean_gas": 10.0,
                       "actions_sampled_std_steer": np.sqrt(5.0), "actions_sampled_std_gas": 0.0,
                       "actions_true_mean_steer": 1.0, "actions_true_mean_gas": 0.0,
                       "actions_true_std_steer": 1.0, "actions_true_std_gas": 1.0}
    with pytest.raises(ValueError, match="must have 3 columns"):
        action_moments(sampled, true, ["steer", "gas", "brake"])


class SteerEcho:
    """A driving test environment: the view (a fixed random texture) slides sideways by 2 px per unit of
    steering and gets brighter with gas; the state is the sideways position and the step count."""

    action_columns = ("steer", "gas")
    state_columns = ("x", "steps")
    action_low, action_high = np.array([-1.0, 0.0]), np.array([1.0, 1.0])
    fps = 10.0

    def __init__(self, size: int) -> None:
        self.texture = np.random.default_rng(0).integers(0, 200, (size, size, 3), dtype=np.uint8)

    def _frame(self, gas: float) -> np.ndarray:
        return np.roll(self.texture, int(round(2 * self.x)), axis=1) + np.uint8(round(50 * gas))

    def reset(self, seed: int) -> np.ndarray:
        self.x, self.steps = 0.0, 0
        return self._frame(0.0)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.x, self.steps = self.x + action[0], self.steps + 1
        return self._frame(action[1]), float(action[1]), False

    def state(self) -> np.ndarray:
        return np.array([self.x, self.steps])


SMALL = ["model.encoder.width=8", "model.encoder.out_dim=32", "model.latent.hidden=16", "model.predictor.hidden=16",
         "objective.hidden=16", "train.batch_size=16", "train.steps=20", "train.log_every=10", "train.threads=1"]


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))  # the factory below as test_sim_rollouts:SteerEcho
        generate_sim(root / "data", f"{Path(__file__).stem}:SteerEcho", episodes=10, frames=16, size=16, hold=2)
    cfg = load_config("configs/sim/carracing/adassl_v.yaml", [f"data.path={root / 'data'}", *SMALL])
    return train(cfg, root / "run"), root / "data"


def heldout_pair_actions(data: Path, heldout: list[str], context: int, gap: int, stride: int) -> np.ndarray:
    """(P, A) the action of every held-out pair read straight from gt_action: the action applied between
    the context's last frame and the target (gap 1), for starts every ``stride`` frames of each held-out video."""
    store, action = FrameStore(data), open_array(data, "gt_action")
    rows = []
    for v, video in enumerate(store.videos):
        if video["id"] in heldout:
            frames = store.offsets[v + 1] - store.offsets[v]
            for start in range(0, frames - context - gap + 1, stride):
                rows.append(action[store.offsets[v] + start + context - 1])
    assert gap == 1
    return np.array(rows, dtype=np.float64)


def test_sim_rollouts_report_sampled_actions_and_the_steering_split(sim_run):
    run, data = sim_run
    eval_cli.main(["--run", str(run)])
    rollout_cli.main(["--run", str(run), "--starts", "3", "--samples", "6", "--horizon", "2"])
    evaluated = json.loads((run / "eval.json").read_text())
    metrics = json.loads((run / "rollouts" / "metrics.json").read_text())
    assert read_meta(data)["columns"]["action"] == ["steer", "gas"]
    # r against each state column's change over the pair: x moves with the steering; the step count
    # always moves by 1, a constant change, so it has no R²
    assert "r2_state_change_from_r_x" in evaluated and "r2_state_change_from_r_steps" not in evaluated
    true = heldout_pair_actions(data, evaluated["heldout"], context=2, gap=1, stride=2)
    for i, column in enumerate(("steer", "gas")):
        assert metrics[f"actions_true_mean_{column}"] == pytest.approx(true[:, i].mean(), abs=1e-6)
        assert metrics[f"actions_true_std_{column}"] == pytest.approx(true[:, i].std(), abs=1e-6)
        assert metrics[f"actions_sampled_std_{column}"] > 0
    expected = [np.mean(true[:, 0] < -THIRD), np.mean(np.abs(true[:, 0]) <= THIRD), np.mean(true[:, 0] > THIRD)]
    got = {kind: [metrics[f"steer_{kind}_{mode}"] for mode in ("left", "straight", "right")] for kind in ("true", "sampled")}
    np.testing.assert_allclose(got["true"], expected, atol=1e-12)
    assert sum(got["sampled"]) == pytest.approx(1)
    assert metrics["steer_gap_pp"] == pytest.approx(100 * np.abs(np.subtract(got["sampled"], got["true"])).max())
    assert not any(key.startswith("modes_") for key in metrics)  # digit modes are for Moving digits
    with np.load(run / "rollouts" / "rollouts.npz") as arrays:
        assert arrays["actions_sampled"].shape == (6, len(true), 2)
        np.testing.assert_allclose(arrays["actions_true"], true, atol=1e-6)
    assert (run / "rollouts" / "steer.png").is_file()


class PaddleEcho:
    """A discrete test environment: a bright 2 px paddle on the bottom row moves 2 px left or right or
    stays (one-hot actions stay / left / right); the state is its position."""

    action_columns = ("stay", "left", "right")
    state_columns = ("x",)
    action_low, action_high = np.zeros(3), np.ones(3)
    discrete = True
    fps = 10.0

    def __init__(self, size: int) -> None:
        self.size = size

    def _frame(self) -> np.ndarray:
        frame = np.zeros((self.size, self.size, 3), np.uint8)
        frame[-2:, self.x : self.x + 2] = 255
        return frame

    def reset(self, seed: int) -> np.ndarray:
        self.x = self.size // 2
        return self._frame()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.x = int(np.clip(self.x + 2 * [0, -1, 1][int(np.argmax(action))], 0, self.size - 2))
        return self._frame(), 0.0, False

    def state(self) -> np.ndarray:
        return np.array([float(self.x)])


def test_discrete_sim_runs_report_accuracy_and_the_action_class_split(tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))
        generate_sim(tmp_path / "data", f"{Path(__file__).stem}:PaddleEcho", episodes=10, frames=16, size=16)
    overrides = [f"data.path={tmp_path / 'data'}", "data.pairs_per_video=1", *SMALL, "model.latent.dim=32"]
    cfg = load_config("configs/sim/breakout/adassl_v.yaml", overrides)
    run = train(cfg, tmp_path / "run")
    eval_cli.main(["--run", str(run)])
    rollout_cli.main(["--run", str(run), "--starts", "3", "--samples", "6", "--horizon", "2"])
    evaluated = json.loads((run / "eval.json").read_text())
    assert 0.2 < evaluated["accuracy_action_majority"] < 0.6 and 0 <= evaluated["accuracy_action_from_r"] <= 1
    metrics = json.loads((run / "rollouts" / "metrics.json").read_text())
    true = [metrics[f"action_class_true_{c}"] for c in PaddleEcho.action_columns]
    assert sum(true) == pytest.approx(1) and min(true) > 0.1  # a uniformly drawn class each step
    assert sum(metrics[f"action_class_sampled_{c}"] for c in PaddleEcho.action_columns) == pytest.approx(1)
    assert (run / "rollouts" / "action_classes.png").is_file() and "steer_gap_pp" not in metrics


def test_reference_motion_on_simulator_episodes_does_not_take_the_action_for_the_camera_move(sim_run, tmp_path):
    """A simulator's action (here steer, gas) is the agent's, not the camera's displacement: the footage
    metrics are reported, the comparisons with a true camera move are not."""
    run, _ = sim_run
    cfg, model = load_run(run)
    metrics = reference_motion_metrics(model, cfg.data, tmp_path, "phase", max_pairs=60)
    assert "r2_reference_motion_to_truth" not in metrics and "r2_r_to_true_motion" not in metrics
    assert metrics["r2_flow_to_reference_dx"] > 0.5  # the view slides sideways with the steering

"""Simulator recording: frames and actions aligned, worker-independent output, failures counted,
resumable, a missing extra named in one line; the gymnasium environments when installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_prep.sim import generate_sim, prepare_episode
from worldmodel.data.frames import FramePairs
from worldmodel.data.store import FrameStore, open_array, read_manifest, read_meta

HERE = Path(__file__).resolve().parent


class ActionEcho:
    """A test environment whose frame shows the action that led to it: pixel (0, 0) of channel c is
    round(127.5 (a_c + 1)) of the last action's coordinate c (0 after the reset); the rest is the
    step count. The state is the running sum of the actions (position) and the step count."""

    action_columns = ("a0", "a1")
    state_columns = ("p0", "p1", "steps")
    action_low, action_high = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    fps = 10.0

    def __init__(self, size: int) -> None:
        self.size = size

    def _frame(self, action: np.ndarray) -> np.ndarray:
        frame = np.full((self.size, self.size, 3), self.steps % 256, np.uint8)
        frame[0, 0, :2] = np.round(127.5 * (action + 1))
        return frame

    def reset(self, seed: int) -> np.ndarray:
        self.seed, self.steps, self.position = seed, 0, np.zeros(2)
        return self._frame(np.full(2, -1.0))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.steps += 1
        self.position = self.position + action
        return self._frame(action), float(action.sum()), False

    def state(self) -> np.ndarray:
        return np.array([*self.position, self.steps])


def decode(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) frames of ActionEcho → (N, 2) the action that led to each frame."""
    return frames[:, 0, 0, :2] / 127.5 - 1


class CrashingEcho(ActionEcho):
    """Raises in the middle of every episode whose reset seed is odd."""

    def step(self, action):
        if self.seed % 2 and self.steps == 3:
            raise RuntimeError("simulator exploded")
        return super().step(action)


class EndingEcho(ActionEcho):
    """Ends every episode whose reset seed is divisible by 3 after 4 steps."""

    def step(self, action):
        frame, reward, _ = super().step(action)
        return frame, reward, self.seed % 3 == 0 and self.steps == 4


class ClassEcho:
    """A test environment with discrete actions: pixel (0, 0) shows 50 · (index + 1) of the one-hot action
    that led to the frame (0 after the reset); the state counts each action taken."""

    action_columns = ("noop", "left", "right")
    state_columns = ("noops", "lefts", "rights")
    action_low, action_high = np.zeros(3), np.ones(3)
    discrete = True
    fps = 10.0

    def __init__(self, size: int) -> None:
        self.size = size

    def reset(self, seed: int) -> np.ndarray:
        self.counts = np.zeros(3)
        return np.zeros((self.size, self.size, 3), np.uint8)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        assert action.shape == (3,) and action.sum() == 1 and set(action) <= {0.0, 1.0}
        self.counts = self.counts + action
        frame = np.zeros((self.size, self.size, 3), np.uint8)
        frame[0, 0] = 50 * (np.argmax(action) + 1)
        return frame, 0.0, False

    def state(self) -> np.ndarray:
        return self.counts.copy()


def echo(name: str = "ActionEcho") -> str:
    return f"test_sim:{name}"


@pytest.fixture(autouse=True)
def importable_test_envs(monkeypatch):
    """The factories above as ``test_sim:…`` also in spawned worker processes."""
    monkeypatch.syspath_prepend(str(HERE))  # spawned workers start with the parent's sys.path


def test_action_t_is_what_leads_from_frame_t_to_frame_t_plus_1(tmp_path):
    generate_sim(tmp_path / "d", echo(), episodes=3, frames=20, size=8, hold=3, seed=1)
    store = FrameStore(tmp_path / "d")
    action, state = open_array(tmp_path / "d", "gt_action"), open_array(tmp_path / "d", "gt_state")
    shown = decode(store.frames)
    for v in range(3):
        a, b = store.offsets[v], store.offsets[v + 1]
        np.testing.assert_allclose(shown[a + 1 : b], action[a : b - 1], atol=0.5 / 127.5)
        np.testing.assert_allclose(np.diff(state[a:b, :2], axis=0), action[a : b - 1], atol=1e-5)
        np.testing.assert_array_equal(state[a:b, 2], np.arange(20))
        assert np.all(action[a : a + 3] == action[a]) and np.all(action[a + 3] != action[a])  # a new action every 3 steps
    np.testing.assert_allclose(open_array(tmp_path / "d", "gt_reward"), action.sum(1), atol=1e-5)
    meta = read_meta(tmp_path / "d")
    assert meta["columns"] == {"action": ["a0", "a1"], "state": ["p0", "p1", "steps"], "reward": ["reward"]}
    assert meta["action"]["aligned"] == "after"


@pytest.mark.parametrize("gap", [1, 3])
def test_pairs_get_the_actions_between_the_context_and_target_frames(tmp_path, gap):
    """The pair's action is the sum of the actions that the target's frames after the context show."""
    generate_sim(tmp_path / "d", echo(), episodes=3, frames=16, size=8, hold=2)
    pairs = FramePairs(tmp_path / "d", context=2, gap=gap, split="all")
    batch = pairs.__getitems__(list(range(len(pairs))))
    frames = FrameStore(tmp_path / "d").frames
    last = pairs.first + 1
    shown = sum(decode(frames[last + j]) for j in range(1, gap + 1))
    np.testing.assert_allclose(batch["action"].numpy(), shown, atol=gap * 0.5 / 127.5)
    assert np.abs(batch["action"].numpy()).mean() > 0.1 * gap


def test_discrete_actions_are_one_hot_uniform_and_aligned(tmp_path):
    generate_sim(tmp_path / "d", echo("ClassEcho"), episodes=20, frames=30, size=4, hold=1)
    action, state = open_array(tmp_path / "d", "gt_action"), open_array(tmp_path / "d", "gt_state")
    frames, offsets = FrameStore(tmp_path / "d").frames, FrameStore(tmp_path / "d").offsets
    assert set(np.unique(action)) == {0.0, 1.0} and np.all(action.sum(1) == 1)
    np.testing.assert_allclose(action.mean(0), [1 / 3] * 3, atol=0.04)  # a uniformly drawn class each step
    for v in range(20):
        a, b = offsets[v], offsets[v + 1]
        np.testing.assert_array_equal(frames[a + 1 : b, 0, 0, 0] // 50 - 1, np.argmax(action[a : b - 1], 1))
        np.testing.assert_array_equal(np.diff(state[a:b], axis=0), action[a : b - 1])
    assert read_meta(tmp_path / "d")["action"]["discrete"] is True
    generate_sim(tmp_path / "c", echo(), episodes=2, frames=4, size=8)
    assert read_meta(tmp_path / "c")["action"]["discrete"] is False
    with pytest.raises(ValueError, match="discrete actions"):
        generate_sim(tmp_path / "b", echo("ClassEcho"), episodes=2, frames=4, size=4, policy="biased")


def test_same_seed_gives_identical_folders_with_1_and_2_workers(tmp_path):
    for workers in (1, 2):
        generate_sim(tmp_path / f"w{workers}", echo("CrashingEcho"), episodes=6, frames=10, size=8, hold=2, workers=workers)
    names = sorted(p.name for p in (tmp_path / "w1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "w2").iterdir()) and "frames.npy" in names
    for name in names:
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes(), name
    generate_sim(tmp_path / "other", echo("CrashingEcho"), episodes=6, frames=10, size=8, hold=2, seed=1)
    assert (tmp_path / "other" / "gt_action.npy").read_bytes() != (tmp_path / "w1" / "gt_action.npy").read_bytes()


def test_crashing_and_ending_episodes_are_counted_not_fatal(tmp_path):
    for name in ("CrashingEcho", "EndingEcho"):
        summary = generate_sim(tmp_path / name, echo(name), episodes=12, frames=10, size=8)
        rows = read_manifest(tmp_path / name)
        failed = [row for row in rows if row["status"] != "ok"]
        assert len(rows) == 12 and 0 < len(failed) < 12 and summary.ok == 12 - len(failed)
        assert len(summary.failures) == len(failed)
        reason = "simulator exploded" if name == "CrashingEcho" else "ended the episode at step 4 of 10"
        assert all(reason in row["status"] for row in failed), failed[0]["status"]
        store = FrameStore(tmp_path / name)
        assert len(store.videos) == 12 - len(failed) and store.offsets[-1] == 10 * len(store.videos)


def test_an_interrupted_run_resumes_with_the_same_result(tmp_path):
    options = {"env": echo(), "episodes": 5, "frames": 10, "size": 8, "hold": 1, "policy": "random-hold", "seed": 0}
    parts = tmp_path / "d" / "parts"
    parts.mkdir(parents=True)
    for episode in (0, 3):  # what a killed run left behind
        prepare_episode(episode, parts, options)
    (parts / ".00004.npz.tmp-123").write_bytes(b"half an episode")
    summary = generate_sim(tmp_path / "d", echo(), episodes=5, frames=10, size=8, hold=1)
    assert summary.reused == 2 and summary.ok == 5 and not parts.exists()
    generate_sim(tmp_path / "fresh", echo(), episodes=5, frames=10, size=8, hold=1)
    for name in ("frames.npy", "gt_action.npy", "gt_state.npy", "manifest.csv", "meta.json"):
        assert (tmp_path / "d" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    assert generate_sim(tmp_path / "d", echo(), episodes=5, frames=10, size=8, hold=1).reused == 5


def test_other_options_on_an_existing_folder_are_refused_unless_overwritten(tmp_path):
    generate_sim(tmp_path / "d", echo(), episodes=2, frames=4, size=8)
    with pytest.raises(ValueError, match="recorded earlier with"):
        generate_sim(tmp_path / "d", echo(), episodes=2, frames=4, size=8, seed=5)
    (tmp_path / "d" / "notes.txt").write_text("not ours")
    assert generate_sim(tmp_path / "d", echo(), episodes=3, frames=4, size=8, seed=5, overwrite=True).ok == 3
    assert (tmp_path / "d" / "notes.txt").read_text() == "not ours"


@pytest.mark.parametrize("module,env", [("gymnasium", "CarRacing-v3"), ("ale_py", "Breakout"), ("mujoco", "HalfCheetah-v5")])
def test_a_missing_extra_is_one_line_naming_it(tmp_path, module, env):
    code = (f"import sys; sys.modules['{module}'] = None; from data_prep.__main__ import main; "
            f"main(['sim', '{env}', '{tmp_path / 'd'}'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and 'pip install -e ".[sim]"' in done.stderr, done.stderr


@pytest.mark.parametrize("env,columns", [("CarRacing-v3", 3), ("Reacher-v5", 2), ("HalfCheetah-v5", 6)])
def test_gymnasium_environments(tmp_path, env, columns):
    pytest.importorskip("gymnasium")
    pytest.importorskip("Box2D" if env == "CarRacing-v3" else "mujoco")
    summary = generate_sim(tmp_path / "d", env, episodes=2, frames=12, size=32)
    assert summary.ok == 2
    store = FrameStore(tmp_path / "d")
    action, state = open_array(tmp_path / "d", "gt_action"), open_array(tmp_path / "d", "gt_state")
    assert store.frames.shape == (24, 32, 32, 3) and action.shape == (24, columns)
    assert np.all(action >= -1) and np.all(action <= 1)
    moving = np.abs(np.diff(store.frames[:12].astype(int), axis=0)).mean((1, 2, 3))
    assert np.all(moving > 0)  # the picture changes from frame to frame
    if env == "CarRacing-v3":
        assert state[11, 6] > state[0, 6] + 1  # the biased policy drives: the speed grows
        assert store.frames[:, -3:].mean() > 60  # the dashboard (black) is cropped: the bottom rows show the ground
    elif env == "HalfCheetah-v5":
        names = read_meta(tmp_path / "d")["columns"]["state"]
        camera_x, root_x = state[:, names.index("camera_x")], state[:, names.index("root_x")]
        assert np.abs(camera_x - root_x).max() < 0.5  # the camera follows the cheetah's centre of mass
        assert np.abs(np.diff(state[:12, names.index("angle_bthigh")])).max() > 1e-3  # the torques move the joints
        assert store.frames[:, :8].mean() > 40  # the raised camera sees floor at the top, not the black sky
    else:
        reach = np.hypot(state[:, 6], state[:, 7])
        assert np.all(np.abs(reach) < 0.22) and np.abs(np.diff(state[:12, 0])).max() > 1e-3


def test_breakout_moves_the_paddle_the_way_the_action_says(tmp_path):
    pytest.importorskip("ale_py")
    generate_sim(tmp_path / "d", "Breakout", episodes=6, frames=40, size=64)
    action, state = open_array(tmp_path / "d", "gt_action"), open_array(tmp_path / "d", "gt_state")
    frames, offsets = FrameStore(tmp_path / "d").frames, FrameStore(tmp_path / "d").offsets
    assert frames.shape == (240, 64, 64, 3) and np.all(action.sum(1) == 1)
    assert read_meta(tmp_path / "d")["columns"]["action"] == ["noop", "fire", "right", "left"]
    same_episode = np.ones(len(action) - 1, bool)
    same_episode[offsets[1:-1] - 1] = False
    move = np.diff(state[:, 0])[same_episode]  # paddle x from frame t to t + 1
    chosen = np.argmax(action[:-1], 1)[same_episode]
    assert move[chosen == 2].mean() > 3 and move[chosen == 3].mean() < -3  # right and left move the paddle
    assert abs(move[chosen == 0].mean()) < 3
    paddle = frames[:, 60:64, :, 0].astype(int).sum((1, 2))  # the paddle (red) is in the bottom rows: no score cropped away
    assert np.all(paddle > 0)


def test_a_photograph_as_the_cheetahs_floor_changes_the_picture_not_the_physics(tmp_path):
    pytest.importorskip("gymnasium")
    pytest.importorskip("mujoco")
    generate_sim(tmp_path / "chequer", "HalfCheetah-v5", episodes=1, frames=12, size=32)
    generate_sim(tmp_path / "photo", "HalfCheetah-v5", episodes=1, frames=12, size=32, floor="astronaut")
    for name in ("gt_action", "gt_state"):
        assert np.array_equal(open_array(tmp_path / "chequer", name), open_array(tmp_path / "photo", name))
    chequer, photo = (FrameStore(tmp_path / d).frames.astype(float) for d in ("chequer", "photo"))
    saturation = lambda f: (f.max(-1) - f.min(-1)).mean()
    assert saturation(chequer) < 30 < saturation(photo)  # grey squares against the astronaut's orange suit
    assert read_meta(tmp_path / "photo")["options"]["floor"] == "astronaut"
    assert "floor" not in read_meta(tmp_path / "chequer")["options"]  # stores recorded before the option resume
    # the camera straight down: the same physics, another picture of it
    generate_sim(tmp_path / "top", "HalfCheetah-v5", episodes=1, frames=12, size=32, floor="astronaut", camera_elevation=90)
    assert np.array_equal(open_array(tmp_path / "top", "gt_state"), open_array(tmp_path / "photo", "gt_state"))
    assert np.abs(FrameStore(tmp_path / "top").frames.astype(float) - photo).mean() > 20
    assert read_meta(tmp_path / "top")["options"]["camera_elevation"] == 90


def test_only_the_cheetah_takes_a_floor_and_a_camera_elevation(tmp_path):
    with pytest.raises(ValueError, match="floor: only HalfCheetah-v5 takes these options, not CarRacing-v3"):
        generate_sim(tmp_path / "d", "CarRacing-v3", episodes=1, frames=4, size=8, floor="astronaut")
    with pytest.raises(ValueError, match="camera_elevation: only HalfCheetah-v5"):
        generate_sim(tmp_path / "d", "Breakout", episodes=1, frames=4, size=8, camera_elevation=90)
    assert not (tmp_path / "d").exists()

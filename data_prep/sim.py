"""``python -m data_prep sim ENV OUT``: record simulator episodes as a frame store with true actions.

Episode e (random stream ``(seed, e)``) resets the environment with a seed drawn from that
stream, then a random policy picks a new action every ``--hold`` steps. Frame t is what the
environment shows after t steps (frame 0: right after the reset); ``action[t]`` is the action
applied between frame t and frame t + 1 and ``reward[t]`` the reward it earned; ``state[t]``
is the physical state at frame t. An episode of ``--frames`` frames takes ``--frames`` steps
(the last step's frame is discarded, so every frame has its action and reward).

Written (see :mod:`worldmodel.data.store`): ``frames.npy`` (N, size, size, 3) uint8, one video
per episode; ``gt_action.npy`` (N, A), ``gt_state.npy`` (N, S), ``gt_reward.npy`` (N,) float32;
``meta.json`` names every column (``columns``) and says that the action of a pair is the sum of
``action`` from the context's last frame to the frame before the target's last
(``action.aligned: after``).

Environments (``ENVS``; gymnasium, from ``pip install -e ".[sim]"``):

- ``CarRacing-v3``: the camera follows the car, so steering and gas show as ego-motion. The
  observation's bottom 12 rows (the dashboard, which draws the action) are cropped, the rest
  centre-cropped to a square and resized. The opening zoom is skipped (the zoom clock is set to
  its end after the reset, the same picture as after 50 idle steps). Action (steer, gas, brake);
  state: the car's pose and velocity (the camera's pose). Policy ``biased`` (default): steer
  uniform in [-1, 1], gas in [0.5, 1] with probability 0.8, brake in [0, 0.8] with probability 0.1.
- ``Reacher-v5``: a two-joint arm seen from above (MuJoCo, rendered headless with
  ``MUJOCO_GL=egl`` unless set, no anti-aliasing, shadows, reflections or skybox). Action: the two joint torques; state: joint angles
  and velocities, target and fingertip positions.
- ``HalfCheetah-v5``: a planar cheetah (MuJoCo, the same fast rendering) seen by a camera that follows
  its centre of mass from behind and above, so its running shows as the chequered floor's move
  (ego-motion) and its torques as its limbs' poses. Action: the six joint torques; state: the root's
  position, pitch and the joint angles, their velocities, and the camera's pose (``camera_x``, ``camera_z``).
  ``--floor PHOTO`` lays one of camera-pan's bundled photographs on the floor instead of the chequer, as
  one 8.9 m tile centred under the start, so that the view (about 2.5 m across) never sees it repeat
  in an episode (the cheetah travels at most about 2.5 m in 64 frames): the chequer repeats every
  1.33 m, so a frame shows the camera's position only up to that period. ``--camera-elevation DEG``
  (default 30) raises the camera further; at 90 it looks straight down, the floor's move is a pure
  translation and the cheetah's bob a zoom.
- ``Breakout``: Atari Breakout (``ALE/Breakout-v5``, the ROM ships with ale-py), 4 emulator frames per
  step, sticky actions off (``repeat_action_probability=0``, or the recorded action would not be the one
  applied). The score rows are cropped: the 160 × 160 playfield (rows 36-195, paddle included) is
  resized. **Discrete** action (noop, fire, right, left), stored one-hot, so a pair's summed action counts
  each; state: the paddle's and the ball's position read from the console's RAM. Policy
  ``random-hold``: a uniformly random action, held ``--hold`` steps (default 1).

``ENV`` may also be ``package.module:Factory``, a callable ``Factory(size)`` returning an object
with the interface of :class:`SimEnv` (e.g. a test environment).

Resumable and atomic: each episode is written to ``OUT/parts/`` under a temporary name and
renamed when complete, with its manifest row as a JSON file written last; a re-run records only
the missing episodes, then the store is assembled and ``parts/`` removed. ``meta.json`` is
written last. The output does not depend on ``--workers``. An episode whose environment raises
or ends before ``--frames`` frames is recorded in the manifest as ``failed: <reason>`` and left
out of the store; the command fails only when no episode succeeded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np
from PIL import Image
from tqdm import tqdm

from data_prep.camera_pan import SCENES, load_scenes
from data_prep.resize import fit_frames
from data_prep.workers import run_jobs
from worldmodel.data.store import (
    FRAMES_KIND,
    DatasetFolderError,
    FrameStore,
    read_manifest,
    save_array,
    write_frames,
    write_json,
    write_manifest,
    write_meta,
)

EXTRA = 'pip install -e ".[sim]"'
POLICIES = ("random-hold", "biased")


class SimEnv(Protocol):
    """What the recorder needs of an environment; frames are (size, size, 3) uint8. An environment with
    ``discrete = True`` takes one-hot actions over ``action_columns`` (``action_low``/``high`` 0 and 1);
    without the attribute, actions are continuous in the box."""

    action_columns: tuple[str, ...]
    state_columns: tuple[str, ...]
    action_low: np.ndarray  # (A,)
    action_high: np.ndarray  # (A,)
    fps: float

    def reset(self, seed: int) -> np.ndarray: ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """(next frame, reward, ended): ``ended`` when the episode terminated or was truncated."""
        ...

    def state(self) -> np.ndarray: ...  # (S,) at the current frame


class SimExtraMissing(RuntimeError):
    """The simulator packages (the ``sim`` extra) are not installed."""


def _gymnasium(env_id: str):
    """gymnasium, or SimExtraMissing naming the extra."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must be set before mujoco loads
    try:
        import gymnasium
    except ImportError:
        raise SimExtraMissing(f"environment '{env_id}' needs gymnasium, which is not installed: {EXTRA}") from None
    return gymnasium


def _make(env_id: str, **kwargs: Any):
    gym = _gymnasium(env_id)
    try:
        return gym.make(env_id, **kwargs)
    except (ImportError, gym.error.DependencyNotInstalled) as err:
        raise SimExtraMissing(f"environment '{env_id}' needs a package of the sim extra ({err}): {EXTRA}") from None


class CarRacing:
    """gymnasium ``CarRacing-v3`` with the dashboard cropped and the opening zoom skipped."""

    action_columns = ("steer", "gas", "brake")
    state_columns = ("x", "y", "angle", "vx", "vy", "angular_velocity", "speed")
    HUD_ROWS = 12  # bottom rows of the 96 x 96 observation: the dashboard, which draws the action

    def __init__(self, size: int) -> None:
        self.size = size
        self.wrapped = _make("CarRacing-v3")
        self.env = self.wrapped.unwrapped
        self.action_low, self.action_high = self.env.action_space.low, self.env.action_space.high
        self.fps = float(self.env.metadata["render_fps"])

    def _frame(self, observation: np.ndarray) -> np.ndarray:
        return fit_frames(observation[None, : -self.HUD_ROWS], self.size)[0]

    def reset(self, seed: int) -> np.ndarray:
        self.env.reset(seed=seed)
        self.env.t = 1.0  # the zoom clock: the opening zoom ends at t = 1 s (50 steps) and t drives nothing else
        return self._frame(self.env._render("state_pixels"))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        observation, reward, terminated, truncated, _ = self.env.step(action.astype(np.float32))
        return self._frame(observation), float(reward), bool(terminated or truncated)

    def state(self) -> np.ndarray:
        hull = self.env.car.hull
        vx, vy = hull.linearVelocity
        return np.array([*hull.position, hull.angle, vx, vy, hull.angularVelocity, np.hypot(vx, vy)])


class _MuJoCo:
    """A gymnasium MuJoCo environment rendered headless with the fast settings: no multisample
    anti-aliasing, shadows, reflections or skybox (8-10x faster than the defaults)."""

    def __init__(self, env_id: str, size: int, **kwargs: Any) -> None:
        self.wrapped = _make(env_id, render_mode="rgb_array", width=size, height=size, **kwargs)
        self.env = self.wrapped.unwrapped
        self.env.model.vis.quality.offsamples = 0  # read when the rendering context is made
        self.action_low, self.action_high = self.env.action_space.low, self.env.action_space.high
        self.fps = float(self.env.metadata["render_fps"])
        self._fast = False

    def _render(self) -> np.ndarray:
        frame = self.env.render()
        if not self._fast:  # the scene exists after the first render
            import mujoco

            scene = self.env.mujoco_renderer._get_viewer("rgb_array").scn
            for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
                scene.flags[flag] = 0
            self._fast = True
            frame = self.env.render()
        return frame

    def reset(self, seed: int) -> np.ndarray:
        self.env.reset(seed=seed)
        return self._render()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        _, reward, terminated, _, _ = self.env.step(action.astype(np.float32))
        return self._render(), float(reward), bool(terminated)  # no time limit: the recorder counts frames


class Reacher(_MuJoCo):
    """gymnasium ``Reacher-v5`` seen from straight above so that the arm's reach (0.21) fills the view."""

    action_columns = ("torque_joint0", "torque_joint1")
    state_columns = ("angle_joint0", "angle_joint1", "velocity_joint0", "velocity_joint1",
                     "target_x", "target_y", "fingertip_x", "fingertip_y")

    def __init__(self, size: int) -> None:
        camera = {"distance": 0.6, "elevation": -90.0, "azimuth": 90.0, "lookat": np.zeros(3), "trackbodyid": 0}
        super().__init__("Reacher-v5", size, default_camera_config=camera)

    def state(self) -> np.ndarray:
        data = self.env.data
        return np.concatenate([data.qpos[:2], data.qvel[:2], data.qpos[2:4], self.env.get_body_com("fingertip")[:2]])


class HalfCheetah(_MuJoCo):
    """gymnasium ``HalfCheetah-v5`` seen by its tracking camera, raised to look down on the floor.

    The model's ``track`` camera follows the cheetah's centre of mass from the side at its own height,
    so the floor fills a third of the view; here it sits 3 m from the centre of mass, 30 degrees above
    it, so that the chequered floor fills the frame and its move is the camera's (the centre of mass's)
    move. The camera's pose is the state's ``camera_x``, ``camera_z``. ``floor``: a photograph of
    :data:`~data_prep.camera_pan.SCENES` laid on the floor instead of the chequer (see the module docstring);
    ``camera_elevation``: degrees above the centre of mass (default :attr:`CAMERA_ELEVATION`)."""

    JOINTS = ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
    action_columns = tuple(f"torque_{joint}" for joint in JOINTS)
    state_columns = ("root_x", "root_z", "root_angle", *(f"angle_{j}" for j in JOINTS),
                     "velocity_x", "velocity_z", "angular_velocity", *(f"velocity_{j}" for j in JOINTS),
                     "camera_x", "camera_z")
    CAMERA_XML = 'pos="0 -3 0.3" xyaxes="1 0 0 0 0 1"'
    CAMERA_ELEVATION, CAMERA_DISTANCE = 30.0, 3.0
    FLOOR_XML = ('<texture builtin="checker" height="100" name="texplane" rgb1="0 0 0" rgb2="0.8 0.8 0.8" type="2d" width="100"/>',
                 'texrepeat="60 60"')
    FLOOR_TILES, FLOOR_PIXELS = 9, 512  # 9 tiles over the 80 m plane: one 8.9 m tile centred on the origin

    def __init__(self, size: int, floor: str | None = None, camera_elevation: float | None = None) -> None:
        gym = _gymnasium("HalfCheetah-v5")
        try:
            from gymnasium.envs.mujoco import mujoco_env
        except (ImportError, gym.error.DependencyNotInstalled) as err:
            raise SimExtraMissing(f"environment 'HalfCheetah-v5' needs a package of the sim extra ({err}): {EXTRA}") from None
        xml = (Path(mujoco_env.__file__).parent / "assets" / "half_cheetah.xml").read_text()
        if self.CAMERA_XML not in xml:
            raise RuntimeError(f"HalfCheetah-v5's model has no camera {self.CAMERA_XML}: this gymnasium's model changed")
        elevation = self.CAMERA_ELEVATION if camera_elevation is None else camera_elevation
        if not 0 < elevation <= 90:
            raise ValueError(f"camera elevation {elevation}: expected degrees in (0, 90]")
        up, back = np.sin(np.radians(elevation)), np.cos(np.radians(elevation))
        d = self.CAMERA_DISTANCE
        xml = xml.replace(self.CAMERA_XML, f'pos="0 {-d * back:.4f} {d * up:.4f}" xyaxes="1 0 0 0 {up:.4f} {back:.4f}"')
        with tempfile.TemporaryDirectory() as folder:  # the model is read once, when the environment is made
            path = Path(folder) / "half_cheetah.xml"
            if floor is not None:
                xml = self._photo_floor(xml, floor, Path(folder) / "floor.png")
            path.write_text(xml)
            super().__init__("HalfCheetah-v5", size, xml_file=str(path), camera_name="track")

    def _photo_floor(self, xml: str, floor: str, png: Path) -> str:
        """``xml`` with the chequered floor replaced by the photograph ``floor``, written to ``png``
        (centre-cropped square, :attr:`FLOOR_PIXELS` a side), one tile every 80 / :attr:`FLOOR_TILES` m."""
        if floor not in SCENES:
            raise ValueError(f"floor '{floor}': expected one of {list(SCENES)}")
        texture, repeat = self.FLOOR_XML
        if texture not in xml or repeat not in xml:
            raise RuntimeError(f"HalfCheetah-v5's model has no floor {texture} {repeat}: this gymnasium's model changed")
        image = load_scenes(self.FLOOR_PIXELS, [floor])[0]
        top, left = ((n - self.FLOOR_PIXELS) // 2 for n in image.shape[:2])
        square = image[top:top + self.FLOOR_PIXELS, left:left + self.FLOOR_PIXELS]
        Image.fromarray(np.clip(square, 0, 255).round().astype(np.uint8)).save(png)
        xml = xml.replace(texture, f'<texture name="texplane" type="2d" file="{png}"/>')
        return xml.replace(repeat, f'texrepeat="{self.FLOOR_TILES} {self.FLOOR_TILES}"')

    def state(self) -> np.ndarray:
        data = self.env.data
        com = data.subtree_com[1]  # the torso's subtree: the whole cheetah, which the camera follows
        return np.concatenate([data.qpos, data.qvel, [com[0], com[2]]])


class Breakout:
    """Atari Breakout (``ALE/Breakout-v5``) without sticky actions, the playfield only, one-hot actions."""

    action_columns = ("noop", "fire", "right", "left")
    state_columns = ("paddle_x", "ball_x", "ball_y")
    discrete = True
    PLAYFIELD_ROWS = slice(36, 196)  # of the 210 x 160 screen: below the score and the top wall, down to the paddle
    RAM = [72, 99, 101]  # paddle x, ball x, ball y (the AtariARI annotation of Breakout's RAM)

    def __init__(self, size: int) -> None:
        gym = _gymnasium("Breakout")
        try:
            import ale_py
        except ImportError:
            raise SimExtraMissing(f"environment 'Breakout' needs ale-py, which is not installed: {EXTRA}") from None
        gym.register_envs(ale_py)
        self.size = size
        self.env = gym.make("ALE/Breakout-v5", frameskip=4, repeat_action_probability=0.0).unwrapped
        meanings = tuple(m.lower() for m in self.env.get_action_meanings())
        if meanings != self.action_columns:
            raise RuntimeError(f"Breakout's actions are {meanings}, expected {self.action_columns}")
        self.action_low, self.action_high = np.zeros(4), np.ones(4)
        self.fps = 60.0 / 4  # the console draws 60 frames a second; a step is 4 of them

    def _frame(self, observation: np.ndarray) -> np.ndarray:
        return fit_frames(observation[None, self.PLAYFIELD_ROWS], self.size)[0]

    def reset(self, seed: int) -> np.ndarray:
        observation, _ = self.env.reset(seed=seed)
        return self._frame(observation)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        observation, reward, terminated, truncated, _ = self.env.step(int(np.argmax(action)))
        return self._frame(observation), float(reward), bool(terminated or truncated)

    def state(self) -> np.ndarray:
        return self.env.ale.getRAM()[self.RAM].astype(np.float64)


@dataclass(frozen=True)
class EnvSpec:
    factory: Callable[[int], SimEnv]
    hold: int  # default action-hold length
    policy: str  # default policy


ENVS = {
    "CarRacing-v3": EnvSpec(CarRacing, hold=5, policy="biased"),
    "Reacher-v5": EnvSpec(Reacher, hold=4, policy="random-hold"),
    "HalfCheetah-v5": EnvSpec(HalfCheetah, hold=4, policy="random-hold"),
    "Breakout": EnvSpec(Breakout, hold=1, policy="random-hold"),
}


def env_factory(env: str) -> Callable[[int], SimEnv]:
    """The factory of a built-in environment name or of ``package.module:Factory``."""
    if env in ENVS:
        return ENVS[env].factory
    module, sep, name = env.partition(":")
    if not sep:
        raise ValueError(f"ENV '{env}': expected one of {list(ENVS)} or package.module:Factory")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"ENV '{env}': cannot load the factory ({err})") from None


def sample_action(rng: np.random.Generator, policy: str, low: np.ndarray, high: np.ndarray,
                  discrete: bool = False) -> np.ndarray:
    """One action: ``random-hold`` uniform in the box [low, high], or for a discrete environment a
    uniformly drawn one-hot action; ``biased`` (steer, gas, brake) of CarRacing, mostly driving
    forward (see the module docstring)."""
    if policy == "random-hold" and discrete:
        return np.eye(len(low))[rng.integers(len(low))]
    if policy == "random-hold":
        return rng.uniform(low, high)
    if policy == "biased":
        steer = rng.uniform(-1, 1)
        gas = rng.uniform(0.5, 1) if rng.random() < 0.8 else 0.0
        brake = rng.uniform(0, 0.8) if rng.random() < 0.1 else 0.0
        return np.array([steer, gas, brake])
    raise ValueError(f"policy '{policy}': expected one of {POLICIES}")


ENV_OPTIONS = ("floor", "camera_elevation")  # HalfCheetah-v5's own options, recorded in the options when given
_ENV_CACHE: dict[tuple, SimEnv] = {}


def _env_options(options: dict[str, Any]) -> dict[str, Any]:
    return {name: options[name] for name in ENV_OPTIONS if name in options}


def _cache_key(env: str, size: int, env_options: dict[str, Any]) -> tuple:
    return (env, size, *sorted(env_options.items()))


def _cached_env(env: str, size: int, env_options: dict[str, Any] | None = None) -> SimEnv:
    """One environment per (name, size, environment options) and process: every episode resets it
    with its own seed."""
    env_options = env_options or {}
    key = _cache_key(env, size, env_options)
    if key not in _ENV_CACHE:
        _ENV_CACHE[key] = env_factory(env)(size, **env_options)
    return _ENV_CACHE[key]


class EpisodeEnded(Exception):
    """The environment ended the episode before it had the frames asked for."""


def record_episode(env: SimEnv, episode: int, options: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frames (T, size, size, 3) uint8 and {action (T, A), state (T, S), reward (T,)} of one episode.

    Raises EpisodeEnded when the environment ends before T frames."""
    rng = np.random.default_rng([options["seed"], episode])
    frames, states, actions, rewards = [env.reset(int(rng.integers(2**31)))], [env.state()], [], []
    total = options["frames"]
    for t in range(total):
        if t % options["hold"] == 0:
            action = sample_action(rng, options["policy"], env.action_low, env.action_high, getattr(env, "discrete", False))
        frame, reward, ended = env.step(action)
        actions.append(action)
        rewards.append(reward)
        if t == total - 1:
            break
        if ended:
            raise EpisodeEnded(f"the environment ended the episode at step {t + 1} of {total}")
        frames.append(frame)
        states.append(env.state())
    arrays = {"action": np.array(actions), "state": np.array(states), "reward": np.array(rewards)}
    return np.stack(frames), {name: a.astype(np.float32) for name, a in arrays.items()}


def _part_paths(parts: Path, episode: int) -> tuple[Path, Path]:
    return parts / f"{episode:05d}.npz", parts / f"{episode:05d}.json"


def prepare_episode(episode: int, parts: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Record one episode into ``parts/`` (arrays, then its manifest row as JSON); returns the row.

    A failing environment is recorded as ``failed: <reason>`` and dropped from the cache, so the
    next episode gets a fresh one."""
    arrays_path, row_path = _part_paths(parts, episode)
    row = {"id": f"{episode:05d}", "path": f"{options['env']}#{episode}", "frames": 0, "fps": 0.0,
           "height": options["size"], "width": options["size"]}
    try:
        env = _cached_env(options["env"], options["size"], _env_options(options))
        row["fps"] = env.fps
        frames, arrays = record_episode(env, episode, options)
        tmp = arrays_path.with_name(f".{arrays_path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.savez(fh, frames=frames, **arrays)
        os.replace(tmp, arrays_path)
        row.update(frames=len(frames), status="ok")
    except SimExtraMissing:
        raise
    except EpisodeEnded as err:
        row["status"] = f"failed: {err}"
    except Exception as err:  # a crashing simulator is counted, never fatal
        _ENV_CACHE.pop(_cache_key(options["env"], options["size"], _env_options(options)), None)
        row["status"] = f"failed: {type(err).__name__}: {err}".replace("\n", " ")
    write_json(row_path, row)
    return row




@dataclass
class SimSummary:
    """What a recording run did; ``failures`` lists (episode id, reason)."""

    ok: int = 0
    reused: int = 0
    frames: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def line(self, out: Path) -> str:
        return (f"{out}: {self.ok} episodes ok ({self.reused} from an earlier run), {len(self.failures)} failed, "
                f"{self.frames} frames")


def _check_options(out: Path, options: dict[str, Any]) -> None:
    for path in (out / "meta.json", out / "parts" / "options.json"):
        if path.is_file():
            found = json.loads(path.read_text())
            found = found.get("options", found)
            if found != options:
                raise DatasetFolderError(f"{out}: recorded earlier with {found}, now asked for {options}; "
                                         "use --overwrite to start again")


def generate_sim(
    out: str | Path,
    env: str,
    episodes: int = 300,
    frames: int = 64,
    size: int = 64,
    hold: int | None = None,
    policy: str | None = None,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    floor: str | None = None,
    camera_elevation: float | None = None,
) -> SimSummary:
    """Record (or finish recording) ``episodes`` episodes of ``env`` into the frame store ``out``.

    ``hold`` and ``policy`` default to the environment's (:data:`ENVS`; 1 and ``random-hold`` for
    a ``module:Factory`` environment). HalfCheetah-v5 only: ``floor``, the floor's photograph (``None``:
    the model's chequer); ``camera_elevation``, the camera's elevation in degrees (``None``: 30)."""
    spec = ENVS.get(env)
    hold = hold if hold is not None else (spec.hold if spec else 1)
    policy = policy or (spec.policy if spec else "random-hold")
    if episodes < 1 or frames < 2 or size < 1 or hold < 1 or workers < 1:
        raise ValueError(f"need episodes ≥ 1, frames ≥ 2, size ≥ 1, hold ≥ 1, workers ≥ 1; got episodes={episodes}, "
                         f"frames={frames}, size={size}, hold={hold}, workers={workers}")
    if policy not in POLICIES:
        raise ValueError(f"policy '{policy}': expected one of {POLICIES}")
    env_options = {name: value for name, value in zip(ENV_OPTIONS, (floor, camera_elevation)) if value is not None}
    if env_options and env != "HalfCheetah-v5":
        raise ValueError(f"{', '.join(env_options)}: only HalfCheetah-v5 takes these options, not {env}")
    env_factory(env)
    out, parts = Path(out), Path(out) / "parts"
    options = {"env": env, "episodes": episodes, "frames": frames, "size": size, "hold": hold, "policy": policy, "seed": seed}
    options |= env_options  # absent unless given, so stores recorded before these options resume unchanged
    if overwrite:
        _remove_store(out)
    _check_options(out, options)
    if (out / "meta.json").is_file():
        store = FrameStore(out)
        return SimSummary(ok=len(store.videos), reused=len(store.videos), frames=int(store.offsets[-1]),
                          failures=_failures(out))
    probe = _cached_env(env, size, env_options)  # fail early (a missing extra, a bad factory) before any worker starts
    columns = {"action": list(probe.action_columns), "state": list(probe.state_columns), "reward": ["reward"]}
    discrete = bool(getattr(probe, "discrete", False))
    if discrete and policy != "random-hold":
        raise ValueError(f"policy '{policy}': {env} has discrete actions; only 'random-hold' draws them")
    parts.mkdir(parents=True, exist_ok=True)
    write_json(parts / "options.json", options)
    for leftover in parts.glob(".*.tmp-*"):
        leftover.unlink()
    done = {e: json.loads(_part_paths(parts, e)[1].read_text()) for e in range(episodes) if _part_paths(parts, e)[1].is_file()}
    summary = SimSummary(reused=len(done))
    todo = [(e, parts, options) for e in range(episodes) if e not in done]
    with tqdm(total=episodes, initial=len(done), desc=env, unit="episode") as bar:
        for row in run_jobs(prepare_episode, todo, workers):
            done[int(row["id"])] = row
            bar.update(1)
            bar.set_postfix(failed=sum(r["status"] != "ok" for r in done.values()))
    rows = [done[e] for e in range(episodes)]
    _consolidate(out, rows, options, columns, discrete)
    summary.ok = sum(row["status"] == "ok" for row in rows)
    summary.frames = sum(row["frames"] for row in rows)
    summary.failures = _failures(out)
    return summary


def _failures(out: Path) -> list[tuple[str, str]]:
    return [(row["id"], row["status"].removeprefix("failed: ")) for row in read_manifest(out) if row["status"] != "ok"]


def _consolidate(out: Path, rows: list[dict[str, Any]], options: dict[str, Any], columns: dict[str, list[str]],
                 discrete: bool) -> None:
    """Assemble the store from ``parts/`` in episode order, write manifest and meta, remove ``parts/``.
    meta.json's ``action.discrete`` says whether the action columns are one-hot."""
    ok = [row for row in rows if row["status"] == "ok"]
    if not ok:
        raise DatasetFolderError(f"{out}: no episode succeeded ({rows[0]['status']})")
    parts = out / "parts"
    load = lambda row: np.load(_part_paths(parts, int(row["id"]))[0], allow_pickle=False)

    def clips() -> Iterator[np.ndarray]:
        for row in ok:
            with load(row) as arrays:
                yield arrays["frames"]

    size = options["size"]
    write_frames(out, tqdm(clips(), total=len(ok), desc="store", unit="episode"), [r["frames"] for r in ok], (size, size, 3))
    for name in columns:
        arrays = []
        for row in ok:
            with load(row) as part:
                arrays.append(part[name])
        save_array(out, f"gt_{name}", np.concatenate(arrays))
    write_manifest(out, rows)
    ground_truth = {
        "action": f"action applied between frame t and t + 1, columns {columns['action']}",
        "state": f"physical state at frame t, columns {columns['state']}",
        "reward": "reward earned by action[t]",
    }
    action = {"sum_of": "action", "aligned": "after", "discrete": discrete,
              "description": "sum of the actions applied from the context's last frame up to the target's last frame"
                             + ("; one-hot actions, so the sum counts each action" if discrete else "")}
    write_meta(out, FRAMES_KIND, "data_prep.sim", options, ground_truth=ground_truth, action=action, columns=columns)
    shutil.rmtree(parts)


def _remove_store(out: Path) -> None:
    """Delete what this command writes in ``out`` (the store and ``parts/``), nothing else."""
    for path in [*(out / name for name in ("meta.json", "manifest.csv", "frames.npy", "offsets.npy")), *out.glob("gt_*.npy")]:
        path.unlink(missing_ok=True)
    if (out / "parts").is_dir():
        shutil.rmtree(out / "parts")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sim", help="record simulator episodes with true actions and state", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("env", help=f"environment: {', '.join(ENVS)}, or package.module:Factory")
    p.add_argument("out", type=Path, help="dataset folder to write (created if missing)")
    p.add_argument("--episodes", type=int, default=300, help="episodes, one video each (default 300)")
    p.add_argument("--frames", type=int, default=64, help="frames per episode (default 64)")
    p.add_argument("--size", type=int, default=64, help="frames are size x size pixels (default 64)")
    p.add_argument("--hold", type=int, default=None, help="steps each sampled action is held (default: the env's, e.g. 5 for CarRacing)")
    p.add_argument("--policy", choices=POLICIES, default=None, help="action policy (default: biased for CarRacing, else random-hold)")
    p.add_argument("--seed", type=int, default=0, help="random seed; episode e uses the stream (seed, e)")
    p.add_argument("--workers", type=int, default=1, help="episodes recorded in parallel; the output does not depend on it")
    p.add_argument("--overwrite", action="store_true", help="delete an earlier store in OUT (and its parts) instead of resuming it")
    p.add_argument("--floor", choices=SCENES, default=None,
                   help="HalfCheetah-v5: a photograph as the floor instead of the repeating chequer (one 8.9 m tile)")
    p.add_argument("--camera-elevation", type=float, default=None,
                   help="HalfCheetah-v5: the camera's elevation above the centre of mass, degrees (default 30; 90: straight down)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    try:
        summary = generate_sim(args.out, args.env, args.episodes, args.frames, args.size, args.hold, args.policy,
                               args.seed, args.workers, args.overwrite, args.floor, args.camera_elevation)
    except (SimExtraMissing, ValueError) as err:  # DatasetFolderError is a ValueError
        raise SystemExit(f"error: {err}") from None
    for episode, reason in summary.failures:
        print(f"failed: episode {episode}: {reason}", file=sys.stderr)
    print(summary.line(args.out))

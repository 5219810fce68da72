"""Typed experiment configuration: dataclass schemas, YAML files, dotted command-line overrides.

One YAML per experiment under ``configs/``; every key is checked against the schemas below.
An unknown key or a value of the wrong type raises :class:`ConfigError` naming the key, the
source (file or command line) and the closest valid keys::

    cfg = load_config("configs/numerical/adassl_v.yaml", ["model.latent.beta=0.5"])
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key and the source."""


@dataclass
class DataConfig:
    kind: str = "numerical"  # numerical | frames
    path: str = "data/numerical"
    generator: Optional[str] = None  # built-in generator used when `path` does not exist: numerical | mmnist | camera_pan
    generator_args: dict[str, Any] = field(default_factory=dict)
    num_workers: int = 0
    context: int = 1  # frames: k, frames per clip
    gap: int = 1  # frames: d, the target clip starts d frames after the context clip
    stride: int = 1  # frames: a pair starts at every stride-th frame of a video
    test_fraction: float = 0.2  # frames: fraction of the videos held out as the test split


@dataclass
class EncoderConfig:
    kind: str = "mlp"  # mlp (vectors) | cnn | resnet18 (clips of k frames as stacked channels)
    hidden: int = 256  # mlp
    depth: int = 4  # mlp
    out_dim: int = 10
    width: int = 32  # cnn: channels of the first block (doubling over 4 blocks)
    projector_hidden: int = 0  # cnn, resnet18: 0 = linear head to out_dim, > 0 = projector MLP of this width


@dataclass
class LatentConfig:
    kind: str = "none"  # none | gaussian | mixture | sparse | oracle
    dim: int = 10
    hidden: int = 256
    beta: float = 1.0  # weight of the KL (gaussian) or L0 (sparse) term after warm-up
    beta_warmup_steps: int = 0
    temperature: float = 1.0  # Gumbel-sigmoid temperature (sparse)
    components: int = 4  # K, components of the Gaussian-mixture prior (mixture)


@dataclass
class PredictorConfig:
    kind: str = "additive"  # additive | mlp | modular
    hidden: int = 256
    rank: int = 4  # low rank of each module (modular)


@dataclass
class ModelConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)


@dataclass
class ObjectiveConfig:
    kind: str = "infonce"  # infonce | aninfonce | hinfonce | byol
    similarity: str = "cosine"  # cosine | l2 (negative squared distance)
    temperature: float = 0.1
    learn_temperature: bool = False
    hidden: int = 256  # scale network (hinfonce) or predictor head (byol, simsiam)
    ema_momentum: float = 0.99  # base momentum of the EMA target (byol); cosine schedule to 1
    byol_predictor: bool = True  # byol: predictor head q (False: identity, the variant that collapses)
    symmetric: bool = True  # use both directions of each pair, as in the paper
    simsiam_predictor: bool = True  # simsiam: predictor head h (False: identity, a collapsing variant)
    simsiam_stop_gradient: bool = True  # simsiam: stop-gradient on the target (False: collapsing variant)
    centre_weight: float = 0.5  # centre_penalty: λ of the centre-vector penalty λ‖s‖²


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | constant


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 512
    mixed_precision: str = "no"  # no | bf16 | fp16
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    grad_clip: float = 0.0  # max global gradient norm; 0 disables clipping
    skip_nonfinite: int = 0  # batches with a NaN/inf loss to skip (and count) before stopping; 0 stops at the first
    threads: int = 0  # torch intra-op CPU threads; 0 keeps PyTorch's default
    collapse_grace_steps: int = 200  # no collapse warning before this step (a fresh encoder's embeddings point alike)
    collapse_max_centre_norm: float = 0.9  # collapse alarm: centre norm ‖s‖ at or above this
    collapse_min_residual_norm: float = 0.05  # collapse alarm: residual norm ρ at or below this


@dataclass
class Config:
    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "data.kind": ("numerical", "frames"),
    "model.encoder.kind": ("mlp", "cnn", "resnet18"),
    "model.latent.kind": ("none", "gaussian", "mixture", "sparse", "oracle"),
    "model.predictor.kind": ("additive", "mlp", "modular"),
    "objective.kind": ("infonce", "aninfonce", "hinfonce", "byol", "simsiam", "centre_penalty"),
    "objective.similarity": ("cosine", "l2"),
    "optim.schedule": ("cosine", "constant"),
    "train.mixed_precision": ("no", "bf16", "fp16"),
}


def _schema_keys() -> list[str]:
    """All dotted keys of the schema, sections and leaves: ``["name", "data", "data.kind", ...]``."""
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for f in dataclasses.fields(node):
            keys.append(prefix + f.name)
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")

    walk(Config(), "")
    return keys


def _check_keys(tree: Any, source: str, prefix: str = "") -> None:
    """Raise ConfigError for the first key of ``tree`` not in the schema."""
    if not isinstance(tree, dict):
        return
    valid = _schema_keys()
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if dotted not in valid:
            siblings = [k for k in valid if k.startswith(prefix) and "." not in k[len(prefix):]]
            close = difflib.get_close_matches(dotted, valid, n=3, cutoff=0.5) or siblings
            raise ConfigError(f"{source}: unknown key '{dotted}'; closest valid keys: {close}")
        if dotted == "data.generator_args":
            continue  # free-form options handed to the generator, which checks them itself
        _check_keys(value, source, dotted + ".")


def _check_choices(cfg: DictConfig, source: str) -> None:
    # YAML reads a bare `no` as the boolean false, which a string field stores as "False".
    if OmegaConf.select(cfg, "train.mixed_precision") == "False":
        cfg.train.mixed_precision = "no"
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in allowed:
            raise ConfigError(f"{source}: '{key}' is {value!r}; expected one of {list(allowed)}")


def _merge(base: DictConfig, update: DictConfig, source: str) -> DictConfig:
    _check_keys(OmegaConf.to_container(update), source)
    try:
        return OmegaConf.merge(base, update)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        close = difflib.get_close_matches(str(key), _schema_keys(), n=3, cutoff=0.5)
        raise ConfigError(f"{source}: bad value for '{key}': {err.msg if hasattr(err, 'msg') else err}; "
                          f"closest valid keys: {close}") from None


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Build a :class:`Config` from defaults, an optional YAML file, then dotted overrides.

    Args:
        path: YAML file with any subset of the schema's keys.
        overrides: ``key=value`` strings, e.g. ``["model.latent.beta=0.5", "train.seed=1"]``.
    """
    cfg = OmegaConf.structured(Config)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = OmegaConf.load(path)
        except Exception as err:  # yaml.YAMLError and friends: name the file
            raise ConfigError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(loaded, DictConfig):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        cfg = _merge(cfg, loaded, str(path))
    if overrides:
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"command line: override '{item}' is not of the form key=value")
        cfg = _merge(cfg, OmegaConf.from_dotlist(list(overrides)), "command line")
    _check_choices(cfg, " + ".join(filter(None, [str(path) if path else "", "command line" if overrides else ""])) or "defaults")
    return OmegaConf.to_object(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the fully resolved config as YAML (readable by :func:`load_config`)."""
    Path(path).write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg))

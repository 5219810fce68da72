"""Typed experiment configuration: dataclass schemas, YAML files, dotted command-line overrides.

One YAML per experiment under ``configs/``; every key is checked against the schemas below.
An unknown key or a value of the wrong type raises :class:`ConfigError` naming the key, the
source (file or command line) and the closest valid keys::

    cfg = load_config("configs/numerical/adassl_v.yaml", ["model.latent.beta=0.5"])
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key and the source."""


@dataclass
class DataConfig:
    kind: str = "numerical"  # numerical | frames | image_pairs
    path: str = "data/numerical"
    generator: Optional[str] = None  # built-in generator used when `path` does not exist: numerical | mmnist | camera_pan | digit_pairs
    generator_args: dict[str, Any] = field(default_factory=dict)
    num_workers: int = 0
    context: int = 1  # frames: k, frames per clip
    gap: int = 1  # frames: d, the target clip starts d frames after the context clip
    stride: int = 1  # frames: a pair starts at every stride-th frame of a video
    test_fraction: float = 0.2  # frames: fraction of the videos (or, split_by time, of each video's blocks) held out as the test split
    split_by: str = "video"  # frames: video (whole videos; shots cut from one source stay together) | time (blocks of time_block frames of every video)
    test_videos: list[str] = field(default_factory=list)  # frames, split_by video: hold out exactly these (manifest id, source or file stem); [] = a seeded test_fraction
    time_block: int = 64  # frames, split_by time: frames per block; no pair crosses a block
    pairs_per_video: int = 1  # frames: > 1 fills each batch with runs of this many pairs of one video (in-video negatives)


@dataclass
class EncoderConfig:
    kind: str = "mlp"  # mlp (vectors) | cnn | resnet18 (clips of k frames as stacked channels) | vit (video ViT) | timm (a timm backbone per frame) | video_resnet (torchvision's 3-D ResNets on the clip)
    hidden: int = 256  # mlp
    depth: int = 4  # mlp
    out_dim: int = 10
    width: int = 32  # cnn: channels of the first block (doubling over 4 blocks)
    projector_hidden: int = 0  # cnn, resnet18: 0 = linear head to out_dim, > 0 = projector MLP of this width
    token_dim: int = 0  # cnn, vit: > 0 = the embedding is the final feature map as tokens of this width (out_dim unused)
    frames: str = "stacked"  # cnn: stacked (a clip's k frames as channels of one image) | separate (one shared CNN per frame, features concatenated)
    keypoints: int = 0  # cnn: > 0 = each image's features are the (x, y) of K soft-argmax keypoints of its quarter-resolution map
    size: str = "tiny"  # vit: tiny (192 wide, 12 blocks, 3 heads) | small (384, 12, 6)
    blocks: int = 0  # vit: transformer blocks; 0 = the size's 12
    patch: int = 8  # vit: patch side p in pixels (frames must be multiples of it)
    tubelet: int = 1  # vit: frames per tubelet t (k must be a multiple of it)
    timm_name: str = ""  # timm: the timm model name, e.g. vit_small_patch14_dinov2 (created with pretrained=False)
    arch: str = "r3d_18"  # video_resnet: r3d_18 | mc3_18 | r2plus1d_18 (torchvision.models.video)
    weights: str = ""  # timm, video_resnet, cnn: safetensors file of the backbone's (cnn: the encoder's) state dict ("" = random init); nothing is downloaded
    freeze: bool = False  # timm, video_resnet, cnn: the backbone gets no gradient (only the embedding head learns), DINO-WM style
    standardise: bool = False  # every coordinate of the embedding to zero mean, unit spread over the batch (BatchNorm without scale; vector embeddings)


@dataclass
class LatentConfig:
    kind: str = "none"  # none | gaussian | mixture | sparse | oracle
    dim: int = 10
    hidden: int = 256
    beta: float = 1.0  # weight of the KL (gaussian) or L0 (sparse) term after warm-up
    beta_warmup_steps: int = 0
    free_bits: float = 0.0  # gaussian, mixture: nats per dimension of r that the KL term does not charge (0: off)
    temperature: float = 1.0  # Gumbel-sigmoid temperature (sparse)
    value_noise: float = 0.0  # sparse: > 0 bounds the values by tanh and adds N(0, value_noise²) in training
    decorrelation: float = 0.0  # sparse: weight of the squared off-diagonal correlations of r's coordinates over the batch
    l0_unsaturated: bool = False  # sparse: the L0 term's gradient on a mask logit l is σ(l) (that of softplus(l)), not σ(l)(1 − σ(l)), so it never vanishes
    components: int = 4  # K, components of the Gaussian-mixture prior (mixture)
    codes: int = 16  # K, codebook size of the vector-quantised latent (vq); beta weights its commitment loss
    batch_norm: bool = False  # BatchNorm1d on the hidden layers of the posterior and prior MLPs
    input_norm: bool = False  # sparse: the posterior and prior MLPs see each embedding coordinate standardised over the batch
    sigma_floor: float = 1e-4  # gaussian, mixture: σ = softplus(·) + this floor (the authors' code: 1e-6)
    logvar_clamp: float = 0.0  # gaussian, mixture: > 0 clamps log σ² of posterior and prior to ±this (the authors' code: 10)
    posterior_on_target: bool = False  # EMA objectives (byol): q(r | f(x), g(x⁺)) reads the EMA target's embedding of x⁺, without gradient


@dataclass
class PredictorConfig:
    kind: str = "additive"  # additive | mlp | modular | tokens (transformer over feature-map tokens + an r token)
    hidden: int = 256
    rank: int = 4  # low rank of each module (modular)
    depth: int = 2  # transformer layers (tokens)
    heads: int = 4  # attention heads (tokens)
    squash: bool = False  # modular: module i is switched by tanh(r_i) rather than r_i (the authors' AdaSSL-S edit)
    tied_bias: bool = False  # modular: module i's bias is B_i a_i (a_i of width rank) rather than a free D-wide b_i


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
    hidden: int = 256  # scale network (hinfonce) or predictor head (byol)
    ema_momentum: float = 0.99  # base momentum of the EMA target (byol); cosine schedule to 1
    byol_predictor: bool = True  # byol: predictor head q (False: identity, the variant that collapses)
    symmetric: bool = True  # use both directions of each pair, as in the paper
    embedding_weight: float = 0.0  # λ of the embedding-space prediction error (any objective; keeps rollouts decodable)
    variance_weight: float = 0.0  # λ of VICReg's variance + covariance terms on f (any objective; keeps f from collapsing)
    coordinate_fit_weight: float = 0.0  # κ of the per-coordinate prediction error of t(sg f(x), r) (f(x) detached: trains r and the predictor; a gradient on narrow axes)
    augment_weight: float = 0.0  # α of SimCLR on two augmented views of each context clip (objectives/augment.py; clips only; 0: not computed)
    augment_crop: float = 0.6  # the augment term's smallest crop, as a share of the frame's area
    augment_temperature: float = 0.5  # the augment term's NT-Xent temperature
    logit_clamp: float = 0.0  # infonce family: > 0 clamps the logits to ±this before the softmax (the authors' code: 20)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.0
    decay_1d: bool = True  # weight decay also on 1-D parameters (biases, norm scales); False exempts them
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
    compile: str = "none"  # none | inductor | aot_eager: torch.compile's backend for the training forward (inductor pays on a GPU: bench/gpu_check.py)
    log_with: str = "tensorboard"  # experiment tracker next to metrics.jsonl: tensorboard | wandb | mlflow | aim | none
    prior_fit_steps: int = 0  # after training: steps refitting p(r | f(x)) to the final posterior (gaussian / mixture latents)
    collapse_grace_steps: int = 200  # no collapse warning before this step (a fresh encoder's embeddings point alike)
    collapse_max_centre_norm: float = 0.9  # collapse alarm: centre norm ‖s‖ at or above this
    collapse_min_residual_norm: float = 0.05  # collapse alarm: residual norm ρ at or below this
    latent_collapse_steps: int = 500  # latent-collapse warning: r carried nothing (no active dimension) for this many steps after the β warm-up


@dataclass
class Config:
    name: str = "experiment"
    recipe: str = "ours"  # ours | paper: the authors' training recipe (PAPER_RECIPE); options given beside it win
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "recipe": ("ours", "paper"),
    "data.kind": ("numerical", "frames", "image_pairs"),
    "model.encoder.kind": ("mlp", "cnn", "resnet18", "vit", "timm", "video_resnet"),
    "model.encoder.arch": ("r3d_18", "mc3_18", "r2plus1d_18"),
    "model.encoder.size": ("tiny", "small"),
    "model.encoder.frames": ("stacked", "separate"),
    "model.latent.kind": ("none", "gaussian", "mixture", "sparse", "oracle", "vq"),
    "model.predictor.kind": ("additive", "mlp", "modular", "tokens"),
    "objective.kind": ("infonce", "aninfonce", "hinfonce", "byol"),
    "objective.similarity": ("cosine", "l2"),
    "optim.schedule": ("cosine", "constant"),
    "data.split_by": ("video", "time"),
    "train.mixed_precision": ("no", "bf16", "fp16"),
    "train.compile": ("none", "inductor", "aot_eager"),
    "train.log_with": ("tensorboard", "wandb", "mlflow", "aim", "none"),
}


RANGES: dict[str, tuple[float, float]] = {
    "data.num_workers": (0, math.inf),
    "data.context": (1, math.inf),
    "data.gap": (1, math.inf),
    "data.stride": (1, math.inf),
    "data.test_fraction": (0.0, 1.0),
    "data.time_block": (2, math.inf),
    "data.pairs_per_video": (1, math.inf),
    "model.encoder.out_dim": (1, math.inf),
    "model.encoder.token_dim": (0, math.inf),
    "model.encoder.keypoints": (0, math.inf),
    "model.encoder.blocks": (0, math.inf),
    "model.encoder.patch": (1, math.inf),
    "model.encoder.tubelet": (1, math.inf),
    "model.predictor.depth": (1, math.inf),
    "model.predictor.heads": (1, math.inf),
    "model.latent.dim": (1, math.inf),
    "model.latent.components": (1, math.inf),
    "model.latent.codes": (2, math.inf),
    "model.latent.value_noise": (0.0, math.inf),
    "model.latent.decorrelation": (0.0, math.inf),
    "model.latent.free_bits": (0.0, math.inf),
    "model.latent.sigma_floor": (1e-12, math.inf),
    "model.latent.logvar_clamp": (0.0, math.inf),
    "objective.logit_clamp": (0.0, math.inf),
    "objective.embedding_weight": (0.0, math.inf),
    "objective.variance_weight": (0.0, math.inf),
    "objective.coordinate_fit_weight": (0.0, math.inf),
    "objective.temperature": (0.0, math.inf),
    "objective.ema_momentum": (0.0, 1.0),
    "optim.lr": (0.0, math.inf),
    "optim.weight_decay": (0.0, math.inf),
    "optim.warmup_steps": (0, math.inf),
    "train.steps": (0, math.inf),
    "train.batch_size": (1, math.inf),
    "train.log_every": (1, math.inf),
    "train.checkpoint_every": (1, math.inf),
    "train.keep_checkpoints": (1, math.inf),
    "train.grad_clip": (0.0, math.inf),
    "train.skip_nonfinite": (0, math.inf),
    "train.threads": (0, math.inf),
    "train.prior_fit_steps": (0, math.inf),
    "train.latent_collapse_steps": (1, math.inf),
}
"""Inclusive bounds of numeric keys; every float key must also be finite."""

RETIRED: dict[str, Any] = {
    "model.latent.prior": "conditional",
    "objective.simsiam_predictor": True,
    "objective.simsiam_stop_gradient": True,
    "objective.centre_weight": 0.5,
}
"""Keys removed from the schema, each with the value it held when the option was off: the
config.yaml of a run trained before the removal still loads."""

PAPER_RECIPE: dict[str, Any] = {
    "model": {"latent": {"batch_norm": True, "sigma_floor": 1e-6, "logvar_clamp": 10.0, "posterior_on_target": True}},
    "objective": {"ema_momentum": 0.996, "logit_clamp": 20.0},
    "optim": {"lr": 1e-4, "weight_decay": 5e-4, "decay_1d": False, "schedule": "constant", "warmup_steps": 0},
    "train": {"grad_clip": 1.0},
}
"""The training recipe of the authors' code (github.com/SkrighYZ/AdaSSL): where it differs from ours."""

PAPER_SPARSE_EDIT: dict[str, Any] = {"model": {"predictor": {"squash": True, "tied_bias": True, "rank": 1}}}
"""The authors' AdaSSL-S edit f + Σ_i tanh(r_i) B_i (A_i f + a_i), rank 1: the paper recipe adds it for a
sparse latent with a modular predictor."""


def recipe_options(recipe: str, cfg: DictConfig) -> dict[str, Any]:
    """The options ``recipe`` sets (a nested mapping) for the config ``cfg`` it is given with: none for
    ``ours``; :data:`PAPER_RECIPE`, plus :data:`PAPER_SPARSE_EDIT` when ``cfg`` has a sparse latent and a
    modular predictor, for ``paper``."""
    if recipe != "paper":
        return {}
    sparse_edit = cfg.model.latent.kind == "sparse" and cfg.model.predictor.kind == "modular"
    return OmegaConf.to_container(OmegaConf.merge(PAPER_RECIPE, PAPER_SPARSE_EDIT if sparse_edit else {}))


_DOTTED_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MISSING = "???"  # OmegaConf's marker of a missing value, which a merge would silently ignore


def _first_line(err: Exception) -> str:
    """The first line of a library error (OmegaConf and YAML messages span several lines)."""
    text = str(getattr(err, "msg", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@functools.cache
def _schema_leaves() -> dict[str, Any]:
    """{dotted key: default value} of every leaf of the schema."""
    leaves: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                leaves[prefix + f.name] = value

    walk(Config(), "")
    return leaves


@functools.cache
def _schema_sections() -> list[str]:
    """Dotted keys of the schema's sections: ``["data", "model", "model.encoder", ...]``."""
    return sorted({leaf.rsplit(".", i)[0] for leaf in _schema_leaves() for i in range(1, leaf.count(".") + 1)})


def _schema_keys() -> list[str]:
    """All dotted keys of the schema, sections and leaves: ``["name", "data", "data.kind", ...]``."""
    return [*_schema_sections(), *_schema_leaves()]


def _check_keys(tree: Any, source: str, prefix: str = "") -> None:
    """Raise ConfigError for the first key of ``tree`` not in the schema, a section given a
    plain value, or a value left as OmegaConf's missing marker ``???``."""
    valid, sections = _schema_keys(), _schema_sections()
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if dotted not in valid:
            siblings = [k for k in valid if k.startswith(prefix) and "." not in k[len(prefix):]]
            close = difflib.get_close_matches(dotted, valid, n=3, cutoff=0.5) or siblings
            raise ConfigError(f"{source}: unknown key {dotted!r}; closest valid keys: {close}")
        if value == _MISSING:
            raise ConfigError(f"{source}: {dotted!r} is '???' (a missing value); expected a value")
        mapping = dotted in sections or dotted == "data.generator_args"
        if mapping and not isinstance(value, dict):
            raise ConfigError(f"{source}: {dotted!r} is {value!r}; expected a mapping of keys under it")
        if dotted in sections:  # data.generator_args is free-form: the generator checks it
            _check_keys(value, source, dotted + ".")


def _check_choices(cfg: DictConfig, source: str) -> None:
    # YAML reads a bare `no` as the boolean false, which a string field stores as "False".
    if OmegaConf.select(cfg, "train.mixed_precision") == "False":
        cfg.train.mixed_precision = "no"
    # train.compile as a switch (false / true, YAML's no / yes) means off / the default backend
    compile_switch = {"False": "none", "True": "inductor"}.get(OmegaConf.select(cfg, "train.compile"))
    if compile_switch:
        cfg.train.compile = compile_switch
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in allowed:
            raise ConfigError(f"{source}: '{key}' is {value!r}; expected one of {list(allowed)}")
    if OmegaConf.select(cfg, "model.encoder.kind") == "timm" and not OmegaConf.select(cfg, "model.encoder.timm_name"):
        raise ConfigError(f"{source}: 'model.encoder.kind' is 'timm' but 'model.encoder.timm_name' is empty; "
                          "expected a timm model name such as vit_small_patch14_dinov2")


def _check_ranges(cfg: Config, source: str) -> None:
    """Finite floats, and numbers within :data:`RANGES`."""
    for key, default in _schema_leaves().items():
        value = functools.reduce(getattr, key.split("."), cfg)
        low, high = RANGES.get(key, (-math.inf, math.inf))
        if isinstance(default, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: '{key}' is {value!r}; expected a finite number")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            raise ConfigError(f"{source}: '{key}' is {value!r}; expected a number in [{low}, {high}]")


def _drop_retired(tree: dict[str, Any], source: str) -> dict[str, Any]:
    """``tree`` without the :data:`RETIRED` keys that hold their off value; any other value raises."""
    for key, off in RETIRED.items():
        *parents, leaf = key.split(".")
        node = functools.reduce(lambda n, k: n.get(k) if isinstance(n, dict) else None, parents, tree)
        if isinstance(node, dict) and leaf in node:
            if node[leaf] != off:
                raise ConfigError(f"{source}: '{key}' is {node[leaf]!r}, an option that was removed; "
                                  f"delete the key (only {off!r} remains)")
            del node[leaf]
    return tree


def _merge(base: DictConfig, update: DictConfig, source: str) -> DictConfig:
    """``update`` merged onto ``base``. A ``recipe`` in ``update`` puts its options (:func:`recipe_options`)
    between the two: over ``base``, under the options ``update`` gives explicitly."""
    tree = _drop_retired(OmegaConf.to_container(update), source)
    _check_keys(tree, source)
    update = OmegaConf.create(tree)
    try:
        merged = OmegaConf.merge(base, update)
        if "recipe" in tree:  # an unknown recipe sets nothing here; _check_choices names it
            merged = OmegaConf.merge(base, recipe_options(tree["recipe"], merged), update)
        return merged
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        raise ConfigError(f"{source}: bad value for '{key}': {_first_line(err)}") from None


def _parse_overrides(overrides: Sequence[str]) -> DictConfig:
    """``key=value`` strings as a config tree; a malformed key or a value that is not YAML raises."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not _DOTTED_KEY.fullmatch(key):
            raise ConfigError(f"command line: override {item!r} is not of the form key=value with a dotted key "
                              "such as train.steps=100")
        try:
            OmegaConf.from_dotlist([item])
        except Exception as err:  # yaml's ScannerError, ReaderError, …
            raise ConfigError(f"command line: value {value!r} of '{key}' is not valid YAML ({_first_line(err)})") from None
    return OmegaConf.from_dotlist(list(overrides))


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Build a :class:`Config` from defaults, an optional YAML file, then dotted overrides.

    Args:
        path: YAML file with any subset of the schema's keys.
        overrides: ``key=value`` strings, e.g. ``["model.latent.beta=0.5", "train.seed=1"]``.

    Raises:
        ConfigError: one line naming the source (file or command line), the key and what was
            expected: unknown key, wrong type, value out of range, unknown choice, missing file.
    """
    cfg = OmegaConf.structured(Config)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = OmegaConf.load(path)
        except Exception as err:  # yaml.YAMLError and friends: name the file
            raise ConfigError(f"{path}: not valid YAML ({_first_line(err)})") from None
        if not isinstance(loaded, DictConfig):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        if not loaded:  # an empty file would train on the library defaults without a word
            raise ConfigError(f"config {path} is empty; expected a mapping of config keys (see configs/)")
        cfg = _merge(cfg, loaded, str(path))
    if overrides:
        cfg = _merge(cfg, _parse_overrides(overrides), "command line")
    source = " + ".join(filter(None, [str(path) if path else "", "command line" if overrides else ""])) or "defaults"
    return _resolve(cfg, source)


def config_from_dict(tree: dict[str, Any], source: str) -> Config:
    """A :class:`Config` from a nested mapping of config keys (e.g. a saved model's config.json),
    checked as :func:`load_config` checks a file; errors name ``source``."""
    return _resolve(_merge(OmegaConf.structured(Config), OmegaConf.create(tree), source), source)


def _resolve(cfg: DictConfig, source: str) -> Config:
    """The checked :class:`Config` of a merged tree: choices, interpolations, ranges."""
    _check_choices(cfg, source)
    try:
        resolved = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:  # an interpolation ${…} that does not resolve
        raise ConfigError(f"{source}: bad value for '{getattr(err, 'full_key', '?')}': {_first_line(err)}") from None
    _check_ranges(resolved, source)
    return resolved


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the fully resolved config as YAML (readable by :func:`load_config`)."""
    Path(path).write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as nested plain mappings (JSON-able; read back with :func:`config_from_dict`)."""
    return OmegaConf.to_container(OmegaConf.structured(cfg))


def flat_config(cfg: Config) -> dict[str, bool | int | float | str]:
    """The resolved config as ``{"section.key": value}`` (a mapping value such as
    data.generator_args as its text), the form experiment trackers store parameters in."""
    flat = {key: functools.reduce(getattr, key.split("."), cfg) for key in _schema_leaves()}
    return {key: value if isinstance(value, (bool, int, float, str)) else str(value) for key, value in flat.items()}

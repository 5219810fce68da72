"""Datasets that read dataset folders, and the builder the training loop uses."""

from __future__ import annotations

import difflib
from pathlib import Path

from torch.utils.data import Dataset

from worldmodel.data.batched import in_order_batches, passthrough_collate
from worldmodel.data.frames import FramePairs
from worldmodel.data.generators import generator_names, generator_options, load_generator
from worldmodel.data.images import ImagePairs
from worldmodel.data.numeric import NumericPairs
from worldmodel.data.store import read_meta


def ensure_dataset(cfg) -> Path:
    """The dataset folder of ``cfg`` (a DataConfig), generated first if missing and built in."""
    path = Path(cfg.path)
    if (path / "meta.json").is_file():
        if cfg.generator is not None:  # data.generator=null: a prepared folder, whatever made it
            _check_generated_with(path, cfg.generator_args)
        return path
    if cfg.generator is None:
        raise FileNotFoundError(f"data.path '{path}' is not a prepared dataset folder (no meta.json) "
                                "and data.generator is not set; prepare it with `python -m data_prep`")
    generate = load_generator(cfg.generator)
    options = generator_options(generate)
    for key in cfg.generator_args:
        if key not in options:
            close = difflib.get_close_matches(str(key), options, n=3) or options
            raise ValueError(f"data.generator_args: '{key}' is not an option of the '{cfg.generator}' generator; "
                             f"closest: {close}")
    print(f"generating built-in '{cfg.generator}' dataset at {path}")
    generate(path, **cfg.generator_args)
    return path


def _check_generated_with(path: Path, generator_args: dict) -> None:
    """A generated folder must have been written with the options the config asks for."""
    if not generator_args:
        return
    written = read_meta(path).get("options", {})
    differ = {k: (written.get(k), v) for k, v in generator_args.items() if written.get(k) != v}
    if differ:
        detail = ", ".join(f"{k}: folder {old!r} vs config {new!r}" for k, (old, new) in differ.items())
        raise ValueError(f"data.path '{path}' was generated with other data.generator_args ({detail}); "
                         "delete the folder to regenerate it or point data.path elsewhere")


def build_dataset(cfg, split: str) -> Dataset:
    """The pair dataset of ``cfg`` (a DataConfig) for one split.

    ``numerical``: :class:`NumericPairs` (splits train / test / ood); ``frames``: :class:`FramePairs`
    of clips of ``cfg.context`` frames and their targets ``cfg.gap`` frames later (splits by
    video: train / test / all); ``image_pairs``: :class:`ImagePairs` (splits of the folder).
    """
    path = ensure_dataset(cfg)
    if cfg.kind == "numerical":
        return NumericPairs(path, split)
    if cfg.kind == "frames":
        return FramePairs(path, cfg.context, cfg.gap, split, cfg.stride, cfg.test_fraction,
                          split_by=cfg.split_by, test_videos=list(cfg.test_videos), time_block=cfg.time_block)
    if cfg.kind == "image_pairs":
        return ImagePairs(path, split)
    raise ValueError(f"data.kind {cfg.kind!r}; expected 'numerical', 'frames' or 'image_pairs'")


__all__ = ["FramePairs", "ImagePairs", "NumericPairs", "build_dataset", "ensure_dataset", "generator_names", "generator_options", "load_generator",
           "in_order_batches", "passthrough_collate"]

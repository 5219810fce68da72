"""``python -m data_prep image-pairs SRC OUT --pairs pairs.csv``: single-step natural image pairs.

``pairs.csv`` has one row per pair: columns ``context`` and ``target`` (image paths relative to
SRC), an optional ``split`` (train / test / ood; without it a seeded ``--test-fraction`` of the
pairs goes to test), and any other columns as per-pair ground truth: numbers are kept, other
values (e.g. an identity name) become integer codes listed in ``meta.json``.

Each distinct image is decoded once (Pillow, RGB), fitted to ``--size`` (short side and centre
crop, or ``--pad``) and stored as a frame store of one-frame videos (``frames.npy``,
``manifest.csv`` one row per image); the pairs are ``pair_context.npy`` and
``pair_target.npy`` (P,) int64 indices into the stored images, ``split.npy`` (P,) uint8 with
codes in ``meta.json["splits"]`` and ``pair_gt_<name>.npy`` (P,) float32. Images that cannot be
read are ``failed: <reason>`` in the manifest; the pairs that use them are dropped and counted.
Generators of image pairs (``python -m data_prep digit-pairs``) write the same format, and may
add per-image ground truth ``gt_<name>.npy`` (N,) float32 listed in ``meta.json["ground_truth"]``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from data_prep.resize import fit_frames
from worldmodel.cli import at_least
from worldmodel.data.store import DatasetFolderError, save_array, write_frames, write_manifest, write_meta

KIND = "image_pairs"
SPLITS = {"train": 0, "test": 1, "ood": 2}


def pair_generator_parser(subparsers: argparse._SubParsersAction, name: str, summary: str,
                          description: str) -> argparse.ArgumentParser:
    """The subcommand of an image-pair generator, with its ``out`` argument; the caller adds its options."""
    parser = subparsers.add_parser(name, help=summary, description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="dataset folder to write (created if missing)")
    return parser


def read_pairs(path: str | Path) -> list[dict[str, str]]:
    """Rows of ``pairs.csv``; checks the ``context`` and ``target`` columns and split names."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"context", "target"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetFolderError(f"{path}: missing columns {sorted(missing)}; expected context, target[, split, …]")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        if "split" in row and row["split"] not in SPLITS:
            raise DatasetFolderError(f"{path}, line {line}: split '{row['split']}', expected one of {list(SPLITS)}")
    return rows


def load_image(path: Path, size: int, pad: bool) -> np.ndarray:
    """(size, size, 3) uint8 RGB; raises ValueError with a one-line reason."""
    try:
        with Image.open(path) as image:
            rgb = np.array(image.convert("RGB"))
    except FileNotFoundError:
        raise ValueError("missing file") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"unreadable image ({err})".splitlines()[0]) from err
    return fit_frames(rgb[None], size, pad)[0]


def ground_truth_columns(rows: list[dict[str, str]]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """({name: (P,) float32}, {name: category names}) from the columns other than context/target/split."""
    values, categories = {}, {}
    for name in [c for c in rows[0] if c not in ("context", "target", "split")] if rows else []:
        column = [row[name] for row in rows]
        try:
            values[name] = np.array(column, dtype=np.float32)
        except ValueError:
            categories[name] = sorted(set(column))
            codes = {c: i for i, c in enumerate(categories[name])}
            values[name] = np.array([codes[c] for c in column], dtype=np.float32)
    return values, categories


def write_image_pairs(
    out: str | Path, images: np.ndarray, manifest: list[dict[str, Any]], context: np.ndarray, target: np.ndarray,
    split: np.ndarray, writer: str, options: Mapping[str, Any], pair_gt: Mapping[str, np.ndarray] | None = None,
    categories: Mapping[str, list[str]] | None = None, image_gt: Mapping[str, np.ndarray] | None = None,
    image_gt_descriptions: Mapping[str, str] | None = None,
) -> Path:
    """Write an image-pair folder (the format of the module docstring); returns ``out``.

    images (N, H, W, C) uint8, stored as one-frame videos (``manifest``: one row per readable or
    failed image); context, target (P,) indices into ``images``; split (P,) codes of ``SPLITS``;
    pair_gt {name: (P,)} per-pair ground truth; categories {name: category names} of the
    categorical ground truth; image_gt {name: (N,)} per-image ground truth (``gt_<name>.npy``,
    described by ``image_gt_descriptions`` in ``meta.json["ground_truth"]``).
    """
    out, pair_gt, image_gt = Path(out), dict(pair_gt or {}), dict(image_gt or {})
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # unfinished until meta.json is written last
    write_frames(out, (image[None] for image in images), [1] * len(images), images.shape[1:])
    save_array(out, "pair_context", np.asarray(context, dtype=np.int64))
    save_array(out, "pair_target", np.asarray(target, dtype=np.int64))
    save_array(out, "split", np.asarray(split, dtype=np.uint8))
    for name, column in pair_gt.items():
        save_array(out, f"pair_gt_{name}", np.asarray(column, dtype=np.float32))
    for name, column in image_gt.items():
        save_array(out, f"gt_{name}", np.asarray(column, dtype=np.float32))
    write_manifest(out, manifest)
    descriptions = {name: (image_gt_descriptions or {}).get(name, "") for name in image_gt}
    write_meta(out, KIND, writer, options, splits=SPLITS, pair_ground_truth=list(pair_gt),
               ground_truth=descriptions, categories=dict(categories or {}))
    return out


def prepare_image_pairs(
    src: str | Path, out: str | Path, pairs: str | Path, size: int = 64, pad: bool = False,
    test_fraction: float = 0.2, seed: int = 0,
) -> dict[str, Any]:
    """Write the image-pair folder ``out``.

    Returns {"images": stored, "pairs": kept, "dropped_pairs": n, "failures": [(image, reason)]}.
    """
    src, out = Path(src), Path(out)
    rows = read_pairs(pairs)
    names = list(dict.fromkeys(name for row in rows for name in (row["context"], row["target"])))
    images, manifest = {}, []
    for name in tqdm(names, desc="images", unit="image"):
        entry = {"id": name, "path": str((src / name).resolve()), "frames": 0, "fps": 0, "height": 0, "width": 0}
        try:
            images[name] = load_image(src / name, size, pad)
            entry.update(frames=1, height=size, width=size, status="ok")
        except ValueError as err:
            entry["status"] = f"failed: {err}"
        manifest.append(entry)
    kept = [i for i, row in enumerate(rows) if row["context"] in images and row["target"] in images]
    if not kept:
        raise DatasetFolderError(f"{pairs}: no pair has two readable images under {src}")
    index = {name: i for i, name in enumerate(images)}
    values, categories = ground_truth_columns([rows[i] for i in kept])
    write_image_pairs(
        out, np.stack(list(images.values())), manifest,
        np.array([index[rows[i]["context"]] for i in kept]), np.array([index[rows[i]["target"]] for i in kept]),
        _splits([rows[i] for i in kept], test_fraction, seed), "data_prep.image_pairs",
        {"size": size, "pad": pad, "test_fraction": test_fraction, "seed": seed, "pairs": str(pairs)},
        pair_gt=values, categories=categories)
    failures = [(e["id"], e["status"].removeprefix("failed: ")) for e in manifest if e["status"] != "ok"]
    return {"images": len(images), "pairs": len(kept), "dropped_pairs": len(rows) - len(kept), "failures": failures}


def _splits(rows: list[dict[str, str]], test_fraction: float, seed: int) -> np.ndarray:
    if rows and "split" in rows[0]:
        return np.array([SPLITS[row["split"]] for row in rows], dtype=np.uint8)
    test = np.random.default_rng(seed).random(len(rows)) < test_fraction
    return np.where(test, SPLITS["test"], SPLITS["train"]).astype(np.uint8)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("image-pairs", help="single-step pairs from an image folder", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path, help="folder the image paths in pairs.csv are relative to")
    p.add_argument("out", type=Path, help="dataset folder to write (created if missing)")
    p.add_argument("--pairs", type=Path, required=True, help="CSV with columns context, target[, split, ground truth…]")
    p.add_argument("--size", type=at_least(1), default=64, help="images are size x size pixels (default 64)")
    p.add_argument("--pad", action="store_true", help="keep the whole image, padding to a square, instead of centre-cropping")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of pairs in test when pairs.csv has no split")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    counts = prepare_image_pairs(args.src, args.out, args.pairs, args.size, args.pad, args.test_fraction, args.seed)
    for name, reason in counts["failures"]:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    print(f"{args.out}: {counts['pairs']} pairs ({counts['dropped_pairs']} dropped) over {counts['images']} images "
          f"({len(counts['failures'])} failed)")

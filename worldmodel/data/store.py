"""The dataset-folder contract shared by ``data_prep`` (writers) and ``worldmodel.data`` (readers).

A dataset folder holds:

- ``meta.json``: format version, the writer, its options, and kind-specific fields;
- ``manifest.csv``: one row per source (video, image group, or generated split) with columns
  ``id, path, frames, fps, height, width, status`` (``ok`` or ``failed: <reason>``), and optionally
  :data:`MANIFEST_OPTIONAL` columns (kept as text);
- named arrays as ``.npy`` files, opened memory-mapped so that random access costs no decoding.

Writes are atomic: every file is written under a temporary name and renamed into place, so a
killed writer never leaves a half-written file that a reader could take for complete.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

FORMAT_VERSION = 1
MANIFEST_COLUMNS = ("id", "path", "frames", "fps", "height", "width", "status")
MANIFEST_OPTIONAL = ("source", "shot", "source_fps", "source_height", "source_width", "cropped")
"""Columns a writer may add: the source video a row was cut from and the shot's number in it, the
source's frame rate and resolution, and the fraction of its frame area cut off by the crop."""


class DatasetFolderError(ValueError):
    """A dataset folder is missing, incomplete or malformed."""


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def save_array(folder: str | os.PathLike, name: str, array: np.ndarray) -> Path:
    """Write ``array`` to ``folder/name.npy`` atomically (no pickles)."""
    path = Path(folder) / f"{name}.npy"
    tmp = _atomic_target(path)
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(tmp, path)
    return path


def open_array(folder: str | os.PathLike, name: str, mmap: bool = True) -> np.ndarray:
    """Open ``folder/name.npy`` (memory-mapped by default); pickled object arrays are refused."""
    path = Path(folder) / f"{name}.npy"
    if not path.is_file():
        raise DatasetFolderError(f"{folder}: missing array file '{path.name}'")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as err:
        raise DatasetFolderError(f"{path}: not a plain numeric .npy array ({err})") from err


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    path = Path(path)
    tmp = _atomic_target(path)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_meta(folder: str | os.PathLike, kind: str, writer: str, options: Mapping[str, Any], **extra: Any) -> None:
    """Write ``meta.json`` describing what the folder holds and how it was made."""
    write_json(
        Path(folder) / "meta.json",
        {"format_version": FORMAT_VERSION, "kind": kind, "writer": writer, "options": dict(options), **extra},
    )


def read_meta(folder: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read ``meta.json``; if ``kind`` is given, check the folder holds that kind of dataset."""
    path = Path(folder) / "meta.json"
    if not path.is_file():
        raise DatasetFolderError(f"{folder}: not a dataset folder (no meta.json); prepare it with `python -m data_prep`")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetFolderError(f"{path}: malformed JSON ({err})") from err
    if meta.get("format_version") != FORMAT_VERSION:
        raise DatasetFolderError(
            f"{path}: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    if kind is not None and meta.get("kind") != kind:
        raise DatasetFolderError(f"{path}: holds a '{meta.get('kind')}' dataset, expected '{kind}'")
    return meta


def write_manifest(folder: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``manifest.csv`` with the contract's columns (and the optional ones any row has), atomically."""
    path = Path(folder) / "manifest.csv"
    tmp = _atomic_target(path)
    rows = list(rows)
    columns = [*MANIFEST_COLUMNS, *(col for col in MANIFEST_OPTIONAL if any(col in row for row in rows))]
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({col: row[col] if col in MANIFEST_COLUMNS else row.get(col, "") for col in columns})
    os.replace(tmp, path)


def _parse_manifest_row(row: dict[str | None, Any], where: str) -> dict[str, Any]:
    """One manifest row with typed columns; raises DatasetFolderError naming ``where`` (file, line)."""
    values = [v for k, v in row.items() if k is not None]
    extra = row.get(None) or []
    if len(extra) or None in values:
        raise DatasetFolderError(f"{where}: {len(values) - values.count(None) + len(extra)} fields, "
                                 f"expected {len(MANIFEST_COLUMNS)} ({', '.join(MANIFEST_COLUMNS)})")
    parsed = {col: row[col] for col in (*MANIFEST_COLUMNS, *MANIFEST_OPTIONAL) if col in row}
    for col in ("frames", "height", "width"):
        try:
            parsed[col] = int(row[col])
        except ValueError:
            parsed[col] = -1
        if parsed[col] < 0:
            raise DatasetFolderError(f"{where}: {col} {row[col]!r}, expected a whole number ≥ 0")
    try:
        parsed["fps"] = float(row["fps"])
    except ValueError:
        parsed["fps"] = math.nan
    if not (math.isfinite(parsed["fps"]) and parsed["fps"] >= 0):
        raise DatasetFolderError(f"{where}: fps {row['fps']!r}, expected a finite number ≥ 0")
    if parsed["status"] != "ok" and not parsed["status"].startswith("failed"):
        raise DatasetFolderError(f"{where}: status {row['status']!r}, expected 'ok' or 'failed: <reason>'")
    return parsed


def read_manifest(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Read ``manifest.csv``: ``frames``, ``height``, ``width`` as int ≥ 0, ``fps`` as float ≥ 0,
    ``status`` ``ok`` or ``failed: …``; anything else raises naming the file and line."""
    path = Path(folder) / "manifest.csv"
    if not path.is_file():
        raise DatasetFolderError(f"{folder}: missing manifest.csv")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetFolderError(f"{path}: missing columns {missing}; expected {list(MANIFEST_COLUMNS)}")
            return [_parse_manifest_row(row, f"{path}, line {reader.line_num}") for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DatasetFolderError(f"{path}: not a UTF-8 CSV file ({err})") from None


# ----------------------------------------------------------------------------------------------
# Frame store: every video's frames in one memory-mapped uint8 array ``frames.npy`` (N, H, W, C),
# ``offsets.npy`` (V + 1,) int64 so that video v holds frames[offsets[v]:offsets[v + 1]], and
# per-frame ground truth ``gt_<name>.npy`` (N, ...) aligned with the frames. The videos are the
# manifest's ``ok`` rows, in manifest order.
# ----------------------------------------------------------------------------------------------

FRAMES_KIND = "frames"


def write_frames(
    folder: str | os.PathLike,
    clips: Iterable[np.ndarray],
    lengths: Sequence[int],
    frame_shape: tuple[int, int, int],
) -> np.ndarray:
    """Stream ``clips`` (each (T_v, H, W, C) uint8, T_v = ``lengths[v]``) into ``frames.npy``.

    Written with plain file writes (not a memory map, so the writer's resident memory stays
    small) under a temporary name, renamed when complete; ``offsets.npy`` (V + 1,) int64 is
    written after it. Returns the offsets.
    """
    folder = Path(folder)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    path = folder / "frames.npy"
    tmp = _atomic_target(path)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
              "shape": (int(offsets[-1]), *frame_shape)}
    written = 0
    with open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for v, clip in enumerate(clips):
            if v >= len(lengths) or clip.shape != (lengths[v], *frame_shape) or clip.dtype != np.uint8:
                raise ValueError(f"clip {v}: {clip.dtype} {clip.shape}, expected uint8 {(lengths[v:v + 1] or ['none'])[0], *frame_shape}")
            fh.write(np.ascontiguousarray(clip).data)
            written += 1
    if written != len(lengths):
        tmp.unlink()
        raise ValueError(f"got {written} clips, expected {len(lengths)}")
    os.replace(tmp, path)
    save_array(folder, "offsets", offsets)
    return offsets


class FrameStore:
    """Read-only access to a frame store whose reads do not grow resident memory.

    ``frames`` (N, H, W, C) uint8 is a memory map, for inspection. :meth:`gather`, what the
    loaders use, reads the requested frames with ``pread`` straight into the output array, one
    call per run of consecutive frames: the data pass through the page cache but are never
    mapped into this process, so iterating over a store larger than RAM keeps RSS flat (a
    memory map would keep every touched page, in kernels with large folios up to 2 MB per
    frame read, resident).

    ``kind`` is the dataset kind expected in ``meta.json`` (image-pair folders hold their images
    as a store of one-frame videos). Attributes: ``meta`` (dict), ``action`` (meta.json's ``action``:
    how a pair's action is derived, whether it is discrete; {} without one), ``videos`` (manifest rows of
    the stored videos, in order), ``offsets`` (V + 1,) int64, ``ground_truth`` {name: (N, ...)}.
    """

    def __init__(self, folder: str | os.PathLike, kind: str = FRAMES_KIND) -> None:
        self.folder = Path(folder)
        self.meta = read_meta(folder, kind=kind)
        self.action = self.meta.get("action") or {}
        self.videos = [row for row in read_manifest(folder) if row["status"] == "ok"]
        self.offsets = open_array(folder, "offsets", mmap=False).astype(np.int64)
        self.ground_truth = {name: open_array(folder, f"gt_{name}") for name in self.meta.get("ground_truth", {})}
        self._open_frames()
        self._check()

    def _open_frames(self) -> None:
        path = self.folder / "frames.npy"
        if path.is_file():
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(fh)
                expected = fh.tell() + int(np.prod(shape)) * dtype.itemsize
            if path.stat().st_size < expected:
                raise DatasetFolderError(f"{path}: {path.stat().st_size} bytes, header promises {expected} (truncated?)")
        self.frames = open_array(self.folder, "frames")
        self._fd = os.open(path, os.O_RDONLY)

    def _check(self) -> None:
        where = self.folder
        if self.frames.ndim != 4 or self.frames.dtype != np.uint8:
            raise DatasetFolderError(f"{where}/frames.npy: {self.frames.dtype} {self.frames.shape}, expected uint8 (N, H, W, C)")
        lengths = [row["frames"] for row in self.videos]
        if len(self.offsets) != len(lengths) + 1 or np.any(np.diff(self.offsets) != lengths):
            raise DatasetFolderError(
                f"{where}/offsets.npy: {len(self.offsets) - 1} videos of lengths {np.diff(self.offsets)[:5].tolist()}…, "
                f"expected the {len(lengths)} ok rows of manifest.csv ({lengths[:5]}…)"
            )
        if len(self.frames) != self.offsets[-1]:
            raise DatasetFolderError(
                f"{where}/frames.npy: holds {len(self.frames)} frames, manifest.csv says {self.offsets[-1]}"
            )
        for row in self.videos:
            if (row["height"], row["width"]) != self.frames.shape[1:3]:
                raise DatasetFolderError(
                    f"{where}/manifest.csv: video '{row['id']}' is {row['height']}x{row['width']}, "
                    f"frames.npy holds {self.frames.shape[1]}x{self.frames.shape[2]}"
                )
        for name, array in self.ground_truth.items():
            if len(array) != len(self.frames):
                raise DatasetFolderError(f"{where}/gt_{name}.npy: {len(array)} rows, expected one per frame ({len(self.frames)})")

    def gather(self, index: np.ndarray) -> np.ndarray:
        """``frames[index]`` read from the file: index (B, n) int64 → (B, n, H, W, C) uint8."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self.frames)):
            raise IndexError(f"frame index outside 0 … {len(self.frames) - 1}")
        out = np.empty((*index.shape, *self.frames.shape[1:]), dtype=np.uint8)
        frame_bytes = int(np.prod(self.frames.shape[1:]))
        run_start = np.ones(index.shape, dtype=bool)
        run_start[..., 1:] = np.diff(index, axis=-1) != 1
        starts = np.flatnonzero(run_start)
        lengths = np.diff(np.append(starts, index.size))
        buffer = memoryview(out.reshape(-1))
        for at, length, frame in zip(starts.tolist(), lengths.tolist(), index.reshape(-1)[starts].tolist()):
            view = buffer[at * frame_bytes : (at + length) * frame_bytes]
            if os.preadv(self._fd, [view], self.frames.offset + frame * frame_bytes) != len(view):
                raise DatasetFolderError(f"{self.folder}/frames.npy: short read at frame {frame}")
        return out

    def video_frames(self, video: int) -> np.ndarray:
        """All frames of one stored video: (T_v, H, W, C) uint8."""
        return self.gather(np.arange(self.offsets[video], self.offsets[video + 1])[None])[0]

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_fd"], state["frames"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open_frames()

"""``python -m data_prep videos SRC OUT``: turn a folder of videos into a frame store, once.

Every video under SRC (recursively: mp4, avi, mkv, webm, mov) is decoded, resampled to
``--fps`` by timestamps, fitted to ``--size`` × ``--size`` (short side and centre crop, or
``--pad``) and stored as uint8 RGB frames in ``OUT/frames.npy`` (N, size, size, 3) with
``offsets.npy``, ``manifest.csv`` and ``meta.json`` (see :mod:`worldmodel.data.store`).

Resumable: each video is first written to ``OUT/parts/`` under a temporary name and renamed
when complete, so a killed run leaves only whole videos behind and a re-run decodes only the
rest (and the videos that failed). Videos already in a finished store are reused. The output
does not depend on ``--workers``.

Shot cuts (``--cut-threshold``, see :class:`~data_prep.decoding.ShotCuts`): a video with hard cuts
is stored as one video per shot, ``ID#0``, ``ID#1``, …, so that no training pair spans a cut; the
manifest's ``source`` and ``shot`` columns say where each came from, and ``source_fps``,
``source_height``, ``source_width`` and ``cropped`` (the fraction of the source frame cut off by the
centre crop) describe the source. The summary counts the cuts.

Files that cannot be decoded (empty, not a video, no video stream, truncated) are recorded in
the manifest as ``failed: <reason>``; the others are processed normally. The command fails
only when no video succeeded, or with ``--strict`` when any failed: then it writes no dataset (the
videos decoded so far stay in ``OUT/parts/``, so a re-run after fixing or removing the bad files
decodes only the rest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data_prep.decoding import ShotCuts, VideoDecodeError, decode_video, resolve_backend
from data_prep.workers import run_jobs
from worldmodel.cli import at_least
from worldmodel.data.store import (
    FRAMES_KIND,
    DatasetFolderError,
    FrameStore,
    write_frames,
    write_json,
    write_manifest,
    write_meta,
)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
STORE_FILES = ("meta.json", "manifest.csv", "frames.npy", "offsets.npy")


@dataclass
class PrepSummary:
    """What a preparation run did; ``failures`` lists (video id, reason)."""

    ok: int = 0
    reused: int = 0
    dropped: int = 0
    frames: int = 0
    cuts: int = 0  # shot cuts found: the ok videos were stored as ok + cuts shots
    failures: list[tuple[str, str]] = field(default_factory=list)
    written: bool = True  # False: --strict found failures and wrote no store

    def line(self, out: Path) -> str:
        return (
            f"{out}: {self.ok} videos ok ({self.reused} reused from an earlier run), "
            f"{len(self.failures)} failed, {self.frames} frames, {self.cuts} shot cuts"
            + (f"; {self.dropped} videos of the earlier store are no longer in SRC and were dropped" if self.dropped else "")
        )


def find_videos(src: str | Path) -> dict[str, Path]:
    """{id: path} of the videos under ``src``, id = path relative to ``src``; sorted by id."""
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"SRC '{src}' is not a directory")
    found = {p.relative_to(src).as_posix(): p for p in src.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()}
    return dict(sorted(found.items()))


def _part_paths(parts: Path, video_id: str) -> tuple[Path, Path]:
    key = hashlib.sha1(video_id.encode()).hexdigest()[:16]
    return parts / f"{key}.u8", parts / f"{key}.json"


def prepare_one(video_id: str, path: Path, parts: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Decode one video into ``parts/`` (raw uint8 frames, then its manifest row as JSON)."""
    raw, row_path = _part_paths(parts, video_id)
    tmp = raw.with_name(f".{raw.name}.tmp-{os.getpid()}")
    row = {"id": video_id, "path": str(path.resolve()), "frames": 0, "fps": options["fps"], "height": 0, "width": 0}
    info, cuts = {}, ShotCuts(options["cut_threshold"])
    try:
        with open(tmp, "wb") as fh:
            for chunk in decode_video(path, options["size"], options["fps"], options["pad"], options["backend"], info):
                cuts.update(chunk)
                fh.write(chunk.data)
                row["frames"] += len(chunk)
        os.replace(tmp, raw)
        row.update(height=options["size"], width=options["size"], status="ok", cuts=cuts.cuts, **info)
    except VideoDecodeError as err:
        tmp.unlink(missing_ok=True)
        row["status"] = f"failed: {err}"
    write_json(row_path, row)
    return row


def shot_rows(row: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """The manifest rows of a decoded video's shots, each with its first frame in the video: the
    video itself when it has no cuts, else ``ID#0``, ``ID#1``, … split at ``row["cuts"]``."""
    bounds = [0, *row["cuts"], row["frames"]]
    base = {k: v for k, v in row.items() if k != "cuts"} | {"source": row["id"]}
    if len(bounds) == 2:
        return [(base | {"shot": 0}, 0)]
    return [(base | {"id": f"{row['id']}#{i}", "shot": i, "frames": end - start}, start)
            for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]))]


def _part_frames(parts: Path, row: dict[str, Any], start: int, frames: int) -> np.ndarray:
    """Frames start … start+frames−1 of a decoded video in ``parts/``: (frames, H, W, 3) uint8."""
    raw, _ = _part_paths(parts, row["id"])
    frame_bytes = row["height"] * row["width"] * 3
    data = np.fromfile(raw, dtype=np.uint8, count=frames * frame_bytes, offset=start * frame_bytes)
    return data.reshape(frames, row["height"], row["width"], 3)



def _check_options(out: Path, options: dict[str, Any]) -> None:
    """An earlier (partial) store in ``out`` must have the same frames: size, fps and pad (the
    backends give the same frames, so a run may resume with the other one)."""
    for path in (out / "meta.json", out / "parts" / "options.json"):
        if path.is_file():
            found = json.loads(path.read_text())
            found = found.get("options", found)
            found.setdefault("cut_threshold", 0.0)  # stores written before shot cuts were detected
            if any(found.get(k) != options[k] for k in ("size", "fps", "pad", "cut_threshold")):
                raise DatasetFolderError(
                    f"{out}: prepared earlier with {found}, now asked for {options}; use --overwrite to start again"
                )


def _finished_store(out: Path) -> FrameStore | None:
    if not (out / "meta.json").is_file():
        return None
    try:
        return FrameStore(out)
    except DatasetFolderError as err:
        print(f"warning: ignoring the unfinished store in {out} ({err})", file=sys.stderr)
        return None


def _done_parts(parts: Path, videos: dict[str, Path]) -> dict[str, dict[str, Any]]:
    done = {}
    for video_id in videos:
        raw, row_path = _part_paths(parts, video_id)
        if row_path.is_file() and raw.is_file():
            row = json.loads(row_path.read_text())
            if row["status"] == "ok" and raw.stat().st_size == row["frames"] * row["height"] * row["width"] * 3:
                done[video_id] = row
    return done



def prepare_videos(
    src: str | Path,
    out: str | Path,
    size: int = 64,
    fps: float = 10.0,
    pad: bool = False,
    backend: str = "pyav",
    workers: int = 1,
    overwrite: bool = False,
    strict: bool = False,
    cut_threshold: float = 0.5,
) -> PrepSummary:
    """Prepare (or finish preparing) the frame store ``out`` from the videos under ``src``.

    ``strict``: when any video failed, write no store (``summary.written`` False, ``failures`` listed).
    ``cut_threshold``: histogram distance (0 … 1) above which two frames are split as a shot cut; 0: no splitting.
    """
    if size < 1 or fps < 0 or workers < 1 or not 0 <= cut_threshold <= 1:
        raise ValueError(f"need size ≥ 1, fps ≥ 0, workers ≥ 1 and cut_threshold in [0, 1], got size={size}, "
                         f"fps={fps}, workers={workers}, cut_threshold={cut_threshold}")
    out, parts = Path(out), Path(out) / "parts"
    options = {"size": size, "fps": fps, "pad": pad, "backend": resolve_backend(backend), "cut_threshold": cut_threshold}
    videos = find_videos(src)
    if not videos:
        raise FileNotFoundError(f"SRC '{src}' holds no videos ({', '.join(VIDEO_EXTENSIONS)})")
    if overwrite:
        _remove_store(out)
    _check_options(out, options)
    parts.mkdir(parents=True, exist_ok=True)
    write_json(parts / "options.json", options)
    for leftover in parts.glob(".*.tmp-*"):
        leftover.unlink()

    store = _finished_store(out)
    stored: dict[str, list[int]] = {}  # source video id → its shots' indices in the earlier store
    for v, row in enumerate(store.videos if store else []):
        stored.setdefault(row.get("source") or row["id"], []).append(v)
    done = _done_parts(parts, videos)
    todo = [(vid, path, parts, options) for vid, path in videos.items() if vid not in done and vid not in stored]
    summary = PrepSummary(reused=sum(vid in stored or vid in done for vid in videos),
                          dropped=sum(vid not in videos for vid in stored))
    failed_rows = {}
    with tqdm(total=len(todo), desc="videos", unit="video") as bar:
        for row in run_jobs(prepare_one, todo, workers):
            if row["status"] == "ok":
                done[row["id"]] = row
            else:
                failed_rows[row["id"]] = row
            bar.update(1)
            bar.set_postfix(frames=sum(r["frames"] for r in done.values()), failed=len(failed_rows))
    if strict:
        earlier = {vid: store.videos[v[0]] for vid, v in stored.items() if vid in videos}
        failed = {vid: row for vid, row in (earlier | failed_rows).items() if row["status"] != "ok"}
        if failed:
            summary.failures = [(vid, row["status"].removeprefix("failed: ")) for vid, row in failed.items()]
            summary.ok, summary.written = len(videos) - len(failed), False
            return summary
    if not todo and store is not None and list(stored) == list(videos):
        summary.ok, summary.frames, summary.cuts = len(stored), int(store.offsets[-1]), len(store.videos) - len(stored)
        return summary
    rows = _consolidate(out, videos, store, stored, done, failed_rows, options)
    ok = [row for row in rows if row["status"] == "ok"]
    summary.ok = len({row.get("source") or row["id"] for row in ok})
    summary.frames = sum(row["frames"] for row in ok)
    summary.cuts = len(ok) - summary.ok
    summary.failures = [(row["id"], row["status"].removeprefix("failed: ")) for row in rows if row["status"] != "ok"]
    return summary


def _consolidate(
    out: Path,
    videos: dict[str, Path],
    store: FrameStore | None,
    stored: dict[str, list[int]],
    done: dict[str, dict[str, Any]],
    failed_rows: dict[str, dict[str, Any]],
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    """Write the finished store, in the order of ``videos``, from the parts (``done``, split at their
    shot cuts) and the earlier ``store`` (its videos' indices by source id in ``stored``); returns the
    manifest rows."""
    rows, readers = [], []  # manifest rows; for each ok row, a function giving its frames
    for vid in videos:
        if vid in stored:
            rows += [store.videos[v] for v in stored[vid]]
            readers += [functools.partial(store.video_frames, v) for v in stored[vid]]
        elif vid in done:
            for row, start in shot_rows(done[vid]):
                rows.append(row)
                readers.append(functools.partial(_part_frames, out / "parts", done[vid], start, row["frames"]))
        else:
            rows.append(failed_rows[vid])
    ok = [row for row in rows if row["status"] == "ok"]
    (out / "meta.json").unlink(missing_ok=True)  # the store is unfinished until meta.json is back
    size = options["size"]
    clips = (read() for read in readers)
    write_frames(out, tqdm(clips, total=len(ok), desc="store", unit="video"), [r["frames"] for r in ok], (size, size, 3))
    write_manifest(out, rows)
    write_meta(out, FRAMES_KIND, "data_prep.videos", options, ground_truth={})
    _remove_parts(out / "parts")
    return rows


def _remove_parts(parts: Path) -> None:
    for path in parts.iterdir():
        path.unlink()
    parts.rmdir()


def _remove_store(out: Path) -> None:
    for name in STORE_FILES:
        (out / name).unlink(missing_ok=True)
    if (out / "parts").is_dir():
        _remove_parts(out / "parts")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("videos", help="decode a folder of videos into a frame store", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path, help="folder searched recursively for videos")
    p.add_argument("out", type=Path, help="dataset folder to write (created if missing)")
    p.add_argument("--size", type=at_least(1), default=64, help="output frames are size x size pixels (default 64)")
    p.add_argument("--fps", type=float, default=10.0, help="target frame rate; 0 keeps every source frame (default 10)")
    p.add_argument("--pad", action="store_true", help="keep the whole frame, padding to a square, instead of centre-cropping")
    p.add_argument("--backend", choices=["auto", "pyav", "decord"], default="pyav", help="decoder (default pyav)")
    p.add_argument("--workers", type=at_least(1), default=1, help="videos decoded in parallel (default 1)")
    p.add_argument("--overwrite", action="store_true", help="delete an earlier store in OUT instead of resuming it")
    p.add_argument("--strict", action="store_true", help="when any video failed: exit with an error and write no dataset")
    p.add_argument("--cut-threshold", type=float, default=0.5,
                   help="split a video where the colour histograms of two consecutive frames differ by more than "
                        "this (total variation, 0-1); 0 keeps every video whole (default 0.5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    summary = prepare_videos(args.src, args.out, args.size, args.fps, args.pad, args.backend, args.workers,
                             args.overwrite, args.strict, args.cut_threshold)
    for video_id, reason in summary.failures:
        print(f"failed: {video_id}: {reason}", file=sys.stderr)
    if not summary.written:
        raise SystemExit(f"error: {args.src}: {len(summary.failures)} of {summary.ok + len(summary.failures)} videos "
                         f"failed; --strict wrote no dataset to {args.out} (decoded videos kept in {args.out}/parts)")
    print(summary.line(args.out))
    if summary.ok == 0:
        raise SystemExit(1)

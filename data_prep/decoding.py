"""Decode a video file into resized RGB frames resampled to a target frame rate.

Two backends give the same frames for the same file: PyAV (the default; installs everywhere)
and decord (used when asked, or by ``auto`` when it is installed). Both decode to full-size
RGB, pick frames by timestamp with :func:`resample`, and resize with :func:`fit_frames`.

Resampling by timestamps: output frame k shows the time t_k = k / fps (times counted from the
first frame) and is the last source frame whose time is ≤ t_k (within a tenth of a source frame
interval, to absorb rounding); the video lasts until its last frame time + 1 / source fps, and
output frames exist for every t_k before that. ``fps=0`` keeps every source frame.

Shot cuts (:class:`ShotCuts`): a hard cut between two consecutive output frames shows as a jump of
their colour histograms (4 bins per channel, 64 joint bins): the total-variation distance between
the two histograms (0 … 1) exceeds a threshold. A pan or a moving object changes where colours
are, little how much of each there is; a cut to another scene replaces the palette.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Generator, Iterable, Iterator, TypeVar

import av
import numpy as np

from data_prep.resize import fit_frames

T = TypeVar("T")
CHUNK = 16  # frames resized at once


class VideoDecodeError(RuntimeError):
    """A file that cannot be turned into frames; the message is the reason for the manifest."""


def resample(timed: Iterable[tuple[float, T]], source_fps: float, fps: float) -> Iterator[tuple[T, int]]:
    """Yield (item, repeats) for the items that fill output frames, in order.

    ``timed`` are (presentation time in seconds, item) in increasing time; ``repeats`` ≥ 1 is how
    many consecutive output frames show that item (more than 1 when fps > source fps).
    """
    eps = 0.1 / source_fps
    start, previous, k = None, None, 0
    for time, item in timed:
        start = time if start is None else start
        t = time - start
        if previous is not None:
            k = yield from _emit(previous, k, t, fps, eps)
        previous = (t, item)
    if previous is not None:
        yield from _emit(previous, k, previous[0] + 1 / source_fps, fps, eps)


def _emit(previous: tuple[float, T], k: int, until: float, fps: float, eps: float) -> Generator[tuple[T, int], None, int]:
    """Yield ``previous`` for the output frames k, k+1, … whose time is before ``until``;
    returns the next output frame index."""
    if fps <= 0:
        yield previous[1], 1
        return k + 1
    first = k
    while k / fps < until - eps:
        k += 1
    if k > first:
        yield previous[1], k - first
    return k


def _rgb_view(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 view of the frame converted to RGB (the pixels ``to_ndarray`` gives,
    without its extra copy)."""
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(rgb.height, plane.line_size)
    return rows[:, : rgb.width * 3].reshape(rgb.height, rgb.width, 3)


def _pyav_chunks(path: Path, fps: float, info: dict) -> Iterator[np.ndarray]:
    """Yields (n ≤ CHUNK, H, W, 3) uint8 chunks of resampled full-size frames (``info["source_fps"]``
    set). The chunk is a reused buffer: consume it before asking for the next."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoDecodeError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads decode ahead while this thread converts and resizes
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoDecodeError("unknown frame rate")
        info["source_fps"] = float(rate)
        timed = ((f.time, f) for f in container.decode(stream))
        buffer, n = np.empty((0, 0, 0, 3), np.uint8), 0
        for frame, repeats in resample(timed, float(rate), fps):
            image = _rgb_view(frame)
            if image.shape != buffer.shape[1:]:  # first frame, or the size changed mid-stream
                if n:
                    yield buffer[:n]
                buffer, n = np.empty((CHUNK, *image.shape), np.uint8), 0
            for _ in range(repeats):
                buffer[n] = image
                n += 1
                if n == CHUNK:
                    yield buffer
                    n = 0
        if len(buffer) == 0:
            raise VideoDecodeError("no decodable frames")
        if n:
            yield buffer[:n]


def _decord_chunks(path: Path, fps: float, info: dict) -> Iterator[np.ndarray]:
    """Yields (n, H, W, 3) uint8 chunks of resampled full-size frames (``info["source_fps"]`` set)."""
    import decord

    try:
        reader = decord.VideoReader(str(path), num_threads=1)
        if len(reader) == 0:
            raise VideoDecodeError("no decodable frames")
        times = reader.get_frame_timestamp(range(len(reader)))[:, 0]
        info["source_fps"] = float(reader.get_avg_fps())
        picked = list(resample(zip(times.tolist(), range(len(reader))), reader.get_avg_fps(), fps))
        for start in range(0, len(picked), CHUNK):
            index, repeats = zip(*picked[start : start + CHUNK])
            yield np.repeat(reader.get_batch(list(index)).asnumpy(), repeats, axis=0)
    except decord.DECORDError as err:
        raise VideoDecodeError(_first_line(err)) from err
    except RuntimeError as err:  # decord reports unreadable files as plain RuntimeError
        if isinstance(err, VideoDecodeError):
            raise
        raise VideoDecodeError(_first_line(err)) from err


BACKENDS: dict[str, Callable[[Path, float, dict], Iterator[np.ndarray]]] = {"pyav": _pyav_chunks, "decord": _decord_chunks}


def resolve_backend(name: str) -> str:
    """``auto`` → ``decord`` when it is installed, else ``pyav``; other names are checked."""
    if name == "auto":
        try:
            import decord  # noqa: F401
        except ImportError:
            return "pyav"
        return "decord"
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; expected auto, {', '.join(BACKENDS)}")
    return name


def decode_video(path: str | Path, size: int, fps: float, pad: bool = False, backend: str = "pyav",
                 info: dict | None = None) -> Iterator[np.ndarray]:
    """Yield the video's frames as (n, size, size, 3) uint8 chunks, resampled to ``fps``.

    ``info``, when given, receives the source's ``source_fps``, ``source_height``, ``source_width``
    and ``cropped``, the fraction of its frame area that the centre crop cuts off (0 with ``pad``).

    Raises :class:`VideoDecodeError` with a one-line reason for files that are empty, not
    videos, without a video stream, or that fail to decode part-way.
    """
    path = Path(path)
    info = {} if info is None else info
    if path.stat().st_size == 0:
        raise VideoDecodeError("empty file")
    try:
        for chunk in BACKENDS[resolve_backend(backend)](path, fps, info):
            if "source_height" not in info:
                height, width = chunk.shape[1:3]
                info.update(source_height=height, source_width=width,
                            cropped=0.0 if pad else 1 - min(height, width) / max(height, width))
            yield fit_frames(chunk, size, pad)
    except av.FFmpegError as err:
        during = "" if err.filename == str(path) else " while decoding (truncated or corrupt stream)"
        raise VideoDecodeError(f"{err.strerror}{during}") from err


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:200]


def colour_histograms(frames: np.ndarray, bins: int = 4) -> np.ndarray:
    """(n, H, W, 3) uint8 → (n, bins³) joint RGB histograms, each summing to 1."""
    n, h, w, _ = frames.shape
    q = (frames.astype(np.int64) * bins) >> 8  # (n, H, W, 3) bin per channel
    joint = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2] + np.arange(n)[:, None, None] * bins**3
    return np.bincount(joint.ravel(), minlength=n * bins**3).reshape(n, bins**3) / (h * w)


class ShotCuts:
    """Finds hard cuts in a stream of frame chunks: ``cuts`` lists the index of each frame that
    starts a new shot (the first frame is 0; a cut at t splits frames [.., t) from [t, ..)).

    A cut is a total-variation distance above ``threshold`` between the :func:`colour_histograms`
    of two consecutive frames; ``threshold`` 0 finds none.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.cuts: list[int] = []
        self.seen = 0
        self.previous: np.ndarray | None = None

    def update(self, frames: np.ndarray) -> None:
        """Read the next (n, H, W, 3) chunk of the stream."""
        if self.threshold <= 0 or len(frames) == 0:
            return
        hist = colour_histograms(frames)
        stacked = hist if self.previous is None else np.concatenate([self.previous[None], hist])
        first = self.seen + len(frames) - len(stacked) + 1  # the frame after the first of ``stacked``
        distance = 0.5 * np.abs(np.diff(stacked, axis=0)).sum(-1)
        self.cuts += [first + int(i) for i in np.flatnonzero(distance > self.threshold)]
        self.previous, self.seen = hist[-1], self.seen + len(frames)

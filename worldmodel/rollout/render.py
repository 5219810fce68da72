"""Rollouts rendered as pictures: decoded futures side by side, as PNG grids, GIF / MP4 and a contact sheet.

For each start clip the rows are the true future (when known), the prior-mean future and the first
``shown`` sampled futures; the columns are the rollout steps, step h showing the frame h·gap frames
after the last context frame (step 0: that frame itself, or its decoded embedding). Written to
``OUT/render/``:

- ``start_<i>.png``: the grid, labelled (rows, steps in frames, axis name), titled with the run and the start clip;
- ``start_<i>.gif`` and ``start_<i>.mp4``: the same futures animated over the steps, one row of
  tiles (true, prior mean, samples …) under a label strip, ``fps`` steps per second (GIF: Pillow, exact
  palette for grey frames; MP4: PyAV, H.264);
- ``contact_sheet.png``: every start's grid (true, prior mean and three samples) on one page.

Decoding is batched: all frames of all starts go through the decoder at once. Pictures are composed as
pixel arrays and labelled with Pillow (matplotlib's DejaVu Sans), so a grid costs a few milliseconds: drawing
them as matplotlib figures took most of a rendering.
"""

from __future__ import annotations

import math
import time
from functools import cache
from pathlib import Path

import av
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from worldmodel.data.pixels import unit_float

GAP_PX = 2  # blank pixels between tiles
SHEET_SAMPLES = 3
SHEET_COLUMNS = 4
MARGIN = 6  # blank pixels around a labelled picture


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib) at ``size`` pixels."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def mosaic(tiles: np.ndarray) -> np.ndarray:
    """(R, T, C, H, W) float frames in [0, 1] → (R·(H+g)−g, T·(W+g)−g, C) uint8 image, g = GAP_PX white pixels."""
    rows, steps, channels, height, width = tiles.shape
    out = np.full((rows, height + GAP_PX, steps, width + GAP_PX, channels), 255, np.uint8)
    out[:, :height, :, :width] = np.round(np.clip(tiles, 0, 1) * 255).astype(np.uint8).transpose(0, 3, 1, 4, 2)
    return out.reshape(rows * (height + GAP_PX), steps * (width + GAP_PX), channels)[:-GAP_PX, :-GAP_PX]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def text_size(text: str, size: int) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``size``."""
    left, top, right, bottom = font(size).getbbox(text)
    return right - left, bottom - top


def label_strip(labels: list[str], tile_width: int, height: int = 14) -> np.ndarray:
    """(height, len(labels)·(tile_width+g)−g, 3) uint8: each label centred over its tile, black on white."""
    strip = Image.new("RGB", (len(labels) * (tile_width + GAP_PX) - GAP_PX, height), "white")
    draw = ImageDraw.Draw(strip)
    for i, label in enumerate(labels):
        draw.text((i * (tile_width + GAP_PX) + tile_width / 2, height / 2), label, fill="black", font=font(9), anchor="mm")
    return np.asarray(strip)


def labelled(image: np.ndarray, tile: tuple[int, int], row_labels: list[str], column_labels: list[str], title: str,
             xlabel: str | None, size: int = 11) -> Image.Image:
    """A mosaic (h, w, C) of tiles (height, width) = ``tile`` with its row labels left of it, the column labels
    under it, then ``xlabel``, and ``title`` above it, on white (a grey picture for one-channel tiles)."""
    height, width = tile
    left = max([text_size(label, size)[0] for label in row_labels] + [0]) + 2 * MARGIN
    line = text_size("Ag+0", size)[1] + 4
    top, bottom = MARGIN + line + 2, line + (line if xlabel else 0) + MARGIN
    grey = image.shape[-1] == 1
    page = Image.new("L" if grey else "RGB", (left + image.shape[1] + MARGIN, top + image.shape[0] + bottom), "white")
    page.paste(Image.fromarray(image[..., 0] if grey else image), (left, top))
    draw = ImageDraw.Draw(page)
    draw.text((page.width / 2, MARGIN), title, fill="black", font=font(size), anchor="mt")
    for r, label in enumerate(row_labels):
        draw.text((left - MARGIN, top + r * (height + GAP_PX) + height / 2), label, fill="black", font=font(size), anchor="rm")
    for t, label in enumerate(column_labels):
        draw.text((left + t * (width + GAP_PX) + width / 2, top + image.shape[0] + 3), label, fill="black", font=font(size), anchor="mt")
    if xlabel:
        draw.text((left + image.shape[1] / 2, top + image.shape[0] + line + 3), xlabel, fill="black", font=font(size), anchor="mt")
    return page


def enlarged(rows: np.ndarray) -> np.ndarray:
    """(..., H, W) tiles under 64 px repeated (nearest) an integer number of times, so that they are shown at ≥ 64 px."""
    scale = max(1, 64 // rows.shape[-1])
    return rows.repeat(scale, axis=-2).repeat(scale, axis=-1)


def animation_frames(rows: np.ndarray, labels: list[str]) -> np.ndarray:
    """(R, T, C, H, W) futures → (T, h, w, 3) uint8 frames: at step t one row of the R tiles under a label strip."""
    strips = [_as_rgb(mosaic(rows[:, t][None])) for t in range(rows.shape[1])]
    header = label_strip(labels, rows.shape[-1])
    return np.stack([np.concatenate([header, strip]) for strip in strips])


def write_gif(path: Path, frames: np.ndarray, fps: float) -> np.ndarray:
    """Write (T, h, w, 3) uint8 frames as a looping GIF; returns the frames as written (grey frames exactly,
    colour frames through a 256-colour palette per frame, fast octree: median cut took 0.5 s a frame)."""
    grey = bool(np.all(frames == frames[..., :1]))
    images = [Image.fromarray(f[..., 0], "L") if grey else Image.fromarray(f).quantize(256, method=Image.Quantize.FASTOCTREE) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return frames if grey else np.stack([np.asarray(i.convert("RGB")) for i in images])


def write_mp4(path: Path, frames: np.ndarray, fps: float, crf: int = 12) -> None:
    """Write (T, h, w, 3) uint8 frames as H.264 MP4 (PyAV, yuv420p; odd sizes padded white by one pixel)."""
    t, h, w, _ = frames.shape
    padded = np.full((t, h + h % 2, w + w % 2, 3), 255, np.uint8)
    padded[:, :h, :w] = frames
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = padded.shape[2], padded.shape[1], "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in padded:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def grid_image(rows: np.ndarray, labels: list[str], title: str, gap: int, xlabel: bool = True) -> Image.Image:
    """One start's futures (R, T, C, H, W) as a labelled grid: rows ``labels``, columns the steps in frames."""
    _, steps, _, height, width = rows.shape
    return labelled(mosaic(rows), (height, width), labels, [f"+{t * gap}" for t in range(steps)], title,
                    "frames after the last context frame" if xlabel else None)


def contact_sheet(grids: list[np.ndarray], labels: list[str], titles: list[str], run: str, gap: int) -> Image.Image:
    """All starts' grids (each (R, T, C, H, W), R = len(labels)) on one titled page, ``SHEET_COLUMNS`` a line;
    row labels on the first column only, the axis name on the last line only."""
    columns = min(SHEET_COLUMNS, len(grids))
    lines = math.ceil(len(grids) / columns)
    panels = [grid_image(grid, labels if i % columns == 0 else [""] * len(labels), title, gap, xlabel=i // columns == lines - 1)
              for i, (grid, title) in enumerate(zip(grids, titles))]
    widths = [max(p.width for p in panels[c::columns]) for c in range(columns)]
    heights = [max(p.height for p in panels[line * columns:(line + 1) * columns]) for line in range(lines)]
    header = text_size("Ag", 13)[1] + 2 * MARGIN
    page = Image.new(panels[0].mode, (sum(widths), header + sum(heights)), "white")
    ImageDraw.Draw(page).text((page.width / 2, MARGIN), f"{run}: decoded rollouts, {len(grids)} held-out starts",
                              fill="black", font=font(13), anchor="mt")
    for i, panel in enumerate(panels):
        page.paste(panel, (sum(widths[: i % columns]), header + sum(heights[: i // columns])))
    return page


def future_rows(samples: torch.Tensor, prior_mean: torch.Tensor, truth: torch.Tensor | None,
                shown: int) -> tuple[np.ndarray, list[str]]:
    """Decoded (N, B, T, C, H, W) samples, (B, T, …) prior mean and truth → (B, R, T, C, H, W) rows and their labels."""
    rows = ([truth] if truth is not None else []) + [prior_mean] + list(samples[:shown])
    labels = (["true"] if truth is not None else []) + ["prior mean"] + [f"sample {i + 1}" for i in range(min(shown, len(samples)))]
    return torch.stack(rows, dim=1).float().numpy(), labels


def render_rollouts(out: Path, samples: torch.Tensor, prior_mean: torch.Tensor, truth: torch.Tensor | None, run: str,
                    gap: int, titles: list[str], shown: int = 8, fps: float = 4.0) -> dict[str, float]:
    """Write the files of the module docstring for B starts into ``out`` (created).

    Args:
        samples: (N, B, H+1, C, H, W) decoded sampled futures in [0, 1]; prior_mean: (B, H+1, C, H, W);
        truth: (B, H+1, C, H, W) true frames or None; titles: B names of the start clips.
    Returns ``render_seconds`` and ``render_files``."""
    clock = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    grids, labels = future_rows(samples, prior_mean, truth, shown)
    grids = enlarged(grids)
    for i, (grid, title) in enumerate(zip(grids, titles)):
        grid_image(grid, labels, f"{run}: {title}", gap).save(out / f"start_{i:02d}.png", compress_level=1)
        frames = animation_frames(grid, labels)
        write_gif(out / f"start_{i:02d}.gif", frames, fps)
        write_mp4(out / f"start_{i:02d}.mp4", frames, fps)
    keep = len(labels) - len(samples[:shown]) + min(SHEET_SAMPLES, shown)
    contact_sheet(list(grids[:, :keep]), labels[:keep], titles, run, gap).save(out / "contact_sheet.png", compress_level=1)
    return {"render_seconds": time.perf_counter() - clock, "render_files": 3 * len(grids) + 1}


@torch.no_grad()
def render_run(run_dir: str | Path, cfg, dataset, video: np.ndarray, start: np.ndarray, paths: torch.Tensor,
               deterministic: torch.Tensor, out: Path, shown: int = 8) -> dict[str, float]:
    """Decode a frame run's rollouts with its fitted decoder, score them and render them into ``out/render``.

    Args:
        dataset: the held-out :class:`~worldmodel.data.frames.FramePairs` the starts come from; video, start:
            (B,) each start clip's video and first frame in it; paths: (N, B, H+1, D) sampled futures;
            deterministic: (B, H+1, D) the prior-mean future.
    Returns the pixel scores of :func:`~worldmodel.decode.quality.future_scores` with ``render_seconds``."""
    from worldmodel.data import build_dataset
    from worldmodel.decode.data import future_frames, mean_frame
    from worldmodel.decode.quality import future_scores
    from worldmodel.decode.store import load_decoder

    decoder = load_decoder(run_dir)
    truth = unit_float(future_frames(dataset, dataset.store.offsets[video] + start, paths.shape[2] - 1))
    samples, prior_mean = decoder.decode_future(paths, truth[:, 0]), decoder.decode_future(deterministic, truth[:, 0])
    metrics = future_scores(samples, prior_mean, truth, mean_frame(build_dataset(cfg.data, "train")))
    titles = [f"video {v}, context frame {s}" if dataset.context == 1 else f"video {v}, context frames {s}-{s + dataset.context - 1}"
              for v, s in zip(video, start)]
    return metrics | render_rollouts(out / "render", samples, prior_mean, truth, Path(run_dir).name, dataset.gap, titles, shown)

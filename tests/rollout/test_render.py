"""Rendered rollouts: the files exist, have the right frames and size, and decode back with PyAV."""

import av
import numpy as np
import torch
from kornia.metrics import psnr
from PIL import Image

from worldmodel.rollout.render import animation_frames, enlarged, future_rows, render_rollouts, write_gif


def moving_squares(starts: int, steps: int, channels: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """(starts, steps, channels, size, size) frames in [0, 1]: a square moving right one pixel per step."""
    rng = np.random.default_rng(seed)
    frames = torch.zeros(starts, steps, channels, size, size)
    for b in range(starts):
        y, x = rng.integers(0, size // 2, 2)
        for t in range(steps):
            frames[b, t, :, y : y + 8, x + t : x + t + 8] = torch.from_numpy(rng.uniform(0.5, 1, (channels, 1, 1))).float()
    return frames


def decode_video(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_rendered_files_have_the_frames_written(tmp_path):
    starts, steps, samples = 2, 5, 3
    truth = moving_squares(starts, steps, 1)
    drawn = torch.stack([moving_squares(starts, steps, 1, seed=s) for s in range(1, samples + 1)])
    prior_mean = truth.roll(1, dims=-1)
    facts = render_rollouts(tmp_path, drawn, prior_mean, truth, "a-run", gap=2, titles=["first", "second"], shown=2)
    assert facts["render_files"] == 3 * starts + 1
    rows, labels = future_rows(drawn, prior_mean, truth, shown=2)
    assert labels == ["true", "prior mean", "sample 1", "sample 2"] and rows.shape == (starts, 4, steps, 1, 32, 32)
    for b in range(starts):
        written = animation_frames(enlarged(rows[b]), labels)  # 32 px frames are shown twice as large
        assert written.shape[0] == steps and written.shape[2] == 4 * 64 + 3 * 2  # four tiles and three gaps
        gif = decode_video(tmp_path / f"start_{b:02d}.gif")
        assert gif.shape == written.shape and np.array_equal(gif, written)
        mp4 = torch.from_numpy(decode_video(tmp_path / f"start_{b:02d}.mp4")).float() / 255
        assert mp4.shape[0] == steps and mp4.shape[1:3] == (written.shape[1] + written.shape[1] % 2, written.shape[2])
        assert psnr(mp4[:, : written.shape[1]], torch.from_numpy(written).float() / 255, 1.0) > 35
        with Image.open(tmp_path / f"start_{b:02d}.png") as png:
            assert png.size[0] > 300 and png.size[1] > 150
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.size[0] > 500


def test_colour_gif_returns_its_palette_frames(tmp_path):
    frames = (moving_squares(1, 4, 3)[0].permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    frames[..., 1] //= 2  # a colour image: channels differ
    written = write_gif(tmp_path / "colour.gif", frames, fps=4)
    assert np.array_equal(decode_video(tmp_path / "colour.gif"), written)
    assert np.abs(written.astype(int) - frames).max() <= 8

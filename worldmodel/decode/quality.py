"""Pixel-space scores of decoded frames (kornia's PSNR and SSIM), per frame and per rollout step.

All frames are float in [0, 1], shaped (..., C, H, W). PSNR is in dB, over a set of frames; SSIM and
errors (root-mean-square pixel differences, in intensity units, 1 = full scale) per frame, then averaged.
"""

from __future__ import annotations

import torch
from kornia.metrics import psnr, ssim
from torch import Tensor

SSIM_WINDOW = 7


def _flat(frames: Tensor) -> Tensor:
    return frames.reshape(-1, *frames.shape[-3:]).float()


def frame_psnr(pred: Tensor, truth: Tensor) -> Tensor:
    """(..., C, H, W) pairs → (...) PSNR in dB of each frame (kornia, max value 1)."""
    p, t = _flat(pred), _flat(truth)
    return torch.stack([psnr(a, b, 1.0) for a, b in zip(p, t)]).reshape(pred.shape[:-3])


def frame_ssim(pred: Tensor, truth: Tensor) -> Tensor:
    """(..., C, H, W) pairs → (...) mean SSIM of each frame (kornia, 7×7 Gaussian window)."""
    return ssim(_flat(pred), _flat(truth), SSIM_WINDOW, 1.0).mean((1, 2, 3)).reshape(pred.shape[:-3])


def frame_rmse(pred: Tensor, truth: Tensor) -> Tensor:
    """(..., C, H, W) pairs → (...) root-mean-square pixel difference of each frame."""
    return (pred.float() - truth.float()).pow(2).mean((-3, -2, -1)).sqrt()


def centre_of_mass(frames: Tensor) -> Tensor:
    """(..., C, H, W) → (..., 2) (x, y) in pixels, pixel (row i, column j) at (x=j, y=i), of the object on a
    dark background: intensities weighted by their excess over the frame's median (the background level),
    so that a faint haze over the whole frame does not pull the centre towards the middle."""
    mass = frames.float().mean(-3)  # (..., H, W)
    mass = (mass - mass.flatten(-2).median(-1).values[..., None, None]).clamp_min(0)
    ys = torch.arange(mass.shape[-2], dtype=mass.dtype)
    xs = torch.arange(mass.shape[-1], dtype=mass.dtype)
    total = mass.sum((-2, -1)).clamp_min(1e-12)
    return torch.stack([(mass.sum(-2) * xs).sum(-1) / total, (mass.sum(-1) * ys).sum(-1) / total], dim=-1)


def set_psnr(pred: Tensor, truth: Tensor) -> float:
    """PSNR in dB of a set of (..., C, H, W) frames: from the mean squared error over all of them (kornia), so
    that a frame predicted exactly (infinite PSNR on its own) does not make the average infinite."""
    return float(psnr(pred.float(), truth.float(), 1.0))


def scores(name: str, pred: Tensor, truth: Tensor) -> dict[str, float]:
    """``<name>_psnr`` (:func:`set_psnr`), ``<name>_ssim`` and ``<name>_rmse`` (averaged over the frames) of
    (..., C, H, W) pairs."""
    return {f"{name}_psnr": set_psnr(pred, truth), f"{name}_ssim": float(frame_ssim(pred, truth).mean()),
            f"{name}_rmse": float(frame_rmse(pred, truth).mean())}


def pixel_diversity(samples: Tensor) -> Tensor:
    """(N, ..., C, H, W) sampled frames → (...) mean RMS pixel distance between two different samples."""
    n = len(samples)
    flat = samples.float().flatten(-3).movedim(0, -2)  # (..., N, P)
    distance = torch.cdist(flat, flat) / flat.shape[-1] ** 0.5  # (..., N, N)
    return distance.sum((-2, -1)) / max(n * (n - 1), 1)


def future_scores(samples: Tensor, prior_mean: Tensor, truth: Tensor, mean_frame: Tensor) -> dict[str, float]:
    """Per-step scores ``pixel_<score>_h<h>`` (h ≥ 1) of decoded futures against the true frames.

    Args:
        samples: (N, B, H+1, C, H, W) decoded sampled futures; prior_mean: (B, H+1, C, H, W) the decoded
            prior-mean future; truth: (B, H+1, C, H, W) true frames, step 0 the last context frame;
            mean_frame: (C, H, W) the mean training frame.
    Scores (:func:`scores` over the B frames of a step): ``psnr``/``ssim``/``rmse`` of ``best_of_n`` (per start and step, the sample with the
    smallest pixel error), ``prior_mean``, and the baselines ``copy_last`` (the last context frame
    held) and ``mean_frame``; ``diversity`` (:func:`pixel_diversity` of the samples).
    """
    errors = frame_rmse(samples, truth)  # (N, B, H+1)
    best = samples.gather(0, errors.argmin(0)[None, ..., None, None, None].expand(1, *samples.shape[1:]))[0]
    futures = {"best_of_n": best, "prior_mean": prior_mean,
               "copy_last": truth[:, :1].expand_as(truth), "mean_frame": mean_frame.expand_as(truth)}
    out = {}
    for name, frames in futures.items():
        for h in range(1, truth.shape[1]):
            step = scores(name, frames[:, h], truth[:, h])
            out |= {f"pixel_{score}_{name}_h{h}": step[f"{name}_{score}"] for score in ("psnr", "ssim", "rmse")}
    diversity = pixel_diversity(samples[:, :, 1:]).mean(0)
    out |= {f"pixel_diversity_h{h + 1}": float(v) for h, v in enumerate(diversity)}
    return out

"""Scores of a run's fitted decoder on held-out videos → ``RUN/decoder/metrics.json``.

- ``heldout_*``: f(x⁺) of test pairs' target clips decoded (after f(x) and x's last frame, for a decoder that
  reads the previous frame) against the clips' last frames; with a one-object
  ``position`` ground truth (e.g. one moving digit) also ``heldout_com_error_px``, the mean distance in
  pixels between the decoded frame's intensity centre of mass and the recorded position (and
  ``true_frame_com_error_px``, the same for the true frame: how well a centre of mass can do at all);
- ``one_step_*``: test pairs' target frames predicted as t(f(x), r) with r the prior mean (``prior_mean``),
  the best of N prior samples (``best_of_n``) or the posterior mean given the pair (``posterior``, a
  reconstruction), against the baselines ``copy_last`` (the last context frame) and ``mean_frame``
  (the mean training frame);
- ``pixel_*_h<h>``: rollouts from test clips, h steps ahead (:func:`~worldmodel.decode.quality.future_scores`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from worldmodel.data import build_dataset
from worldmodel.data.pixels import unit_float
from worldmodel.decode.data import encode_clips, frames_at, future_frames, mean_frame
from worldmodel.decode.fit import frame_run
from worldmodel.decode.model import FrameDecoder
from worldmodel.decode.quality import centre_of_mass, frame_rmse, future_scores, scores
from worldmodel.decode.store import decoder_dir, load_decoder
from worldmodel.rollout.futures import mean_future, sample_futures
from worldmodel.rollout.starts import pick_starts


def _subset(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(count, min(count, limit), replace=False))


@torch.no_grad()
def heldout_scores(model, decoder: FrameDecoder, test, background: torch.Tensor, pairs: np.ndarray) -> dict[str, float]:
    """Decoded f(x⁺) of the test pairs ``pairs`` vs the target clips' last frames."""
    first = test.first[pairs]
    last = first + test.gap + test.context - 1
    decoded = decoder.decode(encode_clips(model, test, first + test.gap), encode_clips(model, test, first),
                             unit_float(frames_at(test, first + test.context - 1)))
    truth = unit_float(frames_at(test, last))
    out = scores("heldout", decoded, truth) | scores("heldout_mean_frame", background.expand_as(truth), truth)
    position = test.store.ground_truth.get("position")
    if position is not None and np.prod(position.shape[1:]) == 2:
        where = torch.from_numpy(np.asarray(position[last], dtype=np.float32).reshape(-1, 2))
        out["heldout_com_error_px"] = float((centre_of_mass(decoded) - where).norm(dim=-1).mean())
        out["true_frame_com_error_px"] = float((centre_of_mass(truth) - where).norm(dim=-1).mean())
    return out


@torch.no_grad()
def one_step_scores(model, decoder: FrameDecoder, batch: dict, background: torch.Tensor, samples: int,
                    has_prior: bool) -> dict[str, float]:
    """Decoded one-step predictions of a batch of test pairs vs the targets' last frames, and the baselines."""
    fx, fx_pos = model.encode(batch["context"]), model.encode(batch["target"])
    truth, last = unit_float(batch["target"][:, -1]), unit_float(batch["context"][:, -1])
    r = model.latent.posterior_mean(fx, fx_pos, batch.get("action"))
    out = scores("one_step_posterior", decoder.decode(model.predictor(fx, r), fx, last), truth)
    if has_prior:
        predicted = model.predictor(fx, model.latent.prior_mean(fx))
        out |= scores("one_step_prior_mean", decoder.decode(predicted, fx, last), truth)
        drawn = sample_futures(model, fx, 1, samples)[:, :, 1]  # (N, B, D)
        drawn = decoder.decode(drawn, fx.expand_as(drawn), last.expand(samples, *last.shape))  # (N, B, C, H, W)
        best = drawn.gather(0, frame_rmse(drawn, truth).argmin(0)[None, :, None, None, None].expand(1, *drawn.shape[1:]))[0]
        out |= scores("one_step_best_of_n", best, truth)
    return (out | scores("one_step_copy_last", last, truth)
            | scores("one_step_mean_frame", background.expand_as(truth), truth))


@torch.no_grad()
def rollout_scores(model, decoder: FrameDecoder, test, background: torch.Tensor, index: np.ndarray, samples: int,
                   horizon: int) -> dict[str, float]:
    """Decoded rollouts (N prior samples and the prior mean) from the test pairs ``index`` vs the true frames."""
    first = test.first[index]
    fx = encode_clips(model, test, first)
    truth = unit_float(future_frames(test, first, horizon))
    decoded = decoder.decode_future(sample_futures(model, fx, horizon, samples), truth[:, 0])
    return future_scores(decoded, decoder.decode_future(mean_future(model, fx, horizon), truth[:, 0]), truth, background)


def evaluate_decoder(run_dir: str | Path, decoder: FrameDecoder | None = None, starts: int = 64, samples: int = 16,
                     horizon: int = 12, seed: int = 0, limit: int = 2048) -> dict[str, float]:
    """Score the run's decoder (see the module docstring); writes and returns ``RUN/decoder/metrics.json``.

    At most ``limit`` held-out clips and pairs are scored; rollouts from ``starts`` clips with ``samples``
    futures each over ``horizon`` steps (none for an oracle-latent run, which has no prior)."""
    cfg, model = frame_run(run_dir)
    decoder = decoder or load_decoder(run_dir)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train, test = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")
    background = mean_frame(train)
    metrics = heldout_scores(model, decoder, test, background, _subset(len(test), limit, rng))
    has_prior = cfg.model.latent.kind != "oracle"
    batch = test.__getitems__(list(_subset(len(test), limit, rng)))
    metrics |= one_step_scores(model, decoder, batch, background, samples, has_prior)
    if has_prior:
        metrics |= {"rollout_starts": starts, "rollout_samples": samples, "rollout_horizon": horizon}
        index = pick_starts(test, horizon, starts, rng)
        metrics |= rollout_scores(model, decoder, test, background, index, samples, horizon)
    folder = decoder_dir(run_dir)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics

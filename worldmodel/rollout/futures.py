"""Sampled futures of a trained world model: prior samples of r, embeddings rolled forward, probes decode.

From a start embedding e₀ = f(x) the model rolls forward e_{h+1} = t(e_h, r_h) for h < H:

- sampled futures: r_h ~ p(r | e_h), drawn afresh at every step for each of N futures; the N
  futures of all B starts are one (N·B, D) batch, so a step is one prior call and one predictor
  call whatever N is (the Python loop runs over the H steps only);
- the deterministic future: r_h = the prior mean (for a run without latent, the only future).

Each step moves ``gap`` frames ahead (the run's pair gap). Embeddings are decoded with the
regression probes that ``eval.py`` saved (``RUN/probes``) and compared with the true future:
errors are root-mean-square over a variable's dimensions (pixels per coordinate for positions),
averaged over starts; best-of-N takes the closest of the N futures per start, mean the average
over futures; coverage is the fraction of true values inside the futures' central 90% interval
(per dimension); diversity the mean RMS distance between two different futures.

Moving digits: :func:`acceleration_modes` classifies sampled actions (prior samples of r decoded,
with the context's embedding, by the ``action_from_embedding_r`` probe) into no change / x-axis / y-axis change per digit and compares
the split with the true actions'. Simulators: :func:`action_moments` compares the mean and std of the
sampled actions (decoded the same way) per action column with the true actions', and where a column is
``steer`` (CarRacing), :func:`steering_modes` the split left / straight / right. Numerical runs: one-step samples of z⁺ given x, with the spread
of the decoded samples compared with the true heteroscedastic conditional std of z⁺ given z.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from worldmodel.eval.probes import LinearProbe

COVERAGE = 0.9
MODES = ("none", "x", "y")
STEER_MODES = ("left", "straight", "right")
STEER_THRESHOLD = 1 / 3


def roll_out(model, start: Tensor, horizon: int, draw) -> Tensor:
    """(M, D) start embeddings → (M, H+1, D) path; ``draw(e (M, D)) → r (M, R)`` picks each step's r."""
    path, e = [start], start
    for _ in range(horizon):
        e = model.predictor(e, draw(e))
        path.append(e)
    return torch.stack(path, dim=-2)


@torch.no_grad()
def sample_futures(model, start: Tensor, horizon: int, samples: int) -> Tensor:
    """N futures per start, r drawn from the prior at every step: (B, D) → (N, B, H+1, D)."""
    flat = start.repeat(samples, 1)  # (N·B, D), future-major
    paths = roll_out(model, flat, horizon, lambda e: model.latent.sample_prior(e, 1)[0])
    return paths.unflatten(0, (samples, len(start)))


@torch.no_grad()
def mean_future(model, start: Tensor, horizon: int) -> Tensor:
    """The deterministic future, r at the prior mean: (B, D) → (B, H+1, D)."""
    return roll_out(model, start, horizon, model.latent.prior_mean)


def _rms(diff: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(diff**2, axis=-1))


def future_metrics(samples: np.ndarray, deterministic: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step (H+1,) scores of decoded futures against the truth.

    Args:
        samples: (N, B, H+1, T) decoded sampled futures; deterministic: (B, H+1, T); truth: (B, H+1, T).
    Returns:
        ``best_of_n``, ``mean``, ``deterministic`` errors, ``coverage`` and ``diversity``, each (H+1,).
    """
    if samples.shape[1:] != truth.shape or deterministic.shape != truth.shape:
        raise ValueError(f"futures: samples {samples.shape}, deterministic {deterministic.shape} and truth "
                         f"{truth.shape} must be (N, B, H+1, T), (B, H+1, T), (B, H+1, T)")
    errors = _rms(samples - truth)  # (N, B, H+1)
    low, high = np.quantile(samples, [(1 - COVERAGE) / 2, (1 + COVERAGE) / 2], axis=0)
    n = len(samples)
    pairwise = _rms(samples[:, None] - samples[None]).sum((0, 1)) / max(n * (n - 1), 1)  # (B, H+1)
    return {
        "best_of_n": errors.min(0).mean(0),
        "mean": errors.mean((0, 1)),
        "deterministic": _rms(deterministic - truth).mean(0),
        "coverage": ((truth >= low) & (truth <= high)).mean((0, 2)),
        "diversity": pairwise.mean(0),
    }


def flat_metrics(name: str, scores: dict[str, np.ndarray]) -> dict[str, float]:
    """``<name>_<score>_h<h>`` for h ≥ 1, and ``<name>_probe_error`` (the deterministic error at h = 0)."""
    flat = {f"{name}_probe_error": float(scores["deterministic"][0])}
    for score, values in scores.items():
        flat |= {f"{name}_{score}_h{h}": float(v) for h, v in enumerate(values) if h > 0}
    return flat


def classify_modes(actions: np.ndarray, threshold: float) -> np.ndarray:
    """Per-digit change (..., 2) as (x, y) → codes (...,): 0 none (norm ≤ threshold), 1 x-axis, 2 y-axis."""
    norm = np.linalg.norm(actions, axis=-1)
    axis = np.where(np.abs(actions[..., 0]) >= np.abs(actions[..., 1]), 1, 2)
    return np.where(norm > threshold, axis, 0)


def mode_fractions(codes: np.ndarray, modes: int = len(MODES)) -> np.ndarray:
    """(modes,) share of each code 0 … modes − 1 among the codes (any shape)."""
    return np.bincount(codes.ravel(), minlength=modes) / codes.size


def gap_pp(sampled_fractions: np.ndarray, true_fractions: np.ndarray) -> float:
    """100 · max |sampled − true| over the modes' fractions (M,): percentage points."""
    return float(100 * np.abs(sampled_fractions - true_fractions).max())


def acceleration_modes(sampled: np.ndarray, true: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray | float]:
    """Split of sampled and true per-digit actions across the modes none / x-axis / y-axis change.

    Args:
        sampled: (N, B, 2K) actions decoded from N prior samples of r per pair; true: (B, 2K) the
            true actions; labels: (B, K) digit labels.
    The event threshold is half the median norm of the true per-digit changes that are not zero.
    Returns arrays ``true_fractions``, ``sampled_fractions`` (3,), ``x_share_true`` and
    ``x_share_sampled`` per label (10,) (x among x and y changes; NaN where a label has none) and
    the scalars ``threshold`` and ``gap_pp`` = 100 · max |sampled − true| over the three fractions.
    """
    as_digits = lambda a: a.reshape(*a.shape[:-1], -1, 2)
    true_norms = np.linalg.norm(as_digits(true), axis=-1)
    if not np.any(true_norms > 0):
        raise ValueError("acceleration modes: the true actions of these pairs have no change at all")
    threshold = 0.5 * float(np.median(true_norms[true_norms > 0]))
    true_codes = classify_modes(as_digits(true), threshold)  # (B, K)
    sampled_codes = classify_modes(as_digits(sampled), threshold)  # (N, B, K)

    def x_share(codes: np.ndarray, digit_labels: np.ndarray) -> np.ndarray:
        share = np.full(10, np.nan)
        for label in range(10):
            picked = codes[digit_labels == label]
            events = picked[picked > 0]
            if len(events):
                share[label] = np.mean(events == 1)
        return share

    true_fractions, sampled_fractions = mode_fractions(true_codes), mode_fractions(sampled_codes)
    return {
        "threshold": threshold,
        "true_fractions": true_fractions,
        "sampled_fractions": sampled_fractions,
        "gap_pp": gap_pp(sampled_fractions, true_fractions),
        "x_share_true": x_share(true_codes, labels),
        "x_share_sampled": x_share(sampled_codes, np.broadcast_to(labels, sampled_codes.shape)),
    }


def classify_steer(steer: np.ndarray, threshold: float = STEER_THRESHOLD) -> np.ndarray:
    """Steering (...) → codes (...): 0 left (steer < −threshold), 1 straight (|steer| ≤ threshold), 2 right."""
    return (steer >= -threshold).astype(np.int64) + (steer > threshold)


def steering_modes(sampled: np.ndarray, true: np.ndarray, threshold: float = STEER_THRESHOLD) -> dict[str, np.ndarray | float]:
    """Split of sampled and true steering across left / straight / right (:func:`classify_steer`).

    Args:
        sampled: (N, B) steering decoded from N prior samples of r per pair; true: (B,) the pairs'
            true steering; both per step (a pair's action summed over its gap, divided by the gap).
    The thresholds ±1/3 cut CarRacing's steering range [−1, 1] in three equal parts: its biased
    policy draws steer uniform in [−1, 1], so the data's split is about 1/3 each.
    Returns arrays ``true_fractions``, ``sampled_fractions`` (3,) and the scalars ``threshold`` and
    ``gap_pp`` = 100 · max |sampled − true| over the three fractions.
    """
    true_fractions = mode_fractions(classify_steer(true, threshold), len(STEER_MODES))
    sampled_fractions = mode_fractions(classify_steer(sampled, threshold), len(STEER_MODES))
    return {"threshold": threshold, "true_fractions": true_fractions, "sampled_fractions": sampled_fractions,
            "gap_pp": gap_pp(sampled_fractions, true_fractions)}


def discrete_action_modes(sampled: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray | float]:
    """Split of sampled and true discrete actions across the action classes.

    Args:
        sampled: (N, B, A) one-hot scores decoded from N prior samples of r per pair; true: (B, A) the
            pairs' summed one-hot actions. A pair's class is its argmax (its most applied action).
    Returns arrays ``true_fractions``, ``sampled_fractions`` (A,) and ``gap_pp`` = 100 · max |sampled −
    true| over the classes.
    """
    classes = true.shape[-1]
    true_fractions = mode_fractions(np.argmax(true, axis=-1), classes)
    sampled_fractions = mode_fractions(np.argmax(sampled, axis=-1), classes)
    return {"true_fractions": true_fractions, "sampled_fractions": sampled_fractions,
            "gap_pp": gap_pp(sampled_fractions, true_fractions)}


def action_moments(sampled: np.ndarray, true: np.ndarray, columns: list[str]) -> dict[str, float]:
    """Mean and std per action column of sampled and true actions.

    Args:
        sampled: (N, B, A) actions decoded from N prior samples of r per pair; true: (B, A) the pairs'
            true actions; columns: the A column names.
    Returns ``actions_{sampled,true}_{mean,std}_<column>``; the sampled std is over all N·B draws, so it
    holds both the spread between contexts and the spread of r given a context.
    """
    if sampled.shape[-1] != len(columns) or true.shape[-1] != len(columns):
        raise ValueError(f"action moments: sampled {sampled.shape} and true {true.shape} actions must have "
                         f"{len(columns)} columns ({', '.join(columns)})")
    flat = {"sampled": sampled.reshape(-1, len(columns)), "true": true.reshape(-1, len(columns))}
    return {f"actions_{kind}_{stat}_{column}": float(fn(actions[:, i]))
            for kind, actions in flat.items() for stat, fn in (("mean", np.mean), ("std", np.std))
            for i, column in enumerate(columns)}


def decode(probe: LinearProbe, embeddings: Tensor) -> np.ndarray:
    """(..., D) embeddings → (..., T) float64 numpy through the probe."""
    return probe.predict(embeddings.double().cpu().numpy())


def spread_metrics(sampled: np.ndarray, true_std: np.ndarray) -> dict[str, float]:
    """Sampled spread of one-step futures (N, B, d) against the true conditional std (B, d):
    ``spread_corr`` (Pearson over starts × dims), ``spread_ratio`` (mean sampled / mean true std)."""
    sampled_std = sampled.std(0)
    return {"spread_corr": float(np.corrcoef(sampled_std.ravel(), true_std.ravel())[0, 1]),
            "spread_ratio": float(sampled_std.mean() / true_std.mean())}

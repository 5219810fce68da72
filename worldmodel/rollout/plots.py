"""PNG figures of rollouts (matplotlib, Agg backend): fans of futures, error curves, modes, steering, spread."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BAR_WIDTH = 0.38  # of one bar in a true-vs-sampled pair


def _save(fig, path: Path) -> None:
    """Lay out, write (120 dpi) and close ``fig``."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fan_plot(path: Path, samples: np.ndarray, deterministic: np.ndarray, truth: np.ndarray, name: str,
             max_starts: int = 6) -> None:
    """Decoded 2-D trajectories (the variable's first two dims) fanning out from each start.

    samples (N, B, H+1, T), deterministic and truth (B, H+1, T); one panel per start (≤ max_starts).
    """
    count = min(max_starts, truth.shape[0])
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.4), squeeze=False)
    for b, ax in enumerate(axes[0]):
        for future in samples[:, b]:
            ax.plot(future[:, 0], future[:, 1], color="tab:blue", alpha=0.25, lw=0.8)
        ax.plot(deterministic[b, :, 0], deterministic[b, :, 1], "--", color="tab:orange", lw=1.5, label="prior mean")
        ax.plot(truth[b, :, 0], truth[b, :, 1], "-o", color="black", ms=2.5, lw=1.5, label="true")
        ax.plot(truth[b, 0, 0], truth[b, 0, 1], "s", color="tab:red", ms=6, label="start")
        ax.set_title(f"start {b}", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
    axes[0, 0].set_xlabel(f"{name}[0]")
    axes[0, 0].set_ylabel(f"{name}[1]")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{samples.shape[0]} sampled futures (blue), decoded {name}")
    _save(fig, path)


def error_plot(path: Path, scores: dict[str, np.ndarray], name: str, samples: int) -> None:
    """Best-of-N, mean and deterministic errors (and the baseline's, if given) against the horizon."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    steps = np.arange(len(scores["mean"]))
    for key, label in (("best_of_n", f"best of {samples}"), ("mean", "mean of samples"),
                       ("deterministic", "prior mean r"), ("baseline", "no-r baseline")):
        if key in scores:
            ax.plot(steps, scores[key], marker="o", ms=3, label=label)
    ax.set_xlabel("rollout step")
    ax.set_ylabel(f"{name} RMS error")
    ax.legend(fontsize=8)
    _save(fig, path)


def _paired_bars(ax, ticks: list, true: np.ndarray, sampled: np.ndarray, ylabel: str) -> None:
    """True and sampled values (M,) side by side, one pair of bars per tick label."""
    where = np.arange(len(ticks))
    ax.bar(where - BAR_WIDTH / 2, true, BAR_WIDTH, label="true")
    ax.bar(where + BAR_WIDTH / 2, sampled, BAR_WIDTH, label="sampled")
    ax.set_xticks(where, ticks)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def mode_plot(path: Path, modes: dict) -> None:
    """Left: share of no / x-axis / y-axis change, true vs sampled. Right: x share per digit label."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    _paired_bars(left, ["no change", "x-axis", "y-axis"], modes["true_fractions"], modes["sampled_fractions"],
                 "fraction of digit transitions")
    labels = np.arange(10)
    right.plot(labels, 0.1 + 0.8 * labels / 9, "k--", lw=1, label="generator π(l)")
    _paired_bars(right, list(labels), modes["x_share_true"], modes["x_share_sampled"], "x-axis share of changes")
    right.set_xlabel("digit label")
    _save(fig, path)


def steer_plot(path: Path, split: dict, sampled: np.ndarray, true: np.ndarray) -> None:
    """Left: share of left / straight / right steering, true vs sampled. Right: histograms of the
    sampled (N, B) and true (B,) steering, with the split's thresholds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    _paired_bars(left, ["left", "straight", "right"], split["true_fractions"], split["sampled_fractions"],
                 "fraction of transitions")
    bins = np.linspace(min(sampled.min(), true.min()), max(sampled.max(), true.max()), 31)
    right.hist(true.ravel(), bins, density=True, alpha=0.6, label="true")
    right.hist(sampled.ravel(), bins, density=True, alpha=0.6, label="sampled")
    for edge in (-split["threshold"], split["threshold"]):
        right.axvline(edge, color="k", ls="--", lw=1)
    right.set_xlabel("steer per step")
    right.set_ylabel("density")
    right.legend(fontsize=8)
    _save(fig, path)


def action_class_plot(path: Path, split: dict, classes: list[str]) -> None:
    """Share of each discrete action class, true vs sampled."""
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 3.5))
    _paired_bars(ax, classes, split["true_fractions"], split["sampled_fractions"], "fraction of transitions")
    _save(fig, path)


def spread_plot(path: Path, sampled_std: np.ndarray, true_std: np.ndarray) -> None:
    """Per start and dimension: std of the sampled z⁺ against the true conditional std."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(true_std.ravel(), sampled_std.ravel(), s=6, alpha=0.5)
    top = max(true_std.max(), sampled_std.max())
    ax.plot([0, top], [0, top], "k--", lw=1)
    ax.set_xlabel("true std of z⁺ | z")
    ax.set_ylabel("std of sampled z⁺")
    _save(fig, path)

"""Toy study of the centre-vector paper: SimSiam, its collapsing variants and the simple objective.

2-D toy data from scikit-learn (blobs, moons). Each point also carries ``nuisance_dims``
Gaussian nuisance coordinates, so that kNN on the raw input (or on a random encoder) is poor
and a representation must learn invariance to be good: without them any smooth injective
encoder of the 2-D points already scores the best kNN accuracy and even a collapsed encoder
(‖s‖ ≈ 1) keeps its ordering of neighbours. A view of a point scales its 2-D coordinates by a
random factor, adds Gaussian jitter and redraws its nuisance coordinates. A small MLP encoder
is trained with each variant and seed (the seed draws the data, split, initialisation and
views); the kNN accuracy (cosine kNN fitted on the train split's embeddings, scored on the
test split's) and the centre norm ‖s‖ (test split) are tracked over training. Writes to
``--out``:

- ``curves_<dataset>.png``: mean ± std over seeds of kNN accuracy and ‖s‖ against step;
- ``results.json``: every curve of every run;
- ``results.md``: final kNN accuracy and ‖s‖ (and kNN accuracy at step 0), mean ± std over seeds.

Usage::

    python experiments/centre_vector/toy_study.py --out runs/centre_vector_toy
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import make_blobs, make_moons  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from study_objectives import CentrePenalty, SimSiam  # noqa: E402  (this folder, first on sys.path)
from worldmodel.objectives.centre import centre_norm  # noqa: E402

DATASETS = ("blobs", "moons")
VARIANTS: dict[str, Callable[[int], nn.Module]] = {  # name: objective for D-dimensional embeddings
    "simsiam": lambda dim: SimSiam(dim, hidden=32),
    "simsiam_no_predictor": lambda dim: SimSiam(dim, hidden=32, predictor=False),
    "simsiam_no_stop_gradient": lambda dim: SimSiam(dim, hidden=32, stop_gradient=False),
    "centre_penalty": lambda dim: CentrePenalty(weight=0.5),
}


@dataclass(frozen=True)
class StudyConfig:
    steps: int = 1000
    batch_size: int = 256
    eval_every: int = 25
    lr: float = 0.05
    weight_decay: float = 1e-4
    embed_dim: int = 16
    hidden: int = 64
    n_samples: int = 1000
    scale_range: float = 0.2  # views are x · U(1 − r, 1 + r)
    jitter: float = 0.1  # plus N(0, jitter²) per coordinate (inputs are standardised)
    nuisance_dims: int = 8
    nuisance_std: float = 1.0
    knn_k: int = 5


def toy_dataset(name: str, seed: int, cfg: StudyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, 2 + nuisance_dims)`` float32 (standardised 2-D point, then its nuisance
    coordinates) and integer labels ``(n,)``."""
    if name == "blobs":
        x, y = make_blobs(n_samples=cfg.n_samples, centers=5, cluster_std=1.5, random_state=seed)
    elif name == "moons":
        x, y = make_moons(n_samples=cfg.n_samples, noise=0.1, random_state=seed)
    else:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {name!r}")
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    nuisance = cfg.nuisance_std * np.random.default_rng(seed).standard_normal((len(x), cfg.nuisance_dims))
    return np.concatenate([x, nuisance], axis=1).astype(np.float32), y


def augment(x: Tensor, cfg: StudyConfig, gen: torch.Generator) -> Tensor:
    """One random view of ``x`` ``(B, 2 + nuisance_dims)``: the 2-D point scaled per sample and
    jittered, the nuisance coordinates redrawn."""
    point = x[:, :2]
    scale = 1 + cfg.scale_range * (2 * torch.rand(len(x), 1, generator=gen) - 1)
    point = point * scale + cfg.jitter * torch.randn(point.shape, generator=gen)
    nuisance = cfg.nuisance_std * torch.randn(len(x), cfg.nuisance_dims, generator=gen)
    return torch.cat([point, nuisance], dim=1)


def mlp_encoder(cfg: StudyConfig) -> nn.Module:
    """``(B, 2 + nuisance_dims) -> (B, embed_dim)``: two hidden layers with BatchNorm and ReLU,
    linear output."""
    return nn.Sequential(
        nn.Linear(2 + cfg.nuisance_dims, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
        nn.Linear(cfg.hidden, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
        nn.Linear(cfg.hidden, cfg.embed_dim),
    )


def knn_accuracy(train_emb: Tensor, train_y: np.ndarray, test_emb: Tensor, test_y: np.ndarray, k: int) -> float:
    """Accuracy of a cosine kNN classifier fitted on the train embeddings, on the test split."""
    knn = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(train_emb.numpy(), train_y)
    return float(knn.score(test_emb.numpy(), test_y))


def train_run(dataset: str, variant: str, seed: int, cfg: StudyConfig) -> dict[str, list[float]]:
    """Train one encoder; return its curves ``{"step", "knn_accuracy", "centre_norm"}``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, y = toy_dataset(dataset, seed, cfg)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)

    encoder = mlp_encoder(cfg)
    objective = VARIANTS[variant](cfg.embed_dim)
    params = list(encoder.parameters()) + list(objective.parameters())
    optim = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)

    curves: dict[str, list[float]] = {"step": [], "knn_accuracy": [], "centre_norm": []}
    for step in range(cfg.steps + 1):
        if step % cfg.eval_every == 0:
            encoder.eval()
            with torch.no_grad():
                train_emb, test_emb = encoder(x_train), encoder(x_test)
            encoder.train()
            curves["step"].append(step)
            curves["knn_accuracy"].append(knn_accuracy(train_emb, y_train, test_emb, y_test, cfg.knn_k))
            curves["centre_norm"].append(float(centre_norm(test_emb)))
        if step == cfg.steps:
            break
        batch = x_train[torch.randint(len(x_train), (cfg.batch_size,), generator=gen)]
        z = torch.stack([encoder(augment(batch, cfg, gen)), encoder(augment(batch, cfg, gen))])  # (2, B, D)
        loss = objective(pred=z, target=z.flip(0), context=z)  # directions x -> x+ and x+ -> x
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
    return curves


def summarise(runs: list[dict[str, list[float]]], key: str, index: int = -1) -> str:
    """``"mean ± std"`` over runs of ``run[key][index]`` (default: the final value)."""
    values = np.array([run[key][index] for run in runs])
    return f"{values.mean():.3f} ± {values.std():.3f}"


def plot_dataset(dataset: str, results: dict[str, list[dict[str, list[float]]]], path: Path) -> None:
    """Two panels (kNN accuracy, ‖s‖) with one mean ± std band per variant."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (variant, runs), style in zip(results.items(), ("-", "--", ":", "-.")):
        steps = np.array(runs[0]["step"])
        for ax, key in zip(axes, ("knn_accuracy", "centre_norm")):
            values = np.array([run[key] for run in runs])
            mean, std = values.mean(axis=0), values.std(axis=0)
            ax.plot(steps, mean, style, label=variant)
            ax.fill_between(steps, mean - std, mean + std, alpha=0.25)
    for ax, title in zip(axes, ("kNN accuracy (test split)", "centre norm ‖s‖ (test split)")):
        ax.set_title(f"{dataset}: {title}")
        ax.set_xlabel("step")
        ax.set_ylim(0, 1.02)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def results_table(results: dict[str, dict[str, list[dict[str, list[float]]]]]) -> str:
    """Markdown table of final kNN accuracy and ‖s‖, and kNN accuracy of the untrained encoder
    (mean ± std over seeds)."""
    lines = ["| dataset | variant | kNN accuracy | ‖s‖ | kNN accuracy at step 0 |", "| --- | --- | --- | --- | --- |"]
    for dataset, by_variant in results.items():
        for variant, runs in by_variant.items():
            lines.append(f"| {dataset} | {variant} | {summarise(runs, 'knn_accuracy')} | "
                         f"{summarise(runs, 'centre_norm')} | {summarise(runs, 'knn_accuracy', index=0)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=StudyConfig.steps)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy / scikit-learn BLAS: one thread, like torch
    cfg = replace(StudyConfig(), steps=args.steps)
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    results = {dataset: {variant: [train_run(dataset, variant, seed, cfg) for seed in range(args.seeds)]
                         for variant in args.variants}
               for dataset in args.datasets}
    for dataset, by_variant in results.items():
        plot_dataset(dataset, by_variant, args.out / f"curves_{dataset}.png")
    table = results_table(results)
    (args.out / "results.md").write_text(table)
    (args.out / "results.json").write_text(json.dumps(
        {"config": cfg.__dict__, "seeds": args.seeds, "runs": results,
         "wall_seconds": time.perf_counter() - start}, indent=1))
    print(table)
    print(f"wall time {time.perf_counter() - start:.1f} s; outputs in {args.out}")


if __name__ == "__main__":
    main()

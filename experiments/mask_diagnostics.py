"""Why a sparse r's mask does or does not follow the factors: the embedding's axes and the mask's logits.

    python experiments/mask_diagnostics.py --run runs/camera_events/s4

For an AdaSSL-S run on data with per-pair ``active_<factor>`` truth (``python -m data_prep
camera-events``), on the test split it prints:

- the embedding's spread: the standard deviation of each coordinate of f(x) over the test views;
- for the pairs where exactly one factor changed, per coordinate i: the median |f(x⁺)_i − f(x)_i|
  (how far that factor moves each axis), the share of pairs whose mask has coordinate i on, and
  the 5th / 50th / 95th percentiles of the posterior's mask logit;
- the same logit percentiles over the pairs where no factor changed;
- per factor, the mask's precision / recall (as eval.py scores it), what the pair of embeddings allows
  (``pair_*``: trees on [f(x), f(x⁺), |Δf|], eval.py's mask ceiling) and, with ``--pixels``, what the
  views themselves allow: trees on the rotation, zoom and move of a global similarity fitted between
  the two views (Lucas–Kanade, :func:`~worldmodel.eval.motion_baselines.global_motion`).

A factor the encoder moves along an axis of its own, and a logit that is high only where that factor
changed, is what ``mask_precision_<factor>`` and ``mask_recall_<factor>`` (eval.py) then score well.
Where the pixels tell a factor and the pair does not, the encoder lost it; where the pair tells it and
the mask does not, the latent did.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldmodel.data import build_dataset, in_order_batches
from worldmodel.eval.mask_factors import PREFIX, active_factors, mask_factor_metrics, tree_factor_scores
from worldmodel.eval.motion_baselines import global_motion, to_grey
from worldmodel.eval.readouts import encode_pairs
from worldmodel.models.latents import SparseLatent
from worldmodel.train.runs import load_run


def readouts(model, pairs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """From the :func:`~worldmodel.eval.readouts.encode_pairs` readouts of a dataset: f(x), f(x⁺) (N, D), the
    posterior's mask logits on them (N, R) and each factor's ``gt_active_<factor>`` column (N,), keyed by
    the factor."""
    with torch.no_grad():
        logits, _ = model.latent._posterior(*(torch.as_tensor(pairs[key], dtype=torch.float32) for key in ("embedding", "embedding_next")))
    factors = {key[len(PREFIX):]: value[:, 0] for key, value in pairs.items() if key.startswith(PREFIX)}
    return {"f": pairs["embedding"], "f_next": pairs["embedding_next"], "logits": logits.double().numpy()} | factors


def pixel_motion(dataset, batch_size: int = 512) -> np.ndarray:
    """(N, 8) per pair: the global similarity (move x, y, rotation, log zoom) from the context view to the
    target view, and its absolute values."""
    motion = np.concatenate([global_motion(to_grey(batch["context"][:, -1]), to_grey(batch["target"][:, -1]), "similarity")
                             for batch in in_order_batches(dataset, batch_size)])
    return np.concatenate([motion, np.abs(motion)], 1)


def percentiles(values: np.ndarray) -> str:
    return "/".join(f"{v:+.2f}" for v in np.percentile(values, [5, 50, 95]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run folder of an AdaSSL-S run (model.latent.kind sparse)")
    parser.add_argument("--pixels", action="store_true", help="also read which factors moved from the views themselves")
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg, model = load_run(args.run)
    if not isinstance(model.latent, SparseLatent):
        raise SystemExit(f"mask_diagnostics: {args.run} has model.latent.kind '{cfg.model.latent.kind}'; expected 'sparse'")
    model.eval()
    train_set, test_set = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")
    test_pairs = encode_pairs(model, test_set)
    test = readouts(model, test_pairs)
    factors = sorted(set(test) - {"f", "f_next", "logits"})
    if not factors:
        raise SystemExit(f"mask_diagnostics: {cfg.data.path} has no per-pair active_<factor> truth; expected camera-events data")
    active = active_factors(test_pairs, factors)
    moved, on = np.abs(test["f_next"] - test["f"]), test["logits"] > 0
    print("embedding std per coordinate:", " ".join(f"{s:.2f}" for s in test["f"].std(0)))
    rows = [(f"only {name}", active[:, j] & (active.sum(1) == 1)) for j, name in enumerate(factors)]
    for label, pairs in [*rows, ("none", active.sum(1) == 0)]:
        print(f"{label} ({pairs.sum()} pairs)")
        for i in range(test["logits"].shape[1]):
            print(f"  coordinate {i}: median |Δf| {np.median(moved[pairs, i]):.3f}  mask on {on[pairs, i].mean():.2f}"
                  f"  logit p5/p50/p95 {percentiles(test['logits'][pairs, i])}")
    train_pairs = encode_pairs(model, train_set)
    scores = mask_factor_metrics(model, train_pairs, test_pairs)
    if args.pixels:
        scores |= tree_factor_scores(pixel_motion(train_set), pixel_motion(test_set), active_factors(train_pairs, factors),
                                     active, factors, "pixels")
    print("which factors moved, precision / recall:")
    for name in factors:
        cells = [f"{source} {scores[f'{source}_precision_{name}']:.3f} / {scores[f'{source}_recall_{name}']:.3f}"
                 for source in ("mask", "pair", "pixels") if f"{source}_precision_{name}" in scores]
        print(f"  {name}: " + "   ".join(cells))


if __name__ == "__main__":
    main()

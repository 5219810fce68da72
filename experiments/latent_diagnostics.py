"""What the inferred r of a trained video run carries, and whether its prior can reproduce it.

    python experiments/latent_diagnostics.py --run runs/mmnist_table_v2/adassl_v/seed0 [--samples 16]

Needs a run evaluated by eval.py (its ``action_from_embedding_r`` probe). On the test split it prints:

- per dimension of r: the spread of the posterior mean r̄ and the R² with which the prior mean
  (the deterministic r given f(x) alone) predicts r̄ — what the prior has learned of r;
- for the active dimensions of r̄ (std > 0.1 of the largest): the R² of ridge probes (fitted on the
  train split, α by video-grouped cross-validation) from each ground-truth variable, the true
  action, and f(x) to r̄ — whether r carries the change or the state;
- the none / x / y split of the actions decoded from [f(x), r ~ q] (a posterior draw) and from
  [f(x), r ~ prior] (what rollout.py's mode histogram reads), next to the true split.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from sklearn.metrics import r2_score

from worldmodel.data import build_dataset
from worldmodel.eval.readouts import encode_pairs
from worldmodel.eval.probes import fit_ridge_probe, load_probes
from worldmodel.rollout.futures import acceleration_modes, decode
from worldmodel.train.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run folder, evaluated by eval.py")
    parser.add_argument("--samples", type=int, default=16, help="prior samples of r per test pair")
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg, model = load_run(args.run)
    with torch.no_grad():
        train, test = (encode_pairs(model, build_dataset(cfg.data, split)) for split in ("train", "test"))
        fx = torch.from_numpy(test["embedding"]).float()
        prior_mean = model.latent.prior_mean(fx).double().numpy()
        prior_samples = model.latent.sample_prior(fx, args.samples).double().numpy()  # (N, B, R)

    spread = test["r"].std(0)
    print("r dimension            " + " ".join(f"{i:>6d}" for i in range(len(spread))))
    print("std of posterior mean  " + " ".join(f"{v:6.3f}" for v in spread))
    print("R² of the prior mean   " + " ".join(f"{v:6.3f}" for v in r2_score(test["r"], prior_mean, multioutput="raw_values")))

    active = spread > 0.1 * spread.max()
    print(f"\nactive dimensions {np.flatnonzero(active).tolist()}: R² of a ridge probe to r̄ from")
    sources = [key for key in train if key.startswith("gt_") or key == "action"] + ["embedding"]
    for key in sources:
        probe = fit_ridge_probe(train[key], train["r"][:, active], train["video"])
        print(f"  {key:<22s}{r2_score(test['r'][:, active], probe.predict(test[key])):7.3f}")

    action_probe = load_probes(f"{args.run}/probes")["action_from_embedding_r"]
    fx_n = np.broadcast_to(test["embedding"], (args.samples, *test["embedding"].shape))
    decoded = {"posterior": decode(action_probe, torch.from_numpy(np.concatenate([test["embedding"], test["r_draw"]], 1))[None]),
               "prior samples": decode(action_probe, torch.from_numpy(np.concatenate([fx_n, prior_samples], -1)))}
    print("\nmodes (none / x / y) of the actions decoded from [f(x), r]")
    for name, actions in decoded.items():
        modes = acceleration_modes(actions, test["action"], test["gt_label"])
        print(f"  {name:<14s}" + " / ".join(f"{v:.3f}" for v in modes["sampled_fractions"])
              + "   (true " + " / ".join(f"{v:.3f}" for v in modes["true_fractions"]) + f", gap {modes['gap_pp']:.1f} pp)")


if __name__ == "__main__":
    main()

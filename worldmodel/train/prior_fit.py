"""Refitting the prior p(r | f(x)) to the trained posterior, after training.

During training the prior learns only through KL(q ‖ p), chasing a posterior that keeps changing
until the last step, and a symmetric run fits it to both directions of each pair. Rollouts, though,
sample r from the prior and feed it to the predictor trained on posterior draws, so the prior should
match the final posterior on forward pairs. :func:`fit_prior` freezes everything but the prior
network and maximises E_{r ~ q(r | f(x), f(x⁺))} log p(r | f(x)) over the training pairs, which in
the prior's parameters is the same as minimising KL(q ‖ p). Measured on Moving digits
(docs/results/moving_digits.md): the sampled acceleration modes of a mixture prior moved from 16 pp
off the data's to a few pp.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldmodel.data import in_order_batches


def has_density_prior(latent: nn.Module) -> bool:
    """Whether :func:`fit_prior` can refit this latent: its prior has a density log p(r | f(x))
    (gaussian, mixture; not none, oracle or sparse)."""
    return hasattr(latent, "log_prior")


@torch.no_grad()
def posterior_draws(model, dataset, draws: int, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """``draws`` posterior samples per pair of ``dataset``: f(x) (N·draws, D) and r ~ q (N·draws, R)."""
    contexts, samples = [], []
    for batch in in_order_batches(dataset, batch_size):
        fx, seen = model.posterior_inputs(batch)
        fx, seen = fx.float(), seen.float()
        for _ in range(draws):
            contexts.append(fx)
            samples.append(model.latent.infer(fx, seen, batch.get("action")).r.float())
    return torch.cat(contexts), torch.cat(samples)


def fit_prior(model, dataset, steps: int, lr: float = 1e-3, batch_size: int = 256, draws: int = 4,
              seed: int = 0) -> dict[str, float]:
    """Fit ``model.latent.prior`` to posterior draws of ``dataset`` with Adam for ``steps`` steps.

    Returns the mean negative log prior density (nats per pair) of the draws before and after.
    Raises ValueError for a latent without a density prior (none, oracle, sparse: the sparse kind
    fits its rollout prior during training already).
    """
    latent = model.latent
    if not has_density_prior(latent):
        raise ValueError(f"train.prior_fit_steps needs a gaussian or mixture latent; "
                         f"this run's latent is {type(latent).__name__}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.eval()  # the draws read the encoder as eval.py does, and leave its running statistics alone
    fx, r = posterior_draws(model, dataset, draws)
    nll = lambda: float(-latent.log_prior(r, fx).mean())
    with torch.no_grad():
        before = nll()
    optimizer = torch.optim.Adam(latent.prior.parameters(), lr=lr)
    for _ in range(steps):
        pick = torch.randint(len(fx), (batch_size,), generator=generator)
        loss = -latent.log_prior(r[pick], fx[pick]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return {"prior_nll_before": before, "prior_nll_after": nll(), "pairs": len(fx) // draws, "draws": draws}

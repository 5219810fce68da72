"""How much the inferred r carries on held-out pairs: the eval.json side of the latent-collapse watch.

The same per-dimension statistics as the training log (:func:`~worldmodel.models.latents.usage_stats`),
averaged over the test split, so that eval.json says whether r is in use at all before any probe
of r is read: a probe of a collapsed r scores near zero because r is constant, not because the
motion is unpredictable. For a sparse r it also gives how often each mask coordinate is open: one
open in every pair switches with nothing.
"""

from __future__ import annotations

import torch

from worldmodel.data import build_dataset, in_order_batches
from worldmodel.models.latents import ACTIVE_USAGE


@torch.no_grad()
def latent_usage_metrics(model, data_cfg, batch_size: int = 512) -> dict[str, float]:
    """Over the test split's pairs: ``kl_nats`` (gaussian, mixture: KL(q ‖ p) per pair) or ``l0``
    (sparse: expected number of mask coordinates on), ``active_dims`` (dimensions whose mean KL, or
    expected mask-on fraction, reaches :data:`ACTIVE_USAGE`) and ``r_spread`` (posterior mean minus prior mean,
    std over the pairs, in prior standard deviations; the largest over dimensions); for ``vq``,
    ``code_perplexity`` (the batches' mean code perplexity); for ``sparse``, also ``mask_open``, per
    coordinate the fraction of pairs whose posterior mask is open (logit > 0, as r̄ and the mask scores
    use it). {} for a run without a learned latent (``none``, ``oracle``)."""
    if model.latent.dim == 0 or not hasattr(model.latent, "prior"):
        return {}
    sums: dict[str, float] = {}
    count = 0
    for batch in in_order_batches(build_dataset(data_cfg, "test"), batch_size):
        fx, seen = model.posterior_inputs(batch)
        stats = model.latent.infer(fx, seen, batch.get("action")).stats
        for key, value in stats.items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(fx)
        count += len(fx)
    means = {key: total / count for key, total in sums.items()}
    if "perplexity" in means:  # vq: how many codes the test batches use (exp of the usage entropy)
        return {"code_perplexity": means["perplexity"]}
    per_dim = [value for key, value in means.items() if key.startswith(("kl_dim", "on_dim"))]
    metrics = {"kl_nats": means["kl"]} if "kl" in means else {"l0": means["l0"]}
    metrics |= {"active_dims": float(sum(v >= ACTIVE_USAGE for v in per_dim)), "r_spread": means["r_spread"]}
    if opens := [value for key, value in means.items() if key.startswith("open_dim")]:
        metrics["mask_open"] = [round(value, 4) for value in opens]
    return metrics


def unused_latent_warning(metrics: dict) -> str | None:
    """One line when ``metrics`` (from :func:`latent_usage_metrics`) show no active dimension of r, else None."""
    if metrics.get("active_dims", 1) > 0:
        return None
    carried = (f"KL {metrics['kl_nats']:.3g} nats a pair" if "kl_nats" in metrics
               else f"{metrics['l0']:.3g} mask coordinates expected on")
    return (f"r is not in use on the test pairs: no dimension reaches {ACTIVE_USAGE} ({carried}; the posterior moves r "
            f"by {metrics['r_spread']:.3g} prior standard deviations), so every probe of r reads a near-constant "
            f"(revive it: docs/footage.md)")

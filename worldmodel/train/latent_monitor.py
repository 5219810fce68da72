"""The latent-collapse watch: one warning when r has stopped carrying information.

Every training record of a run with a learned latent holds, from the forward pass (see
:func:`~worldmodel.models.latents.usage_stats`), the KL of each dimension of r (``kl_dim0`` …,
gaussian and mixture) or the expected fraction of pairs whose mask is on (``on_dim0`` …, sparse),
``active_dims`` (how many dimensions reach :data:`~worldmodel.models.latents.ACTIVE_USAGE`) and
``r_spread`` (how far the posterior moves r from the prior, in prior standard deviations).

r has collapsed when no dimension is active: the posterior equals the prior, the predictor gets
nothing from the target, and the model is a plain SSL model whatever its config says. Counting
starts once the KL warm-up (``model.latent.beta_warmup_steps``) is over; when a collapsed stretch has lasted
``train.latent_collapse_steps`` steps, the warning names the numbers and the knobs that revive r,
is printed, and is stored in that record as ``latent_collapse_warning`` — once per run.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from worldmodel.models.latents import ACTIVE_USAGE

WARNING_KEY = "latent_collapse_warning"


def per_dim_usage(record: dict) -> tuple[str, list[float]]:
    """The record's per-dimension usage: (``kl`` or ``on``, [value of dimension 0, 1, …]); ("", []) without a latent."""
    for prefix in ("kl", "on"):
        values = [record[key] for key in sorted((k for k in record if k.startswith(f"{prefix}_dim")),
                                                key=lambda k: int(k[len(prefix) + 4:]))]
        if values:
            return prefix, values
    return "", []


def collapse_message(record: dict, since: int) -> str:
    """One line naming the numbers of a collapsed r at ``record`` (collapsed since step ``since``)."""
    prefix, values = per_dim_usage(record)
    largest = max(range(len(values)), key=values.__getitem__)
    if prefix == "kl":
        usage = (f"all {len(values)} dimensions have KL < {ACTIVE_USAGE} nats (largest {values[largest]:.2g} in "
                 f"dimension {largest}, total {record.get('kl', sum(values)):.2g} nats)")
    else:
        usage = (f"all {len(values)} mask coordinates are expected on in < {ACTIVE_USAGE:.0%} of the pairs (largest "
                 f"{values[largest]:.2g} in coordinate {largest})")
    return (f"latent collapse: r has carried no information for {record['step'] - since} steps (since step {since}): "
            f"{usage}; the posterior moves r by {record.get('r_spread', float('nan')):.3g} prior standard deviations. "
            f"Revive it with a smaller model.latent.beta (now {record.get('beta', float('nan')):g}), "
            f"model.latent.free_bits or a longer model.latent.beta_warmup_steps (docs/footage.md)")


class LatentCollapseWatch:
    """Follows the training records; :meth:`check` adds the warning to the record where it fires.

    ``history``: the records already in a resumed run's log, replayed so that the stretch and the
    once-only rule carry over a resume; ``warmup_steps``: β's warm-up, during which nothing is counted.
    """

    def __init__(self, train_cfg, history: list[dict] = (), warmup_steps: int = 0) -> None:
        self.steps = train_cfg.latent_collapse_steps
        self.warmup_steps = warmup_steps
        self.warned = any(WARNING_KEY in record for record in history)
        self.since: int | None = None  # first step of the current collapsed stretch
        for record in history:
            self._follow(record)

    def _follow(self, record: dict) -> bool:
        """Update the stretch with ``record``; True when it has lasted ``latent_collapse_steps``."""
        if record["step"] < self.warmup_steps or record.get("active_dims", 1) > 0:
            self.since = None
            return False
        if self.since is None:
            self.since = record["step"]
        return record["step"] - self.since >= self.steps

    def check(self, record: dict) -> dict:
        """``record``, with ``latent_collapse_warning`` added (and printed) the first time r is found collapsed."""
        if not self._follow(record) or self.warned:
            return record
        self.warned = True
        message = collapse_message(record, self.since)
        tqdm.write(f"warning: step {record['step']}: {message}")
        return record | {WARNING_KEY: message}

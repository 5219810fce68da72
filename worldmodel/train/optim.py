"""The optimiser's parameter groups."""

from __future__ import annotations

from typing import Iterable

from torch import nn


def weight_decay_groups(params: Iterable[nn.Parameter], weight_decay: float, decay_1d: bool = True) -> list[dict]:
    """AdamW parameter groups: all parameters decayed by ``weight_decay`` in one group; with ``decay_1d``
    False, the 1-D ones (biases, norm scales and shifts) in a second group without decay, as the authors'
    code groups them (github.com/SkrighYZ/AdaSSL, train.py). Empty groups are left out."""
    params = list(params)
    if decay_1d:
        return [{"params": params, "weight_decay": weight_decay}]
    groups = [{"params": [p for p in params if p.ndim != 1], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim == 1], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]

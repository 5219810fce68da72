"""Schedules of the training loop, as pure functions of the step: learning rate, β, EMA momentum."""

from __future__ import annotations

import math

def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """Linear warm-up, then cosine decay to 0 (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

def beta_at(step: int, beta: float, warmup_steps: int) -> float:
    """β with linear warm-up from 0 over ``warmup_steps``."""
    return beta if warmup_steps <= 0 else beta * min(1.0, step / warmup_steps)


def ema_momentum_at(step: int, total_steps: int, base: float) -> float:
    """BYOL's cosine schedule: momentum rises from ``base`` to 1 over training."""
    return 1 - (1 - base) * (math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)) + 1) / 2

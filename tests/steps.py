"""A few optimiser steps on one batch, for tests that check a loss term falls."""

import torch


def losses_over_steps(model: torch.nn.Module, batch: dict[str, torch.Tensor], steps: int, term: str,
                      beta: float = 1.0, lr: float = 1e-3) -> list[float]:
    """Adam on ``model(batch, beta)["loss"]`` for ``steps`` steps → the ``term`` entry of each step's output."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        out = model(batch, beta=beta)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        losses.append(out[term].item())
    return losses

"""Gathering embeddings across processes with gradients kept (multi-process contrastive losses)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import Tensor


def gather_with_grad(x: Tensor, dim: int = 0) -> tuple[Tensor, int, int]:
    """Concatenate every process's ``x`` along ``dim``, in rank order, keeping gradients.

    Args:
        x: the same shape on every process, e.g. (V, B, D) targets with ``dim=1``.

    Returns:
        (gathered, rank, world): gathered has size W·n along ``dim`` (process r's block at
        r·n … (r+1)·n − 1); the backward pass sums, over processes, the gradients that reach
        each block and hands them to the process it came from. Without an initialised
        process group (or with one process) it returns (x, 0, 1).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0, 1
    return torch.cat(dist_fn.all_gather(x), dim=dim), dist.get_rank(), dist.get_world_size()

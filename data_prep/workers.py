"""Per-item jobs of a data_prep command, in this process or in a pool of one-thread workers."""

from __future__ import annotations

import multiprocessing
from typing import Any, Callable, Iterable, Iterator


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


class _Star:
    """``fn(*job)`` as a picklable one-argument callable."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, job: tuple) -> Any:
        return self.fn(*job)


def run_jobs(fn: Callable[..., Any], jobs: Iterable[tuple], workers: int) -> Iterator[Any]:
    """``fn(*job)`` for every job, in completion order: here when ``workers`` ≤ 1, else in a spawn pool
    of ``workers`` processes with one torch thread each (``fn`` must be a module-level function)."""
    star = _Star(fn)
    if workers <= 1:
        yield from map(star, jobs)
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_one_thread) as pool:
        yield from pool.imap_unordered(star, jobs)

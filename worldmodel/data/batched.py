"""Base class for map-style datasets that fetch whole batches at once."""

from __future__ import annotations

from typing import Any, Iterator

from torch import Tensor
from torch.utils.data import Dataset


def in_order_batches(dataset: Dataset, batch_size: int) -> Iterator[dict[str, Tensor]]:
    """Every item of ``dataset`` in order, as collated batches {key: (≤ batch_size, ...)} from
    ``__getitems__`` (a :class:`BatchedDataset`, or a ``Subset`` of one)."""
    for first in range(0, len(dataset), batch_size):
        yield dataset.__getitems__(list(range(first, min(first + batch_size, len(dataset)))))


def passthrough_collate(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """``collate_fn`` for :class:`BatchedDataset`: the batch is already collated."""
    return batch


class BatchedDataset(Dataset):
    """A dataset whose ``__getitems__(indices)`` returns the collated batch {key: (B, ...)}.

    ``DataLoader`` calls ``__getitems__`` with a batch of indices; use
    ``collate_fn=passthrough_collate`` so that the batch is passed on as it is.
    ``__getitem__(i)`` returns the same keys without the batch dimension.
    """

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {type(self).__name__} of length {len(self)}")
        return {key: value[0] for key, value in self.__getitems__([index % len(self)]).items()}

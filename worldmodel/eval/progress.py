"""One line per evaluation stage on stderr: ``eval: encoding train (7,250 pairs) 2.1 s``."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator


@contextlib.contextmanager
def stage(label: str) -> Iterator[None]:
    """Time the block and print ``eval: <label> <seconds> s`` to stderr when it ends."""
    clock = time.perf_counter()
    yield
    print(f"eval: {label} {time.perf_counter() - clock:.1f} s", file=sys.stderr, flush=True)

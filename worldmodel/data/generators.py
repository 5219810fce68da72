"""The registry of built-in dataset generators: the ``worldmodel.generators`` entry points.

The library never imports ``data_prep`` (which imports :mod:`worldmodel.data.store`, the
dataset-folder contract). Packages that write datasets register their generators in their
``pyproject.toml``::

    [project.entry-points."worldmodel.generators"]
    mmnist = "data_prep.mmnist:generate_mmnist"

and a config names one as ``data.generator``; it is imported only when a dataset is generated.
A third-party package registers its own generators the same way.
"""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points
from typing import Callable

GROUP = "worldmodel.generators"


def generator_names() -> list[str]:
    """The registered generator names, sorted."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load_generator(name: str) -> Callable:
    """The generator ``fn(out, **generator_args)`` registered as ``name``."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ValueError(f"data.generator {name!r}; expected one of {generator_names()} "
                         f"(entry points '{GROUP}'; reinstall with `pip install -e .` if the list is empty)")
    return found[0].load()


def generator_options(generate: Callable) -> list[str]:
    """The keyword options of a generator ``generate(out, **options)``: what ``data.generator_args`` may name."""
    return [name for name in inspect.signature(generate).parameters if name != "out"]

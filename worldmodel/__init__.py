"""worldmodel: video world models from naturally paired data (AdaSSL in a JEPA-style pipeline).

The Python API (:mod:`worldmodel.api`) is imported on first use, so ``import worldmodel`` stays
cheap: ``worldmodel.load(run_dir)``, ``worldmodel.from_pretrained(folder)``,
``worldmodel.PretrainedWorldModel``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["PretrainedWorldModel", "from_pretrained", "load"]


def __getattr__(name: str):
    if name in __all__:
        from worldmodel import api

        return getattr(api, name)
    raise AttributeError(f"module 'worldmodel' has no attribute {name!r}")

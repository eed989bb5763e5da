"""asrlab: transfer learning for speech recognition, as a course and a library.

The package is imported by the notebooks and the ``asrlab`` command. Importing it does no work:
submodules are loaded on first use, so ``import asrlab`` stays fast and free of side effects.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "audio", "config", "corpus", "datasets", "decode", "features", "manifest", "metrics",
    "models", "text", "train", "utils", "bench", "cli",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"asrlab.{name}")
    raise AttributeError(f"module 'asrlab' has no attribute {name!r}")


__all__ = list(_SUBMODULES) + ["__version__"]

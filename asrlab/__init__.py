"""asrlab: transfer learning for speech recognition, as a course and a library.

The package is imported by the notebooks and the ``asrlab`` command. Importing it does no work:
submodules are loaded on first use, so ``import asrlab`` stays fast and free of side effects.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any

# With 2 CPU cores, OpenMP threads that spin while waiting make torch 3-10x slower whenever any
# other process (a DataLoader worker, a corpus build) needs a core. Sleeping waits avoid that;
# their price is 1.3-2x on a small GRU's many tiny matrix products when torch runs alone
# (`asrlab bench` measures both), which single-threaded data-parallel processes
# (asrlab.parallel) sidestep. Effective only if asrlab is imported before torch (the CLI and notebooks do).
#: True when torch was loaded before asrlab and no OMP_WAIT_POLICY was set: the setting comes too
#: late for this process (:func:`asrlab.course.setup` warns).
OMP_SET_TOO_LATE = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_SUBMODULES = (
    "audio", "config", "corpus", "datasets", "features", "layers", "manifest", "metrics", "models", "text", "train",
    "utils", "bench", "cli", "adapt", "finetune", "parallel", "recipes", "lm", "decoding", "files", "course",
    "evaluate", "inference",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"asrlab.{name}")
    raise AttributeError(f"module 'asrlab' has no attribute {name!r}")


__all__ = list(_SUBMODULES) + ["__version__"]

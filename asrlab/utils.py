"""Small helpers shared by the training, evaluation and notebook code."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(preferred: str | None = None) -> torch.device:
    """``preferred`` if given, else CUDA, then Apple MPS, then CPU."""
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths to a ``(B, T)`` boolean mask that is True on valid frames."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def smoke_mode() -> bool:
    """Whether ``ASRLAB_SMOKE`` asks for the tiny, fast variant of every run."""
    return os.environ.get("ASRLAB_SMOKE", "0") not in ("", "0", "false", "False")


def project_root() -> Path:
    """The checkout's root when asrlab runs from one (where ``data/`` lives), else the cwd."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def data_dir() -> Path:
    """Where generated data goes: ``$ASRLAB_DATA`` or ``<project root>/data``."""
    return Path(os.environ.get("ASRLAB_DATA", project_root() / "data"))

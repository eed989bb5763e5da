"""Small helpers shared by the training, evaluation and notebook code."""
from __future__ import annotations

import os
import platform
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asrlab.config import CORPUS_SIZES


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


def machine_description() -> dict[str, Any]:
    """CPU/GPU, cores and library versions, for model cards and results."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpu": gpu,
            "processor": platform.processor() or platform.machine(), "torch": torch.__version__,
            "python": platform.python_version()}


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths to a ``(B, T)`` boolean mask that is True on valid frames."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over each sequence's valid frames.

    Padding (frames at or past a sequence's length) never counts, whatever it holds, NaN
    included. A sequence with no valid frame has no mean, so a zero length raises ValueError;
    pooling it to zeros instead would hand a distance, a domain classifier or a probe a made-up
    point at the origin without a word. Drop empty utterances before pooling.

    Args:
        x: ``(B, T, D)`` padded features.
        lengths: ``(B,)`` valid frames of each sequence, each in ``[1, T]``.

    Returns:
        ``(B, D)`` means, in ``x``'s dtype (``(0, D)`` for an empty batch).

    Raises:
        ValueError: ``x`` is not ``(B, T, D)``, ``lengths`` is not ``(B,)``, or a length lies
            outside ``[1, T]``.
    """
    if x.dim() != 3:
        raise ValueError(f"masked_mean: expected (B, T, D) features, got shape {tuple(x.shape)}")
    if lengths.dim() != 1 or lengths.shape[0] != x.shape[0]:
        raise ValueError(f"masked_mean: expected ({x.shape[0]},) lengths for {x.shape[0]} sequences, "
                         f"got lengths of shape {tuple(lengths.shape)}")
    if x.shape[0] and int(lengths.max()) > x.shape[1]:
        raise ValueError(f"masked_mean: lengths must lie in [1, {x.shape[1]}] frames, got {lengths.tolist()}")
    empty = (lengths < 1).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"masked_mean: sequences {empty} have no valid frames (lengths {lengths.tolist()}), "
                         "and a mean over no frames is undefined; drop empty utterances before pooling")
    lengths = lengths.to(x.device)
    mask = lengths_to_mask(lengths, x.shape[1]).unsqueeze(-1)
    total = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device)).sum(dim=1)
    return total / lengths.unsqueeze(-1).to(x.dtype)


#: The course's sizes, smallest first: ``smoke`` (CI: about a minute per notebook, numbers that
#: mean little), ``lab`` (a learner: at most 10 minutes per notebook on 2 CPU cores, the lessons'
#: effects visible) and ``full`` (the README's tables). A notebook runs on the corpus of its size,
#: so these are the corpus sizes (:data:`asrlab.config.CORPUS_SIZES`).
COURSE_SIZES: tuple[str, ...] = CORPUS_SIZES


def course_size() -> str:
    """The size the course runs at: ``ASRLAB_SIZE`` (smoke, lab or full), else ``smoke`` when
    ``ASRLAB_SMOKE`` is set to a true value, else ``lab`` (what a learner gets by default).

    Raises:
        ValueError: ``ASRLAB_SIZE`` holds something else.
    """
    size = os.environ.get("ASRLAB_SIZE", "").strip().lower()
    if size:
        if size not in COURSE_SIZES:
            raise ValueError(f"ASRLAB_SIZE={size!r}: use one of {', '.join(COURSE_SIZES)}")
        return size
    smoke = os.environ.get("ASRLAB_SMOKE", "0") not in ("", "0", "false", "False")
    return "smoke" if smoke else "lab"


def smoke_mode() -> bool:
    """Whether the course runs at smoke size (:func:`course_size`): the tiny, fast variant."""
    return course_size() == "smoke"


def project_root() -> Path:
    """The checkout's root when asrlab runs from one (where ``data/`` lives), else the cwd."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def data_dir() -> Path:
    """Where generated data goes: ``$ASRLAB_DATA`` or ``<project root>/data``."""
    return Path(os.environ.get("ASRLAB_DATA", project_root() / "data"))

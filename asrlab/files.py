"""Atomic file writes: a whole new file or the old one, never half of one.

Kept free of torch and numpy so that every module that writes files (audio, manifests, the corpus
builder's worker processes) can use it without a heavy import.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A temp file name beside ``path``, unique to this process and thread, same suffix.

    Two processes writing the same file at once (two notebooks building one corpus) each get
    their own temp file, instead of racing on one shared temp name.
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Write a file all at once: yields a :func:`temporary_sibling` of ``path`` to write, then
    renames it onto ``path``. Readers never see a half-written file, and a write that fails
    leaves neither a torn ``path`` nor its temp file behind. Creates the parent folder.

    Example::

        with atomic_write(out) as tmp:
            np.save(tmp, array)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

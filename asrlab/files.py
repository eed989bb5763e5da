"""Files: atomic writes (a whole new file or the old one, never half of one), JSON files, and
the sha256 of a file.

Kept free of torch and numpy so that every module that writes files (audio, manifests, the corpus
builder's worker processes) can use it without a heavy import.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any


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


def save_json(path: str | os.PathLike, data: Any, *, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON (``indent`` spaces, keys in their order, a final newline), atomically.

    Returns:
        ``path``, as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent, sort_keys=False) + "\n", encoding="utf-8")
    return path


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively, so that its JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, remembered per path, size and modification time (a file that
    changes is hashed again).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    stat = os.stat(path)
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()

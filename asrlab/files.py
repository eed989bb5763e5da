"""Files: atomic writes (a whole new file or the old one, never half of one), JSON files, the
sha256 of a file, and a check that an output can be written before the work that fills it.

Kept free of torch and numpy so that every module that writes files (audio, manifests, the corpus
builder's worker processes) can use it without a heavy import.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from asrlab.errors import OutputError


def temporary_sibling(path: str | os.PathLike, *, keep_suffix: bool = True) -> Path:
    """A temp file name beside ``path``, unique to this process and thread.

    Two processes writing the same file at once (two notebooks building one corpus) each get
    their own temp file, instead of racing on one shared temp name.

    Args:
        path: the file to be written.
        keep_suffix: end the temp name with ``path``'s suffix (``a.1-2.tmp.npy``), for writers
            that choose the format from it or append it (``np.save``, ``savefig``). With False
            the name ends in ``.tmp`` (``a.wav.1-2.tmp``), so that no cleaner's glob of the
            real suffix (``*.wav``) matches a file another process is still writing.
    """
    path = Path(path)
    tag = f"{os.getpid()}-{threading.get_ident()}.tmp"
    if keep_suffix:
        return path.with_name(f"{path.stem}.{tag}{path.suffix}")
    return path.with_name(f"{path.name}.{tag}")


_TEMPORARY = re.compile(r"\.\d+-\d+\.tmp(\.[^.]+)?$")


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a :func:`temporary_sibling` name (a file being written, not a result)."""
    return _TEMPORARY.search(Path(path).name) is not None


@contextmanager
def atomic_write(path: str | os.PathLike, *, keep_suffix: bool = True) -> Iterator[Path]:
    """Write a file all at once: yields a :func:`temporary_sibling` of ``path`` to write, then
    renames it onto ``path``. Readers never see a half-written file, and a write that fails
    leaves neither a torn ``path`` nor its temp file behind. Creates the parent folder.
    ``keep_suffix`` is passed to :func:`temporary_sibling`.

    Example::

        with atomic_write(out) as tmp:
            np.save(tmp, array)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, keep_suffix=keep_suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: What an ``OSError``'s errno means for an output, and what to do about it.
_WRITE_PROBLEMS: dict[int, str] = {
    errno.EACCES: "permission denied (a read-only folder?): choose a folder you can write, or fix its permissions",
    errno.EPERM: "permission denied (a read-only folder?): choose a folder you can write, or fix its permissions",
    errno.EROFS: "the file system is read-only: choose a folder on a writable disk",
    errno.ENOSPC: "no space left on the device: free some space or choose another disk",
    errno.EDQUOT: "the disk quota is exceeded: free some space or choose another disk",
    errno.ENOTDIR: "a file is in the way, so it is not a folder: remove the file or choose another path",
    errno.EEXIST: "a file is in the way, so it is not a folder: remove the file or choose another path",
}


def check_writable(path: str | os.PathLike, what: str, *, file: bool = False) -> Path:
    """Make sure an output can be written, before the work that fills it (training, a corpus build).

    Creates the folder (``path`` itself, or its parent when ``file`` is True), then writes and
    removes a small probe file in it, so that a read-only folder, a full disk or a file in the way
    is found in a second rather than at the final save of an hour's run.

    Args:
        path: the output folder, or the output file when ``file`` is True.
        what: how the user named it, for the message (e.g. ``"--out"``, ``"the run folder"``).
        file: ``path`` is a file to be written (its parent folder is checked; ``path`` must not
            be a folder).

    Returns:
        ``path``, as a :class:`~pathlib.Path`.

    Raises:
        OutputError: it cannot be written; the message names the path, the cause and the fix.
    """
    path = Path(path)
    folder = path.parent if file else path
    if file and path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a folder; give a file name")
    probe = folder / f".asrlab-write-check.{os.getpid()}-{threading.get_ident()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            probe.write_bytes(b"asrlab checks that this folder can be written\n")
        finally:
            probe.unlink(missing_ok=True)
    except OSError as error:
        raise unwritable(path, what, error) from error
    return path


def unwritable(path: str | os.PathLike, what: str, error: OSError) -> OutputError:
    """The :class:`~asrlab.errors.OutputError` saying that ``path`` (``what``) could not be written
    because of ``error``: the path, the cause in words and the fix."""
    if isinstance(error, OutputError):
        return error
    cause = _WRITE_PROBLEMS.get(error.errno or 0, f"{error.strerror or error}")
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
    return OutputError(f"cannot write {what} {path}: {cause}{where}")


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

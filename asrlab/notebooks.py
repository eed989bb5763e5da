"""Run the course notebooks headless, and the conventions they share.

Notebooks live in ``notebooks/`` as ``NN_name.ipynb`` and are committed without outputs.
:func:`run_notebooks` executes them in order with nbclient (kernel ``python3``, i.e. the Python
running asrlab) with ``ASRLAB_SMOKE`` set in the kernel's environment, and writes the executed
copies (with outputs) under ``data/notebooks/``. A notebook stores its result dict with
:func:`save_results` as ``results/<notebook>-<smoke|full>.json``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from asrlab.errors import AsrlabError
from asrlab.utils import data_dir, project_root, smoke_mode

__all__ = ["NotebookError", "NotebookRun", "notebook_dir", "find_notebooks", "run_notebook", "run_notebooks",
           "record_runs", "results_path", "save_results", "markdown_table"]

_PATTERN = "[0-9][0-9]_*.ipynb"


class NotebookError(AsrlabError):
    """A notebook failed: the message names the notebook, the cell and the error."""


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook.

    Attributes:
        name: the notebook's file name without ``.ipynb``.
        seconds: wall-clock time of the whole run, kernel start included.
        executed: the executed copy, with outputs.
    """

    name: str
    seconds: float
    executed: Path


def notebook_dir() -> Path:
    """The course's notebooks: ``<project root>/notebooks``."""
    return project_root() / "notebooks"


def find_notebooks(names: Sequence[str] = (), folder: str | os.PathLike | None = None) -> list[Path]:
    """The notebooks ``NN_*.ipynb`` of ``folder`` in order, or those ``names`` pick.

    A name picks a notebook by file name (``01_data_prep.ipynb``), stem (``01_data_prep``) or
    number prefix (``01``).
    """
    folder = Path(folder) if folder is not None else notebook_dir()
    found = sorted(folder.glob(_PATTERN))
    if not names:
        return found
    chosen = []
    for name in names:
        match = [p for p in found if name in (p.name, p.stem) or p.stem.startswith(f"{name}_")]
        if not match:
            known = ", ".join(p.stem for p in found) or "none"
            raise ValueError(f"no notebook {name!r} in {folder}; known: {known}")
        chosen += [p for p in match if p not in chosen]
    return sorted(chosen)


def _failed_cell(nb: Any) -> int | None:
    for index, cell in enumerate(nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return index
    return None


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, smoke: bool,
                 timeout: int = 3600, kernel_name: str = "python3") -> NotebookRun:
    """Execute one notebook top to bottom in a fresh kernel and write the executed copy.

    The kernel runs in the notebook's folder with ``ASRLAB_SMOKE`` set to ``1`` or ``0``. The
    executed copy (``out_dir/<name>.ipynb``) is written even when a cell fails, so the error
    can be read in context.

    Args:
        path: the notebook.
        out_dir: where the executed copy goes.
        smoke: run in smoke mode.
        timeout: seconds any one cell may take.
        kernel_name: the Jupyter kernel (``python3`` is the interpreter running asrlab).

    Raises:
        NotebookError: a cell failed or timed out, or the kernel died; names the notebook and cell.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellControlSignal, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    failed: list[int] = []
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent.resolve())}},
                            on_cell_error=lambda cell, cell_index, execute_reply: failed.append(cell_index))
    env = {**os.environ, "ASRLAB_SMOKE": "1" if smoke else "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    out = Path(out_dir) / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        client.execute(env=env)
    except (CellControlSignal, DeadKernelError) as exc:
        index = failed[0] if failed else _failed_cell(nb)
        where = f"cell {index}" if index is not None else "a cell"
        summary = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"notebook {path.stem} failed in {where}: {summary} (executed copy: {out})") from exc
    finally:
        nbformat.write(nb, out)
    return NotebookRun(path.stem, time.perf_counter() - began, out)


def run_notebooks(names: Sequence[str] = (), out_dir: str | os.PathLike | None = None, smoke: bool | None = None,
                  timeout: int = 3600, folder: str | os.PathLike | None = None,
                  report: Callable[[NotebookRun], None] | None = None) -> list[NotebookRun]:
    """Execute notebooks in order (all, or those ``names`` pick), stopping at the first failure.

    Args:
        names: notebooks to run (see :func:`find_notebooks`); default all.
        out_dir: where executed copies go (default ``data/notebooks``).
        smoke: smoke mode; default: :func:`asrlab.utils.smoke_mode`.
        timeout: seconds any one cell may take.
        folder: the notebooks' folder (default ``notebooks/``).
        report: called with each finished run, e.g. to print its time.

    Returns:
        The runs, in order.
    """
    paths = find_notebooks(names, folder)
    if not paths:
        raise ValueError(f"no notebooks NN_*.ipynb in {folder or notebook_dir()}")
    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "notebooks"
    smoke = smoke_mode() if smoke is None else smoke
    runs = []
    for path in paths:
        run = run_notebook(path, out_dir, smoke, timeout)
        runs.append(run)
        if report is not None:
            report(run)
    return runs


def record_runs(runs: Sequence[NotebookRun], smoke: bool, path: str | os.PathLike | None = None) -> Path:
    """Add finished runs to the run log ``results/notebooks-<smoke|full>.json``.

    The log keeps one entry per notebook (a rerun replaces it): wall-clock seconds, when it
    finished, the machine, and the sha256 of the shipped source model it ran with, so that the
    README can say how long the course took, on what, and with which model.

    Args:
        runs: finished runs (from :func:`run_notebooks`).
        smoke: the mode they ran in.
        path: the log (default ``results/notebooks-<mode>.json``).

    Returns:
        The log's path.
    """
    import json
    from datetime import datetime, timezone

    from asrlab.models.zoo import SOURCE_MODEL_FILE
    from asrlab.pretrain import machine_description, sha256_of
    from asrlab.report import save_json

    path = Path(path) if path is not None else results_path("notebooks", smoke)
    log = json.loads(path.read_text()) if path.is_file() else {}
    source_sha = sha256_of(SOURCE_MODEL_FILE) if SOURCE_MODEL_FILE.is_file() else None
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for run in runs:
        log[run.name] = {"seconds": round(run.seconds, 1), "finished": finished, "machine": machine_description(),
                         "source_model_sha256": source_sha}
    return save_json(path, dict(sorted(log.items())))


def results_path(name: str, smoke: bool | None = None) -> Path:
    """``<project root>/results/<name>-<smoke|full>.json``; mode from ``ASRLAB_SMOKE`` by default."""
    smoke = smoke_mode() if smoke is None else smoke
    return project_root() / "results" / f"{name}-{'smoke' if smoke else 'full'}.json"


def save_results(name: str, data: Any) -> Path:
    """Write a notebook's results to :func:`results_path` (``results/<name>-<mode>.json``)."""
    from asrlab.report import save_json

    if not name or "/" in name or os.sep in name:
        raise ValueError(f"results name {name!r} must be a plain name such as '01_data_prep'")
    return save_json(results_path(name), data)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                   floatfmt: str = ".2f") -> str:
    """A Markdown table of ``rows`` (dicts); numbers right-aligned, floats as ``floatfmt``.

    Args:
        rows: one dict per row.
        columns: the keys to show, in order (default: the first row's keys).
        floatfmt: format of float cells.

    Returns:
        The table, for ``display(Markdown(...))`` in a notebook.
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    columns = list(columns) if columns is not None else list(rows[0])
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)
               for c in columns]

    def cell(value: Any) -> str:
        return format(value, floatfmt) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)

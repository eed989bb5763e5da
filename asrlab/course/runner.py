"""Run the course notebooks headless, and the conventions they share.

Notebooks live in ``notebooks/`` as ``NN_name.ipynb`` and are committed without outputs.
:func:`run_notebooks` executes them in order with nbclient (kernel ``python3``, i.e. the Python
running asrlab) with ``ASRLAB_SMOKE`` set in the kernel's environment, and writes the executed
copies (with outputs) under ``data/notebooks/``. A notebook stores its result dict with
:func:`save_results` as ``results/<notebook>-<smoke|lab|full>.json``.
"""
from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from asrlab.errors import AsrlabError
from asrlab.files import atomic_write, save_json, sha256_of
from asrlab.utils import COURSE_SIZES, course_size, data_dir, machine_description, project_root

__all__ = ["NotebookError", "NotebookInterrupted", "NotebookRun", "StressResult", "notebook_dir", "find_notebooks", "run_notebook",
           "run_notebooks", "stress_notebooks",
           "record_runs", "results_path", "save_results", "markdown_table", "readable_header", "is_percent_column",
           "committed_results", "saved_results", "show_table", "lesson_check"]

_PATTERN = "[0-9][0-9]_*.ipynb"
log = logging.getLogger(__name__)


class NotebookError(AsrlabError):
    """A notebook failed: the message names the notebook, the cell and the error."""


class NotebookInterrupted(NotebookError):
    """A run was stopped from outside (Ctrl-C, SIGTERM): the whole command stops, not just this run."""


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook.

    Attributes:
        name: the notebook's file name without ``.ipynb``.
        seconds: wall-clock time of the whole run, kernel start included.
        executed: the executed copy, with outputs (signed as trusted for this user's Jupyter).
        html: a self-contained HTML page of the executed copy (figures, audio, tables embedded).
    """

    name: str
    seconds: float
    executed: Path
    html: Path | None = None


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


#: Seconds one cell may take by default, per size: a smoke cell that runs for minutes is stalled,
#: not slow (CI runs the whole course in a few minutes), a lab notebook takes at most 10 minutes
#: in all, and a full-size cell trains for up to an hour.
CELL_TIMEOUT = {"smoke": 180, "lab": 900, "full": 3600}
#: Seconds the kernel gets to start, and to stop before it is killed.
KERNEL_START_TIMEOUT = 60
KERNEL_STOP_TIMEOUT = 10
#: Seconds between looks at a kernel channel for a message that arrived unannounced.
CHANNEL_CHECK_SECONDS = 0.5


def check_size(size: str) -> str:
    """``size`` when it is one of :data:`asrlab.utils.COURSE_SIZES`, else a ValueError naming them."""
    if size not in COURSE_SIZES:
        raise ValueError(f"size must be one of {', '.join(COURSE_SIZES)}, got {size!r}")
    return size


def default_cell_timeout(size: str) -> int:
    """Seconds one cell may take when the caller does not say: see :data:`CELL_TIMEOUT`."""
    return CELL_TIMEOUT[check_size(size)]


def _exit_status(returncode: int | None) -> str:
    """A kernel's exit, in words: ``"exit code 1"``, ``"signal SIGKILL"``, or ``"exit status unknown"``."""
    import signal

    if returncode is None:
        return "exit status unknown"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _kernel_returncode(km: Any) -> int | None:
    """The kernel process's return code (negative: killed by that signal); None while it runs."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    return process.poll() if process is not None else None


def _age(msg: dict) -> float:
    """Seconds since the kernel made ``msg`` (0 when its header has no date)."""
    from datetime import datetime, timezone

    made = msg.get("header", {}).get("date")
    if not isinstance(made, datetime):
        return 0.0
    return (datetime.now(timezone.utc) - made.astimezone(timezone.utc)).total_seconds()


def _check_in_slices(channel: Any, name: str, seconds: float = CHANNEL_CHECK_SECONDS) -> None:
    """Make ``channel.get_msg(timeout)`` look at its socket at least every ``seconds``.

    jupyter_client's asyncio channels wait with pyzmq's asyncio poll, which wakes on ZeroMQ's
    edge-triggered file descriptor. When that wake-up is missed, a message that has already
    arrived sits unseen until the poll's timeout, where a level-triggered check finds it: in
    ``asrlab notebooks run`` that stalled a cell of notebook 06 for its whole timeout (an hour
    in full mode) in about one run in ten. Polling in slices bounds the stall to ``seconds``;
    each message found late (one the kernel had sent at least half a slice before) is logged.
    """
    from queue import Empty

    get_msg = channel.get_msg

    async def get_msg_in_slices(timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = seconds if deadline is None else max(0.0, deadline - time.monotonic())
            wait = min(seconds, left)
            began = time.monotonic()
            try:
                msg = await get_msg(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            age = _age(msg)
            if wait > 0 and time.monotonic() - began >= 0.9 * wait and age >= 0.5 * wait:
                log.info("notebook runner: a %s message (%s) sent %.2f s earlier was found by the periodic "
                         "check, not by its wake-up", name, msg.get("msg_type"), age)
            return msg

    channel.get_msg = get_msg_in_slices


def _describe_cell(nb: Any, index: int) -> str:
    """``cell 27 (views = [view for d in ...)``: the index in the file (from 0) and the first line."""
    if index < 0:
        return "kernel start"
    first = next((line.strip() for line in nb.cells[index].source.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")), "")
    return f"cell {index} ({first[:60]}{'...' if len(first) > 60 else ''})" if first else f"cell {index}"


async def _stop_kernel(client: Any) -> int | None:
    """Shut the kernel down, kill it if it does not stop within :data:`KERNEL_STOP_TIMEOUT` s,
    and close the client's channels: nothing of the kernel outlives the run.

    Returns:
        The kernel's return code if it had ended before it was asked to stop, else None.
    """
    import asyncio

    km, kc = client.km, client.kc
    ended = _kernel_returncode(km) if km is not None else None
    if kc is not None:
        kc.stop_channels()
    if km is None:
        return ended
    try:
        if await km.is_alive():
            await asyncio.wait_for(km.shutdown_kernel(now=True), KERNEL_STOP_TIMEOUT)
    except Exception:  # noqa: BLE001 - a kernel that will not stop is killed below
        pass
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(KERNEL_STOP_TIMEOUT)
    try:
        await km.cleanup_resources()
    except Exception:  # noqa: BLE001 - connection files of a killed kernel may be gone already
        pass
    client.km = client.kc = None
    return ended


async def _execute(client: Any, nb: Any, env: Mapping[str, str], state: dict[str, Any]) -> None:
    """Start a kernel, run every code cell in order (``state["cell"]`` follows the cell), stop it
    (``state["returncode"]``: the kernel's return code if it ended on its own)."""
    import asyncio
    import signal
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import ensure_async

    # Unix sockets in a private folder (absolute: the kernel runs in the notebook's folder):
    # no TCP ports to collide, and no warning about unencrypted TCP in every run.
    # Ctrl-C or SIGTERM (an outer `timeout`, a CI runner) cancels the run, so the finally below
    # still shuts the kernel down; state["stopped_by"] tells the caller that the kernel did not die
    # on its own (nbclient reports any cancelled cell as a dead kernel).
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def stop(signum: int) -> None:
        state["stopped_by"] = signal.Signals(signum).name
        if task is not None:
            task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    sockets = tempfile.TemporaryDirectory(prefix="asrlab-kernel-")
    client.km = AsyncKernelManager(kernel_name=client.kernel_name, transport="ipc",
                                   ip=str(Path(sockets.name) / "kernel"))
    try:
        await asyncio.wait_for(client.async_start_new_kernel(env=dict(env)), KERNEL_START_TIMEOUT)
        await asyncio.wait_for(client.async_start_new_kernel_client(), KERNEL_START_TIMEOUT)
        _check_in_slices(client.kc.shell_channel, "shell")
        _check_in_slices(client.kc.iopub_channel, "iopub")
        client.reset_execution_trackers()
        info = await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))
        if info is not None:
            nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            state["cell"] = index
            await client.async_execute_cell(cell, index)
        client.set_widgets_metadata()  # so that an exported copy can show the widgets
    finally:
        state["returncode"] = await _stop_kernel(client)
        sockets.cleanup()


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, size: str,
                 timeout: int | None = None, kernel_name: str = "python3") -> NotebookRun:
    """Execute one notebook top to bottom in a fresh kernel and write the executed copy.

    The kernel runs in the notebook's folder with ``ASRLAB_SIZE`` set to ``size`` (and
    ``ASRLAB_SMOKE`` to ``1`` at smoke size, else ``0``). The
    executed copy (``out_dir/<name>.ipynb``) is written even when a cell fails, so the error
    can be read in context. The run never outlives its kernel: a kernel that dies is noticed
    within about a second (with its exit code or signal), a cell that runs past ``timeout``
    stops the run, and either way the kernel is shut down (killed if it will not stop).

    Args:
        path: the notebook.
        out_dir: where the executed copy goes.
        size: ``"smoke"``, ``"lab"`` or ``"full"``.
        timeout: seconds any one cell may take (default :func:`default_cell_timeout`).
        kernel_name: the Jupyter kernel (``python3`` is the interpreter running asrlab).

    Raises:
        NotebookError: a cell failed or timed out, or the kernel died or would not start; names
            the notebook and the cell (its index among all cells of the file, from 0, and its
            first line).
    """
    import asyncio

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    timeout = default_cell_timeout(size) if timeout is None else timeout
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    env = {**os.environ, "ASRLAB_SIZE": size, "ASRLAB_SMOKE": "1" if size == "smoke" else "0",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    out = Path(out_dir) / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"cell": -1, "returncode": None, "stopped_by": None}
    began = time.perf_counter()
    try:
        asyncio.run(_execute(client, nb, env, state))
    except (KeyboardInterrupt, asyncio.CancelledError, CellControlSignal, asyncio.TimeoutError, RuntimeError) as exc:
        where = _describe_cell(nb, state["cell"])
        seconds = time.perf_counter() - began
        if state["stopped_by"] or isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):
            raise NotebookInterrupted(f"notebook {path.stem} was stopped by {state['stopped_by'] or 'an interrupt'} in "
                                f"{where} after {seconds:.0f} s; its kernel was shut down (executed copy: {out})") from exc
        if isinstance(exc, DeadKernelError):
            why = f"the kernel died ({_exit_status(state['returncode'])})"
        elif isinstance(exc, CellTimeoutError):  # before TimeoutError: it is one
            why = f"the cell ran past its timeout of {timeout} s (--timeout sets it)"
        elif isinstance(exc, asyncio.TimeoutError):
            why = f"the kernel did not start within {KERNEL_START_TIMEOUT} s"
        else:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colours
            why = text.splitlines()[-1] if text else type(exc).__name__
        raise NotebookError(f"notebook {path.stem} failed in {where} after {seconds:.0f} s: {why} "
                            f"(executed copy: {out})") from exc
    finally:
        save_executed(nb, out)
    seconds = time.perf_counter() - began
    return NotebookRun(path.stem, seconds, out, export_html(nb, out.with_suffix(".html")))


def save_executed(nb: Any, path: Path) -> None:
    """Write an executed notebook and sign it as trusted for this user's Jupyter.

    Jupyter does not run the HTML and JavaScript outputs of a notebook it did not execute itself
    (audio players stay silent, widgets show as text) until the user trusts it; the runner
    executed this copy on the user's behalf, so it signs it with the user's notebook secret.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    with atomic_write(path) as tmp:
        nbformat.write(nb, tmp)
    try:
        NotebookNotary().sign(nb)
    except Exception as exc:  # noqa: BLE001 - a read-only Jupyter data folder only costs the trust
        log.info("could not sign %s as trusted: %s", path, exc)


def export_html(nb: Any, path: Path) -> Path:
    """A self-contained HTML page of an executed notebook: figures and audio embedded, tables as
    rendered, widgets with their saved state (their controls load the widget library from a CDN
    when the page is opened with internet). It opens in any browser, for handing out.

    Returns:
        ``path``.
    """
    from nbconvert import HTMLExporter

    quiet = logging.getLogger("asrlab.course.runner.html")  # nbconvert's notes on alt text are not the user's to fix
    quiet.setLevel(logging.ERROR)
    body, _ = HTMLExporter(embed_images=True, log=quiet).from_notebook_node(nb)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(body, encoding="utf-8")
    return path


def run_notebooks(names: Sequence[str] = (), out_dir: str | os.PathLike | None = None, size: str | None = None,
                  timeout: int | None = None, folder: str | os.PathLike | None = None,
                  report: Callable[[NotebookRun], None] | None = None) -> list[NotebookRun]:
    """Execute notebooks in order (all, or those ``names`` pick), stopping at the first failure.

    Args:
        names: notebooks to run (see :func:`find_notebooks`); default all.
        out_dir: where executed copies go (default ``data/notebooks``).
        size: smoke, lab or full; default: :func:`asrlab.utils.course_size`.
        timeout: seconds any one cell may take (default :func:`default_cell_timeout`).
        folder: the notebooks' folder (default ``notebooks/``).
        report: called with each finished run, e.g. to print its time.

    Returns:
        The runs, in order.
    """
    paths = find_notebooks(names, folder)
    if not paths:
        raise ValueError(f"no notebooks NN_*.ipynb in {folder or notebook_dir()}")
    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "notebooks"
    size = check_size(course_size() if size is None else size)
    runs = []
    for path in paths:
        run = run_notebook(path, out_dir, size, timeout)
        runs.append(run)
        if report is not None:
            report(run)
    return runs


@dataclass(frozen=True)
class StressResult:
    """Repeated runs of one notebook (:func:`stress_notebooks`).

    Attributes:
        name: the notebook's file name without ``.ipynb``.
        seconds: wall-clock time of each run that passed.
        failures: the error message of each run that failed.
    """

    name: str
    seconds: tuple[float, ...]
    failures: tuple[str, ...]

    @property
    def runs(self) -> int:
        return len(self.seconds) + len(self.failures)


def stress_notebooks(names: Sequence[str], repeat: int, out_dir: str | os.PathLike | None = None,
                     size: str | None = None, timeout: int | None = None, folder: str | os.PathLike | None = None,
                     report: Callable[[str, int, str], None] | None = None) -> list[StressResult]:
    """Run each notebook ``repeat`` times in a row, each in a fresh kernel, and count failures.

    A run that fails does not stop the others: the point is the failure rate of a notebook
    (a kernel that dies, a cell that stalls) over many runs. Each failed run keeps its executed
    copy as ``out_dir/<name>-failed-<run>.ipynb``.

    Args:
        names: notebooks (see :func:`find_notebooks`); empty: all.
        repeat: runs per notebook.
        report: called after each run with the notebook, the run number (from 1) and
            ``"ok in 12.3 s"`` or the error.

    Returns:
        One :class:`StressResult` per notebook, in order.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    paths = find_notebooks(names, folder)
    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "notebooks"
    size = check_size(course_size() if size is None else size)
    results = []
    for path in paths:
        seconds: list[float] = []
        failures: list[str] = []
        for run in range(1, repeat + 1):
            try:
                seconds.append(run_notebook(path, out_dir, size, timeout).seconds)
                outcome = f"ok in {seconds[-1]:.1f} s"
            except NotebookInterrupted:
                raise
            except NotebookError as exc:
                failures.append(str(exc))
                outcome = str(exc)
                executed = out_dir / path.name
                if executed.is_file():
                    executed.replace(out_dir / f"{path.stem}-failed-{run}.ipynb")
            if report is not None:
                report(path.stem, run, outcome)
        results.append(StressResult(path.stem, tuple(seconds), tuple(failures)))
    return results


def record_runs(runs: Sequence[NotebookRun], size: str, path: str | os.PathLike | None = None) -> Path:
    """Add finished runs to the run log ``results/notebooks-<size>.json``.

    The log keeps one entry per notebook (a rerun replaces it): wall-clock seconds, when it
    finished, the machine, the sha256 of the shipped source model it ran with, and the
    notebook's headline (the ``"headline"`` of the results it saved, ``results/<name>-<size>.json``),
    so that the README can say how long the course took, on what, with which model, and what
    each notebook showed.

    Args:
        runs: finished runs (from :func:`run_notebooks`).
        size: the size they ran at.
        path: the log (default ``results/notebooks-<size>.json``).

    Returns:
        The log's path.
    """
    import json
    from datetime import datetime, timezone

    from asrlab.models.zoo import SOURCE_MODEL_FILE

    path = Path(path) if path is not None else results_path("notebooks", size)
    log = json.loads(path.read_text()) if path.is_file() else {}
    source_sha = sha256_of(SOURCE_MODEL_FILE) if SOURCE_MODEL_FILE.is_file() else None
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for run in runs:
        saved = results_path(run.name, size)
        headline = json.loads(saved.read_text()).get("headline") if saved.is_file() else None
        log[run.name] = {"seconds": round(run.seconds, 1), "finished": finished, "machine": machine_description(),
                         "source_model_sha256": source_sha, "headline": headline}
    return save_json(path, dict(sorted(log.items())))


def results_path(name: str, size: str | None = None) -> Path:
    """``<project root>/results/<name>-<size>.json``; size from :func:`asrlab.utils.course_size` by default."""
    size = check_size(course_size() if size is None else size)
    return project_root() / "results" / f"{name}-{size}.json"


def save_results(name: str, data: Any) -> Path:
    """Write a notebook's results to :func:`results_path` (``results/<name>-<mode>.json``)."""
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"results name {name!r} must be a plain name such as '01_data_prep'")
    return save_json(results_path(name), data)


#: Column names that hold fractions a reader wants as percentages: WER, CER, accuracies, rates.
_PERCENT_COLUMN = re.compile(r"(?:^|[\s_-])(wer|cer|accuracy|oov|oov[\s_]rate|reduction|forgetting|"
                             r"error[\s_]rate|empty[\s_]fraction)(?:[\s_](std|sd))?$", re.IGNORECASE)
_UPPER_WORDS = {"wer": "WER", "cer": "CER", "lm": "LM", "oov": "OOV", "sd": "sd", "std": "sd", "ppl": "perplexity"}


def is_percent_column(key: str) -> bool:
    """Whether a column named ``key`` holds a fraction shown as a percentage (``target_wer``, ``5-NN accuracy``)."""
    return bool(_PERCENT_COLUMN.search(key.strip()))


def readable_header(key: str, percent: bool = False) -> str:
    """``target_wer`` -> ``target WER %``; a name that already has spaces keeps its words."""
    words = [_UPPER_WORDS.get(w.lower(), w) for w in re.split(r"[\s_]+", key.strip()) if w]
    header = " ".join(words)
    if key.strip().lower() == "forgetting":
        return "forgetting (WER points)"
    return f"{header} %" if percent and not header.endswith("%") else header


def _unsigned_zero(text: str) -> str:
    """``-0.0`` or ``+0.0`` (a tiny float rounded away, e.g. ``-1e-16``) as ``0.0``: no sign on a zero."""
    return text[1:] if text[:1] in ("-", "+") and "0" in text and set(text[1:]) <= set("0.") else text


def signed(value: float, decimals: int = 1) -> str:
    """``value`` with its sign (``+5.3``, ``-0.2``) and ``decimals`` decimals; a value that rounds to
    zero is written ``0.0``, never ``-0.0`` or ``+0.0``."""
    return _unsigned_zero(f"{value:+.{decimals}f}")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | Mapping[str, str] | None = None,
                   floatfmt: str = ".2f", percent: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts) for a reader: readable headers, fractions as percentages.

    Columns whose name says they hold a fraction (WER, CER, accuracy, OOV rate, relative
    reduction, forgetting: see :func:`is_percent_column`) are shown times 100 with one decimal
    and ``%`` in the header; other floats as ``floatfmt``; ``None`` as ``n/a``; booleans as yes/no; numbers
    right-aligned. Headers lose their underscores and spell WER/CER/LM in capitals.

    Args:
        rows: one dict per row.
        columns: the keys to show, in order (default: the first row's keys), or a mapping from
            key to the header to show for it.
        floatfmt: format of float cells outside the percent columns.
        percent: the keys shown as percentages (default: chosen by name, as above; ``()``: none).

    Returns:
        The table, for ``display(Markdown(...))`` in a notebook.
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    keys = list(columns) if columns is not None else list(rows[0])
    as_percent = set(percent) if percent is not None else {k for k in keys if is_percent_column(k)}
    headers = [columns[k] if isinstance(columns, Mapping) else readable_header(k, k in as_percent) for k in keys]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) or r.get(c) is None
                   for r in rows) and any(r.get(c) is not None for r in rows) for c in keys]

    def cell(key: str, value: Any) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if key in as_percent and isinstance(value, (int, float)) and not isinstance(value, bool):
            return _unsigned_zero(f"{100.0 * value:.1f}")
        return _unsigned_zero(format(value, floatfmt)) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(c, r.get(c, "")) for c in keys) + " |" for r in rows]
    return "\n".join(lines)


def saved_results(name: str, size: str) -> dict | None:
    """The results notebook ``name`` saved at ``size`` (``results/<name>-<size>.json``), or None
    when it has not run at that size."""
    import json

    path = results_path(name, size)
    return json.loads(path.read_text()) if path.is_file() else None


def committed_results(name: str) -> dict | None:
    """The committed full-mode results of notebook ``name`` (``results/<name>-full.json``), if any."""
    return saved_results(name, "full")


#: How a table of this run introduces itself, per size (beside the committed full-size table).
SIZE_NOTES = {"smoke": "smoke size: a check that the code runs; its numbers mean little",
              "lab": "lab size: smaller budgets and test sets than the full run, so smaller effects and wider noise"}


def show_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | Mapping[str, str] | None = None, *,
               full_size: tuple[str, str] | None = None, floatfmt: str = ".2f", size: str | None = None) -> None:
    """Display ``rows`` as a table (:func:`markdown_table`); at smoke and lab size, also the same
    table from the committed full-size run, so a shorter run still shows what the lesson shows at size.

    Args:
        rows: this run's rows.
        columns: see :func:`markdown_table`.
        full_size: ``(notebook, key)``: where the full-size rows are, ``results/<notebook>-full.json``
            under ``key`` (a list of row dicts).
        size: this run's size (default :func:`asrlab.utils.course_size`).
    """
    from IPython.display import Markdown, display

    size = check_size(course_size() if size is None else size)
    text = markdown_table(rows, columns, floatfmt)
    if size != "full" and full_size is not None:
        committed = committed_results(full_size[0])
        reference = committed.get(full_size[1]) if committed else None
        text = f"**This run** ({SIZE_NOTES[size]})\n\n" + text
        if reference:
            text += (f"\n\n**At full size** (the committed run, `results/{full_size[0]}-full.json`: what the "
                     f"lesson shows)\n\n" + markdown_table(reference, columns, floatfmt))
    display(Markdown(text))


def lesson_check(defaults: Mapping[str, Any], **knobs: Any) -> bool:
    """Whether the lesson's effect assertions apply: every knob still has its lesson value.

    The assertions that a notebook makes about the effects it teaches (fine-tuning beats the
    pretrained model, ...) were measured with its default knobs. A learner who changes a knob
    (another target domain, fewer minutes) explores; those assertions then stand down, and only
    the correctness assertions run. Prints what differs.

    Args:
        defaults: each knob's lesson value.
        knobs: the values in use, by the same names.

    Returns:
        True when every knob in ``knobs`` equals its default.
    """
    unknown = set(knobs) - set(defaults)
    if unknown:
        raise ValueError(f"no lesson default for knobs {sorted(unknown)}")
    changed = {k: v for k, v in knobs.items() if v != defaults[k]}
    if changed:
        shown = ", ".join(f"{k} = {v!r} (lesson: {defaults[k]!r})" for k, v in changed.items())
        print(f"Your own settings: {shown}. The assertions about the lesson's effects are off; "
              "the correctness checks still run.")
    return not changed

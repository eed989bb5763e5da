"""`asrlab notebooks run` fails fast and cleanly: a dead kernel or a stalled cell stops the run
within seconds, names the notebook and the cell, says how the kernel ended, and leaves no
kernel behind. Each test runs the real command in a subprocess, as a user or CI would."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KILL_MYSELF = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"


def write_notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# Test"), *[new_code_cell(s) for s in sources]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_cli(*args: str, limit: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "asrlab.cli", "notebooks", "run", "--smoke", *args],
                          capture_output=True, text=True, timeout=limit)
    return done, time.monotonic() - began


def kernels_left(marker: str) -> list[str]:
    """Kernel processes still running whose command line or cwd names ``marker``."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    left = []
    for line in ps:
        pid = line.split(maxsplit=1)[0]
        if "ipykernel_launcher" in line and pid.isdigit():
            try:
                if marker in str(Path(f"/proc/{pid}/cwd").resolve()):
                    left.append(line)
            except OSError:
                pass
    return left


def test_a_killed_kernel_stops_the_run_within_a_minute_naming_the_cell(tmp_path: Path) -> None:
    folder = tmp_path / "killed"
    folder.mkdir()
    write_notebook(folder / "01_dies.ipynb", "x = 1", KILL_MYSELF, "print('never runs')")
    done, seconds = run_cli("--folder", str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert seconds < 60, f"took {seconds:.0f} s"
    message = done.stderr
    assert "01_dies failed in cell 2 (import os, signal)" in message, message
    assert "kernel died (signal SIGKILL)" in message, message
    assert "Traceback" not in message, message
    assert (tmp_path / "out" / "01_dies.ipynb").is_file()  # the executed copy, up to the fatal cell
    assert not kernels_left(str(folder))


def test_a_stalled_cell_stops_the_run_after_its_timeout_and_the_kernel_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "stalled"
    folder.mkdir()
    write_notebook(folder / "01_stalls.ipynb", "import time", "time.sleep(600)", "print('never runs')")
    done, seconds = run_cli("--folder", str(folder), "--out", str(tmp_path / "out"), "--timeout", "3")
    assert done.returncode != 0
    assert seconds < 45, f"took {seconds:.0f} s"
    assert "01_stalls failed in cell 2 (time.sleep(600))" in done.stderr, done.stderr
    assert "ran past its timeout of 3 s" in done.stderr, done.stderr
    assert not kernels_left(str(folder))


def test_a_run_that_passes_leaves_no_kernel_a_trusted_copy_and_an_html_page(tmp_path: Path) -> None:
    from nbformat.sign import NotebookNotary

    folder = tmp_path / "fine"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb", "import ipywidgets\nipywidgets.IntSlider(value=3)",
                   "import numpy as np\nfrom IPython.display import Audio\nAudio(np.zeros(800), rate=8000)",
                   "from asrlab.course.figure import Figure\nfig = Figure(figsize=(2, 2))\nfig.add_subplot().plot([1, 2])\nfig")
    done, _ = run_cli("--folder", str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(tmp_path / "out" / "01_fine.ipynb", as_version=4)
    assert executed.metadata["language_info"]["name"] == "python"
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(model["model_name"] == "IntSliderModel" for model in state.values())
    assert NotebookNotary().check_signature(executed)  # opens trusted: audio and widgets work
    page = (tmp_path / "out" / "01_fine.html").read_text()
    assert "<audio" in page and "data:image/png;base64," in page and "IntSliderModel" in page
    assert not kernels_left(str(folder))


def test_sigterm_to_the_runner_shuts_the_kernel_down_and_names_the_cell(tmp_path: Path) -> None:
    import signal

    folder = tmp_path / "terminated"
    folder.mkdir()
    write_notebook(folder / "01_long.ipynb", "import pathlib, time", "pathlib.Path('started').touch()\ntime.sleep(600)")
    runner = subprocess.Popen([sys.executable, "-m", "asrlab.cli", "notebooks", "run", "--smoke", "--folder",
                               str(folder), "--out", str(tmp_path / "out"), "--repeat", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (folder / "started").exists() and time.monotonic() < deadline:  # the kernel reaches the long cell
        time.sleep(0.2)
    began = time.monotonic()
    runner.send_signal(signal.SIGTERM)
    stdout, stderr = runner.communicate(timeout=60)
    assert runner.returncode != 0
    assert time.monotonic() - began < 20
    assert "01_long was stopped by SIGTERM in cell 2 (pathlib.Path('started').touch())" in stderr, stderr
    assert "kernel was shut down" in stderr and "Traceback" not in stderr, stderr
    assert "run 2/3" not in stdout  # a signal stops the whole command, not just the current run
    assert not kernels_left(str(folder))


def test_repeat_runs_each_notebook_and_counts_failures(tmp_path: Path) -> None:
    folder = tmp_path / "stress"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb", "x = 1")
    write_notebook(folder / "02_flaky.ipynb", "import pathlib\nflag = pathlib.Path('flag')\n"
                   "first = not flag.exists()\nflag.touch()\nassert not first, 'fails the first time only'")
    done, _ = run_cli("--folder", str(folder), "--out", str(tmp_path / "out"), "--repeat", "2", limit=240)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "| 01_fine | 2 | 2 | 0 |" in done.stdout, done.stdout
    assert "| 02_flaky | 2 | 1 | 1 |" in done.stdout, done.stdout
    assert "1 of 4 runs failed" in done.stderr
    assert (tmp_path / "out" / "02_flaky-failed-1.ipynb").is_file()

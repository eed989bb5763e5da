"""The checks in notebooks/conftest.py that nbval runs on every cell, and the figure they expect."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from IPython.core.formatters import DisplayFormatter
from nbformat.v4 import new_code_cell, new_notebook

from asrlab.course.decoding_plots import sweep_figure
from asrlab.course.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
PLAIN_FIGURE = "from matplotlib.figure import Figure\nfig = Figure(figsize=(3, 2))\nfig.add_subplot().plot([1, 2])\nfig"
ASRLAB_FIGURE = PLAIN_FIGURE.replace("from matplotlib.figure import Figure", "from asrlab.course.figure import Figure")


def test_an_asrlab_figure_displays_as_a_png_without_any_backend() -> None:
    fig = sweep_figure([{"beam_size": 1, "wer": 0.3, "utterances_per_second": 10.0},
                        {"beam_size": 4, "wer": 0.2, "utterances_per_second": 5.0}], "beam_size")
    assert isinstance(fig, Figure)
    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"].startswith("<Figure size")


def run_nbval(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    folder = tmp_path / "nb"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "conftest.py", folder / "conftest.py")
    nb = new_notebook(cells=[new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "figure.ipynb")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-cell-timeout", "120", str(folder)],
                          capture_output=True, text=True, cwd=folder, timeout=300)


def test_nbval_fails_a_cell_whose_figure_shows_as_text(tmp_path: Path) -> None:
    done = run_nbval(tmp_path, PLAIN_FIGURE)
    assert done.returncode != 0 and "a figure displays as text" in done.stdout, done.stdout


def test_nbval_passes_a_cell_whose_figure_shows_as_an_image(tmp_path: Path) -> None:
    done = run_nbval(tmp_path, ASRLAB_FIGURE)
    assert done.returncode == 0, done.stdout

"""The committed notebooks: stripped of outputs, and shaped as STYLE.md asks.

Notebooks are committed without outputs (run `nbstripout notebooks/*.ipynb` before committing)
and executed in CI by `pytest --nbval-lax notebooks/ --nbval-sanitize-with notebooks/sanitize.cfg`.
These checks read the files only; they do not run them.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_FUNCTION_LINES = 12  # "no functions over ~10 lines"
ABSOLUTE_PATH = re.compile(r"""["'](?:/(?:home|work|tmp|root|Users|mnt|content|data)\b|[A-Za-z]:\\)""")


def markdown_headings(nb) -> list[str]:
    return [line.lstrip("#").strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")]


def python_of(source: str) -> str:
    """A code cell as plain Python (IPython magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks under notebooks/"


def test_committed_without_outputs(notebook) -> None:
    path, nb = notebook
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; strip them before "
                       f"committing: nbstripout {path.relative_to(ROOT)}")
    assert "widgets" not in nb.metadata, f"{path.name}: widget state in the metadata; run nbstripout"


def test_every_cell_has_an_id(notebook) -> None:
    """nbformat 4.5 cell ids: without them every read and write warns (MissingIDFieldWarning)."""
    path, nb = notebook
    missing = [i for i, cell in enumerate(nb.cells) if not cell.get("id")]
    assert not missing, f"{path.name}: cells {missing} have no id; run nbformat's normalize() on the notebook"


def test_no_output_is_compared_against_a_stripped_notebook(notebook) -> None:
    path, nb = notebook
    checked = [i for i, cell in enumerate(nb.cells) if "NBVAL_CHECK_OUTPUT" in cell.source]
    assert not checked, (f"{path.name}: cells {checked} are marked NBVAL_CHECK_OUTPUT, but the notebook is "
                         "committed without outputs, so nbval would compare against nothing; assert instead")


def test_structure(notebook) -> None:
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name}: no title cell first"
    knobs = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and re.search(r"^SIZE\s*=\s*COURSE\.size", cell.source, re.M)]
    assert len(knobs) == 1, f"{path.name}: needs exactly one knobs cell with `SIZE = COURSE.size`, found {knobs}"
    headings = markdown_headings(nb)
    assert "Summary" in headings and "Exercises" in headings, f"{path.name}: needs Summary and Exercises sections"
    assert headings.index("Summary") < headings.index("Exercises") == len(headings) - 1, \
        f"{path.name}: Summary, then Exercises, must end the notebook"


def test_house_style(notebook) -> None:
    path, nb = notebook
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name}, cell {index}"
        assert not ABSOLUTE_PATH.search(cell.source), f"{where}: absolute path; use data_dir() / project_root()"
        tree = ast.parse(python_of(cell.source))
        for node in ast.walk(tree):
            assert not isinstance(node, ast.ClassDef), f"{where}: class definition; put it in the asrlab package"
            if isinstance(node, ast.ImportFrom):
                assert all(alias.name != "*" for alias in node.names), f"{where}: star import"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= MAX_FUNCTION_LINES, f"{where}: function {node.name} has {lines} lines; move it to asrlab"


def test_sanitize_file_parses() -> None:
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((ROOT / "notebooks" / "sanitize.cfg").read_text())
    assert len(patterns) >= 5
    for regex, replace in patterns:
        re.compile(regex)
    text = "took 12.5 s at 0x7f3a2b4c8d90 in /home/me/asrlab/data/x.wav"
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    assert text == "took TIME at 0xADDRESS in PATH/x.wav"

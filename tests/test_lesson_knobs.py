"""Each notebook's knobs cell, as committed, has the lesson's values: its `CHECK` flag is True in
every size (smoke, lab, full), so the assertions about the lesson's effects run in CI and in the full runs,
and stand down only when a learner changes a knob (asrlab.course.runner.lesson_check).

The setup cell (the one that calls `setup()`) and the knobs cell run in a separate Python (an
IPython shell, for the cells' magics), one per size: an IPython shell in the test process would
replace `__main__` and break later tests that start worker processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

RUN_KNOBS = r'''
import json, os, sys
import nbformat
from IPython.core.interactiveshell import InteractiveShell

def cell_with(nb, text):
    found = [c.source for c in nb.cells if c.cell_type == "code" and text in c.source]
    if len(found) != 1:
        raise SystemExit(f"expected one code cell containing {text!r}, found {len(found)}")
    return found[0]

shell = InteractiveShell.instance()
checks = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    os.chdir(os.path.dirname(path))
    shell.reset(new_session=False)
    for source in (cell_with(nb, "setup()"), cell_with(nb, "lesson_check(")):
        result = shell.run_cell(source, silent=True)
        if not result.success:
            raise SystemExit(f"{path}: {result.error_in_exec or result.error_before_exec}")
    checks[os.path.basename(path)] = shell.user_ns.get("CHECK")
print("CHECKS=" + json.dumps(checks))
'''


@pytest.fixture(scope="module", params=["smoke", "lab", "full"])
def checks(request) -> dict[str, object]:
    env = {**os.environ, "ASRLAB_SIZE": request.param}
    done = subprocess.run([sys.executable, "-c", RUN_KNOBS, *map(str, NOTEBOOKS)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("CHECKS=")][-1]
    return json.loads(line.removeprefix("CHECKS="))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_knobs_are_the_lesson_knobs(path: Path, checks: dict[str, object]) -> None:
    assert checks[path.name] is True, f"{path.name}: the committed knobs differ from the lesson's (CHECK is " \
                                      f"{checks[path.name]!r}); update its LESSON_KNOBS or the knobs cell"

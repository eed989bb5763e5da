"""asrlab.course.setup(): one call gives a notebook its size, device, folders and seed, and one version line."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from asrlab.course import Course, setup

# This process may have imported torch before asrlab (tests/conftest.py does): setup() then warns.
pytestmark = pytest.mark.filterwarnings("ignore:torch was imported before asrlab:RuntimeWarning")


@pytest.mark.parametrize("size", ["smoke", "lab", "full"])
def test_setup_gives_the_size_its_folders(size: str, tmp_path: Path, monkeypatch, capsys) -> None:
    from asrlab.utils import project_root

    monkeypatch.setenv("ASRLAB_SIZE", size)
    monkeypatch.setenv("ASRLAB_DATA", str(tmp_path))
    course = setup(seed=3)
    assert isinstance(course, Course) and course.size == size and course.smoke == (size == "smoke")
    assert course.data == tmp_path and course.corpus == tmp_path / f"corpus-{size}" and course.seed == 3
    assert course.figures == (project_root() / "figures" if size == "full" else tmp_path / "figures")
    assert course.results == project_root() / "results"
    assert set(course.machine()) == {"device", "threads", "processor"}
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and line.startswith("asrlab ") and f"device {course.device}" in line
    with pytest.raises(AttributeError):
        course.size = "full"  # type: ignore[misc]  # frozen


def test_setup_seeds_everything(monkeypatch) -> None:
    import numpy as np
    import torch

    monkeypatch.setenv("ASRLAB_SIZE", "smoke")
    draws = []
    for _ in range(2):
        setup(seed=7)
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]


def test_setup_warns_when_torch_came_before_asrlab() -> None:
    code = ("import os, warnings; os.environ.pop('OMP_WAIT_POLICY', None); import torch\n"
            "from asrlab.course import setup\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always'); setup()\n"
            "print('WARNED' if any('before torch' in str(w.message) for w in caught) else 'QUIET')")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert first.stdout.strip().endswith("WARNED"), first.stderr[-2000:]
    fine = subprocess.run([sys.executable, "-c", code.replace("import torch\n", "import asrlab, torch\n")],
                          capture_output=True, text=True, timeout=120)
    assert fine.stdout.strip().endswith("QUIET"), fine.stderr[-2000:]

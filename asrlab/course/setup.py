"""The one setup of every notebook: the course's size, device, folders and seed, and a version line.

A notebook's setup cell imports its chapter and runs ``COURSE = setup()``; its knobs cell reads
``COURSE.size``, ``COURSE.device``, ``COURSE.corpus``... instead of working them out again.
"""
from __future__ import annotations

import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asrlab

if TYPE_CHECKING:
    import torch

__all__ = ["Course", "setup"]


@dataclass(frozen=True)
class Course:
    """Where and how the course runs in this session.

    Attributes:
        size: ``"smoke"``, ``"lab"`` or ``"full"`` (``ASRLAB_SIZE``; :func:`asrlab.utils.course_size`).
        smoke: ``size == "smoke"``: CI's tiny runs, whose numbers mean little.
        device: where models run: a GPU when there is one (Colab), else the CPU.
        data: where generated data goes (``ASRLAB_DATA`` or ``data/``; :func:`asrlab.utils.data_dir`).
        corpus: this size's corpus, ``<data>/corpus-<size>`` (notebook 01 builds it).
        figures: where figures are saved: the committed ``figures/`` at full size, else ``<data>/figures``.
        results: where each notebook writes its results file (``results/``).
        runs: where a notebook keeps each training run's record, to reuse it while its settings
            match: the committed ``results/runs/`` at full size (a full-size run of hours resumes
            on another machine and the README's tables can be rebuilt from it), else ``<data>/runs``.
        seed: what :func:`setup` seeded Python, NumPy and torch with.
    """

    size: str
    smoke: bool
    device: torch.device
    data: Path
    corpus: Path
    figures: Path
    results: Path
    runs: Path
    seed: int

    def machine(self) -> dict[str, Any]:
        """What a notebook's results record about the machine: device, torch threads, processor."""
        import torch

        return {"device": str(self.device), "threads": torch.get_num_threads(), "processor": platform.machine()}


def setup(seed: int = 0) -> Course:
    """Seed everything, pick the device and the folders of this course size, and print one version line.

    Importing :mod:`asrlab` before torch makes torch's OpenMP threads wait passively
    (``OMP_WAIT_POLICY``; see ``asrlab/__init__.py``), so a notebook imports its chapter of
    :mod:`asrlab.course` before torch; when torch came first, this warns.

    Args:
        seed: for Python's, NumPy's and torch's random numbers.

    Returns:
        The :class:`Course`.
    """
    import numpy as np
    import torch

    from asrlab.utils import course_size, data_dir, pick_device, project_root, seed_everything

    if asrlab.OMP_SET_TOO_LATE:
        warnings.warn("torch was imported before asrlab, so its OpenMP threads spin while they wait, which "
                      "slows training several times over on a few CPU cores: import asrlab (or asrlab.course) "
                      "before torch, or start Python with OMP_WAIT_POLICY=PASSIVE", RuntimeWarning, stacklevel=2)
    size = course_size()
    seed_everything(seed)
    data = data_dir()
    course = Course(size=size, smoke=size == "smoke", device=pick_device(), data=data, corpus=data / f"corpus-{size}",
                    figures=project_root() / "figures" if size == "full" else data / "figures",
                    results=project_root() / "results",
                    runs=project_root() / "results" / "runs" if size == "full" else data / "runs", seed=seed)
    print(f"asrlab {asrlab.__version__} | torch {torch.__version__} | numpy {np.__version__} | "
          f"Python {platform.python_version()} | device {course.device} | {torch.get_num_threads()} threads")
    return course

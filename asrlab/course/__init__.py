"""The course layer: what the notebooks run, on top of the library.

One module per chapter holds that chapter's experiments, its lesson knobs and its result tables
(:mod:`~asrlab.course.data_prep` for notebook 01, :mod:`~asrlab.course.fine_tuning` for 02,
:mod:`~asrlab.course.feature_extraction` for 03, :mod:`~asrlab.course.adaptation` for 04 and 05,
:mod:`~asrlab.course.decoding` for 06), beside what only the course needs: figures
(:mod:`~asrlab.course.plots` and the chapters' ``*_plots``), widgets, the CTC primer, the notebook
runner (:mod:`~asrlab.course.runner`), the README report (:mod:`~asrlab.course.report`) and run
records (:mod:`~asrlab.course.run_records`: a training run's result kept and reused while its
settings match).

The course imports the library (``asrlab.audio``, ``asrlab.models``, ``asrlab.train``,
``asrlab.adapt``, ``asrlab.decoding``...), never the other way round: no library module imports
``asrlab.course``; only the command line (:mod:`asrlab.cli`) does, for ``asrlab notebooks run``
and ``asrlab report``.

A notebook's setup cell imports its chapter and runs ``COURSE = setup()`` (:func:`setup`): seeds,
device, this course size's folders and a version line. Importing this package imports neither
torch nor the chapters.
"""
from __future__ import annotations

from asrlab.course.setup import Course, setup

__all__ = ["Course", "setup"]

"""Figures a learner reads: the axes show the values that were measured."""
from __future__ import annotations

from asrlab.course import adaptation_plots as aplot
from asrlab.course.figure import Figure, ticks_at


def test_ticks_at_writes_the_measured_values_plainly() -> None:
    ax = Figure().subplots()
    ax.plot([10.0, 30.0], [1.0, 2.0])
    ax.set_xscale("log")
    ticks_at(ax.xaxis, [30.0, 10.0, 10.0])
    assert list(ax.get_xticks()) == [10.0, 30.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "30"] and not ax.get_xticks(minor=True).size


def test_lambda_sweep_labels_every_lambda_of_the_grid() -> None:
    rows = [{"shift": shift, "layer": layer, "weight": weight, "target_wer": 0.4, "source_dev_wer": 0.3}
            for shift in ("noise-20db", "noise-10db") for layer in (0, 1) for weight in (10.0, 30.0)]
    fig = aplot.lambda_sweep(rows, "MMD")
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "30"]

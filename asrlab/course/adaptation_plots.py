"""Figures of the adaptation chapter; each function returns a matplotlib Figure (save it with
:func:`asrlab.course.plots.save_figure`)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from asrlab.course.figure import Figure, ticks_at

from asrlab.adapt.toy import ToyResult


def mmd_curve(rows: Sequence[Mapping[str, float]], title: str = "") -> Figure:
    """Biased and unbiased MMD against the size of a mean shift (rows of
    :func:`asrlab.adapt.toy.mmd_versus_shift`), with +-1 std bands."""
    if not rows:
        raise ValueError("mmd_curve needs at least one row")
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    shift = np.array([r["shift"] for r in rows])
    for i, name in enumerate(("biased", "unbiased")):
        mean = np.array([r[name] for r in rows])
        std = np.array([r[f"{name}_std"] for r in rows])
        ax.plot(shift, mean, marker="o", color=f"C{i}", label=f"{name} estimator")
        ax.fill_between(shift, mean - std, mean + std, color=f"C{i}", alpha=0.2)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("distance between the means")
    ax.set_ylabel("MMD$^2$ (Gaussian kernels)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def toy_panels(results: Sequence[ToyResult], title: str = "") -> Figure:
    """One panel per toy run: source (circles) and target (crosses) coloured by class, and the
    classifier's decision boundary (probability 0.5) over the input plane."""
    if not results:
        raise ValueError("toy_panels needs at least one result")
    fig = Figure(figsize=(4.0 * len(results), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(results), sharex=True, sharey=True))
    for ax, r in zip(axes, results):
        ax.contourf(r.grid_x, r.grid_y, r.grid_p, levels=[0.0, 0.5, 1.0], colors=["C0", "C1"], alpha=0.12)
        ax.contour(r.grid_x, r.grid_y, r.grid_p, levels=[0.5], colors="black", linewidths=1.0)
        for label, colour in ((0, "C0"), (1, "C1")):
            s, t = r.xs[r.ys == label], r.xt[r.yt == label]
            ax.scatter(s[:, 0], s[:, 1], s=8, color=colour, alpha=0.6, label=f"source, class {label}")
            ax.scatter(t[:, 0], t[:, 1], s=12, color=colour, marker="x", alpha=0.8, label=f"target, class {label}")
        ax.set_title(f"{r.method}: target accuracy {r.target_accuracy:.0%}")
    axes[0].legend(fontsize="x-small", frameon=False, loc="lower left")
    fig.suptitle(title)
    return fig


def step_curves(series: Mapping[str, Sequence[float]], ylabel: str, *, chance: float | None = None,
                smooth: int = 1, title: str = "") -> Figure:
    """One line per run of a per-step value (e.g. the discriminator accuracy ``disc_acc``).

    Args:
        series: run name -> one value per step.
        ylabel: what the values are.
        chance: draw a dashed line here (0.5 for a domain discriminator).
        smooth: moving-average window in steps (1: raw).
        title: the axes' title.
    """
    if not series:
        raise ValueError("step_curves needs at least one series")
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, (name, values) in enumerate(series.items()):
        y = np.asarray(values, dtype=np.float64)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(1, len(y) + 1), y, color=f"C{i}", label=name)
    if chance is not None:
        ax.axhline(chance, color="black", linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlabel("training step" + (f" (moving average of {smooth})" if smooth > 1 else ""))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", framealpha=0.9)  # a frame: readable where it has to cover a line
    return fig


def lambda_sweep(rows: Sequence[Mapping[str, object]], title: str = "") -> Figure:
    """Target test WER and source dev WER against lambda, one line per (shift, layer).

    Args:
        rows: dicts with ``shift``, ``weight``, ``layer``, ``target_wer`` and ``source_dev_wer``
            (e.g. :meth:`asrlab.course.adaptation.Comparison.grid_rows` of one method).
        title: the figure's title.
    """
    if not rows:
        raise ValueError("lambda_sweep needs at least one row")
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    keys = list(dict.fromkeys((str(r["shift"]), int(r["layer"])) for r in rows))  # type: ignore[call-overload]
    for i, (shift, layer) in enumerate(keys):
        points = sorted((float(r["weight"]), 100 * float(r["target_wer"]), 100 * float(r["source_dev_wer"]))  # type: ignore[arg-type]
                        for r in rows if str(r["shift"]) == shift and int(r["layer"]) == layer)  # type: ignore[call-overload]
        x = [p[0] for p in points]
        left.plot(x, [p[1] for p in points], marker="o", color=f"C{i}", label=f"{shift}, layer {layer}")
        right.plot(x, [p[2] for p in points], marker="o", color=f"C{i}", label=f"{shift}, layer {layer}")
    for ax, label in ((left, "target test WER (%) - scoring only"), (right, "source dev WER (%) - may select")):
        ax.set_xscale("symlog", linthresh=min([float(r["weight"]) for r in rows if float(r["weight"]) > 0] or [1.0]))  # type: ignore[arg-type]
        ticks_at(ax.xaxis, [float(r["weight"]) for r in rows])  # type: ignore[arg-type]
        ax.set_xlabel("lambda")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    left.legend(frameon=False, fontsize="small")
    fig.suptitle(title)
    return fig


def method_bars(summary: Sequence[Mapping[str, object]], title: str = "") -> Figure:
    """Target test WER per shift and method (mean over seeds, +-1 std), references hatched.

    Args:
        summary: rows of :func:`asrlab.course.adaptation.summarize`.
        title: the figure's title.
    """
    if not summary:
        raise ValueError("method_bars needs at least one row")
    shifts = list(dict.fromkeys(str(r["shift"]) for r in summary))
    methods = list(dict.fromkeys(str(r["method"]) for r in summary))
    width = 0.8 / len(methods)
    fig = Figure(figsize=(max(6.0, 1.6 * len(shifts) * len(methods) / 2), 4.2), layout="constrained")
    ax = fig.subplots()
    for j, method in enumerate(methods):
        for i, shift in enumerate(shifts):
            row = next((r for r in summary if r["shift"] == shift and r["method"] == method), None)
            if row is None:
                continue
            ax.bar(i + (j - (len(methods) - 1) / 2) * width, 100 * float(row["target_wer"]), width,  # type: ignore[arg-type]
                   yerr=100 * float(row["target_wer_std"]), color=f"C{j}", capsize=2,  # type: ignore[arg-type]
                   hatch="//" if row.get("uses_target_labels") else None, label=method if i == 0 else None)
    ax.set_xticks(range(len(shifts)), shifts)
    ax.set_ylabel("target test WER (%)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small", ncols=2)
    return fig


__all__ = ["lambda_sweep", "method_bars", "mmd_curve", "step_curves", "toy_panels"]

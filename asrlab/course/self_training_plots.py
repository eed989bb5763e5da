"""Figures of notebook 07; each function returns a matplotlib Figure (save it with
:func:`asrlab.course.plots.save_figure`)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from asrlab.course.figure import Figure
from asrlab.course.self_training import METHODS


def ladder_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """Test WER (left) and relative WER reduction against source-only (right) of each method
    against the noise level, severest shift on the right; error bars are the seed spread.

    Args:
        rows: :func:`asrlab.course.self_training.scoreboard` rows.
    """
    if not rows:
        raise ValueError("ladder_figure needs at least one row")
    fig = Figure(figsize=(11.0, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    base = {r["level"]: r["test_wer"] for r in rows if r["method"] == "source-only"}
    for method in methods:
        colour = f"C{METHODS.index(method)}" if method in METHODS else "grey"
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: -r["snr_db"])
        snr = np.array([r["snr_db"] for r in mine])
        wer = np.array([100 * r["test_wer"] for r in mine])
        sd = np.array([100 * r["test_wer_sd"] for r in mine])
        style = {"color": colour, "marker": "o", "label": f"{method} ({mine[0]['uses']})",
                 "linestyle": "--" if mine[0]["uses"] == "labels" else "-"}
        left.errorbar(snr, wer, yerr=sd, capsize=3, **style)
        if method != "source-only":
            gain = np.array([100 * r["relative_reduction"] for r in mine])
            gain_sd = np.array([100 * r["test_wer_sd"] / max(base.get(r["level"], np.nan), 1e-9) for r in mine])
            right.errorbar(snr, gain, yerr=gain_sd, capsize=3, **style)
    ceiling = sorted((r for r in rows if r["method"] == "source-only" and "headroom" in r), key=lambda r: -r["snr_db"])
    if ceiling:
        snr = [r["snr_db"] for r in ceiling]
        right.plot(snr, [100 * r["headroom"] for r in ceiling], color="black", linestyle=":", marker="_",
                   label="headroom: all the errors the noise adds")
        clean = ceiling[0]["test_wer"] * (1 - ceiling[0]["headroom"])
        left.axhline(100 * clean, color="black", linestyle=":", linewidth=1.0, label="clean speech (source test)")
        right.legend(fontsize="small", frameon=False, loc="upper left")
    for ax in (left, right):
        ax.invert_xaxis()
        ax.set_xlabel("signal-to-noise ratio (dB): the shift grows to the right")
        ax.grid(alpha=0.3)
    left.set_ylabel("test WER (%)")
    left.set_title("error rate")
    right.axhline(0, color="black", linewidth=0.8)
    right.set_ylabel("WER reduction vs source-only (%)")
    right.set_title("what each method gains")
    left.legend(fontsize="small", frameon=False, loc="upper left")
    fig.suptitle(title)
    return fig


def pseudo_label_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """WER of the kept pseudo-labels against the share kept, one line per (level, decoder).

    Args:
        rows: :func:`asrlab.course.self_training.pseudo_label_curve` rows.
    """
    if not rows:
        raise ValueError("pseudo_label_figure needs at least one row")
    fig = Figure(figsize=(7.2, 3.8), layout="constrained")
    ax = fig.subplots()
    keys = list(dict.fromkeys((r["level"], r["decoder"]) for r in rows))
    levels = list(dict.fromkeys(r["level"] for r in rows))
    for level, decoder in keys:
        mine = sorted((r for r in rows if r["level"] == level and r["decoder"] == decoder), key=lambda r: r["share"])
        ax.plot([100 * r["share"] for r in mine], [100 * r["wer"] for r in mine], marker="o",
                color=f"C{levels.index(level)}", linestyle="-" if decoder == "greedy" else "--",
                label=f"{level}, {decoder}")
    ax.invert_xaxis()
    ax.set_xlabel("share of pseudo-labels kept, most confident first (%)")
    ax.set_ylabel("WER of the kept pseudo-labels (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside: lines fill the axes
    ax.set_title(title or "pseudo-label quality on dev")
    return fig


__all__ = ["ladder_figure", "pseudo_label_figure"]

"""Figures of notebook 10; each function returns a matplotlib Figure (save it with
:func:`asrlab.course.plots.save_figure`)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from asrlab.course.figure import Figure


def error_split_figure(rows: Sequence[Mapping[str, Any]], label: str, title: str = "") -> Figure:
    """WER of each row split into substitutions, deletions and insertions (stacked bars, %).

    Args:
        rows: rows with ``substitutions``, ``deletions``, ``insertions`` (over reference words)
            and the text of ``label`` to name each bar.
    """
    if not rows:
        raise ValueError("error_split_figure needs at least one row")
    fig = Figure(figsize=(9.0, 0.6 * len(rows) + 1.4), layout="constrained")
    ax = fig.subplots()
    names = [str(r[label]) for r in rows]
    left = np.zeros(len(rows))
    for key, colour in (("substitutions", "C0"), ("deletions", "C1"), ("insertions", "C3")):
        width = np.array([100 * r[key] for r in rows])
        ax.barh(names, width, left=left, color=colour, label=key)
        left += width
    ax.axvline(100, color="grey", linestyle=":", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel("WER % (errors over reference words; insertions have no ceiling)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    return fig


def regime_figure(board: Sequence[Mapping[str, Any]], zero_shot: Mapping[str, float], title: str = "") -> Figure:
    """Target WER (left) and forgetting in source WER points (right) of each fine-tuning regime,
    per domain, with the zero-shot WER (safeguards on) as a dashed line.

    Args:
        board: :func:`asrlab.course.whisper_finetuning.mean_rows` rows.
        zero_shot: zero-shot WER per domain.
    """
    if not board:
        raise ValueError("regime_figure needs at least one row")
    fig = Figure(figsize=(11.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    domains = list(dict.fromkeys(r["domain"] for r in board))
    regimes = list(dict.fromkeys(r["regime"] for r in board))
    width = 0.8 / len(regimes)
    x = np.arange(len(domains))
    for j, regime in enumerate(regimes):
        mine = {r["domain"]: r for r in board if r["regime"] == regime}
        wer = [100 * mine[d]["target_wer"] if d in mine else np.nan for d in domains]
        sd = [100 * mine[d].get("target_wer_sd", 0.0) if d in mine else 0.0 for d in domains]
        forget = [100 * mine[d].get("forgetting", np.nan) if d in mine else np.nan for d in domains]
        left.bar(x + j * width, wer, width, yerr=sd, capsize=3, label=regime, color=f"C{j}")
        right.bar(x + j * width, forget, width, label=regime, color=f"C{j}")
    for i, d in enumerate(domains):
        if d in zero_shot:
            left.hlines(100 * zero_shot[d], i - 0.1, i + 0.9, colors="black", linestyles="--",
                        label="zero-shot (safeguards on)" if i == 0 else None)
    for ax in (left, right):
        ax.set_xticks(x + 0.4 - width / 2, domains)
    left.set_ylabel("target test WER %")
    right.set_ylabel("source WER points added (forgetting)")
    right.axhline(0, color="grey", linewidth=1)
    left.legend(fontsize=8)
    fig.suptitle(title)
    return fig


__all__ = ["error_split_figure", "regime_figure"]

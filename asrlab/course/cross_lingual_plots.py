"""Figures of notebook 08: transfer variants side by side (WER and CER)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from asrlab.course.figure import Figure


def transfer_bars(rows: Sequence[Mapping[str, object]], title: str = "",
                  reference: Mapping[str, float] | None = None) -> Figure:
    """Target test WER and CER per transfer variant, side by side.

    Args:
        rows: dicts with ``variant``, ``target_wer`` and ``target_cer`` (fractions), e.g. from
            :func:`asrlab.course.cross_lingual.compare_transfer`, or means over seeds from
            :func:`~asrlab.course.cross_lingual.transfer_summary`, whose ``target_wer_sd`` and
            ``target_cer_sd`` (where not None) are drawn as error bars of one standard deviation.
        title: the figure's title.
        reference: ``{"wer": ..., "cer": ...}`` of a model without training, drawn as a dashed line.
    """
    if not rows:
        raise ValueError("transfer_bars needs at least one row")
    names = [str(r["variant"]) for r in rows]
    fig = Figure(figsize=(10.0, 0.45 * len(rows) + 1.6), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    positions = np.arange(len(rows))
    for ax, key, label in ((left, "wer", "target test WER (%)"), (right, "cer", "target test CER (%)")):
        values = [100 * float(r[f"target_{key}"]) for r in rows]  # type: ignore[arg-type]
        spreads = [r.get(f"target_{key}_sd") for r in rows]
        errors = [100 * float(sd) for sd in spreads] if all(sd is not None for sd in spreads) else None  # type: ignore[arg-type]
        ax.barh(positions, values, xerr=errors, capsize=3 if errors else 0,
                color=[f"C{i % 10}" for i in range(len(rows))])
        for i, (y, v) in enumerate(zip(positions, values)):
            shown = f"{v:.1f}" if errors is None else f"{v:.1f} ± {errors[i]:.1f}"
            ax.annotate(shown, (v + (errors[i] if errors else 0.0), y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize="small")
        if reference is not None:
            ax.axvline(100 * reference[key], color="black", linestyle="--", linewidth=1,
                       label="English model, no training")
        ax.set_xlabel(label)
        ends = [v + e for v, e in zip(values, errors)] if errors else values
        ax.set_xlim(0, max(105.0, max(ends) * (1.15 if errors else 1.1)))
    if reference is not None:
        right.legend(frameon=False, loc="lower right", fontsize="small")
    left.set_yticks(positions, names)
    left.invert_yaxis()
    fig.suptitle(title)
    return fig

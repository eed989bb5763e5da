"""Figures of decoding studies; every function returns a :class:`matplotlib.figure.Figure`
(object-oriented API, no global state), saved with :func:`asrlab.course.plots.save_figure`."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from asrlab.course.figure import Figure

from asrlab.text import CharVocabulary

__all__ = ["sweep_figure", "posteriors_figure"]


def sweep_figure(rows: Sequence[Mapping[str, object]], x: str, group: str | None = None,
                 title: str = "") -> Figure:
    """WER and decoding speed against one setting: two panels sharing the x axis.

    Args:
        rows: sweep rows with ``x``, ``"wer"`` and ``"utterances_per_second"``
            (:func:`asrlab.course.decoding.decoding_sweep`).
        x: the swept key, e.g. ``"beam_size"`` or ``"lm_weight"``.
        group: a key that splits rows into lines (e.g. ``"lm"``), or None for one line.
        title: figure title.
    """
    if not rows:
        raise ValueError("sweep_figure needs at least one row")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_wer, ax_speed = fig.subplots(1, 2)
    groups: dict[object, list[Mapping[str, object]]] = {}
    for row in rows:
        groups.setdefault(row[group] if group else "", []).append(row)
    for name, members in groups.items():
        members = sorted(members, key=lambda r: float(r[x]))  # type: ignore[arg-type]
        xs = [float(r[x]) for r in members]  # type: ignore[arg-type]
        label = str(name) if group else None
        ax_wer.plot(xs, [100 * float(r["wer"]) for r in members], "o-", label=label)  # type: ignore[arg-type]
        ax_speed.plot(xs, [float(r["utterances_per_second"]) for r in members], "o-", label=label)  # type: ignore[arg-type]
    ax_wer.set(xlabel=x, ylabel="WER %", title="accuracy")
    ax_speed.set(xlabel=x, ylabel="utterances / s (decoding)", title="speed")
    if x == "beam_size":
        ax_wer.set_xscale("log", base=2)
        ax_speed.set_xscale("log", base=2)
    ax_speed.set_yscale("log")
    if group:
        ax_wer.legend(title=group, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def posteriors_figure(feats: torch.Tensor | np.ndarray, log_probs: torch.Tensor | np.ndarray,
                      vocab: CharVocabulary = CharVocabulary(), *, frames_per_second: float = 100.0,
                      subsampling: int = 2, min_prob: float = 0.3, title: str = "") -> Figure:
    """CTC posteriors drawn under the log-mel spectrogram of one utterance, on one time axis.

    Each symbol whose probability reaches ``min_prob`` somewhere gets a line, labelled at its
    peak; the blank is the grey area.

    Args:
        feats: ``(T_in, F)`` input features.
        log_probs: ``(T_out, V)`` CTC log-probabilities, ``T_out ~ T_in / subsampling``.
        vocab: the output symbols (index 0 blank).
        frames_per_second: input frames per second.
        subsampling: input frames per output frame.
        min_prob: symbols below this everywhere are left out.
        title: figure title.
    """
    feats = np.asarray(feats, dtype=np.float32)
    probs = np.exp(np.asarray(log_probs, dtype=np.float64))
    if feats.ndim != 2 or probs.ndim != 2 or probs.shape[1] != len(vocab):
        raise ValueError(f"need feats (T_in, F) and log_probs (T_out, {len(vocab)}), got {feats.shape} and {probs.shape}")
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax_spec, ax_post = fig.subplots(2, 1, sharex=True, height_ratios=(1.2, 1))
    ax_spec.imshow(feats.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0.0, feats.shape[0] / frames_per_second, 0, feats.shape[1]))
    ax_spec.set(ylabel="mel bin", title=title or None)
    times = (np.arange(probs.shape[0]) + 0.5) * subsampling / frames_per_second
    ax_post.fill_between(times, probs[:, vocab.blank], color="0.85", step="mid", label="blank")
    for index in range(len(vocab)):
        if index == vocab.blank or probs[:, index].max() < min_prob:
            continue
        ax_post.plot(times, probs[:, index], lw=1.2)
        symbol = vocab.symbols[index] if vocab.symbols[index] != " " else "␣"
        for peak in _peaks(probs[:, index], min_prob):
            ax_post.annotate(symbol, (times[peak], probs[peak, index]), ha="center", va="bottom", fontsize=9)
    ax_post.set(xlabel="time (s)", ylabel="P(symbol)", ylim=(0, 1.12))
    return fig


def _peaks(p: np.ndarray, floor: float) -> list[int]:
    """Frames where ``p`` has a local maximum at or above ``floor``, one per run of such frames."""
    above = p >= floor
    peaks, start = [], None
    for t, on in enumerate(np.append(above, False)):
        if on and start is None:
            start = t
        elif not on and start is not None:
            peaks.append(start + int(np.argmax(p[start:t])))
            start = None
    return peaks

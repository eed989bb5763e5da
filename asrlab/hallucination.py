"""Where a WER above 100% comes from: insertions, repetition loops and runaway hypotheses.

A recogniser with a language-model decoder (Whisper) can write more words than were spoken:
it repeats a phrase (a loop) or keeps going after the speech ended. WER counts every extra word
as an insertion, so it has no upper bound; :func:`hallucination_stats` splits it up.
"""
from __future__ import annotations

from typing import Sequence

import jiwer


def repeated_ngram(text: str, n: int = 3) -> bool:
    """Whether some word ``n``-gram occurs at least twice in ``text``."""
    words = text.split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def hallucination_stats(references: Sequence[str], hypotheses: Sequence[str], n: int = 3,
                        runaway_ratio: float = 1.5) -> dict[str, float]:
    """WER split into its edits, plus measures of runaway decoding, over normalised texts.

    Args:
        references, hypotheses: normalised transcripts, one per utterance.
        n: the n-gram order of :func:`repeated_ngram`.
        runaway_ratio: a hypothesis with more than this many times its reference's words runs away.

    Returns:
        ``wer``, ``substitutions``, ``deletions``, ``insertions`` (each over reference words),
        ``length_ratio`` (hypothesis words over reference words), ``repeating`` (share of
        hypotheses with a repeated ``n``-gram that their reference does not have) and ``runaway``
        (share of hypotheses longer than ``runaway_ratio`` times their reference).

    Raises:
        ValueError: different numbers of references and hypotheses, or none.
    """
    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"need as many hypotheses as references (>0), got {len(references)}, {len(hypotheses)}")
    out = jiwer.process_words(list(references), list(hypotheses))
    words = sum(len(r.split()) for r in references)
    repeating = sum(repeated_ngram(h, n) and not repeated_ngram(r, n) for r, h in zip(references, hypotheses))
    runaway = sum(len(h.split()) > runaway_ratio * len(r.split()) for r, h in zip(references, hypotheses))
    return {"wer": float(out.wer), "substitutions": out.substitutions / words, "deletions": out.deletions / words,
            "insertions": out.insertions / words,
            "length_ratio": sum(len(h.split()) for h in hypotheses) / words,
            "repeating": repeating / len(references), "runaway": runaway / len(references)}


__all__ = ["hallucination_stats", "repeated_ngram"]

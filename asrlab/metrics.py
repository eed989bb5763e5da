"""Word and character error rates (jiwer), per-domain tables and readable alignments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jiwer


@dataclass(frozen=True)
class ErrorRates:
    """Corpus-level error rates (errors over reference words/characters, in [0, inf))."""

    wer: float
    cer: float
    utterances: int
    words: int

    def as_dict(self) -> dict[str, float | int]:
        return {"wer": self.wer, "cer": self.cer, "utterances": self.utterances, "words": self.words}


def _guard(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("no utterances to score")
    if any(not r.strip() for r in references):
        raise ValueError("a reference transcript is empty: WER is undefined for it")
    return list(references), list(hypotheses)


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorRates:
    """WER and CER over a set of utterances (totals, not a mean of per-utterance rates)."""
    refs, hyps = _guard(references, hypotheses)
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    n_words = sum(len(r.split()) for r in refs)
    return ErrorRates(float(words.wer), float(chars.cer), len(refs), n_words)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word error rate."""
    return error_rates(references, hypotheses).wer


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Character error rate."""
    return error_rates(references, hypotheses).cer


def empty_fraction(hypotheses: Sequence[str]) -> float:
    """Share of hypotheses that are empty or only whitespace (0.0 when there are none).

    >>> empty_fraction(["the cat", "", "  ", "sat"])
    0.5
    """
    if not hypotheses:
        return 0.0
    return sum(not h.strip() for h in hypotheses) / len(hypotheses)


def per_domain(references: Sequence[str], hypotheses: Sequence[str], domains: Sequence[str]) -> dict[str, ErrorRates]:
    """Error rates for each domain, in order of first appearance."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for ref, hyp, dom in zip(references, hypotheses, domains, strict=True):
        refs, hyps = groups.setdefault(dom, ([], []))
        refs.append(ref)
        hyps.append(hyp)
    return {dom: error_rates(r, h) for dom, (r, h) in groups.items()}


def format_table(rates: dict[str, ErrorRates], title: str = "domain") -> str:
    """A Markdown table of WER/CER (percent) per row."""
    lines = [f"| {title} | WER % | CER % | utterances |", "|---|---:|---:|---:|"]
    for name, r in rates.items():
        lines.append(f"| {name} | {100 * r.wer:.1f} | {100 * r.cer:.1f} | {r.utterances} |")
    return "\n".join(lines)


def alignment(reference: str, hypothesis: str) -> str:
    """A three-line view of a word alignment: reference, hypothesis, and S/D/I marks.

    >>> print(alignment("the cat sat", "the bat sat down"))
    REF: the cat sat ****
    HYP: the bat sat down
             S       I
    """
    out = jiwer.process_words(reference, hypothesis)
    ref_words, hyp_words = reference.split(), hypothesis.split()
    ref_row, hyp_row, mark_row = [], [], []
    for chunk in out.alignments[0]:
        for k in range(max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx)):
            r = ref_words[chunk.ref_start_idx + k] if chunk.type != "insert" else ""
            h = hyp_words[chunk.hyp_start_idx + k] if chunk.type != "delete" else ""
            width = max(len(r), len(h))
            ref_row.append(r.ljust(width, "*") if r else "*" * width)
            hyp_row.append(h.ljust(width) if h else "*" * width)
            mark = {"equal": " ", "substitute": "S", "delete": "D", "insert": "I"}[chunk.type]
            mark_row.append(mark.ljust(width))
    return "\n".join(["REF: " + " ".join(ref_row), "HYP: " + " ".join(hyp_row),
                      "     " + " ".join(mark_row).rstrip()])

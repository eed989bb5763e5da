"""Word-level error analysis: alignments as data and as HTML, and the most frequent confusions.

Everything here is pure (strings in, strings or counts out), so the notebooks' interactive views
(:mod:`asrlab.course.widgets`) stay thin and the logic is tested on its own.

>>> [p.op for p in align_words("the cat sat", "the bat sat down")]
['equal', 'substitute', 'equal', 'insert']
>>> count_confusions(["the cat sat"], ["the bat"]).substitutions
Counter({('cat', 'bat'): 1})
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import jiwer

Op = Literal["equal", "substitute", "delete", "insert"]

#: Inline styles of the HTML markup (classes are set too, for notebooks with their own CSS).
STYLES: dict[str, str] = {
    "substitute": "background:#fde68a",
    "delete": "background:#fecaca;text-decoration:line-through",
    "insert": "background:#bfdbfe",
}


@dataclass(frozen=True)
class AlignedPair:
    """One column of a word alignment.

    Attributes:
        op: ``"equal"``, ``"substitute"``, ``"delete"`` (a reference word the hypothesis lacks)
            or ``"insert"`` (a hypothesis word the reference lacks).
        ref: the reference word (``""`` for an insertion).
        hyp: the hypothesis word (``""`` for a deletion).
    """

    op: Op
    ref: str
    hyp: str


def align_words(reference: str, hypothesis: str) -> list[AlignedPair]:
    """The minimum-edit word alignment of two transcripts (jiwer's), one pair per column.

    Either side may be empty (an empty hypothesis is all deletions, an empty reference all
    insertions).
    """
    ref_words, hyp_words = reference.split(), hypothesis.split()
    if not ref_words or not hyp_words:
        return ([AlignedPair("delete", w, "") for w in ref_words]
                + [AlignedPair("insert", "", w) for w in hyp_words])
    pairs: list[AlignedPair] = []
    for chunk in jiwer.process_words(" ".join(ref_words), " ".join(hyp_words)).alignments[0]:
        refs = ref_words[chunk.ref_start_idx:chunk.ref_end_idx]
        hyps = hyp_words[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "delete":
            pairs += [AlignedPair("delete", r, "") for r in refs]
        elif chunk.type == "insert":
            pairs += [AlignedPair("insert", "", h) for h in hyps]
        else:
            pairs += [AlignedPair(chunk.type, r, h) for r, h in zip(refs, hyps, strict=True)]  # type: ignore[arg-type]
    return pairs


def edit_counts(pairs: Sequence[AlignedPair]) -> dict[str, int]:
    """``{"S": substitutions, "D": deletions, "I": insertions, "N": reference words}``."""
    counts = Counter(p.op for p in pairs)
    return {"S": counts["substitute"], "D": counts["delete"], "I": counts["insert"],
            "N": sum(1 for p in pairs if p.op != "insert")}


def _span(op: str, text: str, title: str) -> str:
    return f'<span class="asr-{op}" style="{STYLES[op]}" title="{title}">{text}</span>'


def alignment_html(reference: str, hypothesis: str) -> str:
    """One line of HTML: correct words plain, a substitution as ``ref→hyp`` on yellow, a
    deletion struck through on red, an insertion as ``+hyp`` on blue. Words are HTML-escaped.

    >>> alignment_html("a b", "a c")  # doctest: +NORMALIZE_WHITESPACE
    '<div class="asr-alignment">a <span class="asr-substitute" style="background:#fde68a"
    title="substitution">b&rarr;c</span></div>'
    """
    parts = []
    for pair in align_words(reference, hypothesis):
        ref, hyp = html.escape(pair.ref), html.escape(pair.hyp)
        if pair.op == "equal":
            parts.append(ref)
        elif pair.op == "substitute":
            parts.append(_span("substitute", f"{ref}&rarr;{hyp}", "substitution"))
        elif pair.op == "delete":
            parts.append(_span("delete", ref, "deletion"))
        else:
            parts.append(_span("insert", f"+{hyp}", "insertion"))
    return f'<div class="asr-alignment">{" ".join(parts)}</div>'


@dataclass
class Confusions:
    """Counts of the word errors of a set of utterances.

    Attributes:
        substitutions: ``(reference word, hypothesis word) -> count``.
        deletions: reference word -> times it was dropped.
        insertions: hypothesis word -> times it was added.
    """

    substitutions: Counter[tuple[str, str]] = field(default_factory=Counter)
    deletions: Counter[str] = field(default_factory=Counter)
    insertions: Counter[str] = field(default_factory=Counter)

    def add(self, pairs: Sequence[AlignedPair]) -> None:
        """Count the errors of one alignment."""
        for p in pairs:
            if p.op == "substitute":
                self.substitutions[(p.ref, p.hyp)] += 1
            elif p.op == "delete":
                self.deletions[p.ref] += 1
            elif p.op == "insert":
                self.insertions[p.hyp] += 1


def count_confusions(references: Sequence[str], hypotheses: Sequence[str]) -> Confusions:
    """Substitution pairs, deleted words and inserted words over utterance pairs.

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    confusions = Confusions()
    for ref, hyp in zip(references, hypotheses):
        confusions.add(align_words(ref, hyp))
    return confusions


def confusion_rows(references: Sequence[str], hypotheses: Sequence[str], domains: Sequence[str],
                   top: int = 5) -> list[dict[str, object]]:
    """The ``top`` most frequent errors of each kind, per domain, as table rows.

    Ties are broken alphabetically, so the table is the same from run to run.

    Returns:
        Rows ``{"domain", "kind" ("substitution" | "deletion" | "insertion"), "reference",
        "hypothesis", "count"}``, domains in order of first appearance.
    """
    if not len(references) == len(hypotheses) == len(domains):
        raise ValueError("references, hypotheses and domains must have the same length")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    groups: dict[str, Confusions] = {}
    for ref, hyp, dom in zip(references, hypotheses, domains):
        groups.setdefault(dom, Confusions()).add(align_words(ref, hyp))
    rows: list[dict[str, object]] = []
    for dom, c in groups.items():
        kinds = [("substitution", {k: v for k, v in c.substitutions.items()}),
                 ("deletion", {(w, ""): n for w, n in c.deletions.items()}),
                 ("insertion", {("", w): n for w, n in c.insertions.items()})]
        for kind, counts in kinds:
            for (ref, hyp), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
                rows.append({"domain": dom, "kind": kind, "reference": ref, "hypothesis": hyp, "count": n})
    return rows


#: The kinds of error in the order tables list them.
KINDS = ("substitution", "deletion", "insertion")


def _confusion_text(row: Mapping[str, object]) -> str:
    """One error of :func:`confusion_rows` in a few characters: ``ref→hyp (3)``, ``ref (3)``, ``hyp (3)``."""
    if row["kind"] == "substitution":
        return f"{row['reference']}→{row['hypothesis']} ({row['count']})"
    return f"{row['reference'] or row['hypothesis']} ({row['count']})"


def confusion_comparison(references: Sequence[str], hypotheses: Mapping[str, Sequence[str]],
                         domains: Sequence[str], top: int = 5) -> list[dict[str, object]]:
    """The most frequent errors of several decoders side by side, one row per domain and kind.

    Args:
        references: reference transcripts.
        hypotheses: decoder name -> its transcripts, in the order of ``references``.
        domains: each utterance's domain.
        top: errors listed per decoder, domain and kind (see :func:`confusion_rows`).

    Returns:
        Rows ``{"domain", "kind", <decoder name>: "what's→whats (27), please→pleese (7)", ...}``:
        domains in order of first appearance, kinds as in :data:`KINDS`; ``"none"`` where a
        decoder made no error of that kind.

    >>> confusion_comparison(["set a timer"], {"greedy": ["sit timer"], "beam": ["set a timer"]}, ["commands"])[0]
    {'domain': 'commands', 'kind': 'substitution', 'greedy': 'set→sit (1)', 'beam': 'none'}
    """
    if not hypotheses:
        raise ValueError("confusion_comparison needs at least one decoder's hypotheses")
    listed: dict[tuple[str, str], dict[str, list[str]]] = {
        (d, kind): {name: [] for name in hypotheses} for d in dict.fromkeys(domains) for kind in KINDS}
    for name, hyps in hypotheses.items():
        for row in confusion_rows(references, hyps, domains, top):
            listed[str(row["domain"]), str(row["kind"])][name].append(_confusion_text(row))
    return [{"domain": d, "kind": kind, **{name: ", ".join(texts) or "none" for name, texts in by_name.items()}}
            for (d, kind), by_name in listed.items()]

"""Interactive views for the notebooks (ipywidgets). The logic they show lives in pure, tested
functions (:mod:`asrlab.error_analysis`); this module only wires widgets to them."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from asrlab.error_analysis import align_words, alignment_html, edit_counts

__all__ = ["UtteranceView", "utterance_views", "utterance_html", "error_browser"]


@dataclass(frozen=True)
class UtteranceView:
    """What the error browser shows for one utterance.

    Attributes:
        id: the utterance id.
        domain: its domain.
        audio: path of its audio file.
        reference: the reference transcript.
        hypotheses: decoder name -> transcript.
    """

    id: str
    domain: str
    audio: str
    reference: str
    hypotheses: dict[str, str]


def utterance_views(utterances: Sequence, references: Sequence[str],
                    hypotheses: dict[str, Sequence[str]]) -> list[UtteranceView]:
    """One :class:`UtteranceView` per utterance (manifest lines with ``id``, ``domain``, ``audio``)."""
    for name, hyps in hypotheses.items():
        if len(hyps) != len(utterances) or len(references) != len(utterances):
            raise ValueError(f"{name}: {len(hyps)} hypotheses, {len(references)} references, "
                             f"{len(utterances)} utterances")
    return [UtteranceView(u.id, u.domain, u.audio, ref, {k: v[i] for k, v in hypotheses.items()})
            for i, (u, ref) in enumerate(zip(utterances, references))]


def utterance_html(view: UtteranceView) -> str:
    """The reference, then each decoder's alignment against it with its S/D/I counts."""
    lines = [f"<b>{html.escape(view.domain)} / {html.escape(view.id)}</b>",
             f"<div><i>REF</i>: {html.escape(view.reference)}</div>"]
    for name, hyp in view.hypotheses.items():
        c = edit_counts(align_words(view.reference, hyp))
        lines.append(f"<div><i>{html.escape(name)}</i> (S={c['S']} D={c['D']} I={c['I']} of N={c['N']}): "
                     f"{alignment_html(view.reference, hyp)}</div>")
    return "\n".join(lines)


def error_browser(views: Sequence[UtteranceView]):
    """A dropdown over utterances; picking one plays its audio and shows its alignments.

    Returns:
        An ``ipywidgets.VBox`` (display it, or end a cell with it).
    """
    import ipywidgets as widgets
    from IPython.display import HTML, Audio, display

    if not views:
        raise ValueError("error_browser needs at least one utterance")
    options = [(f"{v.domain} | {v.id} | {v.reference[:40]}", i) for i, v in enumerate(views)]
    picker = widgets.Dropdown(options=options, value=0, description="utterance", layout={"width": "95%"})
    out = widgets.Output()

    def show(change=None) -> None:
        view = views[picker.value]
        with out:
            out.clear_output(wait=True)
            display(Audio(filename=view.audio), HTML(utterance_html(view)))

    picker.observe(show, names="value")
    show()
    return widgets.VBox([picker, out])

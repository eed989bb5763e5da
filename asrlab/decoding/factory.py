"""One entry point for every decoder: :func:`make_decoder`."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Literal

from asrlab.decoding.base import Decoder, GreedyDecoder
from asrlab.lm.arpa import NgramLM, read_arpa, read_vocabulary
from asrlab.lm.tokens import SPECIAL
from asrlab.text import CharVocabulary

log = logging.getLogger(__name__)

Backend = Literal["auto", "flashlight", "python"]


def load_lexicon(lexicon: str | os.PathLike | Iterable[str], vocab: CharVocabulary = CharVocabulary()) -> list[str]:
    """Words from a file (the first field of each line, so flashlight lexicon files work too) or a
    list; words holding characters outside ``vocab`` are left out (and counted in the log)."""
    if isinstance(lexicon, (str, os.PathLike)):
        path = Path(lexicon)
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file not found: {path}")
        lexicon = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    letters = set(vocab.symbols[1:]) - {" "}
    given = [w for w in lexicon if w and w not in SPECIAL]
    words = sorted({w for w in given if set(w) <= letters})
    if len(words) < len(set(given)):
        log.info("lexicon: left out %d words spelled outside the vocabulary", len(set(given)) - len(words))
    if not words:
        raise ValueError("the lexicon has no word spelled with the vocabulary's letters")
    return words


def make_decoder(kind: Literal["greedy", "beam"] = "greedy", beam_size: int = 16,
                 lm_path: str | os.PathLike | None = None, lm_weight: float = 0.5, word_score: float = 0.0,
                 lexicon: str | os.PathLike | Iterable[str] | None = None, *,
                 vocab: CharVocabulary = CharVocabulary(), backend: Backend = "auto") -> Decoder:
    """A decoder with ``decode(log_probs (B, T, V), lengths (B,)) -> list[str]``.

    Args:
        kind: ``"greedy"`` (best path) or ``"beam"`` (prefix beam search).
        beam_size: hypotheses kept per frame (beam only).
        lm_path: an ARPA n-gram model (word or char level, from ``asrlab lm build``); beam only.
        lm_weight: weight of the natural-log LM probability.
        word_score: score added per word.
        lexicon: allowed words (a file or a list). With a word LM and no lexicon, the LM's words.
        vocab: the acoustic model's vocabulary.
        backend: ``"flashlight"`` (torchaudio's ``ctc_decoder``, needs flashlight-text),
            ``"python"`` (:class:`~asrlab.decoding.prefix_beam.PrefixBeamDecoder`), or ``"auto"``:
            flashlight when it imports and supports the setting (a char LM with a lexicon does
            not), else python.

    Raises:
        ValueError: an unknown kind/backend, an LM with greedy decoding, or a setting the chosen
            backend cannot run.
    """
    if kind == "greedy":
        if lm_path is not None or lexicon is not None:
            raise ValueError("an LM or lexicon needs the beam decoder (kind='beam', --decoder beam)")
        return GreedyDecoder(vocab)
    if kind != "beam":
        raise ValueError(f"kind must be 'greedy' or 'beam', got {kind!r}")
    if backend not in ("auto", "flashlight", "python"):
        raise ValueError(f"backend must be 'auto', 'flashlight' or 'python', got {backend!r}")
    level, lm_words = read_vocabulary(lm_path) if lm_path is not None else ("", [])
    words = load_lexicon(lexicon, vocab) if lexicon is not None else None
    if level == "word" and words is None:
        words = load_lexicon(lm_words, vocab)
    from asrlab.decoding.flashlight import FlashlightDecoder, flashlight_available

    char_lm_with_lexicon = level == "char" and words is not None
    if backend == "flashlight" or (backend == "auto" and flashlight_available() and not char_lm_with_lexicon):
        if char_lm_with_lexicon:
            raise ValueError("torchaudio's ctc_decoder takes a character LM only without a lexicon; "
                             "use backend='python' or drop the lexicon")
        if not flashlight_available():
            raise ValueError("the flashlight backend needs flashlight-text: pip install flashlight-text")
        return FlashlightDecoder(vocab, beam_size, lm_path, lm_weight, word_score, words)
    from asrlab.decoding.prefix_beam import PrefixBeamDecoder

    lm: NgramLM | None = read_arpa(lm_path) if lm_path is not None else None
    return PrefixBeamDecoder(vocab, beam_size, lm, lm_weight, word_score, words)

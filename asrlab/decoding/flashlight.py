"""Beam search with torchaudio's ``ctc_decoder`` (the flashlight-text C++ decoder, with KenLM).

Needs the ``flashlight-text`` package (``pip install flashlight-text``); check with
:func:`flashlight_available`. Two modes:

- lexicon-free: any character sequence; an optional *character* LM scores every character
  (spaces as ``|``), so use an ARPA model built with ``level="char"``.
- lexicon-based: only words of a word list; an optional *word* LM scores each word. Spellings
  end with ``|`` (the space), so a word ends when its space is emitted; a final ``|`` frame is
  appended to every utterance so that its last word can end too.

Scales match :class:`~asrlab.decoding.prefix_beam.PrefixBeamDecoder`: ``lm_weight`` multiplies
the natural-log LM probability (KenLM gives log10, so flashlight gets ``lm_weight * ln 10``) and
``word_score`` is added per word. Without a lexicon flashlight has no per-word score: it is
passed as its per-frame silence score, which adds it on every frame that emits or holds a space.
Hypotheses that end in the same prefix are merged by log-add (``log_add=True``), so the search
sums over alignments like a prefix beam search; flashlight counts a prefix ending in a blank and
the same prefix ending in its last character as two beam entries.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Iterable

import torch

from asrlab.decoding.base import check_inputs, normalize_text_spacing
from asrlab.lm.tokens import BOUNDARY
from asrlab.text import CharVocabulary

#: Log-probability given to every token but the space in the frame added after a lexicon utterance.
_FORBIDDEN = -1e4


def flashlight_available() -> bool:
    """Whether torchaudio's ``ctc_decoder`` can be built here (``flashlight-text`` imports)."""
    try:
        from torchaudio.models.decoder import ctc_decoder  # noqa: F401
        import flashlight.lib.text.decoder  # noqa: F401
    except Exception:
        return False
    return True


def decoder_tokens(vocab: CharVocabulary) -> list[str]:
    """The vocabulary as flashlight tokens: the space becomes ``|``."""
    if BOUNDARY in vocab.symbols:
        raise ValueError(f"the vocabulary already uses {BOUNDARY!r}, the word-boundary token")
    return [BOUNDARY if s == " " else s for s in vocab.symbols]


class FlashlightDecoder:
    """CTC beam search with torchaudio's ``ctc_decoder``.

    Args:
        vocab: the model's vocabulary (must contain a space).
        beam_size: hypotheses kept per frame.
        lm_path: an ARPA (or KenLM binary) file: a char LM without lexicon, a word LM with one.
        lm_weight: weight of the natural-log LM probability.
        word_score: added per word (per space frame without a lexicon).
        lexicon: allowed words (None: lexicon-free).
        beam_threshold: hypotheses this far below the best are dropped.
    """

    def __init__(self, vocab: CharVocabulary = CharVocabulary(), beam_size: int = 16,
                 lm_path: str | os.PathLike | None = None, lm_weight: float = 0.5, word_score: float = 0.0,
                 lexicon: Iterable[str] | None = None, beam_threshold: float = 50.0) -> None:
        from torchaudio.models.decoder import ctc_decoder

        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if lm_path is not None and not Path(lm_path).is_file():
            raise FileNotFoundError(f"language model not found: {lm_path}")
        self.vocab = vocab
        self.tokens = decoder_tokens(vocab)
        self.space = self.tokens.index(BOUNDARY)
        self.words = sorted(set(lexicon)) if lexicon is not None else None
        options = dict(tokens=self.tokens, lm=str(lm_path) if lm_path is not None else None, nbest=1,
                       beam_size=beam_size, beam_threshold=beam_threshold, lm_weight=lm_weight * math.log(10.0),
                       log_add=True, blank_token=self.tokens[vocab.blank], sil_token=BOUNDARY, unk_word="<unk>")
        if self.words is not None and not self.words:
            raise ValueError("the lexicon is empty")
        with tempfile.TemporaryDirectory() as folder:
            if self.words is None:
                # The LM's "words" are the tokens, in token order: without lm_dict torchaudio builds
                # that dictionary from an unordered map, and the LM would score the wrong characters.
                tokens_file = Path(folder) / "tokens.txt"
                tokens_file.write_text("".join(t + "\n" for t in self.tokens), encoding="utf-8")
                lm_dict = str(tokens_file) if lm_path is not None else None
                self._decoder = ctc_decoder(lexicon=None, lm_dict=lm_dict, sil_score=word_score, **options)
            else:
                lexicon_file = Path(folder) / "lexicon.txt"
                lexicon_file.write_text("".join(f"{w}\t{' '.join(w)} {BOUNDARY}\n" for w in self.words),
                                        encoding="utf-8")
                self._decoder = ctc_decoder(lexicon=str(lexicon_file), word_score=word_score, sil_score=0.0,
                                            **options)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Transcripts of a batch: ``(B, T, V)`` log-probabilities, ``(B,)`` lengths -> ``B`` strings."""
        emissions, lengths = check_inputs(log_probs, lengths, self.vocab)
        if self.words is not None:
            emissions, lengths = self._end_with_space(emissions, lengths)
        texts = []
        for hyps in self._decoder(emissions, lengths.to(torch.int32)):
            if not hyps:
                texts.append("")
            elif self.words is not None:
                texts.append(" ".join(hyps[0].words))
            else:
                texts.append(normalize_text_spacing(self.vocab.decode(hyps[0].tokens.tolist())))
        return texts

    def _end_with_space(self, emissions: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append one frame that can only be a space after each utterance's last valid frame."""
        batch, frames, size = emissions.shape
        padded = torch.full((batch, frames + 1, size), _FORBIDDEN)
        padded[:, :frames] = emissions
        padded[torch.arange(batch), lengths] = _FORBIDDEN
        padded[torch.arange(batch), lengths, self.space] = 0.0
        return padded.contiguous(), lengths + 1

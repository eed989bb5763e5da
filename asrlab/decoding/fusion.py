"""Shallow fusion: the language-model and word-count score of a character prefix.

A beam-search hypothesis is a character prefix; its score is

    log P_ctc(prefix | audio) + lm_weight * ln P_lm(prefix) + word_score * words(prefix)

where ``ln P_lm`` is a natural log (the scale of the acoustic log-probabilities). A word LM adds
``ln P(word | previous words)`` when a word ends (at a space, or at the end for the last word); a
character LM adds ``ln P(char | previous chars)`` for every character, spaces as ``|``. Both add
``ln P(</s> | ...)`` at the end. With a lexicon, a prefix whose current word is not the start of
a lexicon word, or a finished word outside the lexicon, is not allowed.

:class:`LMFusion` is pure bookkeeping: a state per prefix, and the score each new character adds.
"""
from __future__ import annotations

import math
from typing import Iterable, NamedTuple

import numpy as np
from asrlab.lm.arpa import NgramLM
from asrlab.lm.tokens import BOS, BOUNDARY, EOS
from asrlab.text import CharVocabulary

_LN10 = math.log(10.0)


class FusionState(NamedTuple):
    """What the score of a prefix's continuations depends on.

    Attributes:
        history: the LM context, oldest first (``<s>`` at the start), at most ``order - 1`` tokens.
        partial: the characters of the word in progress.
    """

    history: tuple[str, ...]
    partial: str


class LMFusion:
    """Scores characters appended to a prefix (see the module docstring).

    Args:
        vocab: the CTC vocabulary (index 0 blank; ``" "`` is the word separator).
        lm: a word- or character-level model, or None for no LM (the word score still applies).
        lm_weight: multiplies the natural-log LM probability.
        word_score: added once per word.
        lexicon: allowed words, or None for an open vocabulary.
    """

    def __init__(self, vocab: CharVocabulary, lm: NgramLM | None = None, lm_weight: float = 0.5,
                 word_score: float = 0.0, lexicon: Iterable[str] | None = None) -> None:
        if " " not in vocab.symbols:
            raise ValueError("the vocabulary needs a space symbol to separate words")
        self.vocab = vocab
        self.space = vocab.symbols.index(" ")
        self.lm = lm if lm_weight != 0.0 else None
        self.lm_weight = lm_weight
        self.word_score = word_score
        self.words = frozenset(lexicon) if lexicon is not None else None
        self.prefixes = frozenset(w[:i] for w in self.words for i in range(len(w) + 1)) if self.words else None
        self.keep = (lm.order - 1) if lm is not None else 0
        self.level = lm.level if lm is not None else "word"
        self._cache: dict[tuple[tuple[str, ...], str], float] = {}
        self._allowed: dict[str, np.ndarray] = {}

    def initial(self) -> FusionState:
        """The state of the empty prefix."""
        return FusionState((BOS,)[: self.keep], "")

    def _lm(self, history: tuple[str, ...], token: str) -> float:
        """``lm_weight * ln P(token | history)``, cached."""
        key = (history, token)
        value = self._cache.get(key)
        if value is None:
            value = self.lm_weight * _LN10 * self.lm.log10_prob(token, history)  # type: ignore[union-attr]
            self._cache[key] = value
        return value

    def _push(self, history: tuple[str, ...], token: str) -> tuple[str, ...]:
        return (history + (token,))[-self.keep:] if self.keep else ()

    def extend(self, state: FusionState, index: int) -> tuple[FusionState, float] | None:
        """The state after appending the character ``index``, and the score it adds; None when the
        lexicon does not allow it."""
        history, partial = state
        score = 0.0
        if index == self.space:
            closed = self._close_word(history, partial)
            if closed is None:
                return None
            history, score = closed
            if self.lm is not None and self.level == "char":
                score += self._lm(history, BOUNDARY)
                history = self._push(history, BOUNDARY)
            return FusionState(history, ""), score
        char = self.vocab.symbols[index]
        if self.prefixes is not None and partial + char not in self.prefixes:
            return None
        if self.lm is not None and self.level == "char":
            score += self._lm(history, char)
            history = self._push(history, char)
        return FusionState(history, partial + char), score

    def allowed(self, state: FusionState) -> np.ndarray | None:
        """``(V,)`` booleans: which indices the lexicon lets follow ``state`` (None: any)."""
        if self.prefixes is None:
            return None
        mask = self._allowed.get(state.partial)
        if mask is None:
            partial = state.partial
            mask = np.array([partial in self.words or not partial if i == self.space  # type: ignore[operator]
                             else partial + s in self.prefixes for i, s in enumerate(self.vocab.symbols)])
            self._allowed[partial] = mask
        return mask

    def bounds(self) -> list[float]:
        """Per vocabulary index, an upper bound on the score :meth:`extend` can add (a beam search
        can skip extensions whose bound already ranks them out of the beam)."""
        if self.lm is not None and self.lm_weight < 0:
            return [math.inf] * len(self.vocab)
        return [max(self.word_score, 0.0) if i == self.space else 0.0 for i in range(len(self.vocab))]

    def finish(self, state: FusionState) -> float | None:
        """The score the end of the utterance adds (last word, ``</s>``); None if not allowed."""
        closed = self._close_word(*state)
        if closed is None:
            return None
        history, score = closed
        if self.lm is not None:
            score += self._lm(history, EOS)
        return score

    def _close_word(self, history: tuple[str, ...], partial: str) -> tuple[tuple[str, ...], float] | None:
        """End the word being spelled (``partial``, may be empty): the history after it and the score
        it adds (word bonus, word-level LM); None when the lexicon does not know the word."""
        if not partial:
            return history, 0.0
        if self.words is not None and partial not in self.words:
            return None
        score = self.word_score
        if self.lm is not None and self.level == "word":
            score += self._lm(history, partial)
            history = self._push(history, partial)
        return history, score

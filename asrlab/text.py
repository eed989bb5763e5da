"""Text normalisation and the character vocabulary used by every CTC model in asrlab.

The vocabulary is fixed: index 0 is the CTC blank, then space, the letters a-z and the
apostrophe (29 symbols). Normalisation maps free text onto that alphabet; anything it cannot map
raises :class:`~asrlab.errors.TranscriptError` with the offending characters named.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from asrlab.errors import TranscriptError

BLANK = "<blank>"
_PUNCT_TO_SPACE = re.compile(r"[-_/\u2013\u2014]+")
_PUNCT_DROP = re.compile(r"[.,!?;:\"()\[\]{}\u201c\u201d\u00ab\u00bb*#~`]+")
_SPACES = re.compile(r"\s+")
_QUOTE_APOSTROPHE = re.compile(r"(?<![a-z])'|'(?![a-z])")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`]")


def normalize_text(text: str) -> str:
    """Lower-case ``text``, fold accents, turn dashes into spaces and drop punctuation.

    Digits and other symbols are kept, so that :meth:`CharVocabulary.encode` can reject them
    with a clear message (spell numbers out before training: the corpus generator does).

    >>> normalize_text("Don\u2019t  stop -- it's 'Caf\u00e9' time!")
    "don't stop it's cafe time"
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("'", text.lower())
    text = _PUNCT_TO_SPACE.sub(" ", text)
    text = _PUNCT_DROP.sub(" ", text)
    text = _QUOTE_APOSTROPHE.sub(" ", text)  # quotes ('cafe'), not contractions (don't)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class CharVocabulary:
    """Characters of the CTC output layer; index 0 is always the blank.

    Attributes:
        symbols: the output symbols in index order, blank first.
    """

    symbols: tuple[str, ...] = (BLANK, " ", *"abcdefghijklmnopqrstuvwxyz", "'")

    def __post_init__(self) -> None:
        if not self.symbols or self.symbols[0] != BLANK:
            raise ValueError("the first symbol of a CTC vocabulary must be the blank")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("vocabulary symbols must be unique")

    @property
    def blank(self) -> int:
        """Index of the CTC blank (always 0)."""
        return 0

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols)}

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of ``text`` that have no index (sorted, unique)."""
        index = self._index
        return sorted({ch for ch in text if ch not in index or ch == BLANK})

    def encode(self, text: str, *, source: str = "") -> list[int]:
        """Map normalised ``text`` to indices.

        Args:
            text: text already passed through :func:`normalize_text`.
            source: where the text came from (file and line), named in the error.

        Raises:
            TranscriptError: the text is empty or holds characters outside the vocabulary.
        """
        where = f" in {source}" if source else ""
        if not text.strip():
            raise TranscriptError(f"empty transcript{where}: every utterance needs text to train on")
        unknown = self.unknown_characters(text)
        if unknown:
            raise TranscriptError(
                f"transcript{where} holds characters outside the vocabulary {unknown!r}: {text!r}. "
                "Spell numbers and symbols out as words (asrlab.text.normalize_text folds case, "
                "accents and punctuation) or extend CharVocabulary.symbols."
            )
        index = self._index
        return [index[ch] for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        """Map indices back to text, skipping blanks (no CTC collapsing here)."""
        return "".join(self.symbols[i] for i in ids if i != self.blank)

    def encode_tensor(self, text: str, *, source: str = ""):
        """Like :meth:`encode`, as a ``(U,)`` int64 torch tensor."""
        import torch

        return torch.tensor(self.encode(text, source=source), dtype=torch.long)

    def to_dict(self) -> dict[str, list[str]]:
        return {"symbols": list(self.symbols)}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> "CharVocabulary":
        return cls(tuple(data["symbols"]))

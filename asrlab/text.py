"""Text normalisation and the character vocabularies of asrlab's CTC models.

The English vocabulary has index 0 for the CTC blank, then space, the letters a-z and the
apostrophe (29 symbols). Other languages add the letters of their own alphabet
(:data:`LANGUAGE_LETTERS`, :meth:`CharVocabulary.for_language`): ``ñ`` is a letter of Spanish,
not an ``n`` with an accent to fold. Normalisation maps free text onto an alphabet, keeping the
letters it is told to keep and folding every other accent; anything it cannot map raises
:class:`~asrlab.errors.TranscriptError` with the offending characters named.

A vocabulary can also come from a file (:func:`read_vocabulary`, one symbol a line) or from what a
user types (:func:`vocabulary_from_spec`: a language code or such a file).
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from asrlab.errors import TranscriptError, VocabularyError

BLANK = "<blank>"
_PUNCT_TO_SPACE = re.compile(r"[-_/\u2013\u2014]+")
_PUNCT_DROP = re.compile(r"[.,!?;:\"()\[\]{}\u201c\u201d\u201e\u00ab\u00bb\u00bf\u00a1*#~`]+")
_SPACES = re.compile(r"\s+")
_QUOTE_APOSTROPHE = re.compile(r"(?<![a-z])'|'(?![a-z])")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`]")


#: Letters beyond a-z of each language's alphabet (lower case, composed): kept by
#: :func:`normalize_text` and given an output of their own by :meth:`CharVocabulary.for_language`.
LANGUAGE_LETTERS: dict[str, str] = {
    "en": "",
    "es": "\u00e1\u00e9\u00ed\u00f3\u00fa\u00fc\u00f1",          # á é í ó ú ü ñ
    "de": "\u00e4\u00f6\u00fc\u00df",                      # ä ö ü ß
    "nl": "",                                       # Dutch diacritics (ë, ï) only mark syllables
    "fr": "\u00e0\u00e2\u00e7\u00e9\u00e8\u00ea\u00eb\u00ee\u00ef\u00f4\u00f9\u00fb\u00fc\u00ff\u0153\u00e6",
    "it": "\u00e0\u00e8\u00e9\u00ec\u00f2\u00f9",
    "pt": "\u00e1\u00e2\u00e3\u00e0\u00e7\u00e9\u00ea\u00ed\u00f3\u00f4\u00f5\u00fa",
}


def language_letters(language: str) -> str:
    """The letters beyond a-z that ``language`` (an ISO 639-1 code, e.g. ``"es"``) keeps.

    Raises:
        ValueError: a language asrlab has no alphabet for, naming the ones it has.
    """
    code = language.lower().split("-")[0].split("_")[0]
    if code not in LANGUAGE_LETTERS:
        raise ValueError(f"no alphabet for language {language!r}; asrlab knows {sorted(LANGUAGE_LETTERS)}. "
                         "Add its letters to asrlab.text.LANGUAGE_LETTERS, or pass a vocabulary file.")
    return LANGUAGE_LETTERS[code]


def _fold_accents(text: str, keep: str) -> str:
    """Remove combining marks from every character not in ``keep`` (text is NFC, lower case)."""
    out = []
    for ch in text:
        if ch in keep or ch.isascii():
            out.append(ch)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)))
    return "".join(out)


def normalize_text(text: str, keep: str = "") -> str:
    """Lower-case ``text``, fold accents, turn dashes into spaces and drop punctuation.

    Digits and other symbols are kept, so that :meth:`CharVocabulary.encode` can reject them
    with a clear message (spell numbers out before training: the corpus generator does).

    Args:
        text: free text.
        keep: letters whose accents are part of the alphabet and stay (``language_letters("es")``
            keeps ``\u00f1`` and ``\u00e1``); every other accent is folded (``caf\u00e9`` -> ``cafe``).
            :meth:`CharVocabulary.normalize` passes the vocabulary's own letters.

    >>> normalize_text("Don\u2019t  stop -- it's 'Caf\u00e9' time!")
    "don't stop it's cafe time"
    >>> normalize_text("\u00bfMa\u00f1ana, caf\u00e9?", keep=language_letters("es"))
    'ma\u00f1ana caf\u00e9'
    """
    text = unicodedata.normalize("NFC", text).lower()
    text = _fold_accents(text, keep)
    text = _APOSTROPHES.sub("'", text)
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

    @classmethod
    def for_language(cls, language: str) -> "CharVocabulary":
        """The English symbols followed by ``language``'s own letters (:data:`LANGUAGE_LETTERS`).

        English symbols keep their indices, so an English model's output rows for them can be
        copied into a model of the new language; the new letters come last.
        """
        return cls((*cls().symbols, *language_letters(language)))

    @property
    def letters(self) -> str:
        """The vocabulary's letters beyond ASCII (``"\u00e1\u00e9\u00ed\u00f3\u00fa\u00fc\u00f1"`` for Spanish)."""
        return "".join(s for s in self.symbols[1:] if len(s) == 1 and not s.isascii())

    def normalize(self, text: str) -> str:
        """:func:`normalize_text` keeping this vocabulary's own letters (``\u00f1`` stays where it is one)."""
        return normalize_text(text, keep=self.letters)

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


#: How a vocabulary file writes the space symbol (a line holding one space works too).
SPACE_TOKEN = "<space>"


def read_vocabulary(path: str | os.PathLike) -> CharVocabulary:
    """A :class:`CharVocabulary` from a text file with one output symbol a line, in index order.

    The format (UTF-8):

    * each line holds one character, lower case (as :func:`normalize_text` writes text);
      surrounding spaces and tabs are ignored, and empty lines are skipped;
    * the space symbol is written ``<space>`` (or as a line holding exactly one space);
    * the CTC blank is ``<blank>``: it may be the first symbol, and is added at index 0 when the
      file does not name it (so a file of only letters is fine);
    * lines starting with ``#`` are comments.

    For an English model's output rows to be reused, list the English symbols first in their
    order (blank, space, a-z, apostrophe), then the new letters: :meth:`CharVocabulary.for_language`
    builds exactly that.

    Raises:
        VocabularyError: the file is missing or not UTF-8, or a line holds more than one
            character, an upper-case letter, a symbol already listed, or ``<blank>`` after the
            first symbol; the message names the file and the line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise VocabularyError(f"vocabulary file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VocabularyError(f"cannot read vocabulary file {path}: {exc}; it must be UTF-8 text, "
                              "one symbol a line") from None
    symbols: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        where = f"{path}:{number}"
        line = raw.rstrip("\r")
        if line == " ":
            symbol = " "
        else:
            symbol = unicodedata.normalize("NFC", line.strip(" \t"))
            if not symbol or symbol.startswith("#"):
                continue
            if symbol == SPACE_TOKEN:
                symbol = " "
        if symbol == BLANK:
            if symbols:
                raise VocabularyError(f"{where}: {BLANK} must be the first symbol (index 0) or left out "
                                      "(it is then added at index 0)")
        elif len(symbol) != 1:
            raise VocabularyError(f"{where}: {symbol!r} is not one character; write one symbol a line "
                                  f"({SPACE_TOKEN} for the space)")
        elif symbol != symbol.lower():
            raise VocabularyError(f"{where}: {symbol!r} is upper case, but transcripts are lower-cased before "
                                  f"they are encoded; write {symbol.lower()!r}")
        if symbol in seen:
            raise VocabularyError(f"{where}: {symbol!r} is already listed on line {seen[symbol]}; "
                                  "each symbol once")
        seen[symbol] = number
        symbols.append(symbol)
    if BLANK not in seen:
        symbols.insert(0, BLANK)
    if len(symbols) < 2:
        raise VocabularyError(f"{path} lists no symbols; write one symbol a line")
    return CharVocabulary(tuple(symbols))


def write_vocabulary(path: str | os.PathLike, vocab: CharVocabulary) -> Path:
    """Write ``vocab`` in the format :func:`read_vocabulary` reads (the blank first, the space as ``<space>``)."""
    path = Path(path)
    path.write_text("".join(f"{SPACE_TOKEN if s == ' ' else s}\n" for s in vocab.symbols), encoding="utf-8")
    return path


def vocabulary_from_spec(spec: str | os.PathLike) -> CharVocabulary:
    """The vocabulary a user names: a language code (``"es"``, ``"de"``: :meth:`CharVocabulary.for_language`)
    or a vocabulary file (:func:`read_vocabulary`); an existing file wins over a language code.

    Raises:
        VocabularyError: neither a file nor a language asrlab has an alphabet for, or a bad file.
    """
    if Path(spec).is_file():
        return read_vocabulary(spec)
    try:
        return CharVocabulary.for_language(str(spec))
    except ValueError:
        raise VocabularyError(f"vocabulary {str(spec)!r} is neither a file nor a language code; use one of "
                              f"{', '.join(sorted(LANGUAGE_LETTERS))} or a file with one symbol a line") from None

"""Text for n-gram language models: sentences as token lists, at word or character level.

A word-level sentence is its words; a character-level sentence is its characters with every
space replaced by :data:`BOUNDARY` (``"|"``), the same token that stands for the space in the
beam-search decoders, so a character LM scores the word boundaries the acoustic model emits.
Sentence markers (``<s>``, ``</s>``) are added by the model, never here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Literal

from asrlab.errors import ManifestError
from asrlab.manifest import manifest_row
from asrlab.text import normalize_text

Level = Literal["word", "char"]

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
#: The word-boundary token of character-level models (a space in the transcript).
BOUNDARY = "|"
SPECIAL = (BOS, EOS, UNK)


def sentence_tokens(text: str, level: Level = "word") -> list[str]:
    """Split normalised ``text`` into LM tokens.

    >>> sentence_tokens("the cat", "char")
    ['t', 'h', 'e', '|', 'c', 'a', 't']
    """
    words = text.split()
    if level == "word":
        return words
    if level == "char":
        return list(BOUNDARY.join(words))
    raise ValueError(f"level must be 'word' or 'char', got {level!r}")


def read_texts(paths: Iterable[str | os.PathLike], *, allow_test: bool = False) -> list[str]:
    """Normalised sentences from text files (one per line) and JSONL manifests (their ``text``).

    A file ending in ``.jsonl`` is read as a manifest: every line's ``text`` field. Empty lines
    and empty texts are skipped; every text goes through :func:`~asrlab.text.normalize_text`.

    Args:
        paths: text files or manifests.
        allow_test: accept manifest lines whose ``split`` is ``"test"`` (refused by default: an
            LM built on test transcripts has seen the answers).

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a manifest line is not JSON or has no ``text``, or it is a test line.
    """
    sentences: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"text file or manifest not found: {path}")
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                text = _manifest_text(line, f"{path}:{number}", allow_test) if path.suffix == ".jsonl" else line
                text = normalize_text(text)
                if text:
                    sentences.append(text)
    return sentences


def _manifest_text(line: str, where: str, allow_test: bool) -> str:
    row = manifest_row(line, where)
    if not isinstance(row.get("text"), str):
        raise ManifestError(f"{where}: a manifest line needs a string 'text' field")
    if row.get("split") == "test" and not allow_test:
        raise ValueError(f"{where}: a test-split line; build language models from train/dev text only "
                         "(pass allow_test=True to override)")
    return row["text"]

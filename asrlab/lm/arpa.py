"""Back-off n-gram models in the ARPA format: the model, its scoring, and ARPA read/write.

An ARPA file lists, for every order ``k``, n-grams ``w_1 .. w_k`` with ``log10 P(w_k | w_1..w_{k-1})``
and, for n-grams that are also contexts, a log10 back-off weight. The probability of a word after
a context that was not listed is found by backing off:

    P(w | h) = P*(h w)                    if ``h w`` is listed
             = bo(h) * P(w | h without its first word)   otherwise (bo(h) = 1 if h is not listed)

This is exactly what KenLM computes, so a model written here scores the same in KenLM (inside
flashlight-text and torchaudio's ``ctc_decoder``) as in :meth:`NgramLM.log10_prob`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from asrlab.lm.tokens import BOS, BOUNDARY, EOS, SPECIAL, UNK, Level, sentence_tokens
from asrlab.files import atomic_write

#: log10 probability written for ``<s>``, which is never predicted (the usual ARPA convention).
BOS_LOG10 = -99.0
Ngram = tuple[str, ...]


@dataclass
class NgramLM:
    """A back-off n-gram language model.

    Attributes:
        probs: one dict per order (``probs[k - 1]`` for order ``k``): n-gram -> log10 probability.
        backoffs: context n-gram -> log10 back-off weight; a context that is absent has weight 0.
        level: ``"word"`` or ``"char"`` (characters, with ``|`` between words).
        smoothing: how it was estimated (``"kn"``, ``"wb"``, ``"interpolated"``...), for the record.
    """

    probs: list[dict[Ngram, float]]
    backoffs: dict[Ngram, float] = field(default_factory=dict)
    level: Level = "word"
    smoothing: str = ""

    def __post_init__(self) -> None:
        if not self.probs or not self.probs[0]:
            raise ValueError("an n-gram model needs at least one unigram")
        self._vocab = frozenset(g[0] for g in self.probs[0])

    @property
    def order(self) -> int:
        """The highest n-gram order."""
        return len(self.probs)

    @property
    def vocab(self) -> frozenset[str]:
        """Every unigram, ``<s>``, ``</s>`` and ``<unk>`` included."""
        return self._vocab

    def words(self) -> list[str]:
        """The ordinary vocabulary (no ``<s>``, ``</s>``, ``<unk>``), sorted."""
        return sorted(w for w in self._vocab if w not in SPECIAL)

    def counts(self) -> list[int]:
        """Number of n-grams of each order."""
        return [len(p) for p in self.probs]

    def map_token(self, token: str) -> str:
        """``token`` itself if it is in the vocabulary, else ``<unk>``."""
        return token if token in self._vocab else UNK

    def log10_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """``log10 P(word | context)`` with back-off; out-of-vocabulary tokens read as ``<unk>``.

        Args:
            word: the predicted token.
            context: the preceding tokens, oldest first (``<s>`` first at a sentence start);
                only the last ``order - 1`` are used.
        """
        vocab, probs, backoffs = self._vocab, self.probs, self.backoffs
        if word not in vocab:
            word = UNK
        elif word == BOS:
            return BOS_LOG10
        keep = self.order - 1
        history = tuple(w if w in vocab else UNK for w in context[-keep:]) if keep > 0 and context else ()
        backoff = 0.0
        for start in range(len(history) + 1):
            h = history[start:]
            p = probs[len(h)].get(h + (word,))
            if p is not None:
                return backoff + p
            backoff += backoffs.get(h, 0.0)
        return BOS_LOG10  # only reachable for a model without <unk>: count the word as impossible

    def next_distribution(self, context: Sequence[str] = ()) -> dict[str, float]:
        """``P(w | context)`` (not log) for every ``w`` of the vocabulary except ``<s>``."""
        return {w: 10.0 ** self.log10_prob(w, context) for w in self._vocab if w != BOS}

    def sentence_log10(self, tokens: Sequence[str], *, bos: bool = True, eos: bool = True) -> float:
        """``log10 P`` of a token sequence, ``</s>`` included when ``eos``."""
        history: list[str] = [BOS] if bos else []
        total = 0.0
        for token in list(tokens) + ([EOS] if eos else []):
            total += self.log10_prob(token, history)
            history.append(token)
        return total

    def score(self, text: str) -> float:
        """``log10 P`` of a normalised sentence, tokenised at this model's level."""
        return self.sentence_log10(sentence_tokens(text, self.level))

    def evaluate(self, texts: Iterable[str]) -> dict[str, float]:
        """Total log10 probability, token count (``</s>`` included), OOVs and perplexity of texts."""
        total, count, oovs = 0.0, 0, 0
        for text in texts:
            tokens = sentence_tokens(text, self.level)
            total += self.sentence_log10(tokens)
            count += len(tokens) + 1
            oovs += sum(t not in self._vocab for t in tokens)
        if count == 0:
            raise ValueError("no text to evaluate")
        return {"log10_prob": total, "tokens": count, "oovs": oovs, "perplexity": 10.0 ** (-total / count)}

    def perplexity(self, texts: Iterable[str]) -> float:
        """Per-token perplexity over sentences (``</s>`` counted, OOVs scored as ``<unk>``)."""
        return self.evaluate(texts)["perplexity"]

    # ------------------------------------------------------------------ ARPA files
    def write_arpa(self, path: str | os.PathLike) -> Path:
        """Write the model as an ARPA file (KenLM loads it); returns the path."""
        path = Path(path)
        with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
            out.write(f"# asrlab n-gram LM: level={self.level} order={self.order} smoothing={self.smoothing}\n")
            out.write("\n\\data\\\n")
            for k, n in enumerate(self.counts(), start=1):
                out.write(f"ngram {k}={n}\n")
            for k, table in enumerate(self.probs, start=1):
                out.write(f"\n\\{k}-grams:\n")
                for gram in sorted(table):
                    line = f"{table[gram]:.7f}\t{' '.join(gram)}"
                    if k < self.order and gram in self.backoffs:
                        line += f"\t{self.backoffs[gram]:.7f}"
                    out.write(line + "\n")
            out.write("\n\\end\\\n")
        return path


def read_arpa(path: str | os.PathLike) -> NgramLM:
    """Load an ARPA file (ours or any other tool's).

    The level comes from the ``# asrlab n-gram LM: level=...`` comment this package writes; for
    other files it is ``"char"`` when every ordinary token is one character and ``|`` is one of
    them, else ``"word"``.

    Raises:
        ValueError: the file is not a well-formed ARPA file (the message names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ARPA language model not found: {path}")
    meta: dict[str, str] = {}
    expected: list[int] = []
    probs: list[dict[Ngram, float]] = []
    backoffs: dict[Ngram, float] = {}
    section = -1  # -1: header, 0: \data\, k: inside \k-grams:
    for number, line in _lines(path):
        if not line:
            continue
        if section == -1:
            if line.startswith("# asrlab n-gram LM:"):
                meta = dict(item.split("=", 1) for item in line.split(":", 1)[1].split() if "=" in item)
            elif line == "\\data\\":
                section = 0
            continue
        if line == "\\end\\":
            break
        if line.startswith("\\") and line.endswith("-grams:"):
            section = int(line[1:].split("-")[0])
            if section != len(probs) + 1:
                raise ValueError(f"{path}:{number}: sections must come in order 1, 2, ...; got {line}")
            probs.append({})
            continue
        if section == 0:
            if not line.startswith("ngram "):
                raise ValueError(f"{path}:{number}: expected 'ngram K=COUNT' in \\data\\, got {line!r}")
            expected.append(int(line.split("=")[1]))
            continue
        fields = line.split()
        if len(fields) not in (section + 1, section + 2):
            raise ValueError(f"{path}:{number}: expected {section} tokens, a probability and maybe a "
                             f"back-off weight, got {line!r}")
        gram = tuple(fields[1:section + 1])
        try:
            probs[-1][gram] = float(fields[0])
            if len(fields) == section + 2:
                backoffs[gram] = float(fields[-1])
        except ValueError:
            raise ValueError(f"{path}:{number}: expected numbers around the n-gram, got {line!r}") from None
    if section == -1 or not probs:
        raise ValueError(f"{path}: no \\data\\ section or no n-grams: not an ARPA file")
    if [len(p) for p in probs] != expected:
        raise ValueError(f"{path}: \\data\\ announces {expected} n-grams, the sections hold "
                         f"{[len(p) for p in probs]}")
    level = meta.get("level") or _guess_level(probs[0])
    return NgramLM(probs, backoffs, level=level, smoothing=meta.get("smoothing", ""))  # type: ignore[arg-type]


def read_vocabulary(path: str | os.PathLike) -> tuple[str, list[str]]:
    """The level and the ordinary words (no ``<s>``, ``</s>``, ``<unk>``) of an ARPA file, reading
    only its header and unigrams (fast, even for a large model)."""
    level = ""
    words: list[str] = []
    in_unigrams = False
    for _, line in _lines(path):
        if line.startswith("# asrlab n-gram LM:"):
            level = dict(i.split("=", 1) for i in line.split(":", 1)[1].split() if "=" in i).get("level", "")
        elif line == "\\1-grams:":
            in_unigrams = True
        elif in_unigrams and line.startswith("\\"):
            break
        elif in_unigrams and line:
            words.append(line.split()[1])
    if not words:
        raise ValueError(f"{path}: no unigrams found: not an ARPA file")
    level = level or _guess_level({(w,): 0.0 for w in words})
    return level, sorted(w for w in words if w not in SPECIAL)


def _lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` of a text file; a file that is not UTF-8 text is named as
    not an ARPA file (a KenLM binary, a model checkpoint...)."""
    with open(path, encoding="utf-8") as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                yield number, raw.strip()
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not an ARPA file: it is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}). Give a text ARPA n-gram model, e.g. one from `asrlab lm build`.") from None


def _guess_level(unigrams: dict[Ngram, float]) -> str:
    words = [g[0] for g in unigrams if g[0] not in SPECIAL]
    return "char" if BOUNDARY in words and all(len(w) == 1 for w in words) else "word"

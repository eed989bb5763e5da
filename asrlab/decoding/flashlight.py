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

KenLM models are loaded once (:func:`load_kenlm`) and shared by every decoder built on the same
file and dictionary, so a grid search over ``lm_weight``/``word_score`` reads each ARPA file once;
KenLM's loading banner and progress bar are kept out of the output (:func:`quiet_stderr`).
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import torch

from asrlab.decoding.base import check_inputs, normalize_text_spacing
from asrlab.lm.tokens import BOUNDARY, UNK
from asrlab.text import CharVocabulary

#: Log-probability given to every token but the space in the frame added after a lexicon utterance.
_FORBIDDEN = -1e4

#: Loaded KenLM models kept for reuse. Each holds its whole n-gram table in memory; a decoder keeps
#: its own model alive after the cache drops it, so the bound only limits what idle models cost.
KENLM_CACHE_SIZE = 8


def flashlight_available() -> bool:
    """Whether torchaudio's ``ctc_decoder`` can be built here (``flashlight-text`` imports)."""
    try:
        from torchaudio.models.decoder import ctc_decoder  # noqa: F401
        import flashlight.lib.text.decoder  # noqa: F401
    except Exception:
        return False
    return True


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to ``/dev/null`` inside the block, and restore it after (even on error).

    KenLM's C++ loader writes a "build a binary file" banner, the file name and a progress bar of
    asterisks straight to fd 2; ``contextlib.redirect_stderr`` only swaps the Python object
    ``sys.stderr`` and cannot catch them, and Jupyter shows fd 2 in the cell's output. Python's
    ``sys.stderr`` is flushed first so that text written before the block still appears, in order.
    The redirection is process-wide: other threads' fd-2 output is lost while the block runs.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (a detached process): nothing to silence
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _kenlm_class() -> Any:
    """flashlight-text's ``KenLM`` (its module moved between releases; torchaudio tries both)."""
    try:
        from flashlight.lib.text.decoder.kenlm import KenLM
    except ImportError:
        from flashlight.lib.text.decoder import KenLM
    return KenLM


def _read_kenlm(path: str, words: tuple[str, ...]) -> Any:
    """Read a KenLM model (ARPA or binary) quietly; ``words[i]`` is the LM word of decoder index ``i``.

    Raises:
        ValueError: KenLM cannot read the file (the message names it and gives KenLM's reason).
    """
    from flashlight.lib.text.dictionary import Dictionary

    kenlm = _kenlm_class()
    try:
        with quiet_stderr():
            return kenlm(path, Dictionary(list(words)))
    except RuntimeError as err:  # KenLM's message starts with its C++ source location: keep the reason
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: KenLM cannot read this language model: {reason}") from err


@functools.lru_cache(maxsize=KENLM_CACHE_SIZE)
def _cached_kenlm(path: str, mtime_ns: int, size: int, words: tuple[str, ...]) -> Any:
    """:func:`_read_kenlm` memoised; ``mtime_ns`` and ``size`` are in the key so a rewritten file is re-read."""
    return _read_kenlm(path, words)


def load_kenlm(path: str | os.PathLike, words: Sequence[str]) -> Any:
    """The KenLM model of ``path`` for a decoder whose word ``i`` is ``words[i]``, read at most once.

    flashlight's ``KenLM`` maps the decoder's word indices to the LM's own when it loads, so a model
    serves only decoders with the same dictionary; it is cached per (resolved path, modification
    time, size, words) in a small LRU cache (:data:`KENLM_CACHE_SIZE` models). Decoders that differ
    in ``lm_weight``, ``word_score`` or beam size share one model: KenLM scoring keeps no state in
    the model, only in the per-hypothesis states the decoder creates.

    Args:
        path: an ARPA or KenLM binary file.
        words: the decoder's word dictionary, in index order (tokens for lexicon-free decoding).

    Raises:
        FileNotFoundError: no such file.
        ValueError: KenLM cannot read it.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"language model not found: {path}")
    stat = resolved.stat()
    return _cached_kenlm(str(resolved), stat.st_mtime_ns, stat.st_size, tuple(words))


def _write_lines(path: Path, lines: Iterable[str]) -> str:
    """Write one entry per line (flashlight's dictionary and lexicon files) and return the path."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


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
        if self.words is not None and not self.words:
            raise ValueError("the lexicon is empty")
        # The decoder's word dictionary, in index order, handed both to KenLM (which maps it to the
        # LM's own indices when it loads) and to ctc_decoder as lm_dict, so the two always agree:
        # the tokens without a lexicon, else the lexicon's words and <unk>. (Left to itself,
        # torchaudio builds it from an unordered map, and the LM would score the wrong entries.)
        dictionary = self.tokens if self.words is None else list(dict.fromkeys([*self.words, UNK]))
        # ctc_decoder keeps the LM object alive (CTCDecoder.lm) for as long as the decoder lives.
        lm = load_kenlm(lm_path, dictionary) if lm_path is not None else None
        options = dict(tokens=self.tokens, lm=lm, nbest=1, beam_size=beam_size, beam_threshold=beam_threshold,
                       lm_weight=lm_weight * math.log(10.0), log_add=True, blank_token=self.tokens[vocab.blank],
                       sil_token=BOUNDARY, unk_word=UNK)
        with tempfile.TemporaryDirectory() as folder:
            words_file = _write_lines(Path(folder) / "words.txt", dictionary)
            if self.words is None:
                lm_dict = words_file if lm is not None else None
                self._decoder = ctc_decoder(lexicon=None, lm_dict=lm_dict, sil_score=word_score, **options)
            else:
                spellings = (f"{w}\t{' '.join(w)} {BOUNDARY}" for w in self.words)
                lexicon_file = _write_lines(Path(folder) / "lexicon.txt", spellings)
                self._decoder = ctc_decoder(lexicon=lexicon_file, lm_dict=words_file, word_score=word_score,
                                            sil_score=0.0, **options)

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

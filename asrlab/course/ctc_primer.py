"""CTC on one utterance, step by step: frames, the best path, collapsing it, and the errors.

The fine-tuning chapter opens with a worked example of what a CTC model outputs and how a
transcript comes out of it. These pure functions spell the steps out as strings a reader can
look at, one character per output frame:

* :func:`best_path`: the most probable symbol of every frame, the blank shown as ``_`` and the
  space as ``␣`` (``"hh_e_ll_l_oo␣␣"``);
* :func:`merge_repeats` then drops the blanks: :func:`collapse` (``"hello␣"``);
* :func:`transcript`: spaces back, trimmed as :func:`asrlab.decoding.greedy.greedy_decode` trims them;
* :func:`error_counts`: WER and CER with their substitutions, deletions and insertions.

:func:`explain_utterance` does all of it for one utterance's ``(T, V)`` log-probabilities, and
:func:`report` writes the result out for a reader.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import jiwer
import torch

from asrlab.config import FeatureConfig
from asrlab.text import CharVocabulary

__all__ = ["BLANK_MARK", "SPACE_MARK", "best_path", "collapse", "error_counts", "explain_utterance",
           "frame_rates", "merge_repeats", "min_frames", "report", "symbol_marks", "transcript"]

#: How the blank shows in a best-path string.
BLANK_MARK = "_"
#: How the space shows in a best-path string (a plain space would be invisible between frames).
SPACE_MARK = "␣"


def symbol_marks(vocab: CharVocabulary) -> list[str]:
    """One printable character per output symbol, in index order: blank ``_``, space ``␣``.

    Raises:
        ValueError: when a symbol other than the blank is not a single character, or is one of
            the two marks (the strings would be ambiguous).
    """
    marks = []
    for index, symbol in enumerate(vocab.symbols):
        if index == vocab.blank:
            marks.append(BLANK_MARK)
        elif symbol == " ":
            marks.append(SPACE_MARK)
        elif len(symbol) != 1 or symbol in (BLANK_MARK, SPACE_MARK):
            raise ValueError(f"symbol {symbol!r} (index {index}) cannot be shown as one character of a path")
        else:
            marks.append(symbol)
    return marks


def best_path(log_probs: torch.Tensor, vocab: CharVocabulary) -> str:
    """The most probable symbol of every frame, one character per frame.

    Args:
        log_probs: ``(T, V)`` CTC log-probabilities (or probabilities, or logits) of one utterance,
            ``V == len(vocab)``.
        vocab: the model's output symbols.

    Returns:
        A string of ``T`` characters: :data:`BLANK_MARK` for the blank, :data:`SPACE_MARK` for the
        space, the symbol itself otherwise.
    """
    log_probs = torch.as_tensor(log_probs)
    if log_probs.dim() != 2 or log_probs.shape[1] != len(vocab):
        raise ValueError(f"need (T, {len(vocab)}) log-probabilities of one utterance, got {tuple(log_probs.shape)}")
    marks = symbol_marks(vocab)
    return "".join(marks[i] for i in log_probs.argmax(dim=-1).tolist())


def merge_repeats(path: str) -> str:
    """CTC's first step: runs of the same character become one (``"aa_b__bb_"`` -> ``"a_b_b_"``)."""
    return "".join(ch for i, ch in enumerate(path) if i == 0 or ch != path[i - 1])


def collapse(path: str, blank: str = BLANK_MARK) -> str:
    """Merge repeats, then drop blanks: ``"aa_b__bb_"`` -> ``"abb"``.

    A doubled letter survives only with a blank between its two runs: ``"l_l"`` -> ``"ll"``
    but ``"ll"`` -> ``"l"``.
    """
    return merge_repeats(path).replace(blank, "")


def transcript(collapsed: str, space: str = SPACE_MARK) -> str:
    """A collapsed path as text: spaces back, runs of spaces merged, ends trimmed.

    This is what :func:`asrlab.decoding.greedy.greedy_decode` returns for the same frames.
    """
    return " ".join(collapsed.replace(space, " ").split())


def min_frames(text: str) -> int:
    """The fewest output frames in which CTC can emit ``text``: a frame per character, plus a
    blank between each pair of equal neighbours (``"hello"`` needs 6)."""
    return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def frame_rates(features: FeatureConfig, subsampling: int) -> dict[str, float]:
    """How often a model looks at the audio and how often it emits a symbol.

    Args:
        features: the model's input features (``hop_ms`` sets the input frame rate).
        subsampling: input frames per output frame (``model.subsampling``).

    Returns:
        ``input_fps`` (feature frames per second), ``output_fps`` (CTC frames per second) and
        ``ms_per_output_frame``.
    """
    if subsampling < 1:
        raise ValueError(f"subsampling must be a positive number of input frames, got {subsampling}")
    input_fps = float(features.frames_per_second)
    return {"input_fps": input_fps, "output_fps": input_fps / subsampling,
            "ms_per_output_frame": 1000.0 * subsampling / input_fps}


def error_counts(reference: str, hypothesis: str) -> dict[str, Any]:
    """WER and CER of one utterance with the edit operations behind them.

    Returns:
        ``wer``, ``cer``, ``words`` and ``characters`` (reference lengths), and the word-level
        ``hits``, ``substitutions``, ``deletions`` and ``insertions``; the character-level
        counts are under ``char_`` names (``char_substitutions``...). An empty hypothesis
        deletes every reference word: WER 1.0.
    """
    if not reference.strip():
        raise ValueError("the reference is empty: WER is undefined for it")
    words = jiwer.process_words(reference, hypothesis)
    chars = jiwer.process_characters(reference, hypothesis)
    out: dict[str, Any] = {"wer": float(words.wer), "cer": float(chars.cer), "words": len(reference.split()),
                           "characters": len(reference)}
    for prefix, result in (("", words), ("char_", chars)):
        for name in ("hits", "substitutions", "deletions", "insertions"):
            out[prefix + name] = int(getattr(result, name))
    return out


def explain_utterance(log_probs: torch.Tensor, vocab: CharVocabulary, reference: str) -> dict[str, Any]:
    """Every step from one utterance's CTC output to its transcript and its errors.

    Args:
        log_probs: ``(T, V)`` CTC log-probabilities of one utterance (its valid frames only).
        vocab: the model's output symbols.
        reference: the normalised reference text.

    Returns:
        ``frames`` (T), ``blank_share`` (share of frames whose best symbol is the blank),
        ``top_char`` and ``top_char_share`` (the character that wins most frames, and its share;
        ``None`` and 0.0 when the blank wins every frame), ``path`` (:func:`best_path`),
        ``merged`` (:func:`merge_repeats`), ``collapsed`` (:func:`collapse`), ``transcript``,
        ``reference``, ``min_frames`` (of the reference) and the :func:`error_counts` of the
        transcript against the reference.
    """
    path = best_path(log_probs, vocab)
    collapsed = collapse(path)
    text = transcript(collapsed)
    chars = Counter(ch for ch in path if ch != BLANK_MARK)
    top_char, top_count = chars.most_common(1)[0] if chars else (None, 0)
    frames = max(len(path), 1)
    return {"frames": len(path), "blank_share": path.count(BLANK_MARK) / frames, "top_char": top_char,
            "top_char_share": top_count / frames, "path": path, "merged": merge_repeats(path),
            "collapsed": collapsed, "transcript": text, "reference": reference,
            "min_frames": min_frames(reference), **error_counts(reference, text)}


def report(explained: dict[str, Any], ms_per_frame: float | None = None) -> str:
    """:func:`explain_utterance`'s result as lines a reader can follow, the path strings aligned.

    Args:
        explained: what :func:`explain_utterance` returned.
        ms_per_frame: the duration of one output frame, shown when given.
    """
    e = explained
    frame = f", {ms_per_frame:g} ms each" if ms_per_frame else ""
    top = f", the most frequent character {e['top_char']} {e['top_char_share']:.0%}" if e["top_char"] else ""
    return "\n".join([
        f"best path        {e['path']}   ({e['frames']} frames{frame}; the blank wins {e['blank_share']:.0%}{top})",
        f"repeats merged   {e['merged']}",
        f"blanks dropped   {e['collapsed']}",
        f"transcript       {e['transcript']!r}",
        f"reference        {e['reference']!r}   (needs at least {e['min_frames']} frames)",
        f"WER {e['wer']:.1%} = ({e['substitutions']} substitutions + {e['deletions']} deletions + "
        f"{e['insertions']} insertions) / {e['words']} reference words",
        f"CER {e['cer']:.1%} = ({e['char_substitutions']} + {e['char_deletions']} + {e['char_insertions']}) "
        f"/ {e['characters']} reference characters",
    ])

"""CTC decoding: greedy (best path) decoding that respects each utterance's length."""
from __future__ import annotations

import torch

from asrlab.text import CharVocabulary


def collapse(ids: list[int], blank: int = 0) -> list[int]:
    """Merge repeated ids, then drop blanks (the CTC best-path rule)."""
    out: list[int] = []
    previous = None
    for i in ids:
        if i != previous and i != blank:
            out.append(i)
        previous = i
    return out


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, vocab: CharVocabulary) -> list[str]:
    """Best-path decoding of a batch.

    Args:
        log_probs: ``(B, T, V)`` CTC log-probabilities (or logits).
        lengths: ``(B,)`` valid frames; frames past them are ignored.
        vocab: maps ids to characters; its blank is dropped.

    Returns:
        ``B`` strings, with spaces collapsed and stripped.
    """
    best = log_probs.argmax(dim=-1).cpu()
    texts = []
    for row, length in zip(best, lengths.cpu().tolist()):
        text = vocab.decode(collapse(row[: int(length)].tolist(), vocab.blank))
        texts.append(" ".join(text.split()))
    return texts

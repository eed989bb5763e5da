"""What every CTC decoder offers, the greedy one, and the input checks they share."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch

from asrlab.decoding.greedy import greedy_decode
from asrlab.text import CharVocabulary


@runtime_checkable
class Decoder(Protocol):
    """Turns a batch of CTC outputs into text.

    Attributes:
        vocab: the vocabulary the decoder was built for.
    """

    vocab: CharVocabulary

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """``(B, T, V)`` log-probabilities and ``(B,)`` valid frames -> ``B`` transcripts."""
        ...


class GreedyDecoder:
    """Best-path decoding (:func:`asrlab.decoding.greedy.greedy_decode`) behind the :class:`Decoder` interface."""

    def __init__(self, vocab: CharVocabulary = CharVocabulary()) -> None:
        self.vocab = vocab

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """See :class:`Decoder`."""
        log_probs, lengths = check_inputs(log_probs, lengths, self.vocab)
        return greedy_decode(log_probs, lengths, self.vocab)

    def __repr__(self) -> str:
        return "GreedyDecoder()"


def check_inputs(log_probs: torch.Tensor, lengths: torch.Tensor,
                 vocab: CharVocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch and return it as float32 CPU log-probabilities and int64 CPU lengths.

    Args:
        log_probs: ``(B, T, V)`` log-probabilities or logits (normalised here with log-softmax).
        lengths: ``(B,)`` valid frames, each in ``[0, T]``.

    Raises:
        ValueError: shapes disagree with each other or with the vocabulary.
    """
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must have shape (batch, frames, vocab), got {tuple(log_probs.shape)}")
    batch, frames, size = log_probs.shape
    if size != len(vocab):
        raise ValueError(f"log_probs has {size} classes but the vocabulary has {len(vocab)} symbols")
    lengths = torch.as_tensor(lengths).detach().cpu().long().reshape(-1)
    if lengths.numel() != batch:
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > frames):
        raise ValueError(f"lengths must lie in [0, {frames}], got {lengths.tolist()}")
    return log_probs.detach().float().cpu().log_softmax(-1).contiguous(), lengths


def decode_all(decoder: Decoder, log_probs: Sequence[torch.Tensor], batch_size: int = 32) -> list[str]:
    """Decode per-utterance log-probabilities in padded batches.

    Args:
        decoder: any :class:`Decoder`.
        log_probs: one ``(T_i, V)`` tensor per utterance (e.g. from
            :func:`asrlab.evaluate.utterance_log_probs`).
        batch_size: utterances padded into one ``(B, max T_i, V)`` batch.

    Returns:
        One transcript per utterance, in order.
    """
    texts: list[str] = []
    for start in range(0, len(log_probs), batch_size):
        chunk = log_probs[start:start + batch_size]
        lengths = torch.tensor([x.shape[0] for x in chunk])
        texts += decoder.decode(torch.nn.utils.rnn.pad_sequence(list(chunk), batch_first=True), lengths)
    return texts


def normalize_text_spacing(text: str) -> str:
    """Collapse runs of spaces and strip the ends."""
    return " ".join(text.split())

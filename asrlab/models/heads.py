"""Small trainable heads that read frozen encoder outputs: CTC heads and a learned layer mix.

A probe (:class:`CTCProbe`) reads the stacked outputs of ``L`` encoder layers, ``(B, L, T, D)``
with ``(B,)`` lengths; with ``L > 1`` it mixes them with a :class:`WeightedLayerSum` (the
ELMo / SUPERB recipe), normalises each frame, and a head maps frames to CTC log-probabilities:

* :class:`LinearCTCHead`: one linear layer, what a pretrained CTC model's own output layer is;
* :class:`BiLSTMCTCHead`: a small bidirectional LSTM before the linear layer, so the head can
  use context the frozen encoder did not provide.

:func:`make_probe` builds one with seeded weights. The training loop lives in
:mod:`asrlab.course.feature_extraction`; here are only the modules.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from asrlab.models.ds2 import reverse_within_lengths
from asrlab.utils import lengths_to_mask

__all__ = ["LinearCTCHead", "BiLSTMCTCHead", "WeightedLayerSum", "CTCProbe", "make_probe", "HeadKind"]

HeadKind = Literal["linear", "bilstm"]


class LinearCTCHead(nn.Module):
    """A linear CTC output layer: ``(B, T, D)`` frames -> ``(B, T, V)`` logits.

    Args:
        input_dim: frame size D.
        vocab_size: CTC outputs V, blank included.
    """

    def __init__(self, input_dim: int, vocab_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, vocab_size)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "LinearCTCHead":
        """A head holding a copy of an existing output layer (e.g. a pretrained model's ``head``)."""
        head = cls(linear.in_features, linear.out_features)
        head.linear.load_state_dict(linear.state_dict())
        return head

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D)``, ``lengths (B,)`` (unused: frames are independent) -> ``(B, T, V)`` logits."""
        return self.linear(x)


class BiLSTMCTCHead(nn.Module):
    """A one-layer bidirectional LSTM and a linear CTC layer: ``(B, T, D)`` -> ``(B, T, V)`` logits.

    Two unidirectional LSTMs over dense tensors, as in :class:`asrlab.models.ds2.BiGRULayer`:
    the backward one reads each sequence reversed within its own length, so padding never
    reaches a valid frame, and a dense LSTM runs about three times faster on CPU than a packed one.

    Args:
        input_dim: frame size D.
        vocab_size: CTC outputs V, blank included.
        hidden: LSTM units per direction.
        dropout: dropout on the LSTM output, during training.
    """

    def __init__(self, input_dim: int, vocab_size: int, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(2 * hidden, vocab_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D)``, ``lengths (B,)`` -> ``(B, T, V)`` logits (frames past ``lengths``: the bias only)."""
        ahead, _ = self.forward_lstm(x)
        behind, _ = self.backward_lstm(reverse_within_lengths(x, lengths))
        out = torch.cat([ahead, reverse_within_lengths(behind, lengths)], dim=-1)
        out = out * lengths_to_mask(lengths.to(x.device), x.shape[1])[:, :, None].to(out.dtype)
        return self.linear(self.dropout(out))


class WeightedLayerSum(nn.Module):
    """A learned convex combination of ``L`` layers: ``sum_l softmax(w)_l * x_l``.

    The weights start equal (``w = 0``) and stay positive and sum to 1, so after training
    :attr:`weights` says how much each layer contributes.

    Args:
        num_layers: L, the layers mixed.
    """

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.logits = nn.Parameter(torch.zeros(num_layers))

    @property
    def weights(self) -> torch.Tensor:
        """``(L,)`` mixing weights, positive and summing to 1 (detached)."""
        return self.logits.detach().softmax(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, T, D)`` stacked layers -> ``(B, T, D)``."""
        if x.ndim != 4 or x.shape[1] != self.logits.numel():
            raise ValueError(f"expected (batch, {self.logits.numel()}, frames, dim) layers, got {tuple(x.shape)}")
        return torch.einsum("l,bltd->btd", self.logits.softmax(dim=0), x)


class CTCProbe(nn.Module):
    """A CTC head over one frozen layer, or over a learned mix of several.

    Each layer's frames are first normalised to zero mean and unit variance over D (a layer norm
    without parameters), so that layers of different scale compete fairly in the mix and a
    probe's learning rate suits every layer; ``normalize=False`` feeds them as they are (to
    reuse a pretrained model's own head).

    Args:
        head: maps ``(B, T, D)`` frames and ``(B,)`` lengths to ``(B, T, V)`` logits.
        num_layers: L, the layers the probe reads; ``L > 1`` adds a :class:`WeightedLayerSum`.
        normalize: normalise each frame of each layer first.
    """

    def __init__(self, head: nn.Module, num_layers: int = 1, normalize: bool = True) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.head = head
        self.num_layers = num_layers
        self.normalize = normalize
        self.mix = WeightedLayerSum(num_layers) if num_layers > 1 else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """CTC log-probabilities.

        Args:
            x: ``(B, L, T, D)`` stacked layer outputs, zero past ``lengths``.
            lengths: ``(B,)`` valid frames.

        Returns:
            ``(B, T, V)`` log-probabilities.
        """
        if x.ndim != 4 or x.shape[1] != self.num_layers:
            raise ValueError(f"expected (batch, {self.num_layers}, frames, dim) features, got {tuple(x.shape)}")
        if self.normalize:  # zero frames (the padding) stay zero
            x = F.layer_norm(x, x.shape[-1:])
        frames = self.mix(x) if self.mix is not None else x[:, 0]
        return self.head(frames, lengths).float().log_softmax(dim=-1)


def make_probe(kind: HeadKind, input_dim: int, vocab_size: int, num_layers: int = 1, *, hidden: int = 128,
               dropout: float = 0.1, seed: int = 0) -> CTCProbe:
    """A :class:`CTCProbe` with a fresh head, initialised from ``seed`` (global RNG untouched).

    Args:
        kind: ``"linear"`` (:class:`LinearCTCHead`) or ``"bilstm"`` (:class:`BiLSTMCTCHead`).
        input_dim: frame size D of the layers read.
        vocab_size: CTC outputs V, blank included.
        num_layers: layers read; more than one adds a learned :class:`WeightedLayerSum`.
        hidden: LSTM units per direction (``"bilstm"``).
        dropout: dropout of the ``"bilstm"`` head.
        seed: weight initialisation.
    """
    if kind not in ("linear", "bilstm"):
        raise ValueError(f"unknown head kind {kind!r}; use 'linear' or 'bilstm'")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head: nn.Module = (LinearCTCHead(input_dim, vocab_size) if kind == "linear"
                           else BiLSTMCTCHead(input_dim, vocab_size, hidden, dropout))
        return CTCProbe(head, num_layers)

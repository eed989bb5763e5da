"""A DeepSpeech2-style encoder: convolutional front end, then bidirectional GRU layers.

The GRUs run on packed sequences, so they never read padding (a bidirectional RNN that reads
padding gives different outputs in a batch than alone).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asrlab.models.base import Encoder, EncoderOutput
from asrlab.models.frontend import ConvSubsampling


class BiGRULayer(nn.Module):
    """One bidirectional GRU over packed sequences, with dropout; ``(B, T, D_in) -> (B, T, 2H)``."""

    def __init__(self, input_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.dropout(out)


class DS2Encoder(Encoder):
    """Conv front end + ``num_layers`` BiGRU layers.

    Args:
        n_mels: feature bins.
        hidden: GRU units per direction (output size is ``2 * hidden``).
        num_layers: BiGRU layers.
        conv_channels: front-end channels.
        dropout: dropout after each stage.
    """

    def __init__(self, n_mels: int = 80, hidden: int = 256, num_layers: int = 3,
                 conv_channels: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.frontend = ConvSubsampling(n_mels, conv_channels, 2 * hidden, dropout)
        self.rnns = nn.ModuleList(BiGRULayer(2 * hidden, hidden, dropout) for _ in range(num_layers))
        self.output_dim = 2 * hidden
        self.subsampling = self.frontend.subsampling

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.frontend.output_lengths(lengths)

    @property
    def blocks(self) -> list[nn.Module]:
        return [self.frontend, *self.rnns]

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_layers: bool = False) -> EncoderOutput:
        """``(B, T, F)`` features and ``(B,)`` lengths -> hidden ``(B, T', 2H)``."""
        x, out_lengths = self.frontend(feats, lengths)
        layers = [x] if return_layers else []
        for rnn in self.rnns:
            x = rnn(x, out_lengths)
            if return_layers:
                layers.append(x)
        return EncoderOutput(x, out_lengths, layers)

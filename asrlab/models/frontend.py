"""A 2-D convolutional front end that subsamples time by 2 and keeps padding inert."""
from __future__ import annotations

import torch
from torch import nn

from asrlab.utils import lengths_to_mask


def _conv_out(lengths: torch.Tensor, stride: int) -> torch.Tensor:
    # kernel 3, padding 1: floor((L + 2 - 3) / stride) + 1
    return torch.div(lengths - 1, stride, rounding_mode="floor") + 1


class ConvSubsampling(nn.Module):
    """Two 3x3 convolutions (time stride 2 then 1, frequency stride 2 each) and a projection.

    Frames past each utterance's length are zeroed before every convolution, so an utterance
    gives the same output alone or inside a padded batch.

    Args:
        n_mels: input feature bins F.
        channels: convolution channels.
        output_dim: size D of the projected output.
    """

    subsampling = 2

    def __init__(self, n_mels: int, channels: int, output_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, kernel_size=3, stride=(2, 2), padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=(1, 2), padding=1)
        freq = (((n_mels - 1) // 2 + 1) - 1) // 2 + 1
        self.proj = nn.Linear(channels * freq, output_dim)
        self.norm = nn.LayerNorm(output_dim)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return _conv_out(lengths, 2)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, F)`` features -> ``((B, T', D), (B,) lengths)`` with T' = ceil(T / 2)."""
        x = feats * lengths_to_mask(lengths, feats.shape[1])[:, :, None]
        x = self.act(self.conv1(x.unsqueeze(1)))             # (B, C, T', F/2)
        out_lengths = self.output_lengths(lengths)
        mask = lengths_to_mask(out_lengths, x.shape[2])       # (B, T')
        x = x * mask[:, None, :, None]
        x = self.act(self.conv2(x))                            # (B, C, T', F/4)
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        x = self.dropout(self.act(self.norm(self.proj(x))))
        return x * mask[:, :, None], out_lengths

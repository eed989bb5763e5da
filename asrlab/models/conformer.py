"""A Conformer encoder built from torchaudio's ``ConformerLayer`` blocks, with padding masked.

torchaudio's Conformer masks padding in self-attention but not in the depthwise convolution,
so padded frames leak into valid ones near the end of an utterance. Each layer here is run
with the same torchaudio sub-modules, zeroing padded frames before the depthwise convolution.
"""
from __future__ import annotations

import torch
from torch import nn
from torchaudio.models import Conformer

from asrlab.models.base import StackedEncoder
from asrlab.models.frontend import ConvSubsampling
from asrlab.utils import lengths_to_mask


def run_conformer_layer(layer: nn.Module, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Run one ``torchaudio.models.conformer.ConformerLayer`` with padding masked.

    Args:
        layer: a torchaudio ConformerLayer (convolution after attention).
        x: ``(B, T, D)`` input.
        valid: ``(B, T)`` True on valid frames.

    Returns:
        ``(B, T, D)`` output, zero on padded frames.
    """
    keep = valid[:, :, None].to(x.dtype)
    residual = x
    x = layer.ffn1(x) * 0.5 + residual
    residual = x
    y = layer.self_attn_layer_norm(x).transpose(0, 1)       # (T, B, D) for nn.MultiheadAttention
    y, _ = layer.self_attn(y, y, y, key_padding_mask=~valid, need_weights=False)
    x = layer.self_attn_dropout(y.transpose(0, 1)) + residual
    conv = layer.conv_module
    y = conv.layer_norm(x).transpose(1, 2)                   # (B, D, T)
    y = conv.sequential[1](conv.sequential[0](y))            # pointwise conv, GLU
    y = y * keep.transpose(1, 2)                              # padding must not enter the depthwise conv
    for module in list(conv.sequential)[2:]:
        y = module(y)
    x = x + y.transpose(1, 2)
    residual = x
    x = layer.ffn2(x) * 0.5 + residual
    return layer.final_layer_norm(x) * keep


class ConformerEncoder(StackedEncoder):
    """Conv front end + torchaudio Conformer layers.

    Args:
        n_mels: feature bins.
        dim: model dimension D.
        num_layers: Conformer layers.
        num_heads: attention heads.
        ffn_dim: feed-forward hidden size.
        kernel_size: depthwise convolution kernel (odd).
        conv_channels: front-end channels.
        dropout: dropout probability.
    """

    def __init__(self, n_mels: int = 80, dim: int = 144, num_layers: int = 4, num_heads: int = 4,
                 ffn_dim: int = 576, kernel_size: int = 15, conv_channels: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.frontend = ConvSubsampling(n_mels, conv_channels, dim, dropout)
        conformer = Conformer(input_dim=dim, num_heads=num_heads, ffn_dim=ffn_dim, num_layers=num_layers,
                              depthwise_conv_kernel_size=kernel_size, dropout=dropout)
        self.layers = conformer.conformer_layers
        self.output_dim = dim
        self.subsampling = self.frontend.subsampling

    @property
    def layer_stack(self) -> nn.ModuleList:
        return self.layers

    def run_layer(self, layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One Conformer layer: ``(B, T', D)`` -> ``(B, T', D)``, attending to valid frames only."""
        return run_conformer_layer(layer, x, lengths_to_mask(lengths, x.shape[1]))

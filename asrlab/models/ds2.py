"""A DeepSpeech2-style encoder: convolutional front end, then bidirectional GRU layers.

Each bidirectional layer is two unidirectional GRUs over dense (padded) tensors. The forward
direction is causal, so padding at the end never reaches a valid frame. The backward direction
reads every sequence reversed *within its own length*, which moves the padding to the end as
well. Outputs at valid frames are therefore the same alone and inside a padded batch, like a
packed sequence, but a dense GRU runs about twice as fast on CPU as a packed one; the price is
that padding costs compute, which length bucketing keeps small.
"""
from __future__ import annotations

import torch
from torch import nn

from asrlab.models.base import StackedEncoder
from asrlab.models.frontend import ConvSubsampling


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first ``lengths[b]`` frames, leaving padding in place.

    ``(B, T, D)`` and ``(B,)`` -> ``(B, T, D)``. The operation is its own inverse.
    """
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class BiGRULayer(nn.Module):
    """One bidirectional GRU with dropout; ``(B, T, D_in)`` and ``(B,)`` -> ``(B, T, 2H)``.

    Padding never changes outputs at valid frames (see the module docstring); frames past a
    sequence's length are set to zero, as a packed GRU would leave them.
    """

    def __init__(self, input_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.forward_gru = nn.GRU(input_dim, hidden, batch_first=True)
        self.backward_gru = nn.GRU(input_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self._register_load_state_dict_pre_hook(_rename_packed_bigru_keys)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        ahead, _ = self.forward_gru(x)
        behind, _ = self.backward_gru(reverse_within_lengths(x, lengths))
        out = torch.cat([ahead, reverse_within_lengths(behind, lengths)], dim=-1)
        valid = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)
        return self.dropout(out * valid.unsqueeze(-1).to(out.dtype))


def _rename_packed_bigru_keys(state_dict: dict, prefix: str, *args: object) -> None:
    """Accept checkpoints of the earlier layout (one ``nn.GRU(bidirectional=True)`` named ``gru``)."""
    for key in [k for k in state_dict if k.startswith(prefix + "gru.")]:
        name = key[len(prefix + "gru."):]
        if name.endswith("_reverse"):
            state_dict[prefix + "backward_gru." + name[: -len("_reverse")]] = state_dict.pop(key)
        else:
            state_dict[prefix + "forward_gru." + name] = state_dict.pop(key)


class DS2Encoder(StackedEncoder):
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

    @property
    def layer_stack(self) -> nn.ModuleList:
        return self.rnns

    def run_layer(self, layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One BiGRU layer: ``(B, T', 2H)`` -> ``(B, T', 2H)``."""
        return layer(x, lengths)

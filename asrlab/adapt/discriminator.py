"""A domain discriminator over encoder frames or pooled utterances, blind to padding.

Encoder outputs come as ``(B, T, D)`` with ``(B,)`` lengths. Before anything is classified, the
padding is removed: either every valid frame becomes one example (``pooling="frames"``), or each
utterance is averaged over its valid frames (``pooling="utterance"``). What sits past a length
can therefore never change a logit, a loss or an accuracy.
"""
from __future__ import annotations

import torch
from torch import nn

from asrlab.config import POOLINGS, Pooling
from asrlab.models.base import EncoderOutput
from asrlab.utils import lengths_to_mask, masked_mean


def encoder_layer(out: EncoderOutput, layer: int = -1) -> torch.Tensor:
    """One layer's ``(B, T, D)`` output; ``-1`` is the last encoder layer (the head's input).

    Args:
        out: an encoder output; ``out.layers`` (input projection first) must be filled unless
            ``layer`` is -1, which falls back to ``out.hidden``.
        layer: index into ``out.layers``, negative from the top.
    """
    if not out.layers:
        if layer == -1:
            return out.hidden
        raise ValueError(f"layer {layer} asked for, but the encoder output holds no per-layer outputs "
                         "(run the model with return_encoder=True)")
    if not -len(out.layers) <= layer < len(out.layers):
        raise ValueError(f"layer {layer} does not exist: the encoder gives {len(out.layers)} layers "
                         f"(indices {-len(out.layers)}..{len(out.layers) - 1}, -1 is the last)")
    return out.layers[layer]


def _check(x: torch.Tensor, lengths: torch.Tensor) -> None:
    if x.dim() != 3:
        raise ValueError(f"expected (B, T, D) features, got shape {tuple(x.shape)}")
    if lengths.dim() != 1 or lengths.shape[0] != x.shape[0]:
        raise ValueError(f"expected ({x.shape[0]},) lengths for {x.shape[0]} utterances, got {tuple(lengths.shape)}")
    if x.shape[0] and (int(lengths.min()) < 0 or int(lengths.max()) > x.shape[1]):
        raise ValueError(f"lengths must lie in [0, {x.shape[1]}] frames, got {lengths.tolist()}")


def valid_frames(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Every valid frame as one row: ``(B, T, D)`` and ``(B,)`` -> ``(sum(lengths), D)``."""
    _check(x, lengths)
    return x[lengths_to_mask(lengths.to(x.device), x.shape[1])]


def domain_inputs(x: torch.Tensor, lengths: torch.Tensor, pooling: Pooling = "frames") -> torch.Tensor:
    """What a domain classifier or a distribution distance sees.

    Args:
        x: ``(B, T, D)`` encoder outputs.
        lengths: ``(B,)`` valid frames.
        pooling: ``"frames"``: each valid frame; ``"utterance"``: each utterance's mean frame
            (:func:`~asrlab.utils.masked_mean`: an utterance with no valid frame raises ValueError).

    Returns:
        ``(N, D)`` rows: ``N = sum(lengths)`` for frames, ``N = B`` for utterances.
    """
    if pooling == "frames":
        return valid_frames(x, lengths)
    if pooling == "utterance":
        return masked_mean(x, lengths)
    raise ValueError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")


class DomainDiscriminator(nn.Module):
    """A small MLP giving one logit per example: > 0 means "target", < 0 means "source".

    Args:
        input_dim: feature size D.
        hidden: units of each hidden layer.
        num_layers: hidden layers (0 makes a linear classifier).
        dropout: dropout after each hidden layer.
        pooling: how ``(B, T, D)`` inputs become examples (see :func:`domain_inputs`).
    """

    def __init__(self, input_dim: int, hidden: int = 256, num_layers: int = 2, dropout: float = 0.1,
                 pooling: Pooling = "frames") -> None:
        super().__init__()
        if input_dim <= 0 or hidden <= 0 or num_layers < 0:
            raise ValueError(f"need input_dim > 0, hidden > 0, num_layers >= 0; "
                             f"got {input_dim}, {hidden}, {num_layers}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
        self.pooling = pooling
        layers: list[nn.Module] = []
        width = input_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Domain logits.

        Args:
            x: ``(B, T, D)`` encoder outputs with ``lengths``, or ``(N, D)`` ready-made examples
                (``lengths`` None).
            lengths: ``(B,)`` valid frames for 3-D inputs.

        Returns:
            ``(N,)`` logits: one per valid frame or per utterance (3-D input), or per row.
        """
        if x.dim() == 3:
            if lengths is None:
                raise ValueError("(B, T, D) inputs need their (B,) lengths")
            x = domain_inputs(x, lengths, self.pooling)  # type: ignore[arg-type]
        elif x.dim() != 2 or lengths is not None:
            raise ValueError(f"expected (B, T, D) features with lengths or (N, D) rows, got shape {tuple(x.shape)}")
        return self.net(x).squeeze(-1)


__all__ = ["POOLINGS", "DomainDiscriminator", "Pooling", "domain_inputs", "encoder_layer", "masked_mean",
           "valid_frames"]

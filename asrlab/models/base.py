"""The shared shape of every CTC model in asrlab: an encoder with per-layer outputs and a head;
and :func:`load_state`, which puts saved weights into a model or says what does not fit;
:func:`safe_torch_load`, the one ``torch.load`` of the package; and :func:`weights_digest`, a hash
of a model's weights."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from asrlab.errors import CheckpointError


@dataclass
class EncoderOutput:
    """What an encoder returns.

    Attributes:
        hidden: ``(B, T', D)`` output of the last layer; frames past ``lengths`` are zero.
        lengths: ``(B,)`` valid frames per utterance.
        layers: per-layer outputs ``[(B, T', D_l), ...]``, the input projection first, when asked
            for (``return_layers=True``), else empty.
    """

    hidden: torch.Tensor
    lengths: torch.Tensor
    layers: list[torch.Tensor]


class Encoder(nn.Module):
    """Base class: maps ``(B, T, F)`` features and lengths to an :class:`EncoderOutput`."""

    output_dim: int
    #: How many input frames make one output frame.
    subsampling: int

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """``(B,)`` output frames for ``(B,)`` input frames."""
        raise NotImplementedError

    @property
    def blocks(self) -> list[nn.Module]:
        """The encoder's stages in order, front end first; ``blocks[-k:]`` are the top k."""
        raise NotImplementedError

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_layers: bool = False) -> EncoderOutput:
        raise NotImplementedError


class StackedEncoder(Encoder):
    """An encoder built as a subsampling front end (``self.frontend``, e.g.
    :class:`~asrlab.models.frontend.ConvSubsampling`) followed by a stack of layers
    (:attr:`layer_stack`) that each map ``(B, T', D)`` and ``(B,)`` lengths to ``(B, T', D)``.

    Subclasses build the two and say how one layer runs (:meth:`run_layer`); the forward pass,
    the per-layer outputs, the output lengths and :attr:`blocks` are written once here.
    """

    frontend: nn.Module

    @property
    def layer_stack(self) -> nn.ModuleList:
        """The layers after the front end, in order."""
        raise NotImplementedError

    def run_layer(self, layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One layer: ``(B, T', D)`` and ``(B,)`` valid frames -> ``(B, T', D)``."""
        raise NotImplementedError

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.frontend.output_lengths(lengths)

    @property
    def blocks(self) -> list[nn.Module]:
        return [self.frontend, *self.layer_stack]

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_layers: bool = False) -> EncoderOutput:
        """``(B, T, F)`` features and ``(B,)`` lengths -> hidden ``(B, T', D)``."""
        x, out_lengths = self.frontend(feats, lengths)
        layers = [x] if return_layers else []
        for layer in self.layer_stack:
            x = self.run_layer(layer, x, out_lengths)
            if return_layers:
                layers.append(x)
        return EncoderOutput(x, out_lengths, layers)


class CTCModel(nn.Module):
    """An encoder and a linear CTC head.

    Attributes:
        encoder: an :class:`Encoder`.
        head: ``nn.Linear(encoder.output_dim, vocab_size)``.
        config: the settings that built it (a dict, saved in checkpoints).
    """

    def __init__(self, encoder: Encoder, vocab_size: int, config: dict | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.output_dim, vocab_size)
        self.config = dict(config or {})

    @property
    def subsampling(self) -> int:
        return self.encoder.subsampling

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_encoder: bool = False):
        """CTC log-probabilities.

        Args:
            feats: ``(B, T, F)`` log-mel features.
            lengths: ``(B,)`` valid frames.
            return_encoder: also return the :class:`EncoderOutput` with every layer's output
                (domain adaptation and probes read them).

        Returns:
            ``(log_probs (B, T', V), out_lengths (B,))``, plus the encoder output if asked.
        """
        out = self.encoder(feats, lengths, return_layers=return_encoder)
        logits = self.head(self.dropout(out.hidden))
        log_probs = logits.float().log_softmax(dim=-1)
        if return_encoder:
            return log_probs, out.lengths, out
        return log_probs, out.lengths


def weights_digest(model: nn.Module, salt: bytes = b"", algorithm: str = "sha1") -> str:
    """Hex digest of every entry of ``model.state_dict()`` (names and values), after ``salt``:
    it changes whenever any weight changes.

    Args:
        model: the module whose weights are hashed.
        salt: bytes hashed first (e.g. the input features a cache key depends on).
        algorithm: a :mod:`hashlib` name; ``"sha256"`` for adapter files' base digests.
    """
    digest = hashlib.new(algorithm, salt)
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def safe_torch_load(path: str | os.PathLike, what: str = "an asrlab checkpoint", remedy: str = "") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only, so a file cannot run code.

    Every file the package reads with torch goes through here. A failure raises
    :class:`CheckpointError` naming the file and the reason, without torch's advice to retry with
    ``weights_only=False`` (which would run whatever code a foreign or malicious file holds).

    Args:
        path: the file.
        what: what the file should be, for the message (``"a Whisper checkpoint"``).
        remedy: what to do about it, appended to the message.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot load {path}: {_load_failure(exc)}. It is corrupt, cut short, or not {what}; "
                              "asrlab reads checkpoints with the safe loader (tensors and plain values only) and "
                              f"does not load other files.{' ' + remedy if remedy else ''}") from None


def _load_failure(exc: Exception) -> str:
    """The useful part of a torch.load error: its reason, without the advice to load unsafely."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Please use", 1)[0].split("Check the doc", 1)[0]
        return "it holds something other than tensors and plain values (" + " ".join(text.split()).rstrip(". ") + ")"
    if isinstance(exc, EOFError) or not text.strip():
        return "the file is empty or cut short"
    return text.strip().splitlines()[0]


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(state)`` with a message naming the file and what differs."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        ours = model.state_dict()
        missing = sorted(set(ours) - set(state))[:5]
        unexpected = sorted(set(state) - set(ours))[:5]
        shapes = [k for k in ours if k in state and ours[k].shape != state[k].shape][:5]
        raise CheckpointError(
            f"{source} does not fit this model: missing {missing}, unexpected {unexpected}, "
            f"shape mismatches {shapes}. It was saved from a different model config: build the "
            "model from the checkpoint's own config (asrlab.models.load_model) instead."
        ) from exc

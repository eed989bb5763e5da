"""CTC models: a DeepSpeech2-style conv + BiGRU model and a Conformer, built from a config.

Each model is an :class:`~asrlab.models.base.CTCModel`: an ``encoder`` with per-layer outputs
and ``blocks`` (for freezing, probing and layer-wise learning rates) and a linear ``head``.
"""
from __future__ import annotations

from asrlab.config import ModelConfig
from asrlab.models.base import CTCModel, Encoder, EncoderOutput
from asrlab.models.checkpoint import LoadedModel, load_model, save_model
from asrlab.models.factory import build_model
from asrlab.models.vocabulary import replace_vocabulary


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def trainable_share(model) -> float:
    """Trainable parameters as a share of all the model's parameters (0..1), e.g. for an adapter:
    ``count_parameters(model, trainable_only=True) / count_parameters(model)``."""
    total = count_parameters(model)
    return count_parameters(model, trainable_only=True) / total if total else 0.0


__all__ = ["CTCModel", "Encoder", "EncoderOutput", "LoadedModel", "ModelConfig", "build_model",
           "count_parameters", "load_model", "replace_vocabulary", "save_model", "trainable_share"]

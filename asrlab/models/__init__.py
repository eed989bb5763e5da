"""CTC models: a DeepSpeech2-style conv + BiGRU model and a Conformer, built from a config.

Each model is an :class:`~asrlab.models.base.CTCModel`: an ``encoder`` with per-layer outputs
and ``blocks`` (for freezing, probing and layer-wise learning rates) and a linear ``head``.
"""
from __future__ import annotations

from dataclasses import asdict

from asrlab.config import ModelConfig
from asrlab.models.base import CTCModel, Encoder, EncoderOutput
from asrlab.models.checkpoint import LoadedModel, load_model, save_model


def build_model(config: ModelConfig) -> CTCModel:
    """A model for ``config`` with fresh weights (pretrained wrappers: architecture only).

    ``ds2`` and ``conformer`` are asrlab's own models; ``whisper`` and ``ssl`` wrap pretrained
    encoders (their builders live in :mod:`asrlab.models.whisper` and :mod:`asrlab.models.ssl`;
    use :func:`asrlab.models.zoo.load_pretrained` to get them with their weights).
    """
    if config.arch == "ds2":
        from asrlab.models.ds2 import DS2Encoder

        encoder: Encoder = DS2Encoder(config.n_mels, config.hidden, config.num_layers,
                                      config.conv_channels, config.dropout)
    elif config.arch == "conformer":
        from asrlab.models.conformer import ConformerEncoder

        encoder = ConformerEncoder(config.n_mels, config.hidden, config.num_layers, config.num_heads,
                                   config.ffn_dim, config.kernel_size, config.conv_channels, config.dropout)
    elif config.arch in ("whisper", "ssl"):
        import importlib

        return importlib.import_module(f"asrlab.models.{config.arch}").build(config)
    else:
        raise ValueError(f"unknown architecture {config.arch!r}; use 'ds2', 'conformer', 'whisper' or 'ssl'")
    return CTCModel(encoder, config.vocab_size, config=asdict(config), dropout=config.dropout)


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["CTCModel", "Encoder", "EncoderOutput", "LoadedModel", "ModelConfig", "build_model",
           "count_parameters", "load_model", "save_model"]

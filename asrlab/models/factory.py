"""``build_model(config)``: a CTC model with fresh weights for a :class:`~asrlab.config.ModelConfig`.

Below :mod:`asrlab.models.checkpoint`, which builds the model a checkpoint describes before it
loads the weights; each architecture's module is imported only when it is built.
"""
from __future__ import annotations

from dataclasses import asdict

from asrlab.config import ModelConfig
from asrlab.models.base import CTCModel, Encoder


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
    elif config.arch == "whisper":
        from asrlab.models import whisper

        return whisper.build(config)
    elif config.arch == "ssl":
        from asrlab.models import ssl

        return ssl.build(config)
    else:
        raise ValueError(f"unknown architecture {config.arch!r}; use 'ds2', 'conformer', 'whisper' or 'ssl'")
    return CTCModel(encoder, config.vocab_size, config=asdict(config), dropout=config.dropout)

"""A CTC model with its feature front end in one module, built from ops that export.

:class:`LogMelFrontEnd` recomputes :func:`asrlab.features.log_mel` (``kind="logmel"``) from the
same window and mel filters, as a reflect pad, an STFT without centring, a matrix product and
the per-utterance normalisation; the STFT exports to ONNX as its ``STFT`` op (opset 17).
:class:`WaveformCTC` puts it in front of a CTC model, so that an exported file turns a 16 kHz
waveform into CTC log-probabilities on its own.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from asrlab.config import FeatureConfig
from asrlab.models.base import CTCModel

__all__ = ["LogMelFrontEnd", "WaveformCTC", "FEATURE_TOLERANCE"]

#: Largest difference between :class:`LogMelFrontEnd` and :func:`asrlab.features.log_mel` that the
#: tests accept, on normalised features (unit variance): float32 rounding in a different order.
FEATURE_TOLERANCE = 1e-4


class LogMelFrontEnd(nn.Module):
    """asrlab's log-mel features of one waveform: ``(N,)`` samples -> ``(T, F)`` features.

    The same numbers as :func:`asrlab.features.log_mel` (within :data:`FEATURE_TOLERANCE`):
    a Hann window zero-padded to the FFT size, a centred STFT (reflect padding), power, mel
    filters, ``log(mel + 1e-6)`` and, when ``config.normalize == "utterance"``, each bin's mean
    and standard deviation over time removed. ``T = N // hop + 1``.

    Args:
        config: the model's features; only ``kind="logmel"`` is supported.

    Raises:
        ValueError: ``config.kind`` is not ``"logmel"``.
    """

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__()
        if config.kind != "logmel":
            raise ValueError(f"only log-mel features (kind='logmel') export with the model, not {config.kind!r}: "
                             "export a model trained on asrlab's log-mel features")
        from asrlab.features import _mel_transform  # the very window and filters the training features used

        transform = _mel_transform(config)
        self.n_fft = int(transform.spectrogram.n_fft)
        self.hop = int(transform.spectrogram.hop_length)
        window = transform.spectrogram.window.detach().clone()
        left = (self.n_fft - window.numel()) // 2
        self.register_buffer("window", F.pad(window, (left, self.n_fft - window.numel() - left)))
        self.register_buffer("filters", transform.mel_scale.fb.detach().clone())   # (n_fft // 2 + 1, F)
        self.normalize = config.normalize == "utterance"

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(N,)`` float32 samples (N > n_fft / 2, for the reflect pad) -> ``(T, F)`` features."""
        half = self.n_fft // 2
        padded = F.pad(wave[None, None], (half, half), mode="reflect")[0]             # (1, N + n_fft)
        if torch.onnx.is_in_onnx_export():  # ONNX's STFT gives (re, im) pairs; complex tensors do not export
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                spec = torch.stft(padded, self.n_fft, self.hop, self.n_fft, self.window, center=False,
                                  return_complex=False)                                    # (1, K, T, 2)
        else:
            spec = torch.view_as_real(torch.stft(padded, self.n_fft, self.hop, self.n_fft, self.window,
                                                 center=False, return_complex=True))
        power = spec.pow(2).sum(-1)[0]                                                    # (K, T)
        feats = torch.log(torch.matmul(power.transpose(0, 1), self.filters) + 1e-6)       # (T, F)
        if self.normalize:
            feats = (feats - feats.mean(dim=0)) / (feats.std(dim=0) + 1e-5)
        return feats


class WaveformCTC(nn.Module):
    """Front end + CTC model: one utterance's ``(N,)`` waveform -> ``(T', V)`` CTC log-probabilities.

    One utterance at a time (what a deployed recogniser gets), so no lengths travel with it: the
    model sees a batch of one whose length is every frame.

    Args:
        model: a CTC model over ``features`` (put in eval mode here).
        features: the model's input features (``kind="logmel"``).
    """

    def __init__(self, model: CTCModel, features: FeatureConfig) -> None:
        super().__init__()
        self.frontend = LogMelFrontEnd(features)
        self.model = model.eval()

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(N,)`` float32 samples at the model's rate -> ``(T', V)`` log-probabilities."""
        feats = self.frontend(wave)[None]                                                 # (1, T, F)
        lengths = torch.ones(1, dtype=torch.long) * feats.shape[1]
        log_probs, _ = self.model(feats, lengths)
        return log_probs[0]

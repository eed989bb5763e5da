"""Log-mel features, per-utterance normalisation, SpecAugment and an on-disk feature cache."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torchaudio

from asrlab.audio import load_audio
from asrlab.config import FeatureConfig, SpecAugmentConfig
from asrlab.errors import AudioError
from asrlab.files import atomic_write

_LOG_FLOOR = 1e-6


@lru_cache(maxsize=8)
def _mel_transform(config: FeatureConfig) -> torchaudio.transforms.MelSpectrogram:
    win = int(round(config.sample_rate * config.win_ms / 1000))
    hop = int(round(config.sample_rate * config.hop_ms / 1000))
    if config.kind == "whisper":  # Whisper's front end: 400-point FFT, Slaney mel filters to 8 kHz
        return torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate, n_fft=400, win_length=400, hop_length=160, f_min=0.0,
            f_max=config.sample_rate / 2, n_mels=config.n_mels, power=2.0, center=True,
            norm="slaney", mel_scale="slaney",
        )
    n_fft = 1 << (win - 1).bit_length()
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate, n_fft=n_fft, win_length=win, hop_length=hop,
        f_min=config.f_min, f_max=config.f_max, n_mels=config.n_mels, power=2.0, center=True,
    )


def num_frames(num_samples: int, config: FeatureConfig) -> int:
    """Frames that :func:`log_mel` gives for ``num_samples`` samples (centred STFT)."""
    if config.kind == "waveform":
        return num_samples
    if config.kind == "whisper":
        return num_samples // 160
    hop = int(round(config.sample_rate * config.hop_ms / 1000))
    return num_samples // hop + 1


def log_mel(wave: np.ndarray | torch.Tensor, config: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """Model input features of one ``(samples,)`` waveform, of the kind ``config.kind`` names.

    ``"logmel"``: natural-log mel energies, normalised per utterance if ``config.normalize`` is
    ``"utterance"``. ``"whisper"``: Whisper's scaling (log10, floor 8 below the maximum,
    ``(x + 4) / 4``, last frame dropped). ``"waveform"``: the samples themselves as ``(T, 1)``.

    Returns:
        ``(T, F)`` float32 tensor.
    """
    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.ndim != 1:
        raise ValueError(f"log_mel expects a (samples,) waveform, got shape {tuple(wave.shape)}")
    min_samples = int(config.sample_rate * config.win_ms / 1000)
    if wave.numel() < min_samples:
        raise AudioError(
            f"audio of {wave.numel()} samples is shorter than one {config.win_ms:g} ms analysis window; "
            "such a clip holds no speech: remove it from the manifest"
        )
    if config.kind == "waveform":
        return wave[:, None].clone()
    with torch.no_grad():
        mel = _mel_transform(config)(wave)                      # (F, T)
    if config.kind == "whisper":
        logs = torch.clamp(mel[:, :-1], min=1e-10).log10()
        logs = torch.maximum(logs, logs.max() - 8.0)
        return ((logs + 4.0) / 4.0).T.contiguous()
    feats = torch.log(mel + _LOG_FLOOR).T.contiguous()          # (T, F)
    if config.normalize == "utterance":
        feats = (feats - feats.mean(dim=0)) / (feats.std(dim=0) + 1e-5)
    return feats


def warp_frequency(feats: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Stretch each utterance's feature axis by its factor (vocal-tract-length perturbation).

    Bin ``k`` of the output reads the input at ``k / factor`` (linear interpolation, clamped to
    the top bin): a factor above 1 moves spectral content up, like a shorter vocal tract.

    Args:
        feats: ``(B, T, F)`` features.
        factors: ``(B,)`` positive warp factors (1 leaves an utterance unchanged).

    Returns:
        ``(B, T, F)`` warped features.
    """
    if feats.dim() != 3 or factors.shape != feats.shape[:1]:
        raise ValueError(f"expected (B, T, F) features and (B,) factors, got {tuple(feats.shape)} and "
                         f"{tuple(factors.shape)}")
    if not bool((factors > 0).all()):
        raise ValueError("warp factors must be positive")
    bins = feats.shape[-1]
    source = (torch.arange(bins, device=feats.device, dtype=feats.dtype)[None, :] / factors[:, None].to(feats.dtype))
    source = source.clamp(0, bins - 1)  # (B, F)
    low = source.floor().long()
    high = (low + 1).clamp(max=bins - 1)
    weight = (source - low.to(feats.dtype))[:, None, :]
    index = lambda i: i[:, None, :].expand(-1, feats.shape[1], -1)  # noqa: E731 - (B, F) -> (B, T, F)
    return feats.gather(2, index(low)) * (1 - weight) + feats.gather(2, index(high)) * weight


class SpecAugment(torch.nn.Module):
    """Frequency and time masking on a padded batch, within each utterance's length.

    Masks are drawn from a ``torch.Generator`` so a seeded run is reproducible; masked values are
    set to 0 (the mean of normalised features).
    """

    def __init__(self, config: SpecAugmentConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, T, F)`` features -> masked copy, same shape. Identity in eval mode."""
        if not self.training:
            return feats
        cfg = self.config
        if cfg.freq_warp > 0:
            factors = 1.0 + cfg.freq_warp * (2.0 * torch.rand(feats.shape[0], generator=generator) - 1.0)
            feats = warp_frequency(feats, factors.to(feats.device))
        b, t, f = feats.shape
        keep = torch.ones_like(feats, dtype=torch.bool)
        frame = torch.arange(t, device=feats.device)
        freq = torch.arange(f, device=feats.device)
        for _ in range(cfg.freq_masks):
            width = torch.randint(0, cfg.freq_width + 1, (b,), generator=generator).to(feats.device)
            start = (torch.rand(b, generator=generator).to(feats.device) * (f - width)).long()
            masked = (freq[None, :] >= start[:, None]) & (freq[None, :] < (start + width)[:, None])
            keep &= ~masked[:, None, :]
        for _ in range(cfg.time_masks):
            limit = torch.clamp((lengths.float() * cfg.max_time_fraction).long(), max=cfg.time_width).to(feats.device)
            width = (torch.rand(b, generator=generator).to(feats.device) * (limit + 1).float()).long()
            start = (torch.rand(b, generator=generator).to(feats.device) * (lengths.to(feats.device) - width).clamp(min=0).float()).long()
            masked = (frame[None, :] >= start[:, None]) & (frame[None, :] < (start + width)[:, None])
            keep &= ~masked[:, :, None]
        return feats * keep


class FeatureCache:
    """Log-mel features on disk, keyed by the audio file (path, size, mtime) and the settings.

    Files are ``<root>/<settings hash>/<key[:2]>/<key>.npy`` (float32); a change of settings or a
    rewritten audio file gives a new key, so stale features are never used. A cache that cannot
    be written (a read-only ``ASRLAB_DATA``) is an optimisation lost, not an error: one warning,
    and features are computed without it.
    """

    def __init__(self, root: str | os.PathLike, config: FeatureConfig) -> None:
        self.config = config
        settings = json.dumps(asdict(config), sort_keys=True)
        self.root = Path(root) / hashlib.sha1(settings.encode()).hexdigest()[:12]
        self.writable = True  # False after a failed write: the cache is an optimisation, not a need

    def _key(self, audio: str) -> Path:
        stat = os.stat(audio)
        ident = f"{os.path.abspath(audio)}|{stat.st_size}|{stat.st_mtime_ns}"
        digest = hashlib.sha1(ident.encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def get(self, audio: str) -> torch.Tensor:
        """``(T, F)`` float32 features of ``audio``, computed and stored on first use."""
        if not os.path.isfile(audio):
            load_audio(audio)  # raises the standard, explanatory AudioError
        path = self._key(audio)
        if path.is_file():
            try:
                return torch.from_numpy(np.load(path))
            except (ValueError, OSError, EOFError):
                with contextlib.suppress(OSError):  # a torn write: recompute below
                    path.unlink(missing_ok=True)
        feats = features_of_file(audio, self.config)
        if self.writable:
            try:
                with atomic_write(path) as tmp:
                    np.save(tmp, feats.numpy())
            except OSError as exc:  # a read-only ASRLAB_DATA, a full disk, a file in the way
                self.writable = False
                warnings.warn(f"the feature cache {self.root} cannot be written ({exc}); computing features "
                              "without it (slower). Point ASRLAB_DATA at a writable folder to cache them.",
                              stacklevel=2)
        return feats


def features_of_file(audio: str, config: FeatureConfig) -> torch.Tensor:
    """``(T, F)`` features of an audio file; errors name the file."""
    try:
        return log_mel(load_audio(audio, config.sample_rate), config)
    except AudioError as exc:
        if str(audio) in str(exc):
            raise
        raise AudioError(f"{audio}: {exc}") from exc


def compute_features(audio: str, config: FeatureConfig, cache: FeatureCache | None = None) -> torch.Tensor:
    """``(T, F)`` features of an audio file, through ``cache`` when given."""
    if cache is not None:
        return cache.get(audio)
    return features_of_file(audio, config)

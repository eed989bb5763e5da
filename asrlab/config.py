"""Settings as dataclasses: features, model, data loading and training.

Every dataclass converts to and from a plain dict (``asdict`` / ``from_dict``) so it can be
stored in checkpoints that load with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys with a clear message."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings {unknown}; known: {sorted(names)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    if cls.__name__ == "TrainConfig" and isinstance(values.get("specaugment"), dict):
        values["specaugment"] = SpecAugmentConfig(**values["specaugment"])
    return cls(**values)


@dataclass(frozen=True)
class FeatureConfig:
    """Model input features.

    Attributes:
        kind: ``"logmel"`` (asrlab's log-mel), ``"whisper"`` (Whisper's log10-mel scaling,
            80 or 128 bins) or ``"waveform"`` (raw samples as ``(T, 1)``, for wav2vec2-style models).
        sample_rate: audio rate in Hz.
        n_mels: mel bins F.
        win_ms: analysis window in ms.
        hop_ms: frame shift in ms (10 ms gives 100 frames/s).
        f_min, f_max: mel filterbank edges in Hz.
        normalize: ``"utterance"`` (per-utterance mean/variance per bin) or ``"none"``.
    """

    kind: Literal["logmel", "whisper", "waveform"] = "logmel"
    sample_rate: int = 16_000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    f_min: float = 20.0
    f_max: float = 7600.0
    normalize: Literal["utterance", "none"] = "utterance"

    @property
    def frames_per_second(self) -> float:
        """Input frames per second of audio (samples per second for ``"waveform"``)."""
        if self.kind == "waveform":
            return float(self.sample_rate)
        return 1000.0 / self.hop_ms


@dataclass(frozen=True)
class SpecAugmentConfig:
    """SpecAugment masks applied to training batches (0 disables a kind).

    ``freq_warp`` adds vocal-tract-length perturbation on the features (Jaitly and Hinton 2013):
    each utterance's mel axis is stretched by a factor drawn from ``[1 - freq_warp, 1 + freq_warp]``,
    which makes one voice sound like a longer or shorter vocal tract (0 disables it).
    """

    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: int = 40
    max_time_fraction: float = 0.2
    freq_warp: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    """A CTC model: asrlab's small models, or a pretrained encoder with a new CTC head.

    Attributes:
        arch: ``"ds2"`` (conv + BiGRU), ``"conformer"``, ``"whisper"`` (Whisper encoder + CTC
            head) or ``"ssl"`` (a torchaudio wav2vec2/HuBERT/WavLM encoder + CTC head).
        n_mels: input feature bins (must match the FeatureConfig).
        vocab_size: CTC outputs including the blank.
        hidden: GRU units per direction (ds2) or model dimension (conformer).
        num_layers: recurrent or Conformer layers.
        conv_channels: front-end convolution channels.
        dropout: dropout probability.
        num_heads, ffn_dim, kernel_size: Conformer settings.
        options: architecture-specific settings of the pretrained wrappers (e.g. Whisper's
            dimensions, the torchaudio factory and its arguments); plain JSON values.
    """

    arch: Literal["ds2", "conformer", "whisper", "ssl"] = "ds2"
    n_mels: int = 80
    vocab_size: int = 29
    hidden: int = 256
    num_layers: int = 3
    conv_channels: int = 32
    dropout: float = 0.1
    num_heads: int = 4
    ffn_dim: int = 576
    kernel_size: int = 15
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def smoke(self) -> "ModelConfig":
        """A much smaller variant for smoke runs."""
        return replace(self, hidden=64 if self.arch == "ds2" else 64, num_layers=2, conv_channels=8, ffn_dim=128)


@dataclass(frozen=True)
class DataConfig:
    """Batching.

    Attributes:
        max_seconds: padded audio seconds per batch (batch size times the longest utterance).
        max_batch_size: utterances per batch at most.
        num_buckets: length buckets for bucketing (1 disables bucketing).
        num_workers: DataLoader worker processes.
        on_bad: ``"error"`` stops at the first bad utterance; ``"skip"`` leaves it out, counted
            and logged.
    """

    max_seconds: float = 200.0
    max_batch_size: int = 64
    num_buckets: int = 20
    num_workers: int = 1
    on_bad: Literal["error", "skip"] = "error"


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Attributes:
        epochs: passes over the training data.
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up steps (0 for none).
        scheduler: ``"onecycle"``-like warm-up then cosine decay, ``"constant"``, or ``"cosine"``.
        grad_accum: batches per optimiser step.
        grad_clip: max gradient norm (0 disables).
        amp: mixed precision on CUDA (ignored on CPU).
        seed: random seed.
        eval_every: dev evaluation every N optimiser steps (0: once per epoch).
        checkpoint_every: checkpoint every N optimiser steps (0: once per epoch).
        early_stop_patience: dev evaluations without improvement before stopping (0 disables).
        max_steps: stop after this many optimiser steps (0: no limit).
        specaugment: masks for training batches, or None.
        device: ``"cuda"``, ``"mps"``, ``"cpu"`` or None for automatic.
    """

    epochs: int = 10
    lr: float = 2e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 200
    scheduler: Literal["cosine", "constant"] = "cosine"
    grad_accum: int = 1
    grad_clip: float = 5.0
    amp: bool = True
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    early_stop_patience: int = 0
    max_steps: int = 0
    specaugment: SpecAugmentConfig | None = field(default_factory=SpecAugmentConfig)
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

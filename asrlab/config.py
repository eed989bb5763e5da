"""Settings as dataclasses: features, model, data loading, training, fine-tuning regimes, domain
alignment and probes, with the presets of every run in one place.

Every dataclass converts to and from a plain dict (``asdict`` / ``from_dict``) so it can be
stored in checkpoints that load with ``torch.load(..., weights_only=True)``. The allowed values
of settings (:data:`CORPUS_SIZES`, :data:`REGIMES`, :data:`ALIGNMENT_METHODS`, :data:`POOLINGS`...)
live here too, so that the command line offers the choices the library accepts without importing
torch: importing this module imports neither torch nor any other asrlab module.
"""
from __future__ import annotations

import math
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
class LoaderConfig:
    """How a DataLoader reads a dataset: batching, worker processes, and what to do with a bad utterance.

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
        checkpoint_every: also checkpoint every N optimiser steps (0: none but those by time and epoch).
        checkpoint_seconds: also checkpoint when this many seconds have passed since the last
            checkpoint (0: never by time). With the checkpoint at every epoch's end, a killed run
            loses at most one epoch or this many seconds of work, whichever is less.
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
    checkpoint_seconds: float = 60.0
    early_stop_patience: int = 0
    max_steps: int = 0
    specaugment: SpecAugmentConfig | None = field(default_factory=SpecAugmentConfig)
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- corpus and course sizes
#: Corpus sizes, smallest first: smoke for CI, lab for a learner (built in minutes), full for the
#: README (:data:`asrlab.corpus.domains.SIZE_NAMES`); a notebook runs at one of them.
CORPUS_SIZES: tuple[str, ...] = ("smoke", "lab", "full")


# --------------------------------------------------------------------------- fine-tuning regimes
Regime = Literal["scratch", "head", "top-k", "full", "layerwise", "l2sp", "head-then-full", "adapter", "lora"]
#: The fine-tuning regimes of :mod:`asrlab.finetune`, in the order the course compares them; the
#: parameter-efficient ones (``adapter``, ``lora``) last.
REGIMES: tuple[str, ...] = ("scratch", "head", "top-k", "full", "layerwise", "l2sp", "head-then-full", "adapter", "lora")


@dataclass(frozen=True)
class RegimeConfig:
    """One fine-tuning regime and its settings (see :mod:`asrlab.finetune`).

    Each regime reads only its own setting (``top_k`` for ``"top-k"``, ``layer_decay`` for
    ``"layerwise"``, ``l2sp_alpha`` for ``"l2sp"``, ``head_share`` for ``"head-then-full"``,
    ``bottleneck`` for ``"adapter"``, ``rank`` for ``"lora"``, ``train_head`` for both) and ignores
    the others, so one object can carry the settings of a whole comparison.

    Attributes:
        name: one of :data:`REGIMES`.
        top_k: encoder blocks that train in ``"top-k"`` (0: the head only); at most the model's
            number of blocks, which :func:`asrlab.train.train_top_k` checks.
        layer_decay: ``"layerwise"``: the learning rate shrinks by this factor per block below
            the head (values above 1 would make lower blocks learn faster).
        l2sp_alpha: ``"l2sp"``: strength of the pull of the encoder towards its pretrained weights.
        head_share: ``"head-then-full"``: the share of the epochs (and of ``max_steps``, if set)
            in which only the head trains before everything does; at least one epoch goes to
            each stage.
        bottleneck: ``"adapter"``: the inner size of the bottleneck adapter after each encoder layer.
        rank: ``"lora"``: the rank of the low-rank change to each GRU and linear weight matrix.
        train_head: ``"adapter"`` and ``"lora"``: the output layer trains too (it always does when
            the base's head is untrained, as ``whisper-tiny.en-ctc``'s is).

    Raises:
        ValueError: an unknown regime, or a setting out of its range.
    """

    name: Regime = "full"
    top_k: int = 2
    layer_decay: float = 0.5
    l2sp_alpha: float = 1e-2
    head_share: float = 0.25
    bottleneck: int = 64
    rank: int = 8
    train_head: bool = False

    def __post_init__(self) -> None:
        if self.name not in REGIMES:
            raise ValueError(f"unknown regime {self.name!r}; choose one of {', '.join(REGIMES)}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"top_k (blocks that train in top-k) must be an integer >= 0, got {self.top_k!r}")
        if not math.isfinite(self.layer_decay) or self.layer_decay < 0:
            raise ValueError(f"layer_decay must be a finite number >= 0, got {self.layer_decay}")
        if not math.isfinite(self.l2sp_alpha) or self.l2sp_alpha < 0:
            raise ValueError(f"l2sp_alpha must be a finite number >= 0, got {self.l2sp_alpha}")
        if not 0.0 < self.head_share < 1.0:
            raise ValueError(f"head_share (share of the epochs that train the head only) must lie strictly "
                             f"between 0 and 1, got {self.head_share}")
        for name in ("bottleneck", "rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def regime_config(regime: str | RegimeConfig, *, top_k: int | None = None, layer_decay: float | None = None,
                  l2sp_alpha: float | None = None, head_share: float | None = None, bottleneck: int | None = None,
                  rank: int | None = None, train_head: bool | None = None) -> RegimeConfig:
    """``regime`` as a :class:`RegimeConfig`; the settings given here (not None) replace its own.

    A name gets the default settings. This is how functions that also take the settings as
    keywords (``finetune(..., k=1)``, ``compare_regimes(..., l2sp_alpha=1.0)``) build their config.
    """
    config = regime if isinstance(regime, RegimeConfig) else RegimeConfig(regime)  # type: ignore[arg-type]
    given = {k: v for k, v in {"top_k": top_k, "layer_decay": layer_decay, "l2sp_alpha": l2sp_alpha,
                               "head_share": head_share, "bottleneck": bottleneck, "rank": rank,
                               "train_head": train_head}.items() if v is not None}
    return replace(config, **given) if given else config


NewRows = Literal["random", "base_letter"]
#: How the output rows of letters a pretrained model's vocabulary lacks start, when it is moved onto
#: a new alphabet (:func:`asrlab.models.vocabulary.replace_vocabulary`).
NEW_ROWS: tuple[str, ...] = ("random", "base_letter")


@dataclass(frozen=True)
class AuxiliaryConfig:
    """Multi-task fine-tuning: an utterance-level class predicted from the shared encoder
    (:mod:`asrlab.multitask`), with the loss ``CTC + weight * cross-entropy``.

    Attributes:
        label: what to predict, a manifest field: ``"speaker"``, ``"domain"``, ``"accent"`` (the
            line's ``accent`` key, else its voice's accent, else the accent in an espeak speaker
            label) or any other key of the manifest lines.
        weight: mu, the weight of the cross-entropy (0: the head is trained but the loss adds
            exactly nothing, so the model trains as without it).
        lr: the auxiliary head's peak learning rate (None: the model's). The head starts from
            random weights beside a pretrained encoder, and in a short run it needs a larger one.
    """

    label: str = "speaker"
    weight: float = 0.1
    lr: float | None = None

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("label must name a manifest field, e.g. 'speaker' or 'accent'")
        if not math.isfinite(self.weight) or self.weight < 0:
            raise ValueError(f"weight (mu) must be a finite number >= 0, got {self.weight}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr of the auxiliary head must be a finite number > 0 or None, got {self.lr}")


@dataclass(frozen=True)
class ReplayConfig:
    """Source replay against forgetting (:mod:`asrlab.replay`): ``CTC_target + weight * CTC_source``.

    Attributes:
        weight: rho, the weight of the CTC loss on source speech.
        batch_size: source utterances per training step.
    """

    weight: float = 0.5
    batch_size: int = 8

    def __post_init__(self) -> None:
        if not math.isfinite(self.weight) or self.weight < 0:
            raise ValueError(f"weight (rho) must be a finite number >= 0, got {self.weight}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")


# --------------------------------------------------------------------------- domain alignment
AlignmentMethod = Literal["mmd", "coral", "dann"]
#: The unsupervised alignment methods of :mod:`asrlab.adapt`.
ALIGNMENT_METHODS: tuple[str, ...] = ("mmd", "coral", "dann")
Pooling = Literal["frames", "utterance"]
#: What a domain loss compares: every valid frame, or one mean per utterance.
POOLINGS: tuple[str, ...] = ("frames", "utterance")
#: Schedules of DANN's gradient-reversal coefficient.
DANN_SCHEDULES: tuple[str, ...] = ("ramp", "constant")
#: Kernel widths relative to the median heuristic (a factor of 16 from the narrowest to the widest).
#: Functions take it as the default of their ``multipliers`` argument when they are defined, so
#: assigning another tuple here later changes nothing: pass ``multipliers=`` instead
#: (:func:`asrlab.adapt.losses.gaussian_mmd`, ``AlignmentConfig(multipliers=...)``,
#: ``toy.train_toy(..., multipliers=...)``).
DEFAULT_MULTIPLIERS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Label-free model-selection rule of :mod:`asrlab.adapt.selection` -> the score it minimises.
SELECTION_RULES: dict[str, str] = {"source-dev": "source_dev_wer", "entropy": "target_entropy", "iw": "iw_risk"}


@dataclass(frozen=True)
class AlignmentConfig:
    """What to align and how hard.

    Attributes:
        method: ``"mmd"`` (multi-kernel Gaussian MMD), ``"coral"`` (deep CORAL) or ``"dann"``
            (a domain discriminator behind gradient reversal).
        weight: lambda in ``CTC + lambda * alignment``.
        layer: which entry of ``EncoderOutput.layers`` to align (input projection first);
            -1 is the last encoder layer, the one the CTC head reads.
        pooling: ``"frames"`` aligns valid frames, ``"utterance"`` aligns utterance means.
        schedule: DANN's reversal coefficient: ``"ramp"`` (``2 / (1 + exp(-gamma p)) - 1`` over
            training progress p) or ``"constant"`` (1).
        gamma: steepness of the ramp.
        max_frames: MMD compares at most this many random rows per domain and step (its cost
            grows with the square of the rows).
        multipliers: MMD kernel widths relative to the median heuristic.
        unbiased: the unbiased MMD estimator instead of the biased one.
        disc_hidden, disc_layers, disc_dropout: the discriminator MLP.
        monitor: for MMD and CORAL, also train a discriminator on detached features (it never
            changes the encoder) to log how separable the domains are.
    """

    method: AlignmentMethod = "mmd"
    weight: float = 1.0
    layer: int = -1
    pooling: Pooling = "frames"
    schedule: Literal["ramp", "constant"] = "ramp"
    gamma: float = 10.0
    max_frames: int = 512
    multipliers: tuple[float, ...] = DEFAULT_MULTIPLIERS
    unbiased: bool = False
    disc_hidden: int = 256
    disc_layers: int = 2
    disc_dropout: float = 0.1
    monitor: bool = True

    def __post_init__(self) -> None:
        if self.method not in ALIGNMENT_METHODS:
            raise ValueError(f"unknown method {self.method!r}; use one of {', '.join(ALIGNMENT_METHODS)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; use one of {', '.join(POOLINGS)}")
        if self.schedule not in DANN_SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; use one of {', '.join(DANN_SCHEDULES)}")
        if not math.isfinite(self.weight) or self.weight < 0:
            raise ValueError(f"weight (lambda) must be a finite number >= 0, got {self.weight}")
        if self.max_frames < 2:
            raise ValueError(f"max_frames must be at least 2, got {self.max_frames}")
        if not self.multipliers or any(m <= 0 for m in self.multipliers):
            raise ValueError(f"multipliers must be positive, got {self.multipliers}")

    def coefficient(self, progress: float) -> float:
        """The gradient-reversal coefficient at ``progress`` (fraction of training done)."""
        from asrlab.adapt.grl import dann_coefficient  # the schedule's one definition (imports torch)

        return dann_coefficient(progress, self.gamma) if self.schedule == "ramp" else 1.0

    def smoke(self) -> "AlignmentConfig":
        """A cheaper variant for smoke runs: fewer MMD rows and a smaller discriminator."""
        return replace(self, max_frames=min(self.max_frames, 128), disc_hidden=min(self.disc_hidden, 32))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists), for checkpoints and JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# --------------------------------------------------------------------------- probes
@dataclass(frozen=True)
class ProbeConfig:
    """Training of a head on cached features (:func:`asrlab.course.feature_extraction.train_probe`).

    Attributes:
        epochs: passes over the training utterances.
        lr: peak AdamW learning rate (cosine decay to 5% of it).
        weight_decay: AdamW weight decay.
        max_frames: padded frames per batch (batch size times the longest utterance).
        grad_clip: largest gradient norm (0 disables).
        mix_lr_scale: the layer-mixing weights (parameters named ``mix.*``) learn this many
            times faster than the head, so that they can move far from uniform in a short run.
        seed: batch order.
    """

    epochs: int = 20
    lr: float = 3e-3
    weight_decay: float = 1e-4
    max_frames: int = 4000
    grad_clip: float = 5.0
    mix_lr_scale: float = 10.0
    seed: int = 0

    def smoke(self) -> "ProbeConfig":
        """A much shorter variant for smoke runs: two epochs in smaller batches."""
        return replace(self, epochs=min(self.epochs, 2), max_frames=min(self.max_frames, 1500))


# --------------------------------------------------------------------------- presets
#: Model, training and batching settings for the two sizes of a run of ``asrlab train``
#: (:func:`asrlab.recipes.train_recipe`).
TRAIN_PRESETS: dict[str, tuple[ModelConfig, TrainConfig, LoaderConfig]] = {
    "smoke": (ModelConfig().smoke(), TrainConfig(epochs=20, lr=3e-3, warmup_steps=10),
              LoaderConfig(max_seconds=120.0, num_workers=0)),
    "full": (ModelConfig(), TrainConfig(epochs=12, lr=2e-3, warmup_steps=300, checkpoint_every=200),
             LoaderConfig(max_seconds=240.0, num_workers=1)),
}


# --------------------------------------------------------------------------- deployment
#: File formats ``asrlab export`` writes (:func:`asrlab.deploy.export.export_model`).
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript")
#: Weight compressions of an export: ``"int8"`` (dynamic int8 quantisation) and ``"fp16"``
#: (ONNX only: weights stored as float16, computed in float32).
QUANTIZATIONS: tuple[str, ...] = ("none", "int8", "fp16")

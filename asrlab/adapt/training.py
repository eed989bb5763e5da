"""Training glue: an alignment loss for :func:`asrlab.train.fit` and adaptation runs (the search
over their settings is :mod:`asrlab.adapt.search`).

Each step, :func:`~asrlab.train.fit` runs the labelled source batch and an unlabelled target
batch through the model together and calls the hook built here, which returns
``lambda * alignment(source, target)``; the total is therefore
``CTC(source) + lambda * alignment(source, target)``. The history gets, per step, ``ctc`` and
``loss`` (from ``fit``), ``align`` (the alignment loss before ``lambda``), ``disc_acc`` and
``disc_loss`` (a domain discriminator: the adversary itself for DANN, a monitor on detached
features for MMD and CORAL) and ``grl_coef`` (DANN).
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from asrlab.adapt.diagnostics import domain_accuracy
from asrlab.adapt.discriminator import DomainDiscriminator, domain_inputs, encoder_layer
from asrlab.adapt.losses import coral, dann_loss, domain_bce, gaussian_mmd
from asrlab.config import AlignmentConfig, FeatureConfig, LoaderConfig, TrainConfig
from asrlab.datasets import SpeechDataset, model_dataset
from asrlab.errors import CheckpointError
from asrlab.files import save_json
from asrlab.manifest import read_manifests
from asrlab.models.base import CTCModel, EncoderOutput
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.resolve import resolve_ctc_model
from asrlab.train import CHECKPOINT_FILE, History, StepInfo, fit

#: Where a run folder records its alignment settings (a resumed run must have the same).
ALIGNMENT_FILE = "alignment.json"


# --------------------------------------------------------------------------- the extra loss
def subsample_rows(x: torch.Tensor, max_rows: int) -> torch.Tensor:
    """At most ``max_rows`` rows of ``(N, D)`` ``x``, drawn without replacement (torch's RNG)."""
    if x.shape[0] <= max_rows:
        return x
    return x[torch.randperm(x.shape[0], device=x.device)[:max_rows]]


class AlignmentLoss:
    """The :class:`~asrlab.train.ExtraLoss` of one :class:`AlignmentConfig`.

    It keeps no state of its own: the reversal coefficient comes from the step it is given, and
    the discriminator's weights are trained by ``fit`` (pass it as ``extra_modules``).

    Args:
        config: the alignment settings.
        discriminator: the adversary (DANN) or monitor (MMD, CORAL), or None.
    """

    def __init__(self, config: AlignmentConfig, discriminator: nn.Module | None = None) -> None:
        if config.method == "dann" and discriminator is None:
            raise ValueError("DANN needs a discriminator")
        self.config = config
        self.discriminator = discriminator

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]:
        """``(lambda * alignment, logs)`` for one step's source and target encoder outputs."""
        if target is None:
            raise ValueError("domain alignment needs target data: pass the target set as fit(extra_data=...)")
        cfg = self.config
        device = source.hidden.device
        with torch.autocast(device.type, enabled=False):
            rows_s = domain_inputs(encoder_layer(source, cfg.layer).float(), source.lengths, cfg.pooling)
            rows_t = domain_inputs(encoder_layer(target, cfg.layer).float(), target.lengths, cfg.pooling)
            logs: dict[str, float] = {}
            total = rows_s.sum() * 0.0           # keeps the graph when a step has nothing to align
            if cfg.method == "dann":
                coefficient = cfg.coefficient(info.progress)
                assert self.discriminator is not None
                adversarial = dann_loss(self.discriminator, rows_s, None, rows_t, None, coefficient)
                total = total + cfg.weight * adversarial.loss
                logs.update(align=float(adversarial.loss.detach()), disc_loss=float(adversarial.loss.detach()),
                            disc_acc=domain_accuracy(adversarial.source_logits, adversarial.target_logits),
                            grl_coef=coefficient)
                return total, logs
            a, b = subsample_rows(rows_s, cfg.max_frames), subsample_rows(rows_t, cfg.max_frames)
            needed = 2 if (cfg.method == "coral" or cfg.unbiased) else 1
            if a.shape[0] >= needed and b.shape[0] >= needed:
                align = (gaussian_mmd(a, b, multipliers=cfg.multipliers, unbiased=cfg.unbiased)
                         if cfg.method == "mmd" else coral(a, b))
                total = total + cfg.weight * align
                logs["align"] = float(align.detach())
            if self.discriminator is not None:
                s_logits = self.discriminator(rows_s.detach(), None)
                t_logits = self.discriminator(rows_t.detach(), None)
                probe = domain_bce(s_logits, t_logits)
                total = total + probe
                logs.update(disc_loss=float(probe.detach()), disc_acc=domain_accuracy(s_logits, t_logits))
        return total, logs


def build_alignment(config: AlignmentConfig, feature_dim: int) -> tuple[AlignmentLoss, nn.Module | None]:
    """The extra loss for ``fit`` and the modules it trains.

    Args:
        config: the alignment settings.
        feature_dim: size D of the aligned layer's frames (see :func:`layer_dim`).

    Returns:
        ``(extra_loss, extra_modules)``: pass both to :func:`asrlab.train.fit` together with the
        target data as ``extra_data``. ``extra_modules`` is the discriminator, or None.
    """
    discriminator = None
    if config.method == "dann" or config.monitor:
        discriminator = DomainDiscriminator(feature_dim, config.disc_hidden, config.disc_layers,
                                            config.disc_dropout, pooling=config.pooling)
    return AlignmentLoss(config, discriminator), discriminator


@torch.no_grad()
def probe_encoder(model: CTCModel, features: FeatureConfig, seconds: float = 1.0) -> EncoderOutput:
    """The encoder output for ``seconds`` of zero input (to read layer counts and sizes)."""
    device = next(model.parameters()).device
    frames = max(1, int(seconds * features.frames_per_second))
    dim = 1 if features.kind == "waveform" else features.n_mels
    was_training = model.training
    model.eval()
    try:
        _, _, out = model(torch.zeros(1, frames, dim, device=device), torch.tensor([frames], device=device),
                          return_encoder=True)
    finally:
        model.train(was_training)
    return out


def layer_dim(model: CTCModel, features: FeatureConfig, layer: int = -1) -> int:
    """Frame size D of encoder layer ``layer`` (-1: the last, ``model.encoder.output_dim``)."""
    if layer == -1:
        return int(model.encoder.output_dim)
    return int(encoder_layer(probe_encoder(model, features), layer).shape[-1])


# --------------------------------------------------------------------------- one adaptation run
@dataclass
class AdaptResult:
    """What an adaptation run produced.

    Attributes:
        model: the adapted model (a copy; the initial model is untouched).
        history: per step ``loss``, ``ctc``, ``align``, ``disc_acc``, ``disc_loss`` (and ``grl_coef``).
        config: the alignment settings.
        out_dir: where ``model.pt`` went, if anywhere.
        seconds: wall time.
    """

    model: CTCModel
    history: History
    config: AlignmentConfig
    out_dir: Path | None
    seconds: float


def adapt_model(init: CTCModel, source: SpeechDataset, target: SpeechDataset, config: AlignmentConfig,
                train_config: TrainConfig, *, dev: SpeechDataset | None = None,
                data: LoaderConfig = LoaderConfig(num_workers=0), out_dir: str | os.PathLike | None = None,
                progress: bool = False, meta: dict[str, Any] | None = None) -> AdaptResult:
    """Adapt a copy of ``init``: CTC on labelled ``source`` plus alignment with unlabelled ``target``.

    Args:
        init: the model to start from (left untouched; frozen parameters stay frozen).
        source: labelled source data.
        target: target data built with ``labelled=False`` (its text is never read).
        config: the alignment settings.
        train_config: optimisation settings for :func:`~asrlab.train.fit`.
        dev: optional labelled *source* dev data for ``fit``'s evaluations and best checkpoint.
        data: batching (source and target are batched separately with it).
        out_dir: where ``model.pt`` (loadable by ``asrlab eval --model out_dir``) and the resume
            checkpoint go.
        progress: show a progress bar.
        meta: extra metadata stored in ``model.pt``.
    """
    if target.labelled:
        raise ValueError("target data must be unlabelled (SpeechDataset(..., labelled=False)), so that "
                         "its transcripts can never reach training")
    started = time.perf_counter()
    if out_dir is not None:
        _claim_run_dir(Path(out_dir), config)
    model = copy.deepcopy(init)
    torch.manual_seed(train_config.seed)   # the discriminator's initial weights
    extra_loss, extra_modules = build_alignment(config, layer_dim(model, source.features, config.layer))
    history = fit(model, source, train_config, data=data, dev=dev, out_dir=out_dir, extra_loss=extra_loss,
                  extra_data=target, extra_modules=extra_modules, progress=progress,
                  meta={"adaptation": config.to_dict(), **(meta or {})})
    return AdaptResult(model, history, config, Path(out_dir) if out_dir is not None else None,
                       time.perf_counter() - started)


def _claim_run_dir(out: Path, config: AlignmentConfig) -> None:
    """Record ``config`` in ``out``; refuse to resume a run that aligned with other settings
    (``fit`` only compares the training settings)."""
    record = out / ALIGNMENT_FILE
    if (out / CHECKPOINT_FILE).is_file() and record.is_file() and json.loads(record.read_text()) != config.to_dict():
        raise CheckpointError(f"{out} holds a run adapted with other alignment settings ({record}); "
                              "use another output folder or delete it to start over")
    save_json(record, config.to_dict())


def load_init(init: str | os.PathLike | LoadedModel) -> LoadedModel:
    """The model to adapt: a model file, run folder, pretrained name or loaded model, with a CTC head
    (a model with its own decoder is refused with a pointer to its CTC variant)."""
    return resolve_ctc_model(init, "adapt its CTC variant (e.g. whisper-tiny.en-ctc)")


def adapt(init_model_path: str | os.PathLike | LoadedModel, source_manifests: Sequence[str | os.PathLike],
          target_manifests: Sequence[str | os.PathLike], config: AlignmentConfig, train_config: TrainConfig,
          out_dir: str | os.PathLike, *, source_dev: Sequence[str | os.PathLike] | None = None,
          data: LoaderConfig = LoaderConfig(num_workers=0), progress: bool = False) -> AdaptResult:
    """Adapt a model file, run folder or pretrained name from source to target manifests.

    The target manifests are read without their text (any text, even empty or outside the
    vocabulary, is fine). The result goes to ``out_dir/model.pt``.

    Args:
        init_model_path: what :func:`asrlab.models.resolve.resolve_model` accepts (or a loaded model).
        source_manifests: labelled source data.
        target_manifests: target data; only the audio is used.
        config: the alignment settings.
        train_config: optimisation settings.
        out_dir: the run folder.
        source_dev: optional labelled source dev manifests for ``fit``'s best checkpoint.
        data: batching.
        progress: show a progress bar.
    """
    loaded = load_init(init_model_path)
    source = model_dataset(read_manifests(source_manifests), loaded, on_bad=data.on_bad)
    target = model_dataset(read_manifests(target_manifests), loaded, labelled=False, on_bad=data.on_bad)
    dev = model_dataset(read_manifests(source_dev), loaded, on_bad=data.on_bad) if source_dev else None
    meta = {"init": str(init_model_path) if not isinstance(init_model_path, LoadedModel) else loaded.meta.get("name"),
            "source_manifests": [str(p) for p in source_manifests],
            "target_manifests": [str(p) for p in target_manifests]}
    return adapt_model(loaded.model, source, target, config, train_config, dev=dev, data=data, out_dir=out_dir,
                       progress=progress, meta=meta)


__all__ = ["ALIGNMENT_FILE", "AdaptResult", "AlignmentConfig", "AlignmentLoss", "adapt", "adapt_model",
           "build_alignment", "layer_dim", "load_init", "probe_encoder", "subsample_rows"]

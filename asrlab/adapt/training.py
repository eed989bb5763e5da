"""Training glue: an alignment loss for :func:`asrlab.train.fit`, adaptation runs, and a small
search over the alignment weight and layer with label-free model selection.

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
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from asrlab.adapt.diagnostics import domain_accuracy
from asrlab.adapt.discriminator import DomainDiscriminator, domain_inputs, encoder_layer
from asrlab.adapt.losses import coral, dann_loss, domain_bce, gaussian_mmd
from asrlab.adapt.selection import RULES, Candidate, score_model, select
from asrlab.config import (ALIGNMENT_METHODS, AlignmentConfig, AlignmentMethod, LoaderConfig,
                           FeatureConfig, TrainConfig)
from asrlab.datasets import SpeechDataset, model_dataset
from asrlab.errors import CheckpointError
from asrlab.files import finite_json, save_json
from asrlab.manifest import Utterance, read_manifests
from asrlab.models.base import CTCModel, EncoderOutput
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.resolve import resolve_ctc_model
from asrlab.train import CHECKPOINT_FILE, History, StepInfo, fit
from asrlab.utils import pick_device

#: Weights tried when none is given. The losses live on very different scales: between the source
#: and the noisy or telephone domains, asrlab-source's encoder frames give an MMD of ~1e-2 and a
#: CORAL loss of ~5e-4, while the domain cross-entropy starts near 0.7 and CTC near 1.
DEFAULT_WEIGHTS: dict[str, tuple[float, ...]] = {"mmd": (1.0, 10.0), "coral": (100.0, 1000.0), "dann": (0.1, 1.0)}
#: Layers tried when none is given: the last encoder layer and the one below it.
DEFAULT_LAYERS: tuple[int, ...] = (-1, -2)
ADAPT_FILE = "adapt.json"
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


def _load(init: str | os.PathLike | LoadedModel) -> LoadedModel:
    return resolve_ctc_model(init, "adapt its CTC variant (e.g. whisper-tiny.en-ctc)")


def _dataset(utterances: Sequence[Utterance], loaded: LoadedModel, labelled: bool, on_bad: str) -> SpeechDataset:
    return model_dataset(utterances, loaded, labelled=labelled, on_bad=on_bad)  # type: ignore[arg-type]


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
    loaded = _load(init_model_path)
    source = _dataset(read_manifests(source_manifests), loaded, True, data.on_bad)
    target = _dataset(read_manifests(target_manifests), loaded, False, data.on_bad)
    dev = _dataset(read_manifests(source_dev), loaded, True, data.on_bad) if source_dev else None
    meta = {"init": str(init_model_path) if not isinstance(init_model_path, LoadedModel) else loaded.meta.get("name"),
            "source_manifests": [str(p) for p in source_manifests],
            "target_manifests": [str(p) for p in target_manifests]}
    return adapt_model(loaded.model, source, target, config, train_config, dev=dev, data=data, out_dir=out_dir,
                       progress=progress, meta=meta)


# --------------------------------------------------------------------------- search and selection
def holdout_split(utterances: Sequence[Utterance], every: int = 10) -> tuple[list[Utterance], list[Utterance]]:
    """Every ``every``-th utterance as a dev set: ``(train, dev)``, deterministic.

    The dev set gets at least two utterances (one with 2 or 3 in all; a domain classifier for
    importance weighting needs two), taken from the end when the stride gives fewer.
    """
    n = len(utterances)
    if n < 2:
        raise ValueError("need at least two source utterances to hold one out as dev data")
    dev_index = set(range(every - 1, n, every))
    for i in range(n - 1, -1, -1):
        if len(dev_index) >= min(2, n - 2 if n > 3 else 1):
            break
        dev_index.add(i)
    return ([u for i, u in enumerate(utterances) if i not in dev_index],
            [u for i, u in enumerate(utterances) if i in dev_index])


def resolve_layers(layers: Sequence[int], num_layers: int) -> list[int]:
    """Layer indices as negative offsets (-1 is the last), duplicates removed, order kept."""
    out: list[int] = []
    for layer in layers:
        if not -num_layers <= layer < num_layers:
            raise ValueError(f"layer {layer} does not exist: the encoder gives {num_layers} layers "
                             f"(indices {-num_layers}..{num_layers - 1})")
        canonical = layer - num_layers if layer >= 0 else layer
        if canonical not in out:
            out.append(canonical)
    return out


@dataclass
class SearchResult:
    """What :func:`adapt_search` did.

    Attributes:
        chosen: the selected candidate (its model is also ``out_dir/model.pt``).
        candidates: every trained candidate with its scores.
        reference: the initial model's scores, for comparison (never selectable).
        rule: the selection rule.
        out_dir: the run folder (``model.pt``, ``adapt.json``, ``candidates/``).
        seconds: wall time.
    """

    chosen: Candidate
    candidates: list[Candidate]
    reference: Candidate
    rule: str
    out_dir: Path
    seconds: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)


def adapt_search(init: str | os.PathLike | LoadedModel, source_manifests: Sequence[str | os.PathLike],
                 target_manifests: Sequence[str | os.PathLike], method: AlignmentMethod, out_dir: str | os.PathLike, *,
                 weights: Sequence[float] | None = None, layers: Sequence[int] | None = None,
                 rule: str = "source-dev", source_dev: Sequence[str | os.PathLike] | None = None,
                 train_config: TrainConfig = TrainConfig(epochs=5, lr=1e-3, warmup_steps=50),
                 base: AlignmentConfig = AlignmentConfig(), data: LoaderConfig = LoaderConfig(num_workers=0),
                 progress: bool = False) -> SearchResult:
    """``asrlab adapt``: adapt with each (weight, layer) of a small grid and keep the best by ``rule``.

    No target label is read at any point: the target manifests give audio only, and the rule
    (see :mod:`asrlab.adapt.selection`) uses source dev labels, target posteriors or both. With
    one weight and one layer the grid has a single candidate, trained straight into ``out_dir``.

    Args:
        init: model file, run folder, pretrained name, or a loaded model.
        source_manifests: labelled source data.
        target_manifests: unlabelled target data (for training and for the label-free scores).
        method: ``"mmd"``, ``"coral"`` or ``"dann"``.
        out_dir: gets ``model.pt`` (the chosen model), ``adapt.json`` (grid, scores, choice) and,
            for a grid, ``candidates/<name>/``.
        weights: lambdas to try; default :data:`DEFAULT_WEIGHTS` of the method.
        layers: layers to try; default :data:`DEFAULT_LAYERS`.
        rule: ``"source-dev"``, ``"entropy"`` or ``"iw"``.
        source_dev: labelled source dev manifests; default: every 10th source utterance is held out.
        train_config: optimisation settings of every candidate.
        base: the other alignment settings (pooling, schedule...).
        data: batching.
        progress: show progress bars.
    """
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; use one of {', '.join(RULES)}")
    if method not in ALIGNMENT_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(ALIGNMENT_METHODS)}")
    started = time.perf_counter()
    out = Path(out_dir)
    loaded = _load(init)
    source_utts = read_manifests(source_manifests)
    if source_dev:
        dev_utts, dev_note = read_manifests(source_dev), [str(p) for p in source_dev]
    else:
        source_utts, dev_utts = holdout_split(source_utts)
        dev_note = f"every 10th source utterance held out ({len(dev_utts)} of {len(source_utts) + len(dev_utts)})"
    source = _dataset(source_utts, loaded, True, data.on_bad)
    dev = _dataset(dev_utts, loaded, True, data.on_bad)
    target = _dataset(read_manifests(target_manifests), loaded, False, data.on_bad)

    num_layers = len(probe_encoder(loaded.model, loaded.features).layers)
    grid = [(float(w), l) for w in (weights if weights else DEFAULT_WEIGHTS[method])
            for l in resolve_layers(layers if layers else DEFAULT_LAYERS, num_layers)]
    device = pick_device(train_config.device)
    score_data = replace(data, num_workers=0)
    loaded.model.to(device)
    reference = Candidate("init", {"weight": 0.0}, score_model(loaded.model, dev, target, score_data, device))
    meta = {"init": str(init) if not isinstance(init, LoadedModel) else loaded.meta.get("name"),
            "source_manifests": [str(p) for p in source_manifests],
            "target_manifests": [str(p) for p in target_manifests]}
    candidates = []
    for weight, layer in grid:
        name = f"lambda={weight:g},layer={layer}"
        run_dir = out if len(grid) == 1 else out / "candidates" / name
        config = replace(base, method=method, weight=weight, layer=layer)
        result = adapt_model(loaded.model, source, target, config, train_config, data=data, out_dir=run_dir,
                             progress=progress, meta=meta)
        scores = score_model(result.model, dev, target, score_data, device)
        last = result.history.steps[-1] if result.history.steps else {}
        scores.update({f"final_{k}": float(last[k]) for k in ("ctc", "align", "disc_acc") if k in last})
        candidates.append(Candidate(name, {"weight": weight, "layer": layer}, scores, run_dir / "model.pt"))
        del result
    chosen = select(candidates, rule)
    if len(grid) > 1:
        shutil.copyfile(chosen.path, out / "model.pt")  # type: ignore[arg-type]
    record = {"method": method, "rule": rule, "score": RULES[rule], "uses_target_labels": False,
              "grid": {"weights": sorted({w for w, _ in grid}), "layers": list(dict.fromkeys(l for _, l in grid))},
              "chosen": chosen.to_dict(), "candidates": [c.to_dict() for c in candidates],
              "reference": reference.to_dict(), "source_dev": dev_note, "alignment": base.to_dict(),
              "train_config": asdict(train_config), **meta}
    save_json(out / ADAPT_FILE, finite_json(record))
    return SearchResult(chosen, candidates, reference, rule, out, time.perf_counter() - started, record)


__all__ = ["ADAPT_FILE", "ALIGNMENT_FILE", "DEFAULT_LAYERS", "DEFAULT_WEIGHTS", "AdaptResult",
           "AlignmentConfig", "AlignmentLoss", "SearchResult", "adapt", "adapt_model", "adapt_search",
           "build_alignment", "holdout_split", "layer_dim", "probe_encoder", "resolve_layers", "subsample_rows"]

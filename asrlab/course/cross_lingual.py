"""Experiments of notebook 08: an English recogniser moved to a new language, and multi-task learning.

Cross-lingual transfer (sections 1-4 of the notebook):

* :func:`language_splits`: a target language's corpus (Spanish, German: built on demand by
  :func:`~asrlab.corpus.build.ensure_language_domain`) as datasets over that language's alphabet;
* :func:`english_reads`: what the English model, output layer unchanged, makes of the new language;
* :func:`compare_transfer`: regimes on the same labelled minutes and audio budget, with the new
  output layer's shared rows copied or not;
* :func:`transfer_curve`: target WER against labelled minutes, from scratch and transferred;
* :func:`layer_transfer`: a linear CTC probe per layer of a frozen encoder, English-trained and
  untrained, on the new language: which layers carry over.

Multi-task learning (section 5), on an English target domain:

* :func:`multitask_rows`: ``CTC + mu * CE`` with an accent (or speaker) classifier on the shared
  encoder, against plain fine-tuning;
* :func:`forgetting_rows`: plain fine-tuning, L2-SP and source replay side by side, with what
  each forgets of the source domain.

:data:`LESSON_KNOBS` holds the knob values the notebook's assertions about effects were measured
with, per size; :func:`asrlab.course.runner.lesson_check` compares the notebook's knobs with them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

from asrlab import layers
from asrlab.config import AuxiliaryConfig, LoaderConfig, ModelConfig, ProbeConfig, ReplayConfig, TrainConfig, from_dict
from asrlab.corpus.build import ensure_language_domain
from asrlab.course.feature_extraction import fit_probe
from asrlab.course.fine_tuning import FINETUNE_DATA, epochs_for_budget, subset_dataset, take_minutes
from asrlab.datasets import SpeechDataset, make_dataset
from asrlab.evaluate import EvalResult, evaluate
from asrlab.finetune import FinetuneResult, finetune
from asrlab.manifest import manifest_path
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

#: The knob values of notebook 08 that its assertions about effects were measured with.
LESSON_KNOBS: dict[str, dict[str, Any]] = {
    "smoke": {"LANGUAGE": "es", "TRAIN_MINUTES": 1.0, "BUDGET_S": 120, "CURVE_MINUTES": (0.5, 1.0), "CURVE_REUSE_ONLY": (),
              "LR": 1e-3, "LRS": {"scratch": 2e-3, "head": 5e-3}, "HEAD_SHARE": 0.5, "PROBE_EPOCHS": 4, "BATCH_S": 20.0, "AUX_LR": 1e-2,
              "MT_TARGET": "accent", "MT_MINUTES": 1.0, "MT_BUDGET_S": 60, "MUS": (0.0, 0.3),
              "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0},
    "lab": {"LANGUAGE": "es", "TRAIN_MINUTES": 10.0, "BUDGET_S": 1200, "CURVE_MINUTES": (2.0, 10.0), "CURVE_REUSE_ONLY": ("scratch",),
            "LR": 1e-3, "LRS": {"scratch": 2e-3, "head": 5e-3}, "HEAD_SHARE": 0.5, "PROBE_EPOCHS": 12, "BATCH_S": 20.0, "AUX_LR": 1e-2,
            "MT_TARGET": "accent", "MT_MINUTES": 4.0, "MT_BUDGET_S": 480, "MUS": (0.0, 0.3),
            "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0},
    "full": {"LANGUAGE": "es", "TRAIN_MINUTES": 10.0, "BUDGET_S": 6000, "CURVE_MINUTES": (1.0, 3.0, 10.0, 30.0), "CURVE_REUSE_ONLY": (),
             "LR": 1e-3, "LRS": {"scratch": 2e-3, "head": 5e-3}, "HEAD_SHARE": 0.2, "PROBE_EPOCHS": 8, "BATCH_S": 20.0, "AUX_LR": 1e-2,
             "MT_TARGET": "accent", "MT_MINUTES": 10.0, "MT_BUDGET_S": 3000, "MUS": (0.0, 0.1, 0.3, 1.0),
             "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0},
}

#: The transfer variants of the regime comparison, in table order: (row label, regime, shared rows copied).
TRANSFER_VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("scratch", "scratch", False),
    ("new head, every row new", "head", False),
    ("new head, shared rows copied", "head", True),
    ("head, then everything", "head-then-full", True),
    ("everything", "full", True),
    ("everything, layer-wise learning rates", "layerwise", True),
)


def language_splits(corpus: str | Path, language: str, size: str, features: Any, *, seed: int = 0,
                    progress: bool = False) -> dict[str, SpeechDataset]:
    """A target language's train, dev and test splits over its own alphabet, built first if missing.

    Args:
        corpus: the corpus root (``data/corpus-lab``); the language's domain is built beside the
            English ones (:func:`~asrlab.corpus.build.ensure_language_domain`).
        language: ``"es"`` or ``"de"``.
        size: corpus size.
        features: the feature settings of the model that will read them.

    Returns:
        ``{"train": ..., "dev": ..., "test": ...}``, encoded with ``CharVocabulary.for_language(language)``.
    """
    folder = ensure_language_domain(corpus, language, size, seed=seed, progress=progress)
    vocab = CharVocabulary.for_language(language)
    return {split: make_dataset([manifest_path(folder.parent, folder.name, split)], features, vocab)
            for split in ("train", "dev", "test")}


def english_reads(source: LoadedModel, target_test: SpeechDataset) -> EvalResult:
    """The English model, its output layer unchanged, on the new language's test set.

    Its references are folded onto the English alphabet (``ñ`` -> ``n``), the only letters the
    model can write, so the score counts what it hears, not the letters it lacks.
    """
    folded = SpeechDataset(target_test.utterances, source.vocab, target_test.features, target_test.cache)
    return evaluate(source.model, folded, FINETUNE_DATA)


@dataclass
class TransferRun:
    """One fine-tuning run into the new language, scored on its test set.

    Attributes:
        variant: the row label (see :data:`TRANSFER_VARIANTS`).
        regime: the regime (see :mod:`asrlab.finetune`).
        shared_rows: whether the output rows of the symbols English and the language share were
            copied from the English head.
        train_minutes, epochs, steps: what it trained on, and for how long.
        target_wer, target_cer, target_empty_fraction: on the language's test set.
        best_dev_wer: on its dev set, which chose the kept weights.
        trainable_parameters, total_parameters: what trained.
        seconds: training time.
        first_dev_cer: dev CER after the first epoch: the head start a variant has (None without dev).
    """

    variant: str
    regime: str
    shared_rows: bool
    train_minutes: float
    epochs: int
    steps: int
    target_wer: float
    target_cer: float
    target_empty_fraction: float
    best_dev_wer: float | None
    trainable_parameters: int
    total_parameters: int
    seconds: float
    first_dev_cer: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_transfer(init: LoadedModel, variant: str, regime: str, shared_rows: bool, train: SpeechDataset,
                 dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                 head_share: float | None = None, data: LoaderConfig = FINETUNE_DATA) -> tuple[TransferRun, FinetuneResult]:
    """Fine-tune a copy of ``init`` into ``train``'s vocabulary under an audio budget and score it.

    ``data`` batches the training (smaller batches: more optimiser steps for the same audio);
    evaluation always uses :data:`~asrlab.course.fine_tuning.FINETUNE_DATA`.
    """
    train_seconds = sum(u.duration for u in train.utterances)
    epochs = epochs_for_budget(train_seconds, budget_seconds)
    if regime == "head-then-full":
        epochs = max(epochs, 2)
    result = finetune(init, train, regime, replace(config, epochs=epochs), dev=dev, data=data,
                      vocab=train.vocab, copy_shared=shared_rows, head_share=head_share)
    scored = evaluate(result.model, test, FINETUNE_DATA)
    run = TransferRun(variant, regime, shared_rows if regime != "scratch" else False,
                      train_minutes=round(train_seconds / 60, 2), epochs=epochs, steps=len(result.history.steps),
                      target_wer=scored.rates.wer, target_cer=scored.rates.cer,
                      target_empty_fraction=scored.empty_fraction, best_dev_wer=result.history.best_dev_wer,
                      trainable_parameters=result.trainable_parameters, total_parameters=result.total_parameters,
                      seconds=round(result.seconds, 1),
                      first_dev_cer=result.history.evals[0]["dev_cer"] if result.history.evals else None)
    return run, result


def compare_transfer(init: LoadedModel, variants: Sequence[tuple[str, str, bool]], train: SpeechDataset,
                     dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                     lrs: Mapping[str, float] | None = None, head_share: float | None = None,
                     data: LoaderConfig = FINETUNE_DATA) -> list[TransferRun]:
    """Every variant from ``init`` on the same labelled minutes and the same audio budget.

    Args:
        variants: ``(label, regime, shared rows copied)`` triples (:data:`TRANSFER_VARIANTS`).
        lrs: peak learning rate per regime where it differs from ``config.lr``.
        head_share: the head-only share of ``head-then-full``'s epochs.
        data: batching of the training runs.
    """
    rows = []
    for label, regime, shared in variants:
        lr = (lrs or {}).get(regime, config.lr)
        run, _ = run_transfer(init, label, regime, shared, train, dev, test, replace(config, lr=lr),
                              budget_seconds=budget_seconds, head_share=head_share, data=data)
        rows.append(run)
    return rows


def transfer_curve(init: LoadedModel, variants: Sequence[tuple[str, str, bool]], train_pool: SpeechDataset,
                   minutes: Sequence[float], dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *,
                   budget_seconds: float, lrs: Mapping[str, float] | None = None, head_share: float | None = None,
                   seed: int = 0, done: Sequence[TransferRun] = (), data: LoaderConfig = FINETUNE_DATA,
                   reuse_only: Collection[str] = ()) -> list[TransferRun]:
    """Target WER against labelled minutes (nested subsets), the same audio budget per run.

    Args:
        done: runs already made on one of the subsets with the same budget and settings (the
            regime comparison's): reused instead of trained again.
        reuse_only: variant labels shown only where ``done`` has them, never trained here (lab
            size: scratch, whose run on all the minutes already reads nothing, so a run on
            fewer minutes would cost two minutes to show the same 100%).
    """
    rows = []
    for amount in minutes:
        subset = subset_dataset(train_pool, take_minutes(train_pool.utterances, amount, seed))
        subset_minutes = round(sum(u.duration for u in subset.utterances) / 60, 2)
        for label, regime, shared in variants:
            again = [r for r in done if r.variant == label and r.train_minutes == subset_minutes]
            if again:
                rows.append(again[0])
                continue
            if label in reuse_only:
                continue
            lr = (lrs or {}).get(regime, config.lr)
            run, _ = run_transfer(init, label, regime, shared, subset, dev, test, replace(config, lr=lr),
                                  budget_seconds=budget_seconds, head_share=head_share, data=data)
            rows.append(run)
    return rows


def untrained_like(model: LoadedModel, seed: int = 0) -> LoadedModel:
    """The same architecture with fresh random weights: a probe baseline that learned nothing."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(from_dict(ModelConfig, model.model.config))
    fresh.eval()
    return LoadedModel(fresh, model.features, model.vocab, {"name": "untrained"})


def layer_transfer(encoders: Mapping[str, LoadedModel], splits: Mapping[str, SpeechDataset], probe: ProbeConfig,
                   cache_dir: str | Path) -> list[dict[str, Any]]:
    """A linear CTC probe on each layer of each frozen encoder, trained on the new language.

    Args:
        encoders: name -> model (e.g. the English ``asrlab-source`` and :func:`untrained_like` it).
        splits: ``"train"`` and ``"dev"`` datasets of the new language (their vocabulary is the probes').
        probe: the probes' training settings.
        cache_dir: where frozen layer outputs are cached, per model (``data/cache/layers``).

    Returns:
        One row per (encoder, layer): ``encoder``, ``layer`` (name), ``dev_cer``, ``dev_wer``.
    """
    vocab = splits["train"].vocab
    rows = []
    for name, loaded in encoders.items():
        cache = layers.LayerCache(Path(cache_dir), layers.model_key(loaded.model, loaded.features, name))
        feats = {s: layers.extract_layers(loaded.model, splits[s].utterances, loaded.features, cache)
                 for s in ("train", "dev")}
        names = layers.layer_names(feats["train"].num_layers)
        for layer in range(feats["train"].num_layers):
            run = fit_probe(feats["train"], layer, probe, evaluate={"dev": feats["dev"]}, vocab=vocab)
            rates = run.scores["dev"].rates
            rows.append({"encoder": name, "layer": names[layer], "dev_cer": rates.cer, "dev_wer": rates.wer})
    return rows


@dataclass
class MultitaskRun:
    """One English fine-tuning run with an extra term in its loss, scored on target and source.

    Attributes:
        method: the row label.
        mu: weight of the auxiliary classifier's cross-entropy (0: none).
        aux_dev_accuracy: that classifier's accuracy on the target dev set (None without one).
        target_wer, target_cer: on the target test set.
        source_wer: on the source test set; forgetting is its rise over the pretrained model's.
        forgetting: ``source_wer`` minus the pretrained model's source WER.
        trainable_parameters, seconds: cost.
    """

    method: str
    mu: float
    aux_dev_accuracy: float | None
    target_wer: float
    target_cer: float
    source_wer: float
    forgetting: float
    trainable_parameters: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _multitask_run(init: LoadedModel, method: str, regime: str, train: SpeechDataset, dev: SpeechDataset,
                   test: SpeechDataset, source_test: SpeechDataset, config: TrainConfig, source_wer: float, *,
                   mu: float = 0.0, label: str = "accent", l2sp_alpha: float | None = None,
                   replay_data: SpeechDataset | None = None, rho: float = 0.5, aux_lr: float | None = None,
                   data: LoaderConfig = FINETUNE_DATA) -> MultitaskRun:
    auxiliary = AuxiliaryConfig(label, mu, aux_lr) if mu > 0 else None
    result = finetune(init, train, regime, config, dev=dev, data=data, l2sp_alpha=l2sp_alpha,
                      auxiliary=auxiliary, replay_data=replay_data, replay=ReplayConfig(rho))
    target, source = evaluate(result.model, test, FINETUNE_DATA), evaluate(result.model, source_test, FINETUNE_DATA)
    return MultitaskRun(method, mu, result.aux_dev_accuracy, target.rates.wer, target.rates.cer, source.rates.wer,
                        source.rates.wer - source_wer, result.trainable_parameters, round(result.seconds, 1))


def multitask_rows(init: LoadedModel, train: SpeechDataset, dev: SpeechDataset, test: SpeechDataset,
                   source_test: SpeechDataset, config: TrainConfig, *, mus: Sequence[float], label: str = "accent",
                   source_wer: float | None = None, aux_lr: float | None = None,
                   data: LoaderConfig = FINETUNE_DATA) -> list[MultitaskRun]:
    """Full fine-tuning with ``CTC + mu * CE(label)`` for each ``mu`` (0: plain fine-tuning).

    ``aux_lr`` is the classifier's peak learning rate (None: ``config.lr``); ``data`` batches the training.
    """
    if source_wer is None:
        source_wer = evaluate(init.model, source_test, FINETUNE_DATA).rates.wer
    return [_multitask_run(init, f"CTC + {mu:g} x {label} CE" if mu > 0 else "CTC only", "full", train, dev, test,
                           source_test, config, source_wer, mu=mu, label=label, aux_lr=aux_lr, data=data)
            for mu in mus]


def forgetting_rows(init: LoadedModel, train: SpeechDataset, dev: SpeechDataset, test: SpeechDataset,
                    source_test: SpeechDataset, replay_data: SpeechDataset, config: TrainConfig, *,
                    l2sp_alpha: float, rho: float, source_wer: float | None = None,
                    plain: MultitaskRun | None = None, data: LoaderConfig = FINETUNE_DATA) -> list[MultitaskRun]:
    """Plain fine-tuning, L2-SP and source replay (``CTC_target + rho * CTC_source``) side by side.

    Args:
        replay_data: labelled source utterances to replay (from the source *train* split: the
            source test set only measures forgetting).
        plain: a plain fine-tuning run already made with the same settings, reused.
    """
    if source_wer is None:
        source_wer = evaluate(init.model, source_test, FINETUNE_DATA).rates.wer
    rows = [plain] if plain is not None else [
        _multitask_run(init, "CTC only", "full", train, dev, test, source_test, config, source_wer, data=data)]
    rows.append(_multitask_run(init, f"L2-SP (alpha {l2sp_alpha:g})", "l2sp", train, dev, test, source_test, config,
                               source_wer, l2sp_alpha=l2sp_alpha, data=data))
    rows.append(_multitask_run(init, f"source replay (rho {rho:g})", "full", train, dev, test, source_test, config,
                               source_wer, replay_data=replay_data, rho=rho, data=data))
    return rows


__all__ = ["LESSON_KNOBS", "MultitaskRun", "TRANSFER_VARIANTS", "TransferRun", "compare_transfer", "english_reads",
           "forgetting_rows", "language_splits", "layer_transfer", "multitask_rows", "run_transfer", "transfer_curve",
           "untrained_like"]

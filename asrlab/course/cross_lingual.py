"""Experiments of notebook 08: an English recogniser moved to a new language, and multi-task learning.

Cross-lingual transfer (sections 1-4 of the notebook):

* :func:`language_splits`: a target language's corpus (Spanish, German: built on demand by
  :func:`~asrlab.corpus.build.ensure_language_domain`) as datasets over that language's alphabet;
* :func:`english_reads`: what the English model, output layer unchanged, makes of the new language;
* :func:`compare_transfer`: regimes on the same labelled minutes and audio budget, with the new
  output layer's shared rows copied or not, once per seed; :func:`transfer_summary` averages the seeds;
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

Every training run can keep its row as a run record (``cache_dir``; :mod:`asrlab.course.run_records`)
and reuse it while its settings match, so an hours-long full run stops and resumes. Only rows are
kept, never models: nothing in notebook 08 uses a trained model after its row is made
(:func:`run_transfer`, which returns the model, keeps no record).
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

from asrlab import layers
from asrlab.config import AuxiliaryConfig, LoaderConfig, ModelConfig, ProbeConfig, ReplayConfig, TrainConfig, from_dict
from asrlab.corpus.build import ensure_language_domain
from asrlab.course.feature_extraction import fit_probe
from asrlab.course.fine_tuning import FINETUNE_DATA, epochs_for_budget, subset_dataset, take_minutes
from asrlab.course.run_records import WHERE, cached, dataset_key, model_fingerprint, without
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
              "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0, "SEEDS": (0,)},
    "lab": {"LANGUAGE": "es", "TRAIN_MINUTES": 10.0, "BUDGET_S": 1200, "CURVE_MINUTES": (2.0, 10.0), "CURVE_REUSE_ONLY": ("scratch",),
            "LR": 1e-3, "LRS": {"scratch": 2e-3, "head": 5e-3}, "HEAD_SHARE": 0.5, "PROBE_EPOCHS": 12, "BATCH_S": 20.0, "AUX_LR": 1e-2,
            "MT_TARGET": "accent", "MT_MINUTES": 4.0, "MT_BUDGET_S": 480, "MUS": (0.0, 0.3),
            "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0, "SEEDS": (0,)},
    "full": {"LANGUAGE": "es", "TRAIN_MINUTES": 10.0, "BUDGET_S": 6000, "CURVE_MINUTES": (1.0, 3.0, 10.0, 30.0), "CURVE_REUSE_ONLY": (),
             "LR": 1e-3, "LRS": {"scratch": 2e-3, "head": 5e-3}, "HEAD_SHARE": 0.2, "PROBE_EPOCHS": 8, "BATCH_S": 20.0, "AUX_LR": 1e-2,
             "MT_TARGET": "accent", "MT_MINUTES": 10.0, "MT_BUDGET_S": 3000, "MUS": (0.0, 0.1, 0.3, 1.0),
             "L2SP_ALPHA": 1.0, "RHO": 0.5, "SEED": 0, "SEEDS": (0, 1, 2)},
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
        seed: the training seed (the new weights' start, the batch order).
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
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_transfer(init: LoadedModel, variant: str, regime: str, shared_rows: bool, train: SpeechDataset,
                 dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                 head_share: float | None = None, data: LoaderConfig = FINETUNE_DATA) -> tuple[TransferRun, FinetuneResult]:
    """Fine-tune a copy of ``init`` into ``train``'s vocabulary under an audio budget and score it.

    ``data`` batches the training (smaller batches: more optimiser steps for the same audio);
    evaluation always uses :data:`~asrlab.course.fine_tuning.FINETUNE_DATA`. Always trains (it
    returns the model); :func:`transfer_row` is the same run kept as a run record.
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
                      first_dev_cer=result.history.evals[0]["dev_cer"] if result.history.evals else None,
                      seed=config.seed)
    return run, result


def transfer_row(init: LoadedModel, variant: str, regime: str, shared_rows: bool, train: SpeechDataset,
                 dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                 head_share: float | None = None, data: LoaderConfig = FINETUNE_DATA,
                 cache_dir: str | Path | None = None, init_key: str | None = None) -> TransferRun:
    """:func:`run_transfer`'s row, kept as a run record in ``cache_dir`` and reused while every
    setting matches (the model is not kept).

    Args:
        cache_dir: the records' folder (None: train every time).
        init_key: :func:`model_fingerprint` of ``init``, when the caller has it (else computed here).

    The record is ``<variant>-<minutes>min-s<seed>.json``; its settings are the variant, the
    training and batching settings (less where the run happened), the budget, the initial model's
    weights and the train, dev and test utterances.
    """
    def compute() -> dict[str, Any]:
        run, _ = run_transfer(init, variant, regime, shared_rows, train, dev, test, config,
                              budget_seconds=budget_seconds, head_share=head_share, data=data)
        return run.as_dict()

    if cache_dir is None:
        return run_transfer(init, variant, regime, shared_rows, train, dev, test, config,
                            budget_seconds=budget_seconds, head_share=head_share, data=data)[0]
    minutes = round(sum(u.duration for u in train.utterances) / 60, 2)
    settings = {"variant": variant, "regime": regime, "shared_rows": shared_rows,
                "config": without(asdict(config), WHERE), "data": without(asdict(data), WHERE),
                "budget_seconds": budget_seconds, "head_share": head_share if regime == "head-then-full" else None,
                "init": init_key or model_fingerprint(init),
                "train": dataset_key(train), "dev": dataset_key(dev), "test": dataset_key(test)}
    return TransferRun(**cached(cache_dir, f"{variant}-{minutes:g}min-s{config.seed}", settings, compute))


def compare_transfer(init: LoadedModel, variants: Sequence[tuple[str, str, bool]], train: SpeechDataset,
                     dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                     lrs: Mapping[str, float] | None = None, head_share: float | None = None,
                     data: LoaderConfig = FINETUNE_DATA, seeds: Sequence[int] | None = None,
                     cache_dir: str | Path | None = None) -> list[TransferRun]:
    """Every variant from ``init`` on the same labelled minutes and the same audio budget, once per seed.

    Args:
        variants: ``(label, regime, shared rows copied)`` triples (:data:`TRANSFER_VARIANTS`).
        lrs: peak learning rate per regime where it differs from ``config.lr``.
        head_share: the head-only share of ``head-then-full``'s epochs.
        data: batching of the training runs.
        seeds: training seeds (None: ``config.seed`` alone); every seed trains on the same utterances.
        cache_dir: where each run's record is kept and reused (:func:`transfer_row`; None: none).

    Returns:
        One run per seed and variant, seed by seed (:func:`transfer_summary` averages them).
    """
    key = model_fingerprint(init) if cache_dir is not None else None
    rows = []
    for seed in (config.seed,) if seeds is None else seeds:
        for label, regime, shared in variants:
            lr = (lrs or {}).get(regime, config.lr)
            rows.append(transfer_row(init, label, regime, shared, train, dev, test, replace(config, lr=lr, seed=seed),
                                     budget_seconds=budget_seconds, head_share=head_share, data=data,
                                     cache_dir=cache_dir, init_key=key))
    return rows


#: The measures :func:`transfer_summary` averages over seeds, and those it gives a spread (sd).
SUMMARY_MEANS: tuple[str, ...] = ("first_dev_cer", "target_wer", "target_cer", "target_empty_fraction",
                                  "best_dev_wer", "seconds")
SUMMARY_SPREADS: tuple[str, ...] = ("first_dev_cer", "target_wer", "target_cer")


def _mean(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else statistics.fmean(values)  # type: ignore[arg-type]


def _sd(values: Sequence[float | None]) -> float | None:
    """The sample standard deviation; None for a single seed (no spread to measure) or a missing value."""
    return None if len(values) < 2 or any(v is None for v in values) else statistics.stdev(values)  # type: ignore[arg-type]


def transfer_summary(runs: Sequence[TransferRun | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (variant, labelled minutes), in first-seen order: the mean over seeds of
    :data:`SUMMARY_MEANS`, the sample standard deviation (``<measure>_sd``, None with one seed) of
    :data:`SUMMARY_SPREADS`, the seed count, and what every seed shares (regime, parameters, and
    epochs and steps: their mean where seeds differ).

    Args:
        runs: :class:`TransferRun` objects or their :meth:`~TransferRun.as_dict` rows.
    """
    rows = [r.as_dict() if isinstance(r, TransferRun) else dict(r) for r in runs]
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["train_minutes"]), []).append(r)
    out = []
    for (variant, minutes), group in groups.items():
        first = group[0]
        row: dict[str, Any] = {"variant": variant, "regime": first["regime"], "shared_rows": first["shared_rows"],
                               "train_minutes": minutes, "seeds": len(group)}
        for count in ("epochs", "steps"):
            values = [r[count] for r in group]
            row[count] = values[0] if len(set(values)) == 1 else statistics.fmean(values)
        for measure in SUMMARY_MEANS:
            row[measure] = _mean([r.get(measure) for r in group])
            if measure in SUMMARY_SPREADS:
                row[f"{measure}_sd"] = _sd([r.get(measure) for r in group])
        row["trainable_parameters"] = first["trainable_parameters"]
        row["total_parameters"] = first["total_parameters"]
        out.append(row)
    return out


def transfer_curve(init: LoadedModel, variants: Sequence[tuple[str, str, bool]], train_pool: SpeechDataset,
                   minutes: Sequence[float], dev: SpeechDataset | None, test: SpeechDataset, config: TrainConfig, *,
                   budget_seconds: float, lrs: Mapping[str, float] | None = None, head_share: float | None = None,
                   seed: int = 0, done: Sequence[TransferRun] = (), data: LoaderConfig = FINETUNE_DATA,
                   reuse_only: Collection[str] = (), cache_dir: str | Path | None = None) -> list[TransferRun]:
    """Target WER against labelled minutes (nested subsets), the same audio budget per run.

    Args:
        seed: draws the nested subsets (training uses ``config.seed``).
        done: runs already made on one of the subsets with the same budget and settings (the
            regime comparison's): reused instead of trained again, those of ``config.seed`` only.
        reuse_only: variant labels shown only where ``done`` has them, never trained here (lab
            size: scratch, whose run on all the minutes already reads nothing, so a run on
            fewer minutes would cost two minutes to show the same 100%).
        cache_dir: where each run's record is kept and reused (:func:`transfer_row`; None: none).
    """
    key = model_fingerprint(init) if cache_dir is not None else None
    rows = []
    for amount in minutes:
        subset = subset_dataset(train_pool, take_minutes(train_pool.utterances, amount, seed))
        subset_minutes = round(sum(u.duration for u in subset.utterances) / 60, 2)
        for label, regime, shared in variants:
            again = [r for r in done if r.variant == label and r.train_minutes == subset_minutes
                     and r.seed == config.seed]
            if again:
                rows.append(again[0])
                continue
            if label in reuse_only:
                continue
            lr = (lrs or {}).get(regime, config.lr)
            rows.append(transfer_row(init, label, regime, shared, subset, dev, test, replace(config, lr=lr),
                                     budget_seconds=budget_seconds, head_share=head_share, data=data,
                                     cache_dir=cache_dir, init_key=key))
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
                   data: LoaderConfig = FINETUNE_DATA, cache_dir: str | Path | None = None,
                   init_key: str | None = None) -> MultitaskRun:
    """One run of :func:`multitask_rows` or :func:`forgetting_rows`, kept as a run record in
    ``cache_dir`` (``<method>-s<seed>.json``) and reused while every setting matches.

    A setting that does not act is left out of the record's settings (the label without an
    auxiliary loss, ``l2sp_alpha`` outside ``l2sp``, ``rho`` without replay), so the plain run of
    both tables is one record. ``forgetting`` is counted from ``source_wer`` after reading.
    """
    def compute() -> dict[str, Any]:
        auxiliary = AuxiliaryConfig(label, mu, aux_lr) if mu > 0 else None
        result = finetune(init, train, regime, config, dev=dev, data=data, l2sp_alpha=l2sp_alpha,
                          auxiliary=auxiliary, replay_data=replay_data, replay=ReplayConfig(rho))
        target = evaluate(result.model, test, FINETUNE_DATA)
        source = evaluate(result.model, source_test, FINETUNE_DATA)
        return MultitaskRun(method, mu, result.aux_dev_accuracy, target.rates.wer, target.rates.cer, source.rates.wer,
                            source.rates.wer - source_wer, result.trainable_parameters,
                            round(result.seconds, 1)).as_dict()

    if cache_dir is None:
        return MultitaskRun(**compute())
    settings = {"method": method, "regime": regime, "mu": mu,
                "auxiliary": {"label": label, "lr": aux_lr} if mu > 0 else None,
                "l2sp_alpha": l2sp_alpha if regime == "l2sp" else None,
                "replay": {"rho": rho, "data": dataset_key(replay_data)} if replay_data is not None else None,
                "config": without(asdict(config), WHERE), "data": without(asdict(data), WHERE),
                "init": init_key or model_fingerprint(init), "train": dataset_key(train), "dev": dataset_key(dev),
                "test": dataset_key(test), "source_test": dataset_key(source_test)}
    row = cached(cache_dir, f"{method}-s{config.seed}", settings, compute)
    return MultitaskRun(**{**row, "forgetting": row["source_wer"] - source_wer})


def multitask_rows(init: LoadedModel, train: SpeechDataset, dev: SpeechDataset, test: SpeechDataset,
                   source_test: SpeechDataset, config: TrainConfig, *, mus: Sequence[float], label: str = "accent",
                   source_wer: float | None = None, aux_lr: float | None = None,
                   data: LoaderConfig = FINETUNE_DATA, cache_dir: str | Path | None = None) -> list[MultitaskRun]:
    """Full fine-tuning with ``CTC + mu * CE(label)`` for each ``mu`` (0: plain fine-tuning).

    ``aux_lr`` is the classifier's peak learning rate (None: ``config.lr``); ``data`` batches the
    training; ``cache_dir`` keeps each run's record and reuses it (None: none).
    """
    if source_wer is None:
        source_wer = evaluate(init.model, source_test, FINETUNE_DATA).rates.wer
    key = model_fingerprint(init) if cache_dir is not None else None
    return [_multitask_run(init, f"CTC + {mu:g} x {label} CE" if mu > 0 else "CTC only", "full", train, dev, test,
                           source_test, config, source_wer, mu=mu, label=label, aux_lr=aux_lr, data=data,
                           cache_dir=cache_dir, init_key=key)
            for mu in mus]


def forgetting_rows(init: LoadedModel, train: SpeechDataset, dev: SpeechDataset, test: SpeechDataset,
                    source_test: SpeechDataset, replay_data: SpeechDataset, config: TrainConfig, *,
                    l2sp_alpha: float, rho: float, source_wer: float | None = None,
                    plain: MultitaskRun | None = None, data: LoaderConfig = FINETUNE_DATA,
                    cache_dir: str | Path | None = None) -> list[MultitaskRun]:
    """Plain fine-tuning, L2-SP and source replay (``CTC_target + rho * CTC_source``) side by side.

    Args:
        replay_data: labelled source utterances to replay (from the source *train* split: the
            source test set only measures forgetting).
        plain: a plain fine-tuning run already made with the same settings, reused.
        cache_dir: where each run's record is kept and reused (None: none).
    """
    if source_wer is None:
        source_wer = evaluate(init.model, source_test, FINETUNE_DATA).rates.wer
    key = model_fingerprint(init) if cache_dir is not None else None
    kept = {"data": data, "cache_dir": cache_dir, "init_key": key}
    rows = [plain] if plain is not None else [
        _multitask_run(init, "CTC only", "full", train, dev, test, source_test, config, source_wer, **kept)]
    rows.append(_multitask_run(init, f"L2-SP (alpha {l2sp_alpha:g})", "l2sp", train, dev, test, source_test, config,
                               source_wer, l2sp_alpha=l2sp_alpha, **kept))
    rows.append(_multitask_run(init, f"source replay (rho {rho:g})", "full", train, dev, test, source_test, config,
                               source_wer, replay_data=replay_data, rho=rho, **kept))
    return rows


__all__ = ["LESSON_KNOBS", "MultitaskRun", "SUMMARY_MEANS", "SUMMARY_SPREADS", "TRANSFER_VARIANTS", "TransferRun",
           "compare_transfer", "dataset_key", "english_reads", "forgetting_rows", "language_splits", "layer_transfer",
           "model_fingerprint", "multitask_rows", "run_transfer", "transfer_curve", "transfer_row", "transfer_summary",
           "untrained_like"]

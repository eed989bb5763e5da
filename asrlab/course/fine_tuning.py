"""Comparisons the fine-tuning chapter runs: regimes side by side, and learning curves.

Each run starts from the same pretrained model and the same data, trains under a fixed budget of
audio (so that a regime is not favoured by seeing more speech), and is scored on the target
domain's test set and on the source domain's test set (how much it forgot).

:data:`LESSON_KNOBS` holds the knob values the chapter's assertions about effects were measured
with, and :func:`blank_output_messages` collects the warnings of a model that outputs only blanks
(training from scratch on minutes of speech) instead of showing them.
"""
from __future__ import annotations

import math
import random
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterator, Mapping, MutableMapping, Sequence

from asrlab.config import LoaderConfig, RegimeConfig, TrainConfig, regime_config
from asrlab.datasets import SpeechDataset
from asrlab.errors import BlankOutputWarning
from asrlab.evaluate import EvalResult, evaluate
from asrlab.finetune import FinetuneResult, Regime, finetune
from asrlab.manifest import Utterance
from asrlab.models.checkpoint import LoadedModel

#: Batching for fine-tuning and evaluation on a CPU: batches of up to 80 s of audio.
FINETUNE_DATA = LoaderConfig(max_seconds=80.0, max_batch_size=64, num_workers=0)

#: The knob values of notebook 02 (fine-tuning) that its assertions about effects were measured
#: with, per corpus size: with these, the lesson's effects hold (transfer beats scratch, scratch
#: stays blank, L2-SP forgets less...); a learner who changes one explores, and those assertions
#: stand down (``asrlab.course.runner.lesson_check``). Keep them equal to the notebook's knobs cell.
LESSON_KNOBS: dict[str, dict[str, Any]] = {
    "smoke": {
        "TARGET": "accent",
        "REGIMES": ("scratch", "head", "top-k", "full", "layerwise", "l2sp"),
        "TRAIN_MINUTES": 1.0,
        "BUDGET_S": 90,
        "CURVE_MINUTES": (0.5, 1.0),
        "CURVE_BUDGET_S": 40,
        "LR": 1e-3,
        "LRS": {"scratch": 2e-3, "head": 5e-3},
        "WARMUP_STEPS": 5,
        "SPECAUGMENT": None,
        "TOP_K": 2,
        "LAYER_DECAY": 0.5,
        "L2SP_ALPHA": 1.0,
        "WHISPER_DOMAIN": "real_telephone",
        "WHISPER_TEST_UTTS": 4,
        "WHISPER_TRAIN_MINUTES": 0.5,
        "WHISPER_BUDGET_S": 20,
        "SEED": 0,
    },
    "lab": {
        "TARGET": "accent",
        "REGIMES": ("scratch", "head", "top-k", "full", "layerwise", "l2sp"),
        "TRAIN_MINUTES": 5.0,
        "BUDGET_S": 900,
        "CURVE_MINUTES": (1, 2, 8),
        "CURVE_BUDGET_S": 450,
        "LR": 1e-3,
        "LRS": {"scratch": 2e-3, "head": 5e-3},
        "WARMUP_STEPS": 10,
        "SPECAUGMENT": None,
        "TOP_K": 2,
        "LAYER_DECAY": 0.5,
        "L2SP_ALPHA": 1.0,
        "WHISPER_DOMAIN": "real_telephone",
        "WHISPER_TEST_UTTS": 30,
        "WHISPER_TRAIN_MINUTES": 5.0,
        "WHISPER_BUDGET_S": 300,
        "SEED": 0,
    },
    "full": {
        "TARGET": "accent",
        "REGIMES": ("scratch", "head", "top-k", "full", "layerwise", "l2sp"),
        "TRAIN_MINUTES": 10.0,
        "BUDGET_S": 4000,
        "CURVE_MINUTES": (1, 2, 5, 10, 30),
        "CURVE_BUDGET_S": 2400,
        "LR": 1e-3,
        "LRS": {"scratch": 2e-3, "head": 5e-3},
        "WARMUP_STEPS": 30,
        "SPECAUGMENT": None,
        "TOP_K": 2,
        "LAYER_DECAY": 0.5,
        "L2SP_ALPHA": 1.0,
        "WHISPER_DOMAIN": "real_telephone",
        "WHISPER_TEST_UTTS": None,
        "WHISPER_TRAIN_MINUTES": 9.0,
        "WHISPER_BUDGET_S": 3000,
        "SEED": 0,
    },
}


def take_minutes(utterances: Sequence[Utterance], minutes: float, seed: int = 0) -> list[Utterance]:
    """A seeded random subset holding about ``minutes`` of audio (at least one utterance).

    Subsets of one seed are nested: the 2-minute subset contains the 1-minute one, so that a
    learning curve adds data rather than drawing new data at each point.

    Raises:
        ValueError: when ``utterances`` hold less audio than asked for (by more than 5%).
    """
    total = sum(u.duration for u in utterances)
    if total < minutes * 60 * 0.95:
        raise ValueError(f"asked for {minutes:g} min of audio but the utterances hold {total / 60:.1f} min; "
                         "build a bigger corpus (--size full) or ask for fewer minutes")
    order = list(utterances)
    random.Random(seed).shuffle(order)
    chosen, seconds = [], 0.0
    for utt in order:
        if seconds >= minutes * 60:
            break
        chosen.append(utt)
        seconds += utt.duration
    return chosen


def epochs_for_budget(train_seconds: float, budget_seconds: float, max_epochs: int = 200) -> int:
    """Epochs that present about ``budget_seconds`` of audio from ``train_seconds`` of data."""
    if train_seconds <= 0:
        raise ValueError("the training set holds no audio")
    return int(min(max_epochs, max(1, math.ceil(budget_seconds / train_seconds))))


def subset_dataset(dataset: SpeechDataset, utterances: Sequence[Utterance]) -> SpeechDataset:
    """A dataset over ``utterances`` with the features, vocabulary and cache of ``dataset``."""
    return SpeechDataset(list(utterances), dataset.vocab, dataset.features, dataset.cache,
                         labelled=dataset.labelled)


def _score(model: Any, dataset: SpeechDataset) -> EvalResult:
    return evaluate(model, dataset, FINETUNE_DATA)


@contextmanager
def blank_output_messages() -> Iterator[list[str]]:
    """Collect the :class:`~asrlab.errors.BlankOutputWarning` messages issued inside the block.

    An evaluation warns when a model outputs (nearly) only blanks; a comparison that includes
    training from scratch expects that. Inside this block those warnings are kept, not shown, so
    that a notebook can print them where it explains them; every other warning is issued again
    when the block ends, unchanged.

    Yields:
        A list that holds the messages, in the order they were issued, once the block has ended.

    Example::

        with blank_output_messages() as messages:
            rows = compare_regimes(...)
        print(messages[0])
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BlankOutputWarning)
        yield messages
    for warning in caught:
        if issubclass(warning.category, BlankOutputWarning):
            messages.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno,
                                   source=warning.source)


@dataclass
class RegimeRun:
    """One fine-tuning run, scored.

    Attributes:
        regime: the regime's name (see :mod:`asrlab.finetune`).
        train_minutes: labelled target audio it trained on.
        epochs: passes over that data.
        steps: optimiser steps taken.
        target_wer, target_cer: on the target test set.
        target_empty_fraction: share of the target test transcripts that are empty (1.0: the
            model outputs only blanks).
        source_wer: on the source test set after fine-tuning.
        forgetting: ``source_wer`` minus the pretrained model's source WER; ``None`` for
            ``scratch``, which never knew the source domain and so has nothing to forget.
        trainable_parameters, total_parameters: what the regime let train.
        seconds: training time.
        best_dev_wer: on the target dev set (which chose the kept weights).
    """

    regime: str
    train_minutes: float
    epochs: int
    steps: int
    target_wer: float
    target_cer: float
    target_empty_fraction: float
    source_wer: float
    forgetting: float | None
    trainable_parameters: int
    total_parameters: int
    seconds: float
    best_dev_wer: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_regime(init: LoadedModel, regime: Regime | RegimeConfig, train: SpeechDataset, dev: SpeechDataset | None,
               target_test: SpeechDataset, source_test: SpeechDataset, config: TrainConfig, *,
               budget_seconds: float, source_wer_before: float, k: int | None = None,
               layer_decay: float | None = None, l2sp_alpha: float | None = None,
               data: LoaderConfig = FINETUNE_DATA) -> tuple[RegimeRun, FinetuneResult]:
    """Fine-tune a copy of ``init`` with ``regime`` under an audio budget and score it.

    Args:
        regime: a :class:`~asrlab.config.RegimeConfig`, or a regime's name (default settings).
        source_wer_before: the pretrained model's source WER, from which forgetting is counted
            (not for ``scratch``: its forgetting is ``None``).
        k, layer_decay, l2sp_alpha: replace the regime's ``top_k``, ``layer_decay``, ``l2sp_alpha``.
        data: batching of the training (evaluation batches with :data:`FINETUNE_DATA`).
    """
    settings = regime_config(regime, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha)
    train_seconds = sum(u.duration for u in train.utterances)
    epochs = epochs_for_budget(train_seconds, budget_seconds)
    result = finetune(init, train, settings, replace(config, epochs=epochs), dev=dev, data=data)
    target = _score(result.model, target_test)
    source = _score(result.model, source_test)
    forgetting = None if settings.name == "scratch" else source.rates.wer - source_wer_before
    run = RegimeRun(settings.name, train_minutes=round(train_seconds / 60, 2), epochs=epochs,
                    steps=len(result.history.steps), target_wer=target.rates.wer, target_cer=target.rates.cer,
                    target_empty_fraction=target.empty_fraction, source_wer=source.rates.wer, forgetting=forgetting,
                    trainable_parameters=result.trainable_parameters, total_parameters=result.total_parameters,
                    seconds=round(result.seconds, 1), best_dev_wer=result.history.best_dev_wer)
    return run, result


def _regime_configs(regimes: Sequence[Regime | RegimeConfig], k: int | None, layer_decay: float | None,
                    l2sp_alpha: float | None) -> list[RegimeConfig]:
    return [regime_config(r, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha) for r in regimes]


def compare_regimes(init: LoadedModel, regimes: Sequence[Regime | RegimeConfig], train: SpeechDataset,
                    dev: SpeechDataset | None, target_test: SpeechDataset, source_test: SpeechDataset,
                    config: TrainConfig, *, budget_seconds: float, lrs: Mapping[str, float] | None = None,
                    k: int | None = None, layer_decay: float | None = None, l2sp_alpha: float | None = None,
                    finetuned: MutableMapping[str, FinetuneResult] | None = None,
                    data: LoaderConfig = FINETUNE_DATA) -> list[RegimeRun]:
    """Every regime from ``init`` on the same data and audio budget, plus the untouched model.

    Args:
        regimes: :class:`~asrlab.config.RegimeConfig` objects, or regimes' names (default settings).
        lrs: peak learning rate per regime name where it differs from ``config.lr`` (a model
            trained from scratch usually wants a larger one than a fine-tuned one).
        k, layer_decay, l2sp_alpha: replace every regime's ``top_k``, ``layer_decay``, ``l2sp_alpha``.
        finetuned: when given, each regime's :class:`~asrlab.finetune.FinetuneResult` (its model
            and training history) is stored in it under the regime's name, to look inside later.

    Returns:
        One row per regime, preceded by a ``"pretrained (no training)"`` row.
    """
    settings = _regime_configs(regimes, k, layer_decay, l2sp_alpha)
    started = time.perf_counter()
    target0, source0 = _score(init.model, target_test), _score(init.model, source_test)
    rows = [RegimeRun("pretrained (no training)", train_minutes=0.0, epochs=0, steps=0, target_wer=target0.rates.wer,
                      target_cer=target0.rates.cer, target_empty_fraction=target0.empty_fraction,
                      source_wer=source0.rates.wer, forgetting=0.0, trainable_parameters=0,
                      total_parameters=sum(p.numel() for p in init.model.parameters()),
                      seconds=round(time.perf_counter() - started, 1), best_dev_wer=None)]
    for regime in settings:
        lr = (lrs or {}).get(regime.name, config.lr)
        run, result = run_regime(init, regime, train, dev, target_test, source_test, replace(config, lr=lr),
                                 budget_seconds=budget_seconds, source_wer_before=source0.rates.wer, data=data)
        rows.append(run)
        if finetuned is not None:
            finetuned[regime.name] = result
    return rows


def learning_curve(init: LoadedModel, regimes: Sequence[Regime | RegimeConfig], train_pool: SpeechDataset,
                   minutes: Sequence[float], dev: SpeechDataset | None, target_test: SpeechDataset,
                   source_test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
                   lrs: Mapping[str, float] | None = None, seed: int = 0, k: int | None = None,
                   layer_decay: float | None = None, l2sp_alpha: float | None = None) -> list[RegimeRun]:
    """Target WER against labelled minutes, one run per (minutes, regime), nested subsets.

    Every run gets the same audio budget: small subsets are seen for more epochs.

    Args:
        regimes: :class:`~asrlab.config.RegimeConfig` objects, or regimes' names (default settings).
        lrs: peak learning rate per regime name where it differs from ``config.lr``.
        seed: draws the nested subsets.
        k, layer_decay, l2sp_alpha: replace every regime's ``top_k``, ``layer_decay``, ``l2sp_alpha``.
    """
    settings = _regime_configs(regimes, k, layer_decay, l2sp_alpha)
    source_before = _score(init.model, source_test).rates.wer
    rows = []
    for amount in minutes:
        subset = subset_dataset(train_pool, take_minutes(train_pool.utterances, amount, seed))
        for regime in settings:
            lr = (lrs or {}).get(regime.name, config.lr)
            run, _ = run_regime(init, regime, subset, dev, target_test, source_test, replace(config, lr=lr),
                                budget_seconds=budget_seconds, source_wer_before=source_before)
            rows.append(run)
    return rows


def rows_as_dicts(rows: Sequence[RegimeRun]) -> list[dict[str, Any]]:
    """Plain dicts (for tables and results files)."""
    return [row.as_dict() for row in rows]


def rows_for_plot(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Regime rows for :func:`asrlab.course.plots.regime_bars`: a forgetting of ``None`` (``scratch``, which
    never knew the source domain) becomes NaN, which draws no bar, where a table shows ``n/a``."""
    return [{**row, "forgetting": math.nan if row.get("forgetting") is None else row["forgetting"]} for row in rows]


__all__ = ["FINETUNE_DATA", "LESSON_KNOBS", "RegimeRun", "blank_output_messages", "compare_regimes",
           "epochs_for_budget", "learning_curve", "rows_as_dicts", "rows_for_plot", "run_regime", "subset_dataset",
           "take_minutes"]

"""Comparisons the fine-tuning chapter runs: regimes side by side, and learning curves.

Each run starts from the same pretrained model and the same data, trains under a fixed budget of
audio (so that a regime is not favoured by seeing more speech), and is scored on the target
domain's test set and on the source domain's test set (how much it forgot).
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Sequence

from asrlab.config import DataConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import EvalResult, evaluate
from asrlab.finetune import FinetuneResult, Regime, finetune
from asrlab.manifest import Utterance
from asrlab.models.checkpoint import LoadedModel

#: Batching for fine-tuning and evaluation on a CPU: batches of up to 80 s of audio.
FINETUNE_DATA = DataConfig(max_seconds=80.0, max_batch_size=64, num_workers=0)


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


@dataclass
class RegimeRun:
    """One fine-tuning run, scored.

    Attributes:
        regime: the regime's name (see :mod:`asrlab.finetune`).
        train_minutes: labelled target audio it trained on.
        epochs: passes over that data.
        target_wer, target_cer: on the target test set.
        source_wer: on the source test set after fine-tuning.
        forgetting: ``source_wer`` minus the pretrained model's source WER.
        trainable_parameters, total_parameters: what the regime let train.
        seconds: training time.
        best_dev_wer: on the target dev set (which chose the kept weights).
    """

    regime: str
    train_minutes: float
    epochs: int
    target_wer: float
    target_cer: float
    source_wer: float
    forgetting: float
    trainable_parameters: int
    total_parameters: int
    seconds: float
    best_dev_wer: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_regime(init: LoadedModel, regime: Regime, train: SpeechDataset, dev: SpeechDataset | None,
               target_test: SpeechDataset, source_test: SpeechDataset, config: TrainConfig, *,
               budget_seconds: float, source_wer_before: float, k: int = 2, layer_decay: float = 0.5,
               l2sp_alpha: float = 1e-2) -> tuple[RegimeRun, FinetuneResult]:
    """Fine-tune a copy of ``init`` with ``regime`` under an audio budget and score it."""
    train_seconds = sum(u.duration for u in train.utterances)
    epochs = epochs_for_budget(train_seconds, budget_seconds)
    result = finetune(init, train, regime, replace(config, epochs=epochs), dev=dev, data=FINETUNE_DATA, k=k,
                      layer_decay=layer_decay, l2sp_alpha=l2sp_alpha)
    target = _score(result.model, target_test)
    source = _score(result.model, source_test)
    run = RegimeRun(regime, round(train_seconds / 60, 2), epochs, target.rates.wer, target.rates.cer,
                    source.rates.wer, source.rates.wer - source_wer_before, result.trainable_parameters,
                    result.total_parameters, round(result.seconds, 1), result.history.best_dev_wer)
    return run, result


def compare_regimes(init: LoadedModel, regimes: Sequence[Regime], train: SpeechDataset, dev: SpeechDataset | None,
                    target_test: SpeechDataset, source_test: SpeechDataset, config: TrainConfig, *,
                    budget_seconds: float, lrs: Mapping[str, float] | None = None, k: int = 2,
                    layer_decay: float = 0.5, l2sp_alpha: float = 1e-2) -> list[RegimeRun]:
    """Every regime from ``init`` on the same data and audio budget, plus the untouched model.

    Args:
        lrs: peak learning rate per regime where it differs from ``config.lr`` (a model trained
            from scratch usually wants a larger one than a fine-tuned one).

    Returns:
        One row per regime, preceded by a ``"pretrained (no training)"`` row.
    """
    started = time.perf_counter()
    target0, source0 = _score(init.model, target_test), _score(init.model, source_test)
    rows = [RegimeRun("pretrained (no training)", 0.0, 0, target0.rates.wer, target0.rates.cer, source0.rates.wer,
                      0.0, 0, sum(p.numel() for p in init.model.parameters()),
                      round(time.perf_counter() - started, 1), None)]
    for regime in regimes:
        lr = (lrs or {}).get(regime, config.lr)
        run, _ = run_regime(init, regime, train, dev, target_test, source_test, replace(config, lr=lr),
                            budget_seconds=budget_seconds, source_wer_before=source0.rates.wer, k=k,
                            layer_decay=layer_decay, l2sp_alpha=l2sp_alpha)
        rows.append(run)
    return rows


def learning_curve(init: LoadedModel, regimes: Sequence[Regime], train_pool: SpeechDataset, minutes: Sequence[float],
                   dev: SpeechDataset | None, target_test: SpeechDataset, source_test: SpeechDataset,
                   config: TrainConfig, *, budget_seconds: float, lrs: Mapping[str, float] | None = None,
                   seed: int = 0) -> list[RegimeRun]:
    """Target WER against labelled minutes, one run per (minutes, regime), nested subsets.

    Every run gets the same audio budget: small subsets are seen for more epochs.
    """
    source_before = _score(init.model, source_test).rates.wer
    rows = []
    for amount in minutes:
        subset = subset_dataset(train_pool, take_minutes(train_pool.utterances, amount, seed))
        for regime in regimes:
            lr = (lrs or {}).get(regime, config.lr)
            run, _ = run_regime(init, regime, subset, dev, target_test, source_test, replace(config, lr=lr),
                                budget_seconds=budget_seconds, source_wer_before=source_before)
            rows.append(run)
    return rows


def rows_as_dicts(rows: Sequence[RegimeRun]) -> list[dict[str, Any]]:
    """Plain dicts (for tables and results files)."""
    return [row.as_dict() for row in rows]


__all__ = ["FINETUNE_DATA", "RegimeRun", "compare_regimes", "epochs_for_budget",
           "learning_curve", "rows_as_dicts", "run_regime", "subset_dataset", "take_minutes"]

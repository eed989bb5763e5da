"""Experiments of notebook 09: parameter-efficient fine-tuning, one base for many domains, deployment.

* :func:`peft_rows`: head only, full fine-tuning, bottleneck adapters and LoRA on the same target
  minutes and audio budget (notebook 02's comparison, :func:`~asrlab.course.fine_tuning.compare_regimes`),
  with the bytes each stores per domain and its share of trainable parameters;
* :func:`switched_off_difference`: an adapter switched off gives back the base model exactly;
* :func:`bank_matrix`: one base in memory, each domain's adapter switched in per request: WER of
  every (adapter, domain) pair and the cost of a switch.

Deployment (export, int8, speed, chunked decoding) is :mod:`asrlab.deploy`'s; the notebook calls it
directly.

:data:`LESSON_KNOBS` holds the knob values the notebook's assertions were measured with.
"""
from __future__ import annotations

import statistics
from typing import Any, Mapping, MutableMapping, Sequence

import torch

from asrlab.config import LoaderConfig, RegimeConfig, TrainConfig
from asrlab.course.fine_tuning import FINETUNE_DATA, compare_regimes, rows_as_dicts
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import evaluate
from asrlab.finetune import ADAPTER_REGIMES, FinetuneResult, adapter_spec
from asrlab.inference import run_model
from asrlab.models.adapter_bank import AdapterBank
from asrlab.models.adapter_checkpoint import AdapterWeights
from asrlab.models.adapters import set_adapters_enabled
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel

#: The knob values of notebook 09 that its assertions about effects were measured with.
LESSON_KNOBS: dict[str, dict[str, Any]] = {
    "smoke": {"TARGET": "accent", "SECOND_TARGET": "telephone", "TRAIN_MINUTES": 1.0, "BUDGET_S": 90, "BATCH_S": 20.0,
              "LR": 1e-3, "LRS": {"head": 5e-3, "adapter": 3e-3, "lora": 3e-3}, "BOTTLENECK": 32, "RANK": 8,
              "EVAL_LIMIT": 8, "CHUNKS": (None, 2.0, 1.0), "SEED": 0},
    "lab": {"TARGET": "accent", "SECOND_TARGET": "telephone", "TRAIN_MINUTES": 5.0, "BUDGET_S": 900, "BATCH_S": 20.0,
            "LR": 1e-3, "LRS": {"head": 5e-3, "adapter": 3e-3, "lora": 3e-3}, "BOTTLENECK": 32, "RANK": 8,
            "EVAL_LIMIT": 40, "CHUNKS": (None, 4.0, 2.0, 1.0, 0.5), "SEED": 0},
    "full": {"TARGET": "accent", "SECOND_TARGET": "telephone", "TRAIN_MINUTES": 10.0, "BUDGET_S": 4000, "BATCH_S": 20.0,
             "LR": 1e-3, "LRS": {"head": 5e-3, "adapter": 3e-3, "lora": 3e-3}, "BOTTLENECK": 32, "RANK": 8,
             "EVAL_LIMIT": None, "CHUNKS": (None, 4.0, 2.0, 1.0, 0.5), "SEED": 0},
}


def peft_regimes(bottleneck: int, rank: int) -> tuple[RegimeConfig, ...]:
    """The regimes notebook 09 compares: head only, everything, adapters, LoRA."""
    return (RegimeConfig("head"), RegimeConfig("full"), RegimeConfig("adapter", bottleneck=bottleneck),
            RegimeConfig("lora", rank=rank))


def stored_bytes(result: FinetuneResult, settings: RegimeConfig) -> int:
    """Bytes one more domain costs to store with this regime (float32 tensors, no file overhead).

    ``adapter``/``lora``: the tensors they add (and the head if it trained: asked for, or because
    :func:`~asrlab.finetune.finetune` trains it anyway for a base with an untrained head or a new
    vocabulary); ``head``: the output layer; every other regime: the whole model.
    """
    if settings.name in ADAPTER_REGIMES:  # head=None: the head counts if it requires gradients (it trained)
        head = True if settings.train_head else None
        return AdapterWeights.from_model(result.model, adapter_spec(settings), head=head).num_bytes
    params = result.model.head.parameters() if settings.name == "head" else result.model.parameters()
    return sum(p.numel() * p.element_size() for p in params)


def peft_rows(source: LoadedModel, regimes: Sequence[RegimeConfig], train: SpeechDataset, dev: SpeechDataset | None,
              test: SpeechDataset, source_test: SpeechDataset, config: TrainConfig, *, budget_seconds: float,
              lrs: Mapping[str, float] | None = None,
              finetuned: MutableMapping[str, FinetuneResult] | None = None,
              data: LoaderConfig = FINETUNE_DATA) -> list[dict[str, Any]]:
    """Each regime on the same data and audio budget, scored on target and source, with its cost.

    Returns:
        notebook 02's rows (:func:`~asrlab.course.fine_tuning.compare_regimes`: the untouched model
        first) with ``trainable_share`` (of the model's parameters) and ``stored_bytes`` added.
    """
    results: dict[str, FinetuneResult] = {} if finetuned is None else finetuned
    rows = rows_as_dicts(compare_regimes(source, regimes, train, dev, test, source_test, config,
                                         budget_seconds=budget_seconds, lrs=lrs, finetuned=results, data=data))
    settings = {r.name: r for r in regimes}
    for row in rows:
        result = results.get(row["regime"])
        row["trainable_share"] = row["trainable_parameters"] / row["total_parameters"]
        row["stored_bytes"] = stored_bytes(result, settings[row["regime"]]) if result is not None else 0
    return rows


def switched_off_difference(model: CTCModel, base: CTCModel, dataset: SpeechDataset) -> float:
    """Largest absolute difference of CTC log-probabilities between ``model`` with its adapters
    switched off and ``base``, over ``dataset`` (0.0: the base, exactly).

    Both run with every parameter frozen, so that they take the same kernels; ``model``'s adapters
    are switched back on afterwards.
    """
    flags = {m: [p.requires_grad for p in m.parameters()] for m in (model, base)}
    worst = 0.0
    try:
        for m in (model, base):
            m.requires_grad_(False)
        set_adapters_enabled(model, False)
        ours = run_model(model, dataset, FINETUNE_DATA)
        theirs = run_model(base, dataset, FINETUNE_DATA)
        for a, b in zip(ours, theirs):
            worst = max(worst, float((a.log_probs - b.log_probs).abs().max()))
    finally:
        set_adapters_enabled(model, True)
        for m, states in flags.items():
            for p, state in zip(m.parameters(), states):
                p.requires_grad_(state)
    return worst


def bank_matrix(base: LoadedModel, adapters: Mapping[str, AdapterWeights], tests: Mapping[str, SpeechDataset],
                repeats: int = 20) -> tuple[list[dict[str, Any]], float]:
    """One base, several domains' adapters: the WER of each (adapter, test domain) pair.

    Args:
        base: the base model (copied into an :class:`~asrlab.models.adapter_bank.AdapterBank`).
        adapters: domain name -> its adapter.
        tests: domain name -> its test set.
        repeats: switches timed for the switch cost.

    Returns:
        ``(rows, switch_seconds)``: one row per adapter (``None`` first: the bare base) with one
        ``<domain> WER`` column per test set; and the median seconds of one switch.
    """
    bank = AdapterBank(base)
    for name, weights in adapters.items():
        bank.add(name, weights)
    rows = []
    for active in (None, *adapters):
        bank.use(active)
        row: dict[str, Any] = {"adapter": active or "none (the base)"}
        for domain, dataset in tests.items():
            row[f"{domain} WER"] = evaluate(bank.model, dataset, FINETUNE_DATA).rates.wer
        rows.append(row)
    names = [None, *adapters]
    times = [bank.use(names[i % len(names)]) for i in range(repeats)]
    return rows, statistics.median(times)


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


__all__ = ["LESSON_KNOBS", "bank_matrix", "model_bytes", "peft_regimes", "peft_rows", "stored_bytes",
           "switched_off_difference"]

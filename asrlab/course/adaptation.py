"""The comparisons of the adaptation chapter: source-only, MMD, CORAL and DANN on several shifts.

For each shift (a target domain), each method and each seed, a copy of the pretrained model
trains with ``CTC(source) + lambda * alignment(source, target)`` for the same number of steps;
"source-only" is the same run with ``lambda = 0`` (it sees the same source batches and passes
the same target batches through the model), so that the comparison is fair.

Hyperparameters (lambda, layer) are searched on one seed (``seeds[0]``) by the library's search
(:func:`asrlab.adapt.search.grid_search`, the one ``asrlab adapt`` runs) and chosen by a
label-free rule of :mod:`asrlab.adapt.selection` (source dev WER, target entropy, or
importance-weighted risk); the other seeds rerun the chosen setting. Target test labels only
score the results; the "oracle" choice (the lowest target test WER of the grid) is reported
beside the honest one to show the gap, never used.

Each run's scores can be cached as JSON (``cache_dir``), so that notebook 05 reuses the MMD and
CORAL runs of notebook 04 instead of training them again.

For the notebooks: :data:`LESSON_KNOBS_04` and :data:`LESSON_KNOBS_05` hold the knob values their
assertions about effects were measured with; :func:`readable_rows` and the ``*_COLUMNS``
headers turn result rows into tables that say what each method used of the target;
:func:`gain_lines` and :func:`disc_acc_rows` put the size of an effect (or its absence) in words.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from asrlab.adapt.diagnostics import FINAL_STEPS, final_mean, pooled_features
from asrlab.adapt.search import HISTORY_KEYS, SearchData, SearchHooks, Trial, grid_search, run_trial, setting_name
from asrlab.adapt.selection import RULES, Candidate, select
from asrlab.adapt.training import AdaptResult, AlignmentConfig
from asrlab.config import LoaderConfig, TrainConfig
from asrlab.corpus.graded import build_graded_noise, graded_snr
from asrlab.course import run_records
from asrlab.course.fine_tuning import FINETUNE_DATA, run_regime, subset_dataset, take_minutes
from asrlab.course.runner import signed
from asrlab.datasets import SpeechDataset, make_dataset
from asrlab.evaluate import evaluate
from asrlab.manifest import manifest_path
from asrlab.layers import weights_digest
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel

SOURCE_ONLY = "source-only"
#: Methods :func:`compare_methods` knows: "source-only" is lambda = 0.
COMPARED_METHODS: tuple[str, ...] = (SOURCE_ONLY, "mmd", "coral", "dann")
#: Names of the two references that use target labels.
FT_FEW = "fine-tune on {minutes:g} min of target labels"
FT_ALL = "fine-tune on all target labels"
ORACLE = "oracle"

#: The knob values of notebook 04 (MMD and CORAL) that its assertions about effects were measured
#: with, per corpus size (the full ones produced ``results/04_mmd-full.json``). With them the
#: lesson's effects hold; a learner who changes one explores, and those assertions stand down
#: (``asrlab.course.runner.lesson_check``). Keep them equal to the notebook's knobs cell. The knobs
#: that do not change with the size are written once.
_KNOBS_04_SHARED: dict[str, Any] = {"RULE": "source-dev",
                                     "TOY_SHIFTS": (0.0, 0.5, 1.0, 2.0, 3.0), "TOY_STEPS": 120, "SEED": 0}
LESSON_KNOBS_04: dict[str, dict[str, Any]] = {
    "smoke": {**_KNOBS_04_SHARED, "SHIFTS": ("accent", "noise-20db"), "SEEDS": (0,), "STEPS": 2, "LR": 1e-3,
              "GRIDS": {"mmd": ((10.0,), (0,)), "coral": ((100.0,), (0,))},
              "MAX_EVAL": 4, "MAX_SCORE": 4, "MAX_SOURCE_TRAIN": 24, "ALIGN": {"max_frames": 256, "disc_hidden": 64}},
    "lab": {**_KNOBS_04_SHARED, "SHIFTS": ("noise-20db", "noise-10db"), "SEEDS": (0,), "STEPS": 40, "LR": 1e-3,
            "GRIDS": {"mmd": ((10.0,), (0,)), "coral": ((100.0,), (0,))},
            "MAX_EVAL": 60, "MAX_SCORE": 60, "MAX_SOURCE_TRAIN": None,
            "ALIGN": {"max_frames": 512, "disc_hidden": 256}},
    "full": {**_KNOBS_04_SHARED, "SHIFTS": ("noise-20db", "noise-10db"), "SEEDS": (0, 1, 2), "STEPS": 150, "LR": 1e-3,
             "GRIDS": {"mmd": ((10.0, 30.0), (0, 1)), "coral": ((100.0, 1000.0), (0,))},
             "MAX_EVAL": 120, "MAX_SCORE": 120, "MAX_SOURCE_TRAIN": None,
             "ALIGN": {"max_frames": 512, "disc_hidden": 256}},
}

#: The same for notebook 05 (DANN and the scoreboard; the full values produced
#: ``results/05_dann-full.json``): notebook 04's knobs (so that it reuses those runs) without the
#: toy's shifts, plus DANN's grid and the label-using references' minutes and audio budget.
_KNOBS_05_OWN: dict[str, dict[str, Any]] = {
    "smoke": {"DANN_GRID": ((0.3,), (0,)), "REF_MINUTES": 0.3, "REF_BUDGET_S": 20},
    "lab": {"DANN_GRID": ((0.3,), (0,)), "REF_MINUTES": 3.0, "REF_BUDGET_S": 600},
    "full": {"DANN_GRID": ((0.3, 1.0), (0,)), "REF_MINUTES": 5.0, "REF_BUDGET_S": 1200},
}
LESSON_KNOBS_05: dict[str, dict[str, Any]] = {
    size: {**{k: v for k, v in knobs.items() if k != "TOY_SHIFTS"},
           "GRIDS": {**knobs["GRIDS"], "dann": _KNOBS_05_OWN[size]["DANN_GRID"]},
           "REF_MINUTES": _KNOBS_05_OWN[size]["REF_MINUTES"], "REF_BUDGET_S": _KNOBS_05_OWN[size]["REF_BUDGET_S"]}
    for size, knobs in LESSON_KNOBS_04.items()
}

#: Headers of the tables of :func:`summarize` rows (pass the rows through :func:`readable_rows`).
SUMMARY_COLUMNS: dict[str, str] = {
    "shift": "shift", "method": "method", "uses_target_labels": "target labels", "weight": "lambda",
    "layer": "layer", "seeds": "seeds", "target_wer": "target WER %", "target_wer_std": "sd over seeds %",
    "source_wer": "source WER %", "rel_reduction": "target WER cut vs source-only %"}
#: Headers of the tables of :func:`selection_rows` (the WER gap is shown in points: pass
#: ``percent=SELECTION_PERCENT`` to ``markdown_table``).
SELECTION_COLUMNS: dict[str, str] = {
    "shift": "shift", "method": "method", "rule": "chosen by", "uses_target_labels": "target labels",
    "weight": "lambda", "layer": "layer", "target_wer": "target WER %", "gap_to_oracle": "gap to oracle (WER points)"}
SELECTION_PERCENT: tuple[str, ...] = ("target_wer", "gap_to_oracle")
#: Headers of the tables of :meth:`Comparison.grid_rows`: which scores a label-free rule may choose
#: by, and the target test WER that only scores.
GRID_COLUMNS: dict[str, str] = {
    "shift": "shift", "method": "method", "weight": "lambda", "layer": "layer", "uses_target_labels": "target labels",
    "source_dev_wer": "source dev WER % (may choose)", "target_entropy": "target entropy, nats (may choose)",
    "iw_risk": "IW risk (may choose)", "target_wer": "target test WER % (scoring only)",
    "source_wer": "source test WER %"}
#: Headers of the tables of :func:`disc_acc_rows`.
DISC_COLUMNS: dict[str, str] = {
    "shift": "shift", "run": "run", "discriminator": "discriminator", "uses_target_labels": "target labels",
    "first_disc_accuracy": f"accuracy, first {FINAL_STEPS} steps %",
    "final_disc_accuracy": f"accuracy, last {FINAL_STEPS} steps %"}


# --------------------------------------------------------------------------- data
@dataclass
class ShiftData:
    """The datasets of one shift (source -> ``name``).

    Attributes:
        name: the target domain.
        source_train: labelled source training data.
        source_dev: labelled source dev data (model selection may read its labels).
        source_test: labelled source test data (scoring only).
        target_unlabelled: target audio for training, read without text.
        target_score: target audio (a subset of the unlabelled split) for label-free scores.
        target_test: labelled target test data (scoring only, never selection).
        target_train, target_dev: labelled target data, only for the references that use labels.
    """

    name: str
    source_train: SpeechDataset
    source_dev: SpeechDataset
    source_test: SpeechDataset
    target_unlabelled: SpeechDataset
    target_score: SpeechDataset
    target_test: SpeechDataset
    target_train: SpeechDataset
    target_dev: SpeechDataset


def _first(dataset: SpeechDataset, n: int | None) -> SpeechDataset:
    if n is None or n >= len(dataset):
        return dataset
    if n < 2:
        raise ValueError(f"keep at least two utterances per split, got {n}")
    return subset_dataset(dataset, dataset.utterances[:n])


def load_shift(corpus: str | Path, domain: str, loaded: LoadedModel, *, max_eval: int | None = None,
               max_score: int | None = None, max_source_train: int | None = None) -> ShiftData:
    """The datasets of the shift source -> ``domain`` from a built corpus.

    Args:
        corpus: the corpus folder (``<domain>/<split>.jsonl``).
        domain: the target domain, e.g. ``"accent"``, ``"noisy"`` or a graded noise level such as
            ``"noise-10db"`` (:func:`asrlab.corpus.graded.noise_domain`; built here when missing).
        loaded: the pretrained model (its features and vocabulary).
        max_eval: keep at most this many utterances of each dev and test split (None: all).
        max_score: target utterances for the label-free scores (None: all of the unlabelled split).
        max_source_train: source training utterances (None: all).
    """
    snr = graded_snr(domain)
    if snr is not None:   # a graded noise level (notebook 07's shift): built from the source splits once
        build_graded_noise(corpus, (snr,))
    if not manifest_path(corpus, domain, "unlabelled").is_file():
        raise ValueError(f"{Path(corpus) / domain} has no unlabelled.jsonl; build the corpus first (notebook 01)")

    def split(name: str, dom: str = domain, labelled: bool = True) -> SpeechDataset:
        return make_dataset([manifest_path(corpus, dom, name)], loaded.features, loaded.vocab, labelled=labelled)

    unlabelled = split("unlabelled", labelled=False)
    return ShiftData(domain, _first(split("train", "source"), max_source_train), _first(split("dev", "source"), max_eval),
                     _first(split("test", "source"), max_eval), unlabelled, _first(unlabelled, max_score),
                     _first(split("test"), max_eval), split("train"), _first(split("dev"), max_eval))


# --------------------------------------------------------------------------- one run
@dataclass
class RunRecord:
    """One adaptation run, scored.

    Attributes:
        shift, method, seed, weight, layer: what ran (``weight`` is lambda; 0 for source-only).
        target_wer, source_wer: greedy WER on the target and source test sets.
        scores: label-free selection scores (:func:`asrlab.adapt.selection.score_model`).
        history: per-step ``ctc``, ``align``, ``disc_acc``, ``grl_coef`` (where logged).
        seconds: training and scoring time.
    """

    shift: str
    method: str
    seed: int
    weight: float
    layer: int
    target_wer: float
    source_wer: float
    scores: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return setting_name(self.weight, self.layer)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def alignment_config(method: str, weight: float, layer: int, base: AlignmentConfig = AlignmentConfig()) -> AlignmentConfig:
    """The :class:`AlignmentConfig` of ``method``; source-only is MMD with lambda 0 (its monitor
    discriminator still logs ``disc_acc``)."""
    if method not in COMPARED_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(COMPARED_METHODS)}")
    if method == SOURCE_ONLY:
        return replace(base, method="mmd", weight=0.0, layer=layer)
    return replace(base, method=method, weight=float(weight), layer=layer)  # type: ignore[arg-type]


def _settings(data: ShiftData, train_config: TrainConfig, batch: LoaderConfig, base: AlignmentConfig,
              init: CTCModel, init_name: str) -> dict[str, Any]:
    """Everything a cached run depends on, the initial model's weights included (a new
    ``asrlab-source`` never reuses the runs of the old one)."""
    return {"init": init_name, "init_weights": weights_digest(init)[:16], "train_config": asdict(train_config), "batch": asdict(batch),
            "alignment": base.to_dict(),
            "sizes": {k: len(getattr(data, k)) for k in ("source_train", "source_dev", "source_test",
                                                         "target_unlabelled", "target_score", "target_test")}}


def _search_data(data: ShiftData) -> SearchData:
    return SearchData(data.source_train, data.target_unlabelled, data.source_dev, data.target_score)


def source_test_wer(model: CTCModel, data: ShiftData) -> float:
    """Greedy WER of ``model`` on the shift's source test set (e.g. the pretrained model's, the
    point from which forgetting is counted)."""
    device = next(model.parameters()).device
    return evaluate(model, data.source_test, FINETUNE_DATA, device).rates.wer


def _test_wers(data: ShiftData, result: AdaptResult) -> dict[str, float]:
    """Greedy WER of an adapted model on the target and source test sets (scores, never choices)."""
    device = next(result.model.parameters()).device
    return {"target_wer": evaluate(result.model, data.target_test, FINETUNE_DATA, device).rates.wer,
            "source_wer": evaluate(result.model, data.source_test, FINETUNE_DATA, device).rates.wer}


def _record(data: ShiftData, method: str, seed: int, trial: Trial) -> RunRecord:
    return RunRecord(data.name, method, seed, trial.config.weight, trial.config.layer, trial.extra["target_wer"],
                     trial.extra["source_wer"], trial.scores, trial.history, round(trial.seconds, 1))


def _hooks(init: CTCModel, data: ShiftData, method: str, seed: int, train_config: TrainConfig, batch: LoaderConfig,
           base: AlignmentConfig, cache_dir: str | Path | None, init_name: str,
           report: Callable[[RunRecord], None] | None = None) -> SearchHooks:
    """The course's side of the search for one shift, method and seed: the test WERs, each run's
    record kept as JSON in ``cache_dir/<shift>/`` (reused when every setting matches), progress."""
    def record(trial: Trial) -> RunRecord:
        return _record(data, method, seed, trial)

    extra_scores = partial(_test_wers, data)
    reported = (lambda trial: report(record(trial))) if report is not None else None
    if cache_dir is None:
        return SearchHooks(extra_scores=extra_scores, report=reported)
    settings = _settings(data, train_config, batch, base, init, init_name)

    def cache_file(config: AlignmentConfig) -> Path:
        return Path(cache_dir) / data.name / f"{method}-w{config.weight:g}-l{config.layer}-s{seed}.json"

    def recall(config: AlignmentConfig) -> Trial | None:
        stored = run_records.recall(cache_file(config), settings, key="record")
        if stored is None:
            return None
        kept = RunRecord(**stored)
        return Trial(config, kept.scores, {"target_wer": kept.target_wer, "source_wer": kept.source_wer},
                     kept.history, None, kept.seconds)

    def keep(trial: Trial) -> None:
        run_records.keep(cache_file(trial.config), settings, record(trial).as_dict(), key="record")

    return SearchHooks(extra_scores=extra_scores, recall=recall, keep=keep, report=reported)


def run_one(init: CTCModel, data: ShiftData, method: str, weight: float, layer: int, train_config: TrainConfig, *,
            seed: int = 0, base: AlignmentConfig = AlignmentConfig(), batch: LoaderConfig = LoaderConfig(num_workers=0),
            cache_dir: str | Path | None = None, init_name: str = "",
            report: Callable[[RunRecord], None] | None = None) -> RunRecord:
    """Adapt a copy of ``init`` once and score it (or read the scores from ``cache_dir``): one trial
    of :func:`asrlab.adapt.search.run_trial`, the step of the search.

    Args:
        init: the pretrained model (left untouched).
        data: the shift's datasets.
        method: one of :data:`COMPARED_METHODS`.
        weight: lambda (ignored for source-only).
        layer: the aligned encoder layer (-1: the last).
        train_config: optimisation settings; its seed is replaced by ``seed``.
        seed: the run's seed.
        base: the other alignment settings.
        batch: batching of the source and target training data.
        cache_dir: where each run's record is kept as JSON, reused when every setting matches.
        init_name: names the initial model in the cache's settings.
        report: called with the record (e.g. to print progress).
    """
    config = alignment_config(method, weight, layer, base)
    train_config = replace(train_config, seed=seed)
    hooks = _hooks(init, data, method, seed, train_config, batch, base, cache_dir, init_name, report)
    trial = run_trial(init, _search_data(data), config, train_config, batch=batch, score_batch=FINETUNE_DATA,
                      hooks=hooks)
    return _record(data, method, seed, trial)


# --------------------------------------------------------------------------- choosing
def choose(records: Sequence[RunRecord], rule: str) -> RunRecord:
    """The record a rule picks: a label-free rule of :data:`~asrlab.adapt.selection.RULES`, or
    ``"oracle"`` (lowest target *test* WER: uses target labels, for reference only)."""
    if not records:
        raise ValueError("no runs to choose from")
    if rule == ORACLE:
        return min(records, key=lambda r: r.target_wer)
    candidates = [Candidate(r.name, {"index": i}, r.scores) for i, r in enumerate(records)]
    return records[select(candidates, rule).params["index"]]


def selection_rows(records: Sequence[RunRecord], rules: Sequence[str] = tuple(RULES)) -> list[dict[str, Any]]:
    """For each rule (and the oracle): what it chose, its target WER, and the gap to the oracle.

    Rules that cannot score these records (e.g. ``iw`` on too few utterances) are left out.
    """
    oracle = choose(records, ORACLE)
    rows = []
    for rule in [*rules, ORACLE]:
        try:
            chosen = choose(records, rule)
        except ValueError:
            continue
        rows.append({"shift": chosen.shift, "method": chosen.method, "rule": rule,
                     "uses_target_labels": rule == ORACLE, "weight": chosen.weight, "layer": chosen.layer,
                     "target_wer": chosen.target_wer, "source_wer": chosen.source_wer,
                     "gap_to_oracle": chosen.target_wer - oracle.target_wer})
    return rows


# --------------------------------------------------------------------------- the comparison
@dataclass
class Comparison:
    """What :func:`compare_methods` produced.

    Attributes:
        rows: one per (shift, method, seed): the chosen setting's test WERs.
        grid: every run of the hyperparameter search (seed ``seeds[0]``), with scores and history.
        selections: per (shift, method), what each rule chose and the oracle (see :func:`selection_rows`).
        rule: the rule that chose the settings of ``rows``.
        seconds: wall time.
    """

    rows: list[dict[str, Any]]
    grid: list[RunRecord]
    selections: list[dict[str, Any]]
    rule: str
    seconds: float = 0.0

    def grid_rows(self) -> list[dict[str, Any]]:
        """The search runs as flat dicts (scores inlined, no history; ``uses_target_labels`` False)."""
        return [{k: v for k, v in r.as_dict().items() if k not in ("scores", "history")} | r.scores
                | {"uses_target_labels": False} for r in self.grid]


def compare_methods(init: CTCModel, shifts: Mapping[str, ShiftData] | Sequence[ShiftData], methods: Sequence[str],
                    grids: Mapping[str, tuple[Sequence[float], Sequence[int]]], train_config: TrainConfig, *,
                    seeds: Sequence[int] = (0,), rule: str = "source-dev", base: AlignmentConfig = AlignmentConfig(),
                    batch: LoaderConfig = LoaderConfig(num_workers=0), cache_dir: str | Path | None = None,
                    init_name: str = "", report: Callable[[RunRecord], None] | None = None) -> Comparison:
    """Every method on every shift: search on ``seeds[0]``, choose by ``rule``, rerun on the other seeds.

    Args:
        init: the pretrained model.
        shifts: the shifts' datasets (from :func:`load_shift`).
        methods: names from :data:`COMPARED_METHODS`.
        grids: method -> ``(weights, layers)`` to search; source-only always runs once (layer -1).
        train_config: optimisation settings shared by every run (same steps for every method).
        seeds: the first searches, every seed reports.
        rule: a label-free rule of :data:`~asrlab.adapt.selection.RULES` (never ``"oracle"``).
        base, batch, cache_dir, init_name: see :func:`run_one`.
        report: called after each run (e.g. to print progress).

    Returns:
        The rows, the grid and the selections.
    """
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; use one of {', '.join(RULES)} (the oracle is "
                         "reported beside the choice, never used to choose)")
    if not seeds:
        raise ValueError("need at least one seed")
    unknown = [m for m in methods if m not in COMPARED_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; use {', '.join(COMPARED_METHODS)}")
    missing = [m for m in methods if m != SOURCE_ONLY and m not in grids]
    if missing:
        raise ValueError(f"no (weights, layers) grid for {missing}")
    started = time.perf_counter()
    shift_list = list(shifts.values()) if isinstance(shifts, Mapping) else list(shifts)
    rows: list[dict[str, Any]] = []
    grid: list[RunRecord] = []
    selections: list[dict[str, Any]] = []

    searching = replace(train_config, seed=seeds[0])
    for data in shift_list:
        for method in methods:
            weights, layers = ((0.0,), (-1,)) if method == SOURCE_ONLY else grids[method]
            hooks = _hooks(init, data, method, seeds[0], searching, batch, base, cache_dir, init_name, report)
            method_base = alignment_config(method, 0.0, -1, base)    # the grid sets weight and layer
            search = grid_search(init, _search_data(data), method_base, weights, layers, searching, rule, batch=batch,
                                 score_batch=FINETUNE_DATA, hooks=hooks)
            searched = [_record(data, method, seeds[0], trial) for trial in search.trials]
            grid += searched
            chosen = searched[search.index]
            selections += selection_rows(searched)
            for seed in seeds:
                record = chosen if seed == seeds[0] else run_one(
                    init, data, method, chosen.weight, chosen.layer, train_config, seed=seed, base=base, batch=batch,
                    cache_dir=cache_dir, init_name=init_name, report=report)
                rows.append({"shift": data.name, "method": method, "seed": seed, "rule": rule,
                             "weight": record.weight, "layer": record.layer, "target_wer": record.target_wer,
                             "source_wer": record.source_wer, "uses_target_labels": False})
    return Comparison(rows, grid, selections, rule, time.perf_counter() - started)


def reference_rows(init: LoadedModel, data: ShiftData, config: TrainConfig, *, minutes: float, budget_seconds: float,
                   seeds: Sequence[int] = (0,), cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The two references that use target labels: fine-tuning everything on ``minutes`` of
    labelled target speech, and on all of it (regime ``"full"``, target dev for the best weights).

    Args:
        init: the pretrained model (left untouched).
        data: the shift's datasets (``target_train`` and ``target_dev`` labelled).
        config: optimisation settings; its seed is replaced by each of ``seeds``.
        minutes: labelled target minutes of the small reference.
        budget_seconds: seconds of audio each reference run reads.
        seeds: one run of each reference per seed.
        cache_dir: where each run's row is kept as a run record (``<cache_dir>/<shift>/reference-...``)
            and reused while every setting matches, so a stopped full-size run resumes (None: none).

    Returns:
        Rows like :func:`compare_methods`'s, with ``uses_target_labels`` True.
    """
    device = next(init.model.parameters()).device
    source_before: float | None = None
    records = Path(cache_dir) / data.name if cache_dir is not None else None
    common = {"init": run_records.model_fingerprint(init), "budget_seconds": budget_seconds,
              "dev": run_records.dataset_key(data.target_dev), "target_test": run_records.dataset_key(data.target_test),
              "source_test": run_records.dataset_key(data.source_test)} if records is not None else {}
    rows = []
    for seed in seeds:
        few = subset_dataset(data.target_train, take_minutes(data.target_train.utterances, minutes, seed))
        for name, train in ((FT_FEW.format(minutes=minutes), few), (FT_ALL, data.target_train)):
            def train_and_score(train: Any = train, seed: int = seed) -> dict[str, float]:
                nonlocal source_before
                if source_before is None:
                    source_before = evaluate(init.model, data.source_test, FINETUNE_DATA, device).rates.wer
                run, _ = run_regime(init, "full", train, data.target_dev, data.target_test, data.source_test,
                                    replace(config, seed=seed), budget_seconds=budget_seconds,
                                    source_wer_before=source_before)
                return {"target_wer": run.target_wer, "source_wer": run.source_wer}

            settings = {**common, "method": name, "train": run_records.dataset_key(train),
                        "train_config": run_records.without(asdict(replace(config, seed=seed)), run_records.WHERE)}
            kept = run_records.cached(records, f"reference-{name}-s{seed}", settings, train_and_score)
            rows.append({"shift": data.name, "method": name, "seed": seed, "rule": "target dev (labelled)",
                         "weight": None, "layer": None, "target_wer": kept["target_wer"],
                         "source_wer": kept["source_wer"], "uses_target_labels": True})
    return rows


# --------------------------------------------------------------------------- summaries
def summarize(rows: Sequence[Mapping[str, Any]], baseline: str = SOURCE_ONLY) -> list[dict[str, Any]]:
    """Mean and spread over seeds per (shift, method), and the change against ``baseline``.

    Returns:
        One row per (shift, method) in first-seen order: ``target_wer`` and ``source_wer`` (means),
        ``target_wer_std``, ``source_wer_std`` (population std over seeds), ``seeds``,
        ``rel_reduction`` (``1 - target / baseline target``, positive is better) and
        ``source_change`` (source WER minus the baseline's, in WER fraction), ``uses_target_labels``.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["shift"]), str(row["method"])), []).append(row)
    out = []
    for (shift, method), members in groups.items():
        target = np.array([float(r["target_wer"]) for r in members])
        source = np.array([float(r["source_wer"]) for r in members])
        out.append({"shift": shift, "method": method, "seeds": len(members),
                    "target_wer": float(target.mean()), "target_wer_std": float(target.std()),
                    "source_wer": float(source.mean()), "source_wer_std": float(source.std()),
                    "weight": members[0].get("weight"), "layer": members[0].get("layer"),
                    "uses_target_labels": bool(members[0].get("uses_target_labels", False))})
    base = {r["shift"]: r for r in out if r["method"] == baseline}
    for row in out:
        ref = base.get(row["shift"])
        row["rel_reduction"] = (1.0 - row["target_wer"] / ref["target_wer"]
                                if ref is not None and ref["target_wer"] > 0 else math.nan)
        row["source_change"] = row["source_wer"] - ref["source_wer"] if ref is not None else math.nan
    return out


def goal_check(summary: Sequence[Mapping[str, Any]], methods: Sequence[str] = ("mmd", "dann"),
               min_relative: float = 0.1, max_source_rise: float = 0.01, min_shifts: int = 1,
               min_spreads: float = 2.0) -> dict[str, Any]:
    """Did each method cut target WER by ``min_relative`` (relative to source-only), by more than
    ``min_spreads`` times its spread over seeds, without raising source WER by more than
    ``max_source_rise`` (WER fraction), on at least ``min_shifts`` shifts?

    The spread is the larger of the method's and source-only's standard deviation over seeds
    (0 with one seed, when only the other conditions count).

    Returns:
        ``{method: {"shifts_met": [...], "reached": bool}, "reached": all methods reached}``.
    """
    baseline = {r["shift"]: r for r in summary if r["method"] == SOURCE_ONLY}
    out: dict[str, Any] = {}
    for method in methods:
        met = []
        for r in summary:
            if r["method"] != method or r["shift"] not in baseline:
                continue
            base = baseline[r["shift"]]
            cut = base["target_wer"] - r["target_wer"]
            spread = max(r.get("target_wer_std", 0.0), base.get("target_wer_std", 0.0))
            if (r["rel_reduction"] >= min_relative and cut > min_spreads * spread
                    and r["source_change"] <= max_source_rise):
                met.append(r["shift"])
        out[method] = {"shifts_met": met, "reached": len(met) >= min_shifts}
    out["reached"] = all(out[m]["reached"] for m in methods)
    return out


def readable_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of result rows for a table: ``uses_target_labels`` as ``"yes"`` or ``"no"`` (what the
    method or the choice read of the target beyond its audio), for the ``*_COLUMNS`` headers."""
    return [{**row, "uses_target_labels": "yes" if row.get("uses_target_labels") else "no"} for row in rows]


def _versus(reduction: float) -> str:
    """A relative WER reduction in words: ``2.3% lower`` or ``0.1% higher``."""
    if not math.isfinite(reduction):
        return "not comparable"
    return f"{abs(reduction):.1%} {'lower' if reduction >= 0 else 'higher'}"


def headline(summary: Sequence[Mapping[str, Any]], baseline: str = SOURCE_ONLY) -> str:
    """One line for the README's course table: per shift, the best label-free method's relative
    target-WER change over ``baseline``, and the best label-using reference's, when there is one.

    Args:
        summary: rows of :func:`summarize`.
        baseline: the method the changes are relative to.
    """
    parts = []
    for shift in dict.fromkeys(str(r["shift"]) for r in summary):
        rows = [r for r in summary if str(r["shift"]) == shift and r["method"] != baseline]
        free = [r for r in rows if not r.get("uses_target_labels")]
        labelled = [r for r in rows if r.get("uses_target_labels")]
        said = []
        if free:
            best = max(free, key=lambda r: float(r["rel_reduction"]))
            said.append(f"best label-free ({best['method']}) {_versus(float(best['rel_reduction']))}")
        if labelled:
            best = max(labelled, key=lambda r: float(r["rel_reduction"]))
            said.append(f"with target labels {_versus(float(best['rel_reduction']))}")
        if said:
            parts.append(f"{shift} target WER: " + ", ".join(said))
    return "; ".join(parts)


def gain_lines(summary: Sequence[Mapping[str, Any]], baseline: str = SOURCE_ONLY) -> list[str]:
    """What training bought over ``baseline``, in words: per shift, a line with the baseline's target
    WER, then an indented line for the best method that read no target labels and one for every
    reference that did (e.g. fine-tuning), each with its relative change and its source WER change.

    Args:
        summary: rows of :func:`summarize` (``rel_reduction``, ``source_change``, ``uses_target_labels``).
        baseline: the method the changes are relative to.

    Returns:
        The lines (print them joined by newlines); shifts without a ``baseline`` row are left out.
    """
    def change(row: Mapping[str, Any]) -> str:
        return (f"{row['method']}: target WER {_versus(float(row['rel_reduction']))}, "
                f"source WER {signed(100 * float(row['source_change']))} points")

    lines = []
    for shift in dict.fromkeys(str(r["shift"]) for r in summary):
        rows = [r for r in summary if str(r["shift"]) == shift]
        base = next((r for r in rows if r["method"] == baseline), None)
        if base is None:
            continue
        lines.append(f"{shift}: {baseline} has {float(base['target_wer']):.1%} target WER; relative to it:")
        free = [r for r in rows if r["method"] != baseline and not r.get("uses_target_labels")]
        if free:
            lines.append("  best without target labels, " + change(max(free, key=lambda r: float(r["rel_reduction"]))))
        lines += ["  with target labels, " + change(r) for r in rows if r.get("uses_target_labels")]
    return lines


def disc_acc_rows(records: Sequence[RunRecord], steps: int = FINAL_STEPS) -> list[dict[str, Any]]:
    """The domain discriminator's accuracy at the start and the end of each run that logged it.

    A discriminator starts untrained, near chance (0.5), and climbs as it learns to tell the domains
    apart. DANN's is the adversary, whose reversed gradient trains the encoder; the other methods'
    is a monitor on detached features (source-only's shows how separable the domains stay
    without alignment). Headers: :data:`DISC_COLUMNS`.

    Returns:
        Per record: ``shift``, ``run``, ``discriminator``, ``uses_target_labels`` (``"no"``), and the
        mean accuracy over the first and the last ``steps`` steps.
    """
    return [{"shift": r.shift, "run": f"{r.method} {r.name}",
             "discriminator": "adversary" if r.method == "dann" else "monitor", "uses_target_labels": "no",
             "first_disc_accuracy": float(np.mean(r.history["disc_acc"][:steps])),
             "final_disc_accuracy": final_mean(r.history["disc_acc"], steps)}
            for r in records if r.history.get("disc_acc")]


def pooled_by_domain(model: CTCModel, datasets: Mapping[str, SpeechDataset], layer: int = -1,
                     data: LoaderConfig | None = None) -> tuple[np.ndarray, list[str]]:
    """Utterance-pooled encoder features of several datasets, stacked, with a label per row.

    Returns:
        ``(features (N, D), labels)``: feed :func:`asrlab.course.data_prep.embed_2d` and
        :func:`asrlab.adapt.diagnostics.proxy_a_distance`.
    """
    device = next(model.parameters()).device
    parts, labels = [], []
    for name, dataset in datasets.items():
        parts.append(pooled_features(model, dataset, layer, data or FINETUNE_DATA, device))
        labels += [name] * len(dataset)
    return np.concatenate(parts), labels


__all__ = ["DISC_COLUMNS", "FT_ALL", "FT_FEW", "GRID_COLUMNS", "HISTORY_KEYS", "LESSON_KNOBS_04", "headline", "LESSON_KNOBS_05",
           "COMPARED_METHODS", "ORACLE", "SELECTION_COLUMNS", "SELECTION_PERCENT", "SOURCE_ONLY", "SUMMARY_COLUMNS",
           "Comparison", "RunRecord", "ShiftData", "alignment_config", "choose", "compare_methods", "disc_acc_rows",
           "gain_lines", "goal_check", "load_shift", "pooled_by_domain", "readable_rows", "reference_rows", "source_test_wer",
           "run_one", "selection_rows", "summarize"]

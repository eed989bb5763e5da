"""The search over adaptation settings: for each (weight, layer) of a grid, adapt a copy of the
model, score it without target labels, and choose by a rule of :mod:`asrlab.adapt.selection`.

One search serves every caller: ``asrlab adapt`` (:func:`adapt_search`, from manifest files to a
run folder) and the course's comparisons (``asrlab.course.adaptation.compare_methods``, which
caches its runs and also scores them on labelled test sets). Where callers differ they pass
:class:`SearchHooks`: where a candidate's model is written, scores that are reported but never
choose, and a store of trials from earlier runs.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from asrlab.adapt.selection import RULES, Candidate, score_model, select
from asrlab.adapt.training import AdaptResult, adapt_model, load_init, probe_encoder
from asrlab.config import ALIGNMENT_METHODS, AlignmentConfig, AlignmentMethod, LoaderConfig, TrainConfig
from asrlab.datasets import SpeechDataset, model_dataset
from asrlab.files import check_writable, finite_json, save_json
from asrlab.manifest import Utterance, read_manifests
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel
from asrlab.utils import pick_device

#: Weights tried when none is given. The losses live on very different scales: between the source
#: and the noisy or telephone domains, asrlab-source's encoder frames give an MMD of ~1e-2 and a
#: CORAL loss of ~5e-4, while the domain cross-entropy starts near 0.7 and CTC near 1.
DEFAULT_WEIGHTS: dict[str, tuple[float, ...]] = {"mmd": (1.0, 10.0), "coral": (100.0, 1000.0), "dann": (0.1, 1.0)}
#: Layers tried when none is given: the last encoder layer and the one below it.
DEFAULT_LAYERS: tuple[int, ...] = (-1, -2)
#: What ``asrlab adapt`` writes beside ``model.pt``: the grid, every candidate's scores, the choice.
ADAPT_FILE = "adapt.json"
#: Per-step columns of a candidate's training history that a :class:`Trial` keeps.
HISTORY_KEYS: tuple[str, ...] = ("ctc", "align", "disc_acc", "grl_coef")


def setting_name(weight: float, layer: int) -> str:
    """A candidate's label, e.g. ``"lambda=0.1,layer=-1"`` (also its folder under ``candidates/``)."""
    return f"lambda={weight:g},layer={layer}"


# --------------------------------------------------------------------------- what a search reads and makes
@dataclass(frozen=True)
class SearchData:
    """The datasets of a search.

    Attributes:
        source: labelled source data to train on.
        target: unlabelled target data to align with (built with ``labelled=False``).
        source_dev: labelled source dev data for the label-free scores.
        target_score: unlabelled target data for the label-free scores.
    """

    source: SpeechDataset
    target: SpeechDataset
    source_dev: SpeechDataset
    target_score: SpeechDataset


@dataclass
class Trial:
    """One candidate of a search: its settings, its scores, what training logged.

    Attributes:
        config: the alignment settings it was adapted with.
        scores: the label-free scores of :func:`~asrlab.adapt.selection.score_model`, what a rule
            chooses by (a trial recalled from JSON holds None where a score was not finite).
        extra: the caller's scores (:attr:`SearchHooks.extra_scores`), reported, never chosen by.
        history: the :data:`HISTORY_KEYS` columns the run logged, per step.
        path: its ``model.pt``, if written.
        seconds: training and scoring time.
    """

    config: AlignmentConfig
    scores: dict[str, float]
    extra: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    path: Path | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return setting_name(self.config.weight, self.config.layer)

    def candidate(self) -> Candidate:
        """The trial as :func:`~asrlab.adapt.selection.select` sees it: label-free scores only."""
        return Candidate(self.name, {"weight": self.config.weight, "layer": self.config.layer}, dict(self.scores),
                         self.path)


@dataclass(frozen=True)
class SearchHooks:
    """Where the callers of :func:`grid_search` differ; every hook is optional.

    Attributes:
        run_dir: a candidate's settings -> the folder for its ``model.pt`` and resume checkpoint
            (None: kept in memory only).
        extra_scores: the adaptation run -> scores to report beside the label-free ones (e.g. test
            WER); they never choose.
        recall: a candidate's settings -> its trial from an earlier search, or None to train it.
        keep: called with every trial trained (not recalled), e.g. to store it for ``recall``.
        report: called with every trial, recalled or trained (e.g. to print progress).
    """

    run_dir: Callable[[AlignmentConfig], Path | None] | None = None
    extra_scores: Callable[[AdaptResult], dict[str, float]] | None = None
    recall: Callable[[AlignmentConfig], Trial | None] | None = None
    keep: Callable[[Trial], None] | None = None
    report: Callable[[Trial], None] | None = None


@dataclass
class GridSearch:
    """What :func:`grid_search` did.

    Attributes:
        trials: one per (weight, layer), weights outer, layers inner.
        index: the position of the chosen trial.
        rule: the rule that chose it.
    """

    trials: list[Trial]
    index: int
    rule: str

    @property
    def chosen(self) -> Trial:
        return self.trials[self.index]


# --------------------------------------------------------------------------- the search
def run_trial(init: CTCModel, data: SearchData, config: AlignmentConfig, train_config: TrainConfig, *,
              batch: LoaderConfig, score_batch: LoaderConfig, hooks: SearchHooks = SearchHooks(),
              progress: bool = False, meta: dict[str, Any] | None = None) -> Trial:
    """One candidate: recalled through ``hooks.recall``, or adapted from a copy of ``init`` and scored.

    Args:
        init: the model to start from (left untouched).
        data: the search's datasets.
        config: the candidate's alignment settings.
        train_config: optimisation settings (with the run's seed).
        batch: batching of the training data.
        score_batch: batching of the scoring passes.
        hooks: see :class:`SearchHooks`.
        progress: show a progress bar while training.
        meta: extra metadata stored in ``model.pt``.
    """
    trial = hooks.recall(config) if hooks.recall is not None else None
    if trial is None:
        started = time.perf_counter()
        run_dir = hooks.run_dir(config) if hooks.run_dir is not None else None
        result = adapt_model(init, data.source, data.target, config, train_config, data=batch, out_dir=run_dir,
                             progress=progress, meta=meta)
        device = next(result.model.parameters()).device
        scores = score_model(result.model, data.source_dev, data.target_score, score_batch, device)
        extra = hooks.extra_scores(result) if hooks.extra_scores is not None else {}
        history = {k: result.history.column(k) for k in HISTORY_KEYS if result.history.column(k)}
        trial = Trial(config, {k: float(v) for k, v in scores.items()}, extra, history,
                      run_dir / "model.pt" if run_dir is not None else None, time.perf_counter() - started)
        del result
        if hooks.keep is not None:
            hooks.keep(trial)
    if hooks.report is not None:
        hooks.report(trial)
    return trial


def choose_trial(trials: Sequence[Trial], rule: str) -> int:
    """The position of the trial ``rule`` picks (:func:`~asrlab.adapt.selection.select` on the
    label-free scores; the first one on ties)."""
    candidates = [t.candidate() for t in trials]
    picked = select(candidates, rule)
    return next(i for i, c in enumerate(candidates) if c is picked)


def grid_search(init: CTCModel, data: SearchData, base: AlignmentConfig, weights: Sequence[float],
                layers: Sequence[int], train_config: TrainConfig, rule: str, *, batch: LoaderConfig,
                score_batch: LoaderConfig, hooks: SearchHooks = SearchHooks(), progress: bool = False,
                meta: dict[str, Any] | None = None) -> GridSearch:
    """Adapt with every (weight, layer), score each without target labels, choose by ``rule``.

    Args:
        init: the model to start from (left untouched).
        data: the search's datasets.
        base: the alignment settings (method, pooling...) every candidate shares.
        weights: the lambdas to try (outer loop).
        layers: the encoder layers to align (inner loop).
        train_config: optimisation settings of every candidate.
        rule: a key of :data:`~asrlab.adapt.selection.RULES`.
        batch, score_batch, hooks, progress, meta: see :func:`run_trial`.

    Raises:
        ValueError: unknown rule (before any training), or no candidate has a finite score for it.
    """
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; use one of {', '.join(RULES)}")
    trials = [run_trial(init, data, replace(base, weight=float(weight), layer=int(layer)), train_config,
                        batch=batch, score_batch=score_batch, hooks=hooks, progress=progress, meta=meta)
              for weight in weights for layer in layers]
    return GridSearch(trials, choose_trial(trials, rule), rule)


# --------------------------------------------------------------------------- asrlab adapt
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


def final_scores(result: AdaptResult) -> dict[str, float]:
    """``final_ctc``, ``final_align``, ``final_disc_acc``: what the last training step logged."""
    last = result.history.steps[-1] if result.history.steps else {}
    return {f"final_{k}": float(last[k]) for k in ("ctc", "align", "disc_acc") if k in last}


@dataclass
class SearchResult:
    """What :func:`adapt_search` did.

    Attributes:
        chosen: the selected candidate (its model is also ``out_dir/model.pt``).
        candidates: every trained candidate with its scores (label-free, then :func:`final_scores`).
        reference: the initial model's scores, for comparison (never selectable).
        rule: the selection rule.
        out_dir: the run folder (``model.pt``, ``adapt.json``, ``candidates/``).
        seconds: wall time.
        record: what ``adapt.json`` holds.
    """

    chosen: Candidate
    candidates: list[Candidate]
    reference: Candidate
    rule: str
    out_dir: Path
    seconds: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)


def adapt_search(init: str | os.PathLike | LoadedModel, source_manifests: Sequence[str | os.PathLike],
                 target_manifests: Sequence[str | os.PathLike], method: AlignmentMethod, out_dir: str | os.PathLike,
                 *, weights: Sequence[float] | None = None, layers: Sequence[int] | None = None,
                 rule: str = "source-dev", source_dev: Sequence[str | os.PathLike] | None = None,
                 train_config: TrainConfig = TrainConfig(epochs=5, lr=1e-3, warmup_steps=50),
                 base: AlignmentConfig = AlignmentConfig(), data: LoaderConfig = LoaderConfig(num_workers=0),
                 progress: bool = False) -> SearchResult:
    """``asrlab adapt``: :func:`grid_search` from manifest files into a run folder.

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
    out = check_writable(out_dir, "the run folder (--out)")  # before any training, not at the end
    loaded = load_init(init)
    source_utts = read_manifests(source_manifests)
    if source_dev:
        dev_utts, dev_note = read_manifests(source_dev), [str(p) for p in source_dev]
    else:
        source_utts, dev_utts = holdout_split(source_utts)
        dev_note = f"every 10th source utterance held out ({len(dev_utts)} of {len(source_utts) + len(dev_utts)})"
    source = model_dataset(source_utts, loaded, on_bad=data.on_bad)
    dev = model_dataset(dev_utts, loaded, on_bad=data.on_bad)
    target = model_dataset(read_manifests(target_manifests), loaded, labelled=False, on_bad=data.on_bad)

    num_layers = len(probe_encoder(loaded.model, loaded.features).layers)
    weights = [float(w) for w in (weights if weights else DEFAULT_WEIGHTS[method])]
    layers = resolve_layers(layers if layers else DEFAULT_LAYERS, num_layers)
    single = len(weights) * len(layers) == 1
    device = pick_device(train_config.device)
    score_batch = replace(data, num_workers=0)
    loaded.model.to(device)
    reference = Candidate("init", {"weight": 0.0}, score_model(loaded.model, dev, target, score_batch, device))
    meta = {"init": str(init) if not isinstance(init, LoadedModel) else loaded.meta.get("name"),
            "source_manifests": [str(p) for p in source_manifests],
            "target_manifests": [str(p) for p in target_manifests]}

    def run_dir(config: AlignmentConfig) -> Path:
        return out if single else out / "candidates" / setting_name(config.weight, config.layer)

    search = grid_search(loaded.model, SearchData(source, target, dev, target), replace(base, method=method),
                         weights, layers, train_config, rule, batch=data, score_batch=score_batch, progress=progress,
                         meta=meta, hooks=SearchHooks(run_dir=run_dir, extra_scores=final_scores))
    candidates = [Candidate(t.name, {"weight": t.config.weight, "layer": t.config.layer}, {**t.scores, **t.extra},
                            t.path) for t in search.trials]
    chosen = candidates[search.index]
    if not single:
        shutil.copyfile(chosen.path, out / "model.pt")  # type: ignore[arg-type]
    record = {"method": method, "rule": rule, "score": RULES[rule], "uses_target_labels": False,
              "grid": {"weights": sorted(set(weights)), "layers": layers},
              "chosen": chosen.to_dict(), "candidates": [c.to_dict() for c in candidates],
              "reference": reference.to_dict(), "source_dev": dev_note, "alignment": base.to_dict(),
              "train_config": asdict(train_config), **meta}
    save_json(out / ADAPT_FILE, finite_json(record))
    return SearchResult(chosen, candidates, reference, rule, out, time.perf_counter() - started, record)


__all__ = ["ADAPT_FILE", "DEFAULT_LAYERS", "DEFAULT_WEIGHTS", "HISTORY_KEYS", "GridSearch", "SearchData",
           "SearchHooks", "SearchResult", "Trial", "adapt_search", "choose_trial", "final_scores", "grid_search",
           "holdout_split", "resolve_layers", "run_trial", "setting_name"]

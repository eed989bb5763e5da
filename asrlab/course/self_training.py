"""Self-training and test-time adaptation against the severity of a shift (notebook 07).

The shift is graded noise (:mod:`asrlab.corpus.graded`): the same source utterances at a few
fixed SNRs. At every level the notebook runs the same methods and scores them on the level's
test set:

============================  ==============================  =====================================
method                        what it uses of the target      how
============================  ==============================  =====================================
``source-only``               nothing                         the source model as it is
``self-training``             audio                           greedy pseudo-labels, most confident
                                                              share kept, every weight fine-tuned
``self-training + source LM`` audio (+ source-domain text)    the same, pseudo-labels from beam
                                                              search with a source-text trigram LM
``test-time adaptation``      audio, one test utterance       entropy minimisation per utterance,
                              at a time                       reset after each
``self-training + MMD``       audio                           self-training whose training batches
                                                              are also aligned (MMD) with the
                                                              unlabelled target audio: combined
``source + target noise``     audio (its noise) and           the target's noise, cut from the
                              source labels                   quiet frames of its unlabelled audio,
                                                              mixed into as many minutes of
                                                              labelled source speech; every
                                                              weight fine-tuned on that
``fine-tuning on labels``     labels (reference)              every weight fine-tuned on the
                                                              unlabelled split's *true*
                                                              transcripts: self-training with
                                                              perfect pseudo-labels
============================  ==============================  =====================================

Every setting is a knob fixed before the run (:data:`LESSON_KNOBS`); none is chosen on target
labels. The pseudo-labels' quality against the kept share is shown on the level's *dev* split,
the only place target labels are read apart from the reference.

Two measures put a gain in proportion (:func:`scoreboard`): the *headroom*, the share of the
level's errors that would go if the model read the noisy speech as well as the clean (a method
that only undoes the noise cannot gain more), and the *gap recovered*, the share of the
reference's gain that a label-free method reaches.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from asrlab.adapt.pseudo_labels import confidence_curve, pseudo_label, self_train
from asrlab.adapt.tta import TTAConfig, adapt_and_transcribe
from asrlab.config import AlignmentConfig, LoaderConfig, TrainConfig
from asrlab.corpus.graded import build_graded_noise
from asrlab.course import run_records
from asrlab.datasets import SpeechDataset, corpus_split, model_dataset
from asrlab.decoding import make_decoder
from asrlab.evaluate import evaluate, references
from asrlab.lm import build_lm
from asrlab.manifest import Utterance, manifest_path, read_manifest
from asrlab.metrics import error_rates
from asrlab.models.checkpoint import LoadedModel

SOURCE_ONLY = "source-only"
SELF_TRAINING = "self-training"
SELF_TRAINING_LM = "self-training + source LM"
TEST_TIME = "test-time adaptation"
COMBINED = "self-training + MMD"
SIMULATED = "source + target noise"
REFERENCE = "fine-tuning on labels"
#: The compared methods, in table order.
METHODS: tuple[str, ...] = (SOURCE_ONLY, SELF_TRAINING, SELF_TRAINING_LM, TEST_TIME, COMBINED, SIMULATED, REFERENCE)
#: What each method reads of the target domain (every table says it).
USES: dict[str, str] = {SOURCE_ONLY: "nothing", SELF_TRAINING: "audio only",
                        SELF_TRAINING_LM: "audio only (+ source text)", TEST_TIME: "audio only (per utterance)",
                        COMBINED: "audio only", SIMULATED: "audio only (its noise) + source labels",
                        REFERENCE: "labels"}
#: Batching of every fine-tuning run (20 s of padded audio per step).
BATCH = LoaderConfig(max_seconds=20.0, num_workers=0)

#: The knobs of notebook 07 as its assertions were measured, per size (see
#: :func:`asrlab.course.runner.lesson_check`; ``tests/test_lesson_knobs.py`` keeps them in step).
LESSON_KNOBS: dict[str, dict[str, object]] = {
    "smoke": {"LEVELS": (20.0,), "METHODS": METHODS, "LIMIT": 6, "EPOCHS": 1, "LR": 2e-4, "SHARE": 0.6,
              "ROUNDS": 1, "TTA_STEPS": 1, "TTA_LR": 1e-4, "TTA_PARAMETERS": "frontend", "BEAM": 4, "SEEDS": (0,)},
    "lab": {"LEVELS": (20.0, 10.0), "METHODS": (SOURCE_ONLY, SELF_TRAINING, TEST_TIME, SIMULATED, REFERENCE),
            "LIMIT": None,
            "EPOCHS": 2, "LR": 2e-4, "SHARE": 0.6, "ROUNDS": 1, "TTA_STEPS": 2, "TTA_LR": 1e-4,
            "TTA_PARAMETERS": "frontend", "BEAM": 8, "SEEDS": (0,)},
    "full": {"LEVELS": (20.0, 10.0, 5.0), "METHODS": METHODS, "LIMIT": None, "EPOCHS": 3, "LR": 2e-4,
             "SHARE": 0.6, "ROUNDS": 1, "TTA_STEPS": 3, "TTA_LR": 1e-4, "TTA_PARAMETERS": "frontend", "BEAM": 16,
             "SEEDS": (0, 1, 2)},
}


@dataclass(frozen=True)
class Knobs:
    """The settings every run of the ladder shares (one per knob of the notebook)."""

    epochs: int
    lr: float
    share: float
    rounds: int
    tta: TTAConfig
    beam: int
    alignment: AlignmentConfig = AlignmentConfig(method="mmd", weight=1.0, layer=-1)
    #: labelled source minutes that the target's noise is mixed into (``source + target noise``);
    #: None: as many as the level's unlabelled split holds, so every trained method sees as much audio
    simulated_minutes: float | None = None
    #: the share of each target utterance's quietest frames taken as its noise
    noise_quantile: float = 0.1

    def train_config(self, seed: int) -> TrainConfig:
        """The fine-tuning settings of self-training and of the reference."""
        return replace(TrainConfig(), epochs=self.epochs, lr=self.lr, warmup_steps=10, seed=seed,
                       checkpoint_every=0, eval_every=0)


@dataclass
class Level:
    """One severity: its domain, SNR and datasets (``train`` labelled, ``unlabelled`` audio only)."""

    domain: str
    snr_db: float
    train: list[Utterance]
    unlabelled: list[Utterance]
    dev: SpeechDataset
    test: SpeechDataset


def load_levels(corpus: str | Path, levels: Sequence[float], loaded: LoadedModel, *, limit: int | None = None,
                seed: int = 0) -> list[Level]:
    """Build the graded noise domains in ``corpus`` (kept when already built) and load them.

    ``limit`` keeps the first utterances of every split (smoke runs).
    """
    built = build_graded_noise(corpus, levels, seed=seed)
    out = []
    for level in built:
        split = {name: read_manifest(path)[:limit] for name, path in level.manifests.items()}
        out.append(Level(level.domain, level.snr_db, split["train"], split["unlabelled"],
                         model_dataset(split["dev"], loaded), model_dataset(split["test"], loaded)))
    return out


def source_text_lm(corpus: str | Path, path: str | Path, order: int = 3) -> Path:
    """A word n-gram LM of the source domain's training transcripts, written as ARPA to ``path``.

    Source text only: no target transcript takes part, so pseudo-labels decoded with it still use
    nothing of the target but its audio.
    """
    texts = [u.text for u in read_manifest(manifest_path(corpus, "source", "train"))]
    return build_lm(texts, order=order).write_arpa(path)


@dataclass
class LadderRun:
    """One method at one level with one seed: test (and source test) WER, cost, extras."""

    level: str
    snr_db: float
    method: str
    seed: int
    test_wer: float
    source_test_wer: float
    seconds: float
    uses: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_method(method: str, loaded: LoadedModel, level: Level, source_test: SpeechDataset, knobs: Knobs, *,
               seed: int = 0, lm_path: str | Path | None = None, source_train: Sequence[Utterance] = (),
               work_dir: str | Path | None = None, device: Any = "cpu") -> LadderRun:
    """Run one method at one level and score it on the level's test set and the source test set.

    ``source_train`` (labelled source utterances) and ``work_dir`` (where its noisy copies are
    written) are needed by ``source + target noise`` only."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    started = time.perf_counter()
    details: dict[str, Any] = {}
    model = loaded.model
    if method in (SELF_TRAINING, SELF_TRAINING_LM, COMBINED):
        decoder = None
        if method == SELF_TRAINING_LM:
            if lm_path is None:
                raise ValueError(f"{method} needs lm_path (see source_text_lm)")
            decoder = make_decoder("beam", knobs.beam, lm_path, 0.5, 1.0, vocab=loaded.vocab)
        result = self_train(loaded, level.unlabelled, knobs.train_config(seed), rounds=knobs.rounds,
                            share=knobs.share, decoder=decoder, data=BATCH,
                            alignment=knobs.alignment if method == COMBINED else None)
        model = result.model
        details["rounds"] = [r.as_dict() for r in result.rounds]
    elif method == SIMULATED:
        model, details = _train_on_simulated(loaded, level, knobs, seed, source_train, work_dir)
    elif method == REFERENCE:
        from asrlab.finetune import finetune

        train = model_dataset(level.unlabelled, loaded)  # the same audio as self-training, true texts
        model = finetune(loaded, train, "full", knobs.train_config(seed), data=BATCH).model
        details["labelled_minutes"] = round(sum(u.duration for u in level.unlabelled) / 60.0, 2)
    model.to(device)
    if method == TEST_TIME:
        tta = adapt_and_transcribe(model, level.test, knobs.tta, device=device)
        test_wer = error_rates(references(level.test), tta.hypotheses).wer
        source_wer = evaluate(model, source_test, BATCH, device).rates.wer  # the weights come back unchanged
        details["seconds_per_audio_second"] = tta.real_time_factor
        details["objective_drop"] = tta.mean_objective_drop
    else:
        test_wer = evaluate(model, level.test, BATCH, device).rates.wer
        source_wer = evaluate(model, source_test, BATCH, device).rates.wer
    return LadderRun(level.domain, level.snr_db, method, seed, test_wer, source_wer,
                     round(time.perf_counter() - started, 1), USES[method], details)


def _train_on_simulated(loaded: LoadedModel, level: Level, knobs: Knobs, seed: int,
                        source_train: Sequence[Utterance], work_dir: str | Path | None) -> tuple[Any, dict[str, Any]]:
    """``source + target noise``: estimate the noise of the level's unlabelled audio, mix it into
    labelled source speech, fine-tune every weight on the mix."""
    import tempfile

    from asrlab.adapt.noise_simulation import estimate_noise, simulate_utterances
    from asrlab.audio import load_audio
    from asrlab.course.fine_tuning import take_minutes
    from asrlab.finetune import finetune

    if not source_train:
        raise ValueError(f"{SIMULATED} needs source_train: the labelled source utterances to mix the noise into")
    estimate = estimate_noise([load_audio(u.audio) for u in level.unlabelled], quantile=knobs.noise_quantile)
    minutes = knobs.simulated_minutes or sum(u.duration for u in level.unlabelled) / 60.0
    chosen = take_minutes(source_train, minutes, seed)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(work_dir) / f"{level.domain}-s{seed}" if work_dir is not None else Path(scratch)
        simulated = simulate_utterances(chosen, estimate, out, domain=f"{level.domain}-simulated", seed=seed)
        model = finetune(loaded, model_dataset(simulated, loaded), "full", knobs.train_config(seed), data=BATCH).model
    details = {"noise_seconds": round(estimate.seconds, 1), "source_minutes": round(minutes, 2),
               "estimated_snr_db": [round(float(q), 1) for q in np.percentile(estimate.snr_db, (10, 50, 90))]}
    return model, details


def run_ladder(loaded: LoadedModel, levels: Sequence[Level], source_test: SpeechDataset, knobs: Knobs, *,
               methods: Sequence[str] = METHODS, seeds: Sequence[int] = (0,), lm_path: str | Path | None = None,
               source_train: Sequence[Utterance] = (), cache_dir: str | Path | None = None,
               work_dir: str | Path | None = None, device: Any = "cpu",
               report: Callable[[LadderRun], None] | None = None) -> list[LadderRun]:
    """Every method at every level and seed (source-only and test-time adaptation, which train
    nothing, once per level), each run kept as JSON in ``cache_dir`` and reused while its
    settings match. ``work_dir`` holds the simulated-noise method's noisy copies of the source
    audio (default ``cache_dir/simulated``; keep it out of a committed ``cache_dir``)."""
    from asrlab.layers import model_key

    fingerprint = model_key(loaded.model, loaded.features, str(loaded.meta.get("name", "model")))
    if work_dir is None and cache_dir is not None:
        work_dir = Path(cache_dir) / "simulated"
    runs = []
    for level in levels:
        for method in methods:
            for seed in (seeds[:1] if method in (SOURCE_ONLY, TEST_TIME) else seeds):
                settings = {"method": method, "seed": seed, "level": level.domain, "knobs": asdict(knobs),
                            "sizes": [len(level.train), len(level.unlabelled), len(level.test), len(source_test)],
                            "model": fingerprint}
                if method == SIMULATED:
                    settings["source_train"] = len(source_train)
                cache = (Path(cache_dir) / f"{level.domain}-{method.replace(' ', '_')}-s{seed}.json"
                         if cache_dir is not None else None)
                stored = run_records.recall(cache, settings, key="run") if cache is not None else None
                if stored is not None:
                    run = LadderRun(**stored)
                else:
                    run = run_method(method, loaded, level, source_test, knobs, seed=seed, lm_path=lm_path,
                                     source_train=source_train, work_dir=work_dir, device=device)
                    if cache is not None:
                        run_records.keep(cache, settings, run.as_dict(), key="run")
                if report is not None:
                    report(run)
                runs.append(run)
    return runs


def scoreboard(runs: Sequence[LadderRun], clean_wer: float | None = None) -> list[dict[str, Any]]:
    """One row per (level, method): mean test WER over seeds and its spread, the relative WER
    reduction against source-only at that level (positive: fewer errors), and for label-free
    methods the share of the reference's gain they reach (``gap_recovered``).

    Args:
        runs: :func:`run_ladder`'s runs.
        clean_wer: the source model's WER on the clean source test set; with it each row also
            gets the level's ``headroom``: ``(source-only - clean) / source-only``, the most a
            method that only undoes the noise can cut.
    """
    rows = []
    keys = list(dict.fromkeys((r.level, r.method) for r in runs))
    means = {key: float(np.mean([r.test_wer for r in runs if (r.level, r.method) == key])) for key in keys}
    for level, method in keys:
        group = [r for r in runs if r.level == level and r.method == method]
        wers = np.array([r.test_wer for r in group])
        base = means.get((level, SOURCE_ONLY), math.nan)
        reference = means.get((level, REFERENCE), math.nan)
        labels_gain = base - reference
        row = {"level": level, "snr_db": group[0].snr_db, "method": method, "uses": USES[method],
               "seeds": len(group), "test_wer": float(wers.mean()),
               "test_wer_sd": float(wers.std(ddof=1)) if len(group) > 1 else 0.0,
               "source_test_wer": float(np.mean([r.source_test_wer for r in group])),
               "relative_reduction": (base - float(wers.mean())) / base if base > 0 else math.nan,
               "gap_recovered": ((base - float(wers.mean())) / labels_gain
                                 if method not in (SOURCE_ONLY, REFERENCE) and labels_gain > 0 else math.nan),
               "seconds": float(np.mean([r.seconds for r in group]))}
        if clean_wer is not None:
            row["headroom"] = (base - clean_wer) / base if base > 0 else math.nan
        rows.append(row)
    return rows


def pseudo_label_curve(loaded: LoadedModel, level: Level, *, lm_path: str | Path | None = None, beam: int = 8,
                       shares: Sequence[float] = (1.0, 0.8, 0.6, 0.4, 0.2), device: Any = "cpu"
                       ) -> list[dict[str, Any]]:
    """The kept pseudo-labels' WER against the kept share, on the level's *dev* split, greedy and
    (with ``lm_path``) beam search with the source-text LM."""
    loaded.model.to(device)
    decoders = {"greedy": None}
    if lm_path is not None:
        decoders["source LM"] = make_decoder("beam", beam, lm_path, 0.5, 1.0, vocab=loaded.vocab)
    rows = []
    for name, decoder in decoders.items():
        labels = pseudo_label(loaded.model, level.dev, decoder=decoder, data=BATCH, device=device)
        rows += [{"level": level.domain, "decoder": name, **row} for row in confidence_curve(labels, shares)]
    return rows


def best_label_free(rows: Sequence[Mapping[str, Any]], level: str) -> Mapping[str, Any]:
    """The label-free row with the lowest test WER at ``level`` (for reporting: the methods'
    settings were fixed beforehand, so this picks among finished runs, it tunes nothing)."""
    free = [r for r in rows if r["level"] == level and r["method"] not in (SOURCE_ONLY, REFERENCE)]
    return min(free, key=lambda r: r["test_wer"])


__all__ = ["BATCH", "COMBINED", "LESSON_KNOBS", "METHODS", "REFERENCE", "SELF_TRAINING", "SELF_TRAINING_LM", "SIMULATED",
           "SOURCE_ONLY",
           "TEST_TIME", "USES", "Knobs", "LadderRun", "Level", "best_label_free", "corpus_split", "load_levels",
           "pseudo_label_curve", "run_ladder", "run_method", "scoreboard", "source_text_lm"]

"""Studies of CTC decoding: domain language models, timed decoders, and sweeps of their settings.

The acoustic model runs once per utterance (:func:`acoustic_log_probs`); every decoder and every
sweep point then re-decodes the stored log-probabilities, so a comparison of decoders costs only
decoding. Speeds are measured on the machine that runs the study and reported as utterances per
second, both for decoding alone and end to end (acoustic model + decoding).

Language models follow one rule: the target-domain LM is built from the target domain's
*train/unlabelled* manifest texts, its interpolation weight is chosen on *dev* text, and decoder
weights are tuned on *dev* audio (:func:`asrlab.decoding.tune.grid_search`); test data only scores.

A few measures explain what the comparisons show: how peaked the CTC posteriors are
(:func:`posterior_peaks`: why a beam alone changes little), how many transcripts a decoder
changes (:func:`changed_share`), and per domain which LM helps, beside its dev perplexity and the
test words it lacks (:func:`lm_effects`, :func:`oov_rate`).
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from asrlab.decoding.base import Decoder, decode_all
from asrlab.evaluate import utterance_log_probs
from asrlab.lm import build_lm, choose_weight, interpolate, read_texts
from asrlab.lm.arpa import read_vocabulary
from asrlab.manifest import manifest_path
from asrlab.metrics import error_rates
from asrlab.text import CharVocabulary

#: Splits whose text may train a language model.
LM_SPLITS = ("train", "unlabelled")

#: The knobs of notebook 06 (``notebooks/06_decoding_and_errors.ipynb``) as its assertions about
#: the lesson's effects were measured, per size: beam search alone stays close to greedy, a
#: target-text LM meets the goal, the LM that predicts the dev text better decodes the test set
#: better. The notebook compares its knobs with these (:func:`asrlab.course.runner.lesson_check`)
#: and runs those assertions only while they match; the correctness checks always run. Keep them
#: in step with the notebook's knobs cell (``tests/test_lesson_knobs.py`` checks that they are).
LESSON_KNOBS: dict[str, dict[str, object]] = {
    "smoke": {
        "TARGETS": ("commands", "accent"),
        "GOAL_DOMAIN": "commands",
        "LIMIT": 8,
        "BEAM": 8,
        "LM_ORDER": 3,
        "LM_WEIGHTS": (0.0, 0.5, 1.0),
        "WORD_SCORES": (0.0, 1.0),
        "SWEEP_BEAMS": (1, 4, 8),
        "SWEEP_WEIGHTS": (0.0, 0.5, 1.0),
        "GOAL": 0.30,
        "BEAM_TOL": 0.15,
        "SEED": 0,
    },
    "lab": {
        "TARGETS": ("commands", "accent", "noisy", "telephone", "real_telephone"),
        "GOAL_DOMAIN": "commands",
        "LIMIT": None,
        "BEAM": 16,
        "LM_ORDER": 3,
        "LM_WEIGHTS": (0.0, 0.5, 1.0, 1.5),
        "WORD_SCORES": (0.0, 1.0),
        "SWEEP_BEAMS": (1, 4, 16, 32),
        "SWEEP_WEIGHTS": (0.0, 0.5, 1.0, 1.5, 3.0),
        "GOAL": 0.30,
        "BEAM_TOL": 0.03,
        "SEED": 0,
    },
    "full": {
        "TARGETS": ("commands", "accent", "noisy", "telephone", "real_telephone"),
        "GOAL_DOMAIN": "commands",
        "LIMIT": None,
        "BEAM": 32,
        "LM_ORDER": 3,
        "LM_WEIGHTS": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
        "WORD_SCORES": (-1.0, 0.0, 1.0),
        "SWEEP_BEAMS": (1, 2, 4, 8, 16, 32, 64),
        "SWEEP_WEIGHTS": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
        "GOAL": 0.30,
        "BEAM_TOL": 0.03,
        "SEED": 0,
    },
}


def domain_texts(corpus: str | os.PathLike, domain: str, splits: Sequence[str] = LM_SPLITS) -> list[str]:
    """Normalised transcripts of a domain's manifests ``<corpus>/<domain>/<split>.jsonl``.

    Raises:
        ValueError: a split other than train/unlabelled is asked for (dev and test texts must
            not train an LM that is then scored on them).
    """
    bad = [s for s in splits if s not in LM_SPLITS]
    if bad:
        raise ValueError(f"LM text comes from {LM_SPLITS} only, not {bad}: dev/test transcripts would leak")
    return read_texts([manifest_path(corpus, domain, s) for s in splits])


@dataclass
class DomainLMs:
    """A source LM, a target LM and their interpolation, written as ARPA files.

    Attributes:
        paths: ``{"source", "target", "mixed"}`` -> ARPA file.
        weight: the target LM's share of the mixture, chosen on dev text.
        perplexity: dev perplexity of each model (the mixture's is that of the written ARPA file).
        sentences: training sentences of the source and target LMs.
        exact_mixture_perplexity: dev perplexity of the exact mixture at ``weight``, the value the
            weight minimises. The written back-off file approximates the mixture on n-grams neither
            model lists, and knows the words of both, so its perplexity can be higher (even higher
            than the target LM's, which scores every word it does not know as one ``<unk>``).
    """

    paths: dict[str, Path]
    weight: float
    perplexity: dict[str, float]
    sentences: dict[str, int] = field(default_factory=dict)
    exact_mixture_perplexity: float | None = None


def build_domain_lms(source_texts: Sequence[str], target_texts: Sequence[str], dev_texts: Sequence[str],
                     folder: str | os.PathLike, *, order: int = 3, prefix: str = "") -> DomainLMs:
    """Word n-gram LMs of source and target text, and their mixture weighted on dev perplexity.

    Args:
        source_texts: sentences of the source domain (its train text).
        target_texts: sentences of the target domain (train/unlabelled, never dev/test).
        dev_texts: target dev sentences: they choose the weight and are scored, never trained on.
        folder: where ``<prefix>source.arpa``, ``<prefix>target.arpa``, ``<prefix>mixed.arpa`` go.
        order: n-gram order.
        prefix: file name prefix (e.g. the domain name).
    """
    if not source_texts or not target_texts or not dev_texts:
        raise ValueError("source, target and dev texts must all be non-empty")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source, target = build_lm(source_texts, order=order), build_lm(target_texts, order=order)
    weight, exact = choose_weight(target, source, dev_texts)
    mixed = interpolate(target, source, weight)
    models = {"source": source, "target": target, "mixed": mixed}
    paths = {name: lm.write_arpa(folder / f"{prefix}{name}.arpa") for name, lm in models.items()}
    return DomainLMs({k: Path(v) for k, v in paths.items()}, weight,
                     {name: lm.perplexity(dev_texts) for name, lm in models.items()},
                     {"source": len(source_texts), "target": len(target_texts)}, exact)


def acoustic_log_probs(model: torch.nn.Module, dataset, device: torch.device | str = "cpu"
                       ) -> tuple[list[torch.Tensor], list[str], float]:
    """Run the acoustic model once over a labelled dataset.

    Returns:
        ``(log_probs, references, seconds)``: per utterance a ``(T_i, V)`` CPU tensor, the
        normalised reference text, and the wall time of the forward passes.
    """
    start = time.perf_counter()
    log_probs = utterance_log_probs(model, dataset, device)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    references = [dataset.vocab.decode(dataset.tokens[i]) for i in range(len(dataset))]
    return log_probs, references, seconds


def timed_decode(decoder: Decoder, log_probs: Sequence[torch.Tensor], references: Sequence[str],
                 acoustic_seconds: float = 0.0, batch_size: int = 32) -> dict:
    """Decode stored log-probabilities, score them and time the decoding.

    Args:
        decoder: any :class:`~asrlab.decoding.Decoder`.
        log_probs: per utterance ``(T_i, V)``.
        references: the reference transcripts, same order.
        acoustic_seconds: time the acoustic model took for these utterances (for the end-to-end speed).

    Returns:
        ``{"wer", "cer", "seconds" (decoding), "decode_utterances_per_second",
        "utterances_per_second" (acoustic model + decoding), "hypotheses"}``.
    """
    if len(log_probs) != len(references) or not references:
        raise ValueError(f"need as many references as utterances (got {len(references)} and {len(log_probs)}), "
                         "and at least one")
    start = time.perf_counter()
    hypotheses = decode_all(decoder, log_probs, batch_size)
    seconds = time.perf_counter() - start
    rates = error_rates(references, hypotheses)
    n = len(references)
    return {"wer": rates.wer, "cer": rates.cer, "seconds": seconds,
            "decode_utterances_per_second": n / max(seconds, 1e-9),
            "utterances_per_second": n / max(seconds + acoustic_seconds, 1e-9), "hypotheses": hypotheses}


def compare_decoders(log_probs: Mapping[str, Sequence[torch.Tensor]], references: Mapping[str, Sequence[str]],
                     decoders: Mapping[tuple[str, str], Decoder],
                     acoustic_seconds: Mapping[str, float] | None = None) -> tuple[list[dict], dict]:
    """Every decoder on every domain.

    Args:
        log_probs: domain -> per-utterance ``(T_i, V)`` log-probabilities.
        references: domain -> reference transcripts.
        decoders: ``(decoder name, lm name)`` -> decoder, e.g. ``("beam", "target")``;
            use ``"none"`` for no LM.
        acoustic_seconds: domain -> acoustic model time, for the end-to-end speed.

    Returns:
        ``(rows, hypotheses)``: rows ``{"domain", "decoder", "lm", "wer", "cer", "utterances_per_second",
        "decode_utterances_per_second"}`` and ``hypotheses[(domain, decoder, lm)]`` -> transcripts.
    """
    rows, hypotheses = [], {}
    for domain, ((name, lm), decoder) in itertools.product(log_probs, decoders.items()):
        out = timed_decode(decoder, log_probs[domain], references[domain], (acoustic_seconds or {}).get(domain, 0.0))
        hypotheses[(domain, name, lm)] = out.pop("hypotheses")
        rows.append({"domain": domain, "decoder": name, "lm": lm, "wer": out["wer"], "cer": out["cer"],
                     "utterances_per_second": out["utterances_per_second"],
                     "decode_utterances_per_second": out["decode_utterances_per_second"]})
    return rows, hypotheses


def decoding_sweep(log_probs: Sequence[torch.Tensor], references: Sequence[str], *,
                   beam_sizes: Sequence[int] = (1, 4, 16), lm_weights: Sequence[float] = (0.0,),
                   lm_path: str | os.PathLike | None = None, word_score: float = 0.0,
                   backend: str = "auto", vocab: CharVocabulary = CharVocabulary()) -> list[dict]:
    """WER and decoding speed of the beam decoder at every ``(beam size, LM weight)``.

    A weight of 0 (or no ``lm_path``) decodes without an LM.

    Returns:
        Rows ``{"beam_size", "lm_weight", "word_score", "wer", "cer", "seconds",
        "utterances_per_second"}`` (decoding only), in grid order.
    """
    from asrlab.decoding.factory import make_decoder

    if not beam_sizes or not lm_weights:
        raise ValueError("beam_sizes and lm_weights must be non-empty")
    if lm_path is None and any(w != 0.0 for w in lm_weights):
        raise ValueError(f"LM weights {tuple(lm_weights)} need an lm_path (an ARPA file): without one the sweep "
                         "would decode without an LM at every point")
    rows = []
    for beam, weight in itertools.product(beam_sizes, lm_weights):
        path = lm_path if weight != 0.0 else None
        decoder = make_decoder("beam", beam, path, weight, word_score if path else 0.0, vocab=vocab,
                               backend=backend)  # type: ignore[arg-type]
        out = timed_decode(decoder, log_probs, references)
        rows.append({"beam_size": beam, "lm_weight": weight, "word_score": word_score if path else 0.0,
                     "wer": out["wer"], "cer": out["cer"], "seconds": out["seconds"],
                     "utterances_per_second": out["decode_utterances_per_second"]})
    return rows


def posterior_peaks(log_probs: Sequence[torch.Tensor], sure: float = 0.9, blank: int = 0) -> dict[str, float]:
    """How peaked CTC posteriors are, over every frame of every utterance.

    When nearly every frame gives one symbol (most often the blank) almost all the probability,
    the best path carries most of the probability of its labelling, and a beam search without an
    LM finds the same transcript as greedy decoding.

    Args:
        log_probs: per utterance ``(T_i, V)`` log-probabilities.
        sure: a frame whose most probable symbol has at least this probability counts as sure.
        blank: the blank's index.

    Returns:
        ``{"mean_top_probability", "unsure_frames" (share of frames below ``sure``),
        "blank_frames" (share of frames where the blank is the most probable symbol)}``.
    """
    if not log_probs or not 0.0 < sure <= 1.0:
        raise ValueError(f"need at least one utterance and 0 < sure <= 1 (got {len(log_probs)} and {sure})")
    top, index = torch.cat([lp.float() for lp in log_probs]).max(dim=-1)
    top = top.exp()
    return {"mean_top_probability": top.mean().item(), "unsure_frames": (top < sure).float().mean().item(),
            "blank_frames": (index == blank).float().mean().item()}


def changed_share(before: Sequence[str], after: Sequence[str]) -> float:
    """The share of utterances whose transcript differs between two decoders (same order)."""
    if len(before) != len(after) or not before:
        raise ValueError(f"need two equally long, non-empty lists of transcripts (got {len(before)} and {len(after)})")
    return sum(a != b for a, b in zip(before, after)) / len(before)


def oov_rate(texts: Sequence[str], lm_path: str | os.PathLike) -> float:
    """The share of the running words of ``texts`` that an ARPA model's vocabulary lacks.

    A decoder whose lexicon is the LM's vocabulary (:func:`~asrlab.decoding.make_decoder` with a
    word LM) cannot write these words at all.
    """
    _, words = read_vocabulary(lm_path)
    known = set(words)
    running = [w for t in texts for w in t.split()]
    return sum(w not in known for w in running) / len(running) if running else 0.0


def lm_effects(rows: Sequence[Mapping[str, object]], lms: Mapping[str, DomainLMs],
               references: Mapping[str, Sequence[str]]) -> list[dict]:
    """Per domain, what the source and the target LM do to the test WER, beside how well each
    predicts the dev text (perplexity) and how many test words it lacks (OOV rate).

    Args:
        rows: :func:`compare_decoders` rows, with ``("greedy", "none")`` and ``("beam", lm)``
            for ``lm`` in ``"source"``, ``"target"`` (and optionally others, e.g. ``"mixed"``).
        lms: domain -> its :class:`DomainLMs`.
        references: domain -> its test transcripts (for the OOV rates).

    Returns:
        One row per domain of ``lms``: ``{"domain", "source_lm_perplexity", "target_lm_perplexity",
        "source_lm_oov", "target_lm_oov", "greedy_cer", "source_lm_wer", "target_lm_wer",
        "target_lm_reduction" (relative, over greedy), "best_lm" (lowest test WER of the LMs)}``.
    """
    out = []
    for domain, models in lms.items():
        mine = [r for r in rows if r["domain"] == domain]
        greedy = next(r for r in mine if (r["decoder"], r["lm"]) == ("greedy", "none"))
        wer = {str(r["lm"]): float(r["wer"]) for r in mine if r["decoder"] == "beam" and r["lm"] != "none"}  # type: ignore[arg-type]
        out.append({"domain": domain,
                    "source_lm_perplexity": models.perplexity["source"],
                    "target_lm_perplexity": models.perplexity["target"],
                    "source_lm_oov": oov_rate(references[domain], models.paths["source"]),
                    "target_lm_oov": oov_rate(references[domain], models.paths["target"]),
                    "greedy_cer": greedy["cer"], "source_lm_wer": wer["source"], "target_lm_wer": wer["target"],
                    "target_lm_reduction": relative_reduction(float(greedy["wer"]), wer["target"]),  # type: ignore[arg-type]
                    "best_lm": min(wer, key=wer.__getitem__)})
    return out


def relative_reduction(before: float, after: float) -> float:
    """``(before - after) / before``: 0.3 means 30% fewer errors; 0 when ``before`` is 0."""
    return (before - after) / before if before > 0 else 0.0



"""Studies of CTC decoding: domain language models, timed decoders, and sweeps of their settings.

The acoustic model runs once per utterance (:func:`acoustic_log_probs`); every decoder and every
sweep point then re-decodes the stored log-probabilities, so a comparison of decoders costs only
decoding. Speeds are measured on the machine that runs the study and reported as utterances per
second, both for decoding alone and end to end (acoustic model + decoding).

Language models follow one rule: the target-domain LM is built from the target domain's
*train/unlabelled* manifest texts, its interpolation weight is chosen on *dev* text, and decoder
weights are tuned on *dev* audio (:func:`asrlab.lm.tune.grid_search`); test data only scores.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from asrlab.decoding.base import Decoder
from asrlab.lm import build_lm, choose_weight, interpolate, read_texts
from asrlab.lm.tune import decode_all, utterance_log_probs
from asrlab.metrics import error_rates
from asrlab.text import CharVocabulary

#: Splits whose text may train a language model.
LM_SPLITS = ("train", "unlabelled")


def domain_texts(corpus: str | os.PathLike, domain: str, splits: Sequence[str] = LM_SPLITS) -> list[str]:
    """Normalised transcripts of a domain's manifests ``<corpus>/<domain>/<split>.jsonl``.

    Raises:
        ValueError: a split other than train/unlabelled is asked for (dev and test texts must
            not train an LM that is then scored on them).
    """
    bad = [s for s in splits if s not in LM_SPLITS]
    if bad:
        raise ValueError(f"LM text comes from {LM_SPLITS} only, not {bad}: dev/test transcripts would leak")
    return read_texts([Path(corpus) / domain / f"{s}.jsonl" for s in splits])


@dataclass
class DomainLMs:
    """A source LM, a target LM and their interpolation, written as ARPA files.

    Attributes:
        paths: ``{"source", "target", "mixed"}`` -> ARPA file.
        weight: the target LM's share of the mixture, chosen on dev text.
        perplexity: dev perplexity of each model (the mixture's is that of the written ARPA file).
        sentences: training sentences of the source and target LMs.
    """

    paths: dict[str, Path]
    weight: float
    perplexity: dict[str, float]
    sentences: dict[str, int] = field(default_factory=dict)


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
    weight, _ = choose_weight(target, source, dev_texts)
    mixed = interpolate(target, source, weight)
    models = {"source": source, "target": target, "mixed": mixed}
    paths = {name: lm.write_arpa(folder / f"{prefix}{name}.arpa") for name, lm in models.items()}
    return DomainLMs({k: Path(v) for k, v in paths.items()}, weight,
                     {name: lm.perplexity(dev_texts) for name, lm in models.items()},
                     {"source": len(source_texts), "target": len(target_texts)})


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


def relative_reduction(before: float, after: float) -> float:
    """``(before - after) / before``: 0.3 means 30% fewer errors; 0 when ``before`` is 0."""
    return (before - after) / before if before > 0 else 0.0


def load_split(corpus: str | os.PathLike, domain: str, split: str, loaded, limit: int | None = None):
    """The labelled :class:`~asrlab.datasets.SpeechDataset` of ``<corpus>/<domain>/<split>.jsonl``
    for a :class:`~asrlab.models.LoadedModel`, optionally only its first ``limit`` utterances."""
    from asrlab.datasets import SpeechDataset
    from asrlab.manifest import read_manifest
    from asrlab.recipes import feature_cache

    utterances = read_manifest(Path(corpus) / domain / f"{split}.jsonl")[:limit]
    return SpeechDataset(utterances, loaded.vocab, loaded.features, feature_cache(loaded.features),
                         subsampling=loaded.model.subsampling)

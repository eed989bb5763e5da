"""Choose the LM weight and word score of a beam-search decoder by grid search on DEV data.

The acoustic model runs once; every grid point only re-decodes the stored log-probabilities, and
the language model and lexicon are read once per grid, not once per point (:func:`grid_decoders`).
Test data is refused: a decoder tuned on the test set reports an optimistic error rate.
"""
from __future__ import annotations

import itertools
import os
import time
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import torch

from asrlab.datasets import model_dataset
from asrlab.evaluate import utterance_log_probs
from asrlab.metrics import error_rates

if TYPE_CHECKING:
    from asrlab.decoding.base import Decoder

#: Default grid: LM weights (natural-log scale) and word scores.
LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
WORD_SCORES = (-1.0, 0.0, 1.0, 2.0)


def grid_decoders(points: Sequence[tuple[float, float]], lm_path: str | os.PathLike, *, beam_size: int = 16,
                  lexicon=None, backend: str = "auto", vocab=None) -> Iterator[tuple[float, float, Decoder]]:
    """A beam decoder per ``(lm_weight, word_score)`` point, built lazily, reading the LM and lexicon once.

    :func:`~asrlab.decoding.make_decoder` builds the first point's decoder: it picks the backend
    and reads the ARPA file's word list (and, for the Python decoder, the whole model). Every
    later point builds the same kind of decoder directly from what the first one read
    (:func:`_rebuilder`); flashlight decoders also share one cached KenLM model
    (:func:`~asrlab.decoding.flashlight.load_kenlm`). Only the weights change between points.

    Yields:
        ``(lm_weight, word_score, decoder)`` in the order of ``points``.
    """
    from asrlab.decoding import load_lexicon, make_decoder
    from asrlab.text import CharVocabulary

    vocab = vocab or CharVocabulary()
    words = load_lexicon(lexicon, vocab) if lexicon is not None else None  # a lexicon file is read here, once
    rebuild: Callable[[float, float], Decoder] | None = None
    for weight, score in points:
        if rebuild is not None:
            decoder = rebuild(weight, score)
        else:
            decoder = make_decoder("beam", beam_size, lm_path, weight, score, words, vocab=vocab,
                                   backend=backend)  # type: ignore[arg-type]
            rebuild = _rebuilder(decoder, lm_path, beam_size, vocab)
        yield weight, score, decoder


def _rebuilder(first: Decoder, lm_path: str | os.PathLike, beam_size: int, vocab
               ) -> Callable[[float, float], Decoder] | None:
    """``(lm_weight, word_score) -> decoder`` like ``first`` (as built by ``make_decoder``) at other
    weights, reusing its word list and parsed LM; None for a kind of decoder it does not know."""
    from asrlab.decoding import FlashlightDecoder, PrefixBeamDecoder
    from asrlab.lm.arpa import read_arpa

    if isinstance(first, FlashlightDecoder):
        words = first.words
        return lambda weight, score: FlashlightDecoder(vocab, beam_size, lm_path, weight, score, words)
    if isinstance(first, PrefixBeamDecoder):
        # LMFusion drops the model at weight 0: read it again then (once), not at every point.
        lm = first.fusion.lm if first.fusion.lm is not None else read_arpa(lm_path)
        allowed = first.fusion.words
        return lambda weight, score: PrefixBeamDecoder(vocab, beam_size, lm, weight, score, allowed)
    return None


def grid_search(log_probs: Sequence[torch.Tensor], references: Sequence[str], lm_path: str | os.PathLike, *,
                lm_weights: Sequence[float] = LM_WEIGHTS, word_scores: Sequence[float] = WORD_SCORES,
                beam_size: int = 16, lexicon=None, backend: str = "auto", vocab=None) -> dict:
    """WER/CER of the beam decoder at every ``(lm_weight, word_score)``, and the best point.

    The best point has the lowest WER, then the lowest CER, then the smallest LM weight.

    Returns:
        ``{"best": {...}, "greedy": {...}, "grid": [{"lm_weight", "word_score", "wer", "cer"}, ...],
        "decoder": class name, "seconds": ...}``.
    """
    from asrlab.decoding import decode_all, make_decoder
    from asrlab.text import CharVocabulary

    vocab = vocab or CharVocabulary()
    start = time.perf_counter()
    greedy = error_rates(references, decode_all(make_decoder("greedy", vocab=vocab), log_probs))
    grid = []
    name = ""
    points = list(itertools.product(lm_weights, word_scores))
    for weight, score, decoder in grid_decoders(points, lm_path, beam_size=beam_size, lexicon=lexicon,
                                                backend=backend, vocab=vocab):
        name = type(decoder).__name__
        rates = error_rates(references, decode_all(decoder, log_probs))
        grid.append({"lm_weight": weight, "word_score": score, "wer": rates.wer, "cer": rates.cer})
    best = min(grid, key=lambda g: (g["wer"], g["cer"], g["lm_weight"], abs(g["word_score"])))
    return {"best": best, "greedy": {"wer": greedy.wer, "cer": greedy.cer}, "grid": grid, "decoder": name,
            "seconds": time.perf_counter() - start}


def tune_decoder(model, dev_manifests: Sequence[str | os.PathLike], lm_path: str | os.PathLike, *,
                 lm_weights: Sequence[float] = LM_WEIGHTS, word_scores: Sequence[float] = WORD_SCORES,
                 beam_size: int = 16, lexicon=None, backend: str = "auto", limit: int | None = None,
                 device: str | None = None) -> dict:
    """Grid-search the LM weight and word score on dev manifests (test-split lines are refused).

    Args:
        model: a model file, run folder, pretrained name or :class:`~asrlab.models.LoadedModel`.
        dev_manifests: DEV manifests; any line whose ``split`` is ``"test"`` raises ValueError.
        lm_path: the ARPA model to fuse.
        limit: use only the first ``limit`` utterances of each manifest.

    Returns:
        :func:`grid_search`'s result plus ``lm``, ``dev``, ``utterances``, ``beam_size``, ``backend``.
    """
    from asrlab.manifest import read_manifest
    from asrlab.models.resolve import resolve_ctc_model
    from asrlab.utils import pick_device

    loaded = resolve_ctc_model(model, "tune an external LM for its CTC variant (e.g. whisper-tiny.en-ctc)")
    utterances = [u for m in dev_manifests for u in read_manifest(m)[:limit]]
    tests = [u.extra.get("_where", u.audio) for u in utterances if u.split == "test"]
    if tests:
        raise ValueError(f"{len(tests)} test-split utterances (first: {tests[0]}): tune on a dev set, never on "
                         "the test set")
    if not utterances:
        raise ValueError("no dev utterances to tune on")
    dataset = model_dataset(utterances, loaded)
    target = pick_device(device)
    loaded.model.to(target)
    log_probs = utterance_log_probs(loaded.model, dataset, target)
    references = [dataset.vocab.decode(dataset.tokens[i]) for i in range(len(dataset))]
    result = grid_search(log_probs, references, lm_path, lm_weights=lm_weights, word_scores=word_scores,
                         beam_size=beam_size, lexicon=lexicon, backend=backend, vocab=loaded.vocab)
    return {**result, "lm": str(lm_path), "dev": [str(m) for m in dev_manifests], "utterances": len(dataset),
            "beam_size": beam_size, "backend": backend}

"""N-gram language models for CTC decoding: build from text, read/write ARPA, score, interpolate.

>>> from asrlab.lm import build_lm, read_arpa
>>> lm = build_lm(["the cat sat", "the dog sat"], level="word", order=2)
>>> round(lm.perplexity(["the cat sat"]), 1) < round(lm.perplexity(["sat cat the"]), 1)
True
"""
from __future__ import annotations

from asrlab.lm.arpa import NgramLM, read_arpa
from asrlab.lm.interpolate import choose_weight, interpolate, mixture_perplexity
from asrlab.lm.ngram import DEFAULT_ORDER, build_lm, count_ngrams, estimate, kn_discounts
from asrlab.lm.tokens import BOUNDARY, read_texts, sentence_tokens

__all__ = [
    "BOUNDARY", "DEFAULT_ORDER", "NgramLM", "build_lm", "choose_weight", "count_ngrams", "estimate",
    "interpolate", "kn_discounts", "mixture_perplexity", "read_arpa", "read_texts", "sentence_tokens",
]

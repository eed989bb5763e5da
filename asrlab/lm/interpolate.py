"""Linear interpolation of two n-gram models into one ARPA model, and the weight chosen on dev text.

The mixture ``P(w | h) = lam P_a(w | h) + (1 - lam) P_b(w | h)`` is written as one back-off model
(the static interpolation SRILM's ``-mix-lm`` performs): every n-gram listed in either model is
listed with its exact mixture probability, and each context gets the back-off weight that makes
its distribution sum to one over what it does not list,

    bo(h) = (1 - sum_{w listed after h} P(w | h)) / (1 - sum_{w listed after h} P_mix(w | h')).

Unlisted n-grams back off within the mixture, so their probabilities are close to, not equal to,
the dynamic mixture. The vocabulary is the union of both; a word one model does not know gets an
equal share of that model's ``<unk>`` probability (shared with ``<unk>`` itself), so each
component stays a distribution over the union.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

from asrlab.lm.arpa import BOS_LOG10, Ngram, NgramLM
from asrlab.lm.tokens import BOS, EOS, UNK, sentence_tokens


class _Component:
    """One model's probabilities over the union vocabulary (its unknown words share ``<unk>``)."""

    def __init__(self, lm: NgramLM, vocab: frozenset[str]) -> None:
        self.lm = lm
        self.share = 1.0 / (len(vocab - lm.vocab) + 1)

    def prob(self, word: str, context: Sequence[str]) -> float:
        if word in self.lm.vocab and word != UNK:
            return 10.0 ** self.lm.log10_prob(word, context)
        return self.share * 10.0 ** self.lm.log10_prob(UNK, context)


def interpolate(lm_a: NgramLM, lm_b: NgramLM, weight: float) -> NgramLM:
    """The linear mixture ``weight * lm_a + (1 - weight) * lm_b`` as one back-off model.

    Args:
        lm_a, lm_b: models of the same level (word or char); orders may differ.
        weight: the weight of ``lm_a``, in ``[0, 1]``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the interpolation weight must lie in [0, 1], got {weight}")
    if lm_a.level != lm_b.level:
        raise ValueError(f"cannot mix a {lm_a.level}-level model with a {lm_b.level}-level one")
    vocab = lm_a.vocab | lm_b.vocab | {UNK}
    a, b = _Component(lm_a, vocab), _Component(lm_b, vocab)

    def mix(word: str, context: Sequence[str]) -> float:
        return weight * a.prob(word, context) + (1.0 - weight) * b.prob(word, context)

    unigrams = {(w,): math.log10(mix(w, ())) for w in vocab if w != BOS}
    unigrams[(BOS,)] = BOS_LOG10
    probs: list[dict[Ngram, float]] = [unigrams]
    backoffs: dict[Ngram, float] = {}
    for k in range(2, max(lm_a.order, lm_b.order) + 1):
        lower = NgramLM(list(probs), dict(backoffs), level=lm_a.level)
        grams = set(lm_a.probs[k - 1] if k <= lm_a.order else ()) | set(lm_b.probs[k - 1] if k <= lm_b.order else ())
        listed: dict[Ngram, float] = {}
        seen_mass: dict[Ngram, float] = defaultdict(float)
        lower_mass: dict[Ngram, float] = defaultdict(float)
        for gram in grams:
            h, w = gram[:-1], gram[-1]
            p = mix(w, h)
            listed[gram] = math.log10(p)
            seen_mass[h] += p
            lower_mass[h] += 10.0 ** lower.log10_prob(w, h[1:])
        for h, mass in seen_mass.items():
            left, lower_left = 1.0 - mass, 1.0 - lower_mass[h]
            if lower_left > 1e-9 and left > 0:
                backoffs[h] = math.log10(left / lower_left)
        probs.append(listed)
    return NgramLM(probs, backoffs, level=lm_a.level, smoothing="interpolated")


def component_probs(lm_a: NgramLM, lm_b: NgramLM, texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """Per-token probabilities (``</s>`` included) of dev text under each model, over the union
    vocabulary as :func:`interpolate` defines it."""
    vocab = lm_a.vocab | lm_b.vocab | {UNK}
    a, b = _Component(lm_a, vocab), _Component(lm_b, vocab)
    pa, pb = [], []
    for text in texts:
        history = [BOS]
        for token in sentence_tokens(text, lm_a.level) + [EOS]:
            pa.append(a.prob(token, history))
            pb.append(b.prob(token, history))
            history.append(token)
    if not pa:
        raise ValueError("no dev text to choose an interpolation weight on")
    return pa, pb


def mixture_perplexity(pa: Sequence[float], pb: Sequence[float], weight: float) -> float:
    """Perplexity of the dynamic mixture ``weight * a + (1 - weight) * b`` from per-token probabilities."""
    total = sum(math.log10(weight * x + (1.0 - weight) * y) for x, y in zip(pa, pb))
    return 10.0 ** (-total / len(pa))


def choose_weight(lm_a: NgramLM, lm_b: NgramLM, dev_texts: Sequence[str], *, tolerance: float = 1e-6,
                  max_iterations: int = 500) -> tuple[float, float]:
    """The weight of ``lm_a`` that minimises the mixture's perplexity on dev text (by EM).

    The dev log-likelihood is concave in the weight, so the EM update
    ``lam <- mean(lam P_a / (lam P_a + (1 - lam) P_b))`` climbs to its single maximum.

    Returns:
        ``(weight, dev perplexity of the dynamic mixture at that weight)``.
    """
    pa, pb = component_probs(lm_a, lm_b, dev_texts)
    weight = 0.5
    for _ in range(max_iterations):
        updated = sum(weight * x / (weight * x + (1.0 - weight) * y) for x, y in zip(pa, pb)) / len(pa)
        done = abs(updated - weight) < tolerance
        weight = updated
        if done:
            break
    return weight, mixture_perplexity(pa, pb, weight)

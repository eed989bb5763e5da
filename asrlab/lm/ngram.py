"""Estimate back-off n-gram models from text: counting, Kneser-Ney and Witten-Bell smoothing.

Both smoothings are *interpolated*: the probability of a seen n-gram mixes its discounted
relative frequency with the next lower order, and the weight of the lower order is exactly the
ARPA back-off weight of the context. For a context ``h`` and word ``w`` at order ``k``:

    P_k(w | h) = alpha(h w) + gamma(h) * P_{k-1}(w | h'),    h' = h without its first token

and the unigrams mix with the uniform distribution over the vocabulary (``<unk>`` included, ``<s>``
excluded: it is never predicted). Every context's distribution therefore sums to one.

Modified Kneser-Ney (Chen & Goodman, 1998): counts ``a`` are raw counts at the highest order and
*continuation* counts (the number of distinct tokens seen before the n-gram) at lower orders,
except for n-grams that start with ``<s>``, which keep raw counts since nothing precedes ``<s>``.
With ``n_r`` the number of n-grams of an order with count ``r`` and ``Y = n1 / (n1 + 2 n2)``, the
three discounts of that order are ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``,
``D3+ = 3 - 4Y n4/n3``, and

    alpha(h w) = (a(h w) - D(a(h w))) / S(h),     S(h) = sum_w a(h w)
    gamma(h)   = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / S(h)

with ``N_r(h)`` the number of words seen ``r`` times after ``h``. Small corpora can leave a
discount undefined or out of range; then :data:`FALLBACK_DISCOUNTS` is used (as KenLM's
``--discount_fallback`` does).

Witten-Bell: with raw counts ``c``, ``S(h) = sum_w c(h w)`` and ``T(h)`` distinct words after ``h``,
``alpha(h w) = c(h w) / (S(h) + T(h))`` and ``gamma(h) = T(h) / (S(h) + T(h))``.
"""
from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from typing import Iterable, Literal, Mapping, Sequence

from asrlab.lm.arpa import BOS_LOG10, Ngram, NgramLM
from asrlab.lm.tokens import BOS, EOS, UNK, Level, sentence_tokens

log = logging.getLogger(__name__)

Smoothing = Literal["kn", "wb"]
Discounts = tuple[float, float, float]
#: Default n-gram order of each level.
DEFAULT_ORDER: dict[str, int] = {"word": 3, "char": 6}
#: Discounts (D1, D2, D3+) used where the corpus is too small to estimate them.
FALLBACK_DISCOUNTS: Discounts = (0.5, 1.0, 1.5)


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter[Ngram]]:
    """Raw counts of every n-gram of orders 1..``order`` in sentences padded as ``<s> ... </s>``.

    Returns:
        ``counts[k - 1]`` maps each n-gram of order ``k`` to its count. The unigram ``<s>`` is not
        counted (it is a context, never a prediction).
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for tokens in sentences:
        seq = (BOS, *tokens, EOS)
        for k in range(1, order + 1):
            table = counts[k - 1]
            for i in range(len(seq) - k + 1):
                table[seq[i:i + k]] += 1
    counts[0].pop((BOS,), None)
    return counts


def kn_adjusted_counts(counts: Sequence[Mapping[Ngram, int]]) -> list[dict[Ngram, int]]:
    """Kneser-Ney counts: raw at the highest order, continuation counts below (raw after ``<s>``)."""
    adjusted: list[dict[Ngram, int]] = [dict(c) for c in counts]
    for k in range(len(counts) - 1, 0, -1):  # order k from the n-grams of order k + 1
        left_types = Counter(gram[1:] for gram in counts[k])
        adjusted[k - 1] = {g: (c if g[0] == BOS else left_types[g]) for g, c in counts[k - 1].items()}
    return adjusted


def kn_discounts(count_of_counts: Sequence[int]) -> Discounts:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from ``(n1, n2, n3, n4)``.

    Raises:
        ValueError: a count of counts is zero or a discount falls outside ``(0, r)``.
    """
    n1, n2, n3, n4 = count_of_counts
    if min(n1, n2, n3, n4) <= 0:
        raise ValueError(f"modified Kneser-Ney needs n1..n4 > 0, got {tuple(count_of_counts)}")
    y = n1 / (n1 + 2 * n2)
    discounts = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    for r, d in enumerate(discounts, start=1):
        if not 0 < d < r:
            raise ValueError(f"discount D{r}={d:.3f} is outside (0, {r}) for counts of counts "
                             f"{tuple(count_of_counts)}")
    return discounts  # type: ignore[return-value]


def estimate_discounts(adjusted: Sequence[Mapping[Ngram, int]],
                       fixed: Mapping[int, Discounts] | None = None) -> list[Discounts]:
    """The discounts of every order (index ``k - 1``), from ``fixed`` where given, else estimated."""
    result = []
    for k, table in enumerate(adjusted, start=1):
        if fixed and k in fixed:
            result.append(tuple(fixed[k]))
            continue
        of_counts = Counter(min(c, 5) for c in table.values())
        try:
            result.append(kn_discounts([of_counts[r] for r in (1, 2, 3, 4)]))
        except ValueError as exc:
            log.info("order %d: %s; using the fallback discounts %s", k, exc, FALLBACK_DISCOUNTS)
            result.append(FALLBACK_DISCOUNTS)
    return result  # type: ignore[return-value]


def kneser_ney(counts: Sequence[Mapping[Ngram, int]],
               discounts: Mapping[int, Discounts] | None = None) -> tuple[list[dict], list[dict]]:
    """Interpolated modified Kneser-Ney terms: ``alpha`` per n-gram and ``gamma`` per context.

    Args:
        counts: raw counts from :func:`count_ngrams`.
        discounts: fixed (D1, D2, D3+) for some orders (``{order: (d1, d2, d3)}``).

    Returns:
        ``(alpha, gamma)``, one dict per order: ``alpha[k-1][ngram]``, ``gamma[k-1][context]``.
    """
    adjusted = kn_adjusted_counts(counts)
    alpha: list[dict] = []
    gamma: list[dict] = []
    for table, (d1, d2, d3) in zip(adjusted, estimate_discounts(adjusted, discounts)):
        total: dict[Ngram, float] = defaultdict(float)
        mass: dict[Ngram, float] = defaultdict(float)
        for gram, a in table.items():
            total[gram[:-1]] += a
            mass[gram[:-1]] += d1 if a == 1 else d2 if a == 2 else d3
        alpha.append({g: (a - (d1 if a == 1 else d2 if a == 2 else d3)) / total[g[:-1]] for g, a in table.items()})
        gamma.append({h: mass[h] / total[h] for h in total})
    return alpha, gamma


def witten_bell(counts: Sequence[Mapping[Ngram, int]]) -> tuple[list[dict], list[dict]]:
    """Interpolated Witten-Bell terms, in the form :func:`kneser_ney` returns."""
    alpha: list[dict] = []
    gamma: list[dict] = []
    for table in counts:
        total: dict[Ngram, int] = defaultdict(int)
        types: dict[Ngram, int] = defaultdict(int)
        for gram, c in table.items():
            total[gram[:-1]] += c
            types[gram[:-1]] += 1
        alpha.append({g: c / (total[g[:-1]] + types[g[:-1]]) for g, c in table.items()})
        gamma.append({h: types[h] / (total[h] + types[h]) for h in total})
    return alpha, gamma


def assemble(alpha: Sequence[Mapping[Ngram, float]], gamma: Sequence[Mapping[Ngram, float]],
             level: Level = "word", smoothing: str = "") -> NgramLM:
    """Turn interpolation terms into a back-off model.

    ``P_k(h w) = alpha(h w) + gamma(h) P_{k-1}(w | h')`` for every listed n-gram, the uniform
    distribution below the unigrams, and ``gamma`` as the back-off weight of each context.
    """
    unigram_words = {g[0] for g in alpha[0]} | {UNK}
    uniform = 1.0 / len(unigram_words)
    probs: list[dict[Ngram, float]] = []
    lower: dict[Ngram, float] = {}
    for k, (terms, weights) in enumerate(zip(alpha, gamma), start=1):
        linear = {g: a + weights[g[:-1]] * (uniform if k == 1 else lower[g[1:]]) for g, a in terms.items()}
        if k == 1:
            linear.setdefault((UNK,), weights[()] * uniform)
        probs.append({g: math.log10(p) for g, p in linear.items()})
        lower = linear
    probs[0][(BOS,)] = BOS_LOG10
    backoffs = {h: math.log10(w) for weights in gamma[1:] for h, w in weights.items() if w > 0}
    return NgramLM(probs, backoffs, level=level, smoothing=smoothing)


def estimate(sentences: Iterable[Sequence[str]], order: int, smoothing: Smoothing = "kn", *,
             level: Level = "word", discounts: Mapping[int, Discounts] | None = None) -> NgramLM:
    """An n-gram model from token sequences (see :func:`build_lm` for text)."""
    counts = count_ngrams(sentences, order)
    if not counts[0]:
        raise ValueError("no sentences to estimate a language model from")
    if smoothing == "kn":
        alpha, gamma = kneser_ney(counts, discounts)
    elif smoothing == "wb":
        alpha, gamma = witten_bell(counts)
    else:
        raise ValueError(f"smoothing must be 'kn' (modified Kneser-Ney) or 'wb' (Witten-Bell), got {smoothing!r}")
    return assemble(alpha, gamma, level=level, smoothing=smoothing)


def build_lm(texts: Iterable[str], *, level: Level = "word", order: int | None = None,
             smoothing: Smoothing = "kn", discounts: Mapping[int, Discounts] | None = None) -> NgramLM:
    """Estimate a word- or character-level n-gram model from normalised sentences.

    Args:
        texts: one normalised sentence per item (see :func:`asrlab.lm.tokens.read_texts`).
        level: ``"word"`` or ``"char"`` (characters, ``|`` between words).
        order: n-gram order; default 3 for words, 6 for characters.
        smoothing: ``"kn"`` (interpolated modified Kneser-Ney) or ``"wb"`` (Witten-Bell).
        discounts: fixed Kneser-Ney discounts ``{order: (D1, D2, D3+)}`` instead of estimates.

    Example:
        >>> lm = build_lm(["the cat sat", "the dog sat"], order=2)
        >>> lm.perplexity(["the cat sat"]) < lm.perplexity(["sat the cat"])
        True
    """
    order = order or DEFAULT_ORDER[level]
    sentences = [tokens for tokens in (sentence_tokens(t, level) for t in texts) if tokens]
    return estimate(sentences, order, smoothing, level=level, discounts=discounts)

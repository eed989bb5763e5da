"""CTC prefix beam search in plain Python, with optional shallow fusion of an n-gram LM.

Greedy decoding picks the best *path* (one label per frame); the quantity we want is the best
*labelling*, whose probability sums over every path that collapses to it. Prefix beam search
(Hannun et al., 2014) keeps, for each of the ``beam_size`` best prefixes, the probability of all
paths that produce it and end in a blank (``pb``) or in its last character (``pnb``). At a frame
with log-probabilities ``y``:

- a blank keeps the prefix:                      ``pb'(p)  += (pb + pnb)(p) * y[blank]``
- repeating the last character ``c`` keeps it:   ``pnb'(p) += pnb(p) * y[c]``
- ``c`` after a blank extends it:                ``pnb'(p + c) += pb(p) * y[c]``
- a new character ``c`` != last extends it:      ``pnb'(p + c) += (pb + pnb)(p) * y[c]``

Prefixes are ranked by ``log(pb + pnb)`` plus their shallow-fusion score
(:class:`~asrlab.decoding.fusion.LMFusion`), which depends on the prefix only, so merging the
paths of one prefix stays exact. Spaces at the start or after a space change no word, so they
keep the prefix (``" a  b"`` is ``"a b"``), as in flashlight's lexicon decoder. Tokens more than
``token_threshold`` below a frame's best token are skipped (they cannot matter at any realistic
LM weight).

The per-frame work is vectorised with numpy; Python only touches the candidates that can still
enter the beam (see :func:`prefix_beam_search`).
"""
from __future__ import annotations

import heapq
from typing import Iterable

import numpy as np
import torch

from asrlab.decoding.base import check_inputs, normalize_text_spacing
from asrlab.decoding.fusion import LMFusion
from asrlab.lm.arpa import NgramLM
from asrlab.text import CharVocabulary

NEG_INF = float("-inf")


class _PrefixTree:
    """Every prefix met so far, as nodes of a tree (a prefix is a node id, not a tuple to copy)."""

    def __init__(self, fusion: LMFusion, vocab_size: int) -> None:
        self.fusion = fusion
        self.vocab_size = vocab_size
        self.parent = [-1]
        self.last = [-1]
        self.state = [fusion.initial()]
        self.bonus = [0.0]
        self.children: dict[int, int] = {}

    def child(self, node: int, index: int) -> int:
        """The node of ``prefix(node) + index``; -1 if the lexicon forbids it."""
        key = node * self.vocab_size + index
        found = self.children.get(key)
        if found is None:
            step = self.fusion.extend(self.state[node], index)
            if step is None:
                found = -1
            else:
                found = len(self.parent)
                self.parent.append(node)
                self.last.append(index)
                self.state.append(step[0])
                self.bonus.append(self.bonus[node] + step[1])
            self.children[key] = found
        return found

    def ids(self, node: int) -> list[int]:
        out = []
        while node > 0:
            out.append(self.last[node])
            node = self.parent[node]
        return out[::-1]


def prefix_beam_search(log_probs: torch.Tensor, fusion: LMFusion, beam_size: int = 16, *, blank: int = 0,
                       token_threshold: float = 25.0) -> tuple[list[int], float]:
    """The best labelling of one utterance.

    Each frame turns the beam into candidates: every prefix stays (blank, repeated last
    character, or a space that changes no word) and grows by every other character. A child that
    is already in the beam is merged into its stay entry. The ``beam_size`` best candidates by
    ``log(pb + pnb) + fusion score`` survive; a child's fusion score is only computed while its
    upper bound (:meth:`LMFusion.bounds`) could still place it in the beam, which keeps the
    search exact and the Python work per frame close to ``beam_size``.

    Args:
        log_probs: ``(T, V)`` log-probabilities of the valid frames.
        fusion: LM, word score and lexicon (an ``LMFusion(vocab)`` for plain CTC).
        beam_size: prefixes kept after each frame.
        blank: index of the CTC blank.
        token_threshold: skip tokens whose log-probability is this far below the frame's best.

    Returns:
        ``(ids, score)``: the labelling (no blanks) and its total score. When a lexicon rules out
        every ending, the best prefix is returned without its unfinished word.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    rows = log_probs.detach().double().cpu().numpy()
    tree = _PrefixTree(fusion, rows.shape[1])
    space = fusion.space
    column_bound = np.array(fusion.bounds(), dtype=np.float64)
    nodes, pb, pnb = [0], np.zeros(1), np.full(1, NEG_INF)
    for y in rows:
        nodes, pb, pnb = _step(tree, nodes, pb, pnb, y, beam_size, blank, space, token_threshold, column_bound)
    best, best_score = -1, NEG_INF
    for node, score in zip(nodes, np.logaddexp(pb, pnb)):
        end = fusion.finish(tree.state[node])
        if end is not None and score + tree.bonus[node] + end > best_score:
            best, best_score = node, float(score + tree.bonus[node] + end)
    if best < 0:  # no prefix ends in a lexicon word: drop the unfinished word of the best one
        totals = np.logaddexp(pb, pnb) + np.array([tree.bonus[n] for n in nodes])
        node = nodes[int(np.argmax(totals))]
        ids = tree.ids(node)
        return ids[: len(ids) - len(tree.state[node].partial)], float(totals.max())
    return tree.ids(best), best_score


def _step(tree: _PrefixTree, nodes: list[int], pb: np.ndarray, pnb: np.ndarray, y: np.ndarray, beam_size: int,
          blank: int, space: int, token_threshold: float,
          column_bound: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """One frame of prefix beam search: ``(nodes, pb, pnb)`` of the beam before and after."""
    k = len(nodes)
    rows = np.arange(k)
    last = np.array([tree.last[n] for n in nodes])
    bonus = np.array([tree.bonus[n] for n in nodes])
    total = np.logaddexp(pb, pnb)
    quiet_space = (last == -1) | (last == space)  # a space here changes no word
    stay_pb = total + y[blank]
    stay_pnb = np.where(quiet_space, total + y[space], pnb + y[np.maximum(last, 0)])
    grow = total[:, None] + y[None, :]
    letters = ~quiet_space
    grow[rows[letters], last[letters]] = pb[letters] + y[last[letters]]  # repeat needs a blank between
    grow[:, blank] = NEG_INF
    grow[quiet_space, space] = NEG_INF
    grow[:, y < y.max() - token_threshold] = NEG_INF
    masks = [tree.fusion.allowed(tree.state[n]) for n in nodes]
    if masks[0] is not None:  # a lexicon: rule out characters that spell no word
        grow[~np.stack(masks)] = NEG_INF
    position = {n: i for i, n in enumerate(nodes)}
    for j, node in enumerate(nodes):  # a child already in the beam: merge it into its stay entry
        i = position.get(tree.parent[node])
        if i is not None:
            stay_pnb[j] = np.logaddexp(stay_pnb[j], grow[i, last[j]])
            grow[i, last[j]] = NEG_INF
    # the best candidates: stays (exact scores) and children (bounded until looked at)
    heap: list[tuple[float, int, int, float, float]] = []
    stay_score = np.logaddexp(stay_pb, stay_pnb) + bonus
    for j in range(k):
        _keep(heap, beam_size, (float(stay_score[j]), j, nodes[j], float(stay_pb[j]), float(stay_pnb[j])))
    bound = (grow + bonus[:, None] + column_bound[None, :]).ravel()
    width = grow.shape[1]
    for flat in np.argsort(-bound, kind="stable"):
        if bound[flat] == NEG_INF or (len(heap) == beam_size and bound[flat] <= heap[0][0]):
            break
        i, c = divmod(int(flat), width)
        child = tree.child(nodes[i], c)
        if child >= 0:
            _keep(heap, beam_size, (float(grow[i, c]) + tree.bonus[child], k + int(flat), child, NEG_INF,
                                    float(grow[i, c])))
    heap.sort(reverse=True)
    return [h[2] for h in heap], np.array([h[3] for h in heap]), np.array([h[4] for h in heap])


def _keep(heap: list, beam_size: int, item: tuple) -> None:
    """Push ``item`` on a min-heap holding the ``beam_size`` best items."""
    if item[0] == NEG_INF:
        return
    if len(heap) < beam_size:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


class PrefixBeamDecoder:
    """Batch CTC prefix beam search with optional LM fusion (Python and numpy; no extra dependency).

    Args:
        vocab: the model's vocabulary.
        beam_size: prefixes kept per frame.
        lm: an n-gram model (word or char level) or None.
        lm_weight: weight of the natural-log LM probability.
        word_score: score added per word (positive favours more words).
        lexicon: allowed words (None: any word).
        token_threshold: see :func:`prefix_beam_search`.
    """

    def __init__(self, vocab: CharVocabulary = CharVocabulary(), beam_size: int = 16, lm: NgramLM | None = None,
                 lm_weight: float = 0.5, word_score: float = 0.0, lexicon: Iterable[str] | None = None,
                 token_threshold: float = 25.0) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        self.vocab = vocab
        self.beam_size = beam_size
        self.token_threshold = token_threshold
        self.fusion = LMFusion(vocab, lm, lm_weight, word_score, lexicon)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Transcripts of a batch.

        Args:
            log_probs: ``(B, T, V)`` CTC log-probabilities (logits are normalised first).
            lengths: ``(B,)`` valid frames of each utterance.

        Returns:
            ``B`` strings with single spaces, stripped.
        """
        log_probs, lengths = check_inputs(log_probs, lengths, self.vocab)
        texts = []
        for row, length in zip(log_probs, lengths.tolist()):
            ids, _ = prefix_beam_search(row[: int(length)], self.fusion, self.beam_size, blank=self.vocab.blank,
                                        token_threshold=self.token_threshold)
            texts.append(normalize_text_spacing(self.vocab.decode(ids)))
        return texts

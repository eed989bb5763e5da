"""Choosing an adapted model without target labels.

Unsupervised adaptation has knobs (the weight lambda, the aligned layer), and target labels
are exactly what we do not have, so a choice made on the target test set is a choice we could
not make in practice. Three label-free criteria are offered:

* ``"source-dev"``: WER on a labelled *source* dev set (lower is better). Safe, but blind to
  the target: it can only tell that adaptation did not break the source task.
* ``"entropy"``: mean per-frame entropy of the CTC posteriors on the unlabelled target (lower
  means more confident). Cheap, but a model that always says "blank" is very confident: use it
  to compare reasonable candidates, never alone.
* ``"iw"``: importance-weighted validation (Sugiyama et al. 2007): source dev losses weighted by
  ``w(x) = p(target | x) / p(source | x)`` from a domain classifier on pooled features, an
  estimate of the target risk when the shift is in the inputs only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from asrlab.adapt.diagnostics import pool_layer
from asrlab.config import SELECTION_RULES, LoaderConfig
from asrlab.datasets import SpeechDataset
from asrlab.decoding.greedy import greedy_decode
from asrlab.inference import run_model
from asrlab.metrics import error_rates
from asrlab.models.base import CTCModel
from asrlab.utils import lengths_to_mask

#: Selection rule -> the score it minimises (defined in asrlab.config, where the CLI reads the rules).
RULES: dict[str, str] = SELECTION_RULES


# --------------------------------------------------------------------------- pure pieces
def frame_entropy(log_probs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each frame's posterior, zero past each length.

    Args:
        log_probs: ``(B, T, V)`` log-probabilities.
        lengths: ``(B,)`` valid frames.

    Returns:
        ``(B, T)`` entropies.
    """
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    mask = lengths_to_mask(lengths.to(log_probs.device), log_probs.shape[1])
    return torch.where(mask, entropy, torch.zeros((), dtype=entropy.dtype, device=entropy.device))


def utterance_ctc_losses(log_probs: torch.Tensor, out_lens: torch.Tensor, tokens: torch.Tensor,
                         token_lens: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """CTC loss of each utterance divided by its number of tokens.

    Args:
        log_probs: ``(B, T, V)``; out_lens: ``(B,)``; tokens: ``(B, U)``; token_lens: ``(B,)``.

    Returns:
        ``(B,)`` losses per token (an impossible alignment gives ``inf``).
    """
    losses = F.ctc_loss(log_probs.float().transpose(0, 1), tokens, out_lens, token_lens, blank=blank,
                        reduction="none", zero_infinity=False)
    return losses / token_lens.to(losses.dtype).clamp_min(1)


def importance_weights(source: np.ndarray, target: np.ndarray, C: float = 1.0, clip: float = 20.0,
                       folds: int = 5, seed: int = 0) -> np.ndarray:
    """Density-ratio weights ``w(x) = p(target | x) / p(source | x)`` of source rows.

    A logistic-regression domain classifier (standardised features, balanced classes, so the
    ratio of its posteriors estimates ``p_target(x) / p_source(x)``) gives each source row's
    posteriors out of fold (cross-fitting: a row is never scored by a classifier that saw it).
    Weights are clipped at ``clip`` times their median, then scaled to mean 1.

    Args:
        source: ``(N, D)`` source features (e.g. pooled encoder outputs of the source dev set).
        target: ``(M, D)`` target features.
        C: inverse regularisation of the classifier.
        clip: cap on a weight, relative to the median weight.
        folds: cross-fitting folds (fewer when a domain has fewer rows).
        seed: the folds' seed.

    Returns:
        ``(N,)`` positive weights with mean 1.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) rows, got {source.shape} and {target.shape}")
    if len(source) < 2 or len(target) < 2:
        raise ValueError("each domain needs at least two rows to fit a domain classifier out of fold")
    x = np.concatenate([source, target])
    y = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    cv = StratifiedKFold(n_splits=min(folds, len(source), len(target)), shuffle=True, random_state=seed)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))
    proba = cross_val_predict(classifier, x, y, cv=cv, method="predict_proba")[: len(source), 1]
    proba = np.clip(proba, 1e-6, 1 - 1e-6)
    weights = proba / (1.0 - proba)
    weights = np.minimum(weights, clip * np.median(weights))
    return weights / weights.mean()


def importance_weighted_risk(losses: np.ndarray | Sequence[float], weights: np.ndarray | Sequence[float]) -> float:
    """``sum(w * loss) / sum(w)``: the source losses reweighted towards the target."""
    losses, weights = np.asarray(losses, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if losses.shape != weights.shape or losses.ndim != 1 or not len(losses):
        raise ValueError(f"need one weight per loss, got {losses.shape} losses and {weights.shape} weights")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("weights must be >= 0 and not all zero")
    return float((weights * losses).sum() / weights.sum())


# --------------------------------------------------------------------------- passes over data
@dataclass
class SourcePass:
    """One pass over a labelled source dev set: per utterance, in dataset order."""

    references: list[str]
    hypotheses: list[str]
    losses: np.ndarray      # (N,) CTC loss per token
    features: np.ndarray    # (N, D) pooled encoder outputs


@dataclass
class TargetPass:
    """One pass over unlabelled target data."""

    entropy: float          # mean over all valid frames
    features: np.ndarray    # (M, D) pooled encoder outputs


def source_pass(model: CTCModel, dev: SpeechDataset, data: LoaderConfig | None = None,
                device: torch.device | str = "cpu", layer: int = -1) -> SourcePass:
    """Decode, score and embed a labelled source dev set in one pass."""
    if not dev.labelled:
        raise ValueError("the source dev set must be labelled")
    n = len(dev)
    hyps: list[str] = [""] * n
    losses = np.zeros(n)
    feats: list[np.ndarray | None] = [None] * n
    for out in run_model(model, dev, data, device, return_encoder=True):
        texts = greedy_decode(out.log_probs, out.out_lens, dev.vocab)
        loss = utterance_ctc_losses(out.log_probs, out.out_lens, out.batch.tokens, out.batch.token_lens,
                                    dev.vocab.blank).cpu()
        pooled = pool_layer(out.encoder, layer)
        for j, i in enumerate(out.indices):
            hyps[i], losses[i], feats[i] = texts[j], float(loss[j]), pooled[j]
    refs = [dev.vocab.decode(dev.tokens[i]) for i in range(n)]
    return SourcePass(refs, hyps, losses, np.stack(feats))  # type: ignore[arg-type]


def target_pass(model: CTCModel, target: SpeechDataset, data: LoaderConfig | None = None,
                device: torch.device | str = "cpu", layer: int = -1) -> TargetPass:
    """Posterior entropy and pooled features of target data (its text is never read)."""
    total, frames = 0.0, 0
    feats: list[np.ndarray | None] = [None] * len(target)
    for out in run_model(model, target, data, device, return_encoder=True):
        total += float(frame_entropy(out.log_probs, out.out_lens).sum())
        frames += int(out.out_lens.sum())
        for i, pooled in zip(out.indices, pool_layer(out.encoder, layer)):
            feats[i] = pooled
    return TargetPass(total / max(frames, 1), np.stack(feats))  # type: ignore[arg-type]


def score_model(model: CTCModel, dev: SpeechDataset, target: SpeechDataset, data: LoaderConfig | None = None,
                device: torch.device | str = "cpu", layer: int = -1) -> dict[str, float]:
    """Every selection score of a model (one pass over each set).

    Returns:
        ``{"source_dev_wer", "source_dev_loss", "target_entropy", "iw_risk", "max_weight"}``;
        ``iw_risk`` is NaN when either set is too small for the domain classifier.
    """
    source = source_pass(model, dev, data, device, layer)
    target_result = target_pass(model, target, data, device, layer)
    finite = np.isfinite(source.losses)
    scores = {"source_dev_wer": error_rates(source.references, source.hypotheses).wer,
              "source_dev_loss": float(source.losses[finite].mean()) if finite.any() else math.inf,
              "target_entropy": target_result.entropy, "iw_risk": math.nan, "max_weight": math.nan}
    if len(source.losses) >= 2 and len(target_result.features) >= 2:
        weights = importance_weights(source.features, target_result.features)
        scores["iw_risk"] = importance_weighted_risk(np.where(finite, source.losses, 0.0),
                                                     np.where(finite, weights, 0.0))
        scores["max_weight"] = float(weights.max())
    return scores


# --------------------------------------------------------------------------- choosing
@dataclass
class Candidate:
    """One adapted model and its label-free scores.

    Attributes:
        name: a short label (e.g. ``"lambda=0.1,layer=-1"``).
        params: the settings that made it.
        scores: e.g. from :func:`score_model`.
        path: its model file, if written.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "scores": dict(self.scores),
                "path": str(self.path) if self.path is not None else None}


def select(candidates: Sequence[Candidate], rule: str) -> Candidate:
    """The candidate with the lowest score for ``rule`` (the first one on ties).

    Args:
        candidates: scored candidates; a missing, None (a NaN read back from JSON) or NaN score
            leaves a candidate out.
        rule: a key of :data:`RULES` (``"source-dev"``, ``"entropy"``, ``"iw"``).

    Raises:
        ValueError: unknown rule, no candidates, or no candidate with a finite score.
    """
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; use one of {', '.join(RULES)}")
    if not candidates:
        raise ValueError("no candidates to select from")
    key = RULES[rule]
    scored = [(float(c.scores[key]), i) for i, c in enumerate(candidates)
              if c.scores.get(key) is not None and math.isfinite(float(c.scores[key]))]
    if not scored:
        raise ValueError(f"no candidate has a finite {key!r} score, needed by rule {rule!r}")
    return candidates[min(scored)[1]]


__all__ = ["RULES", "Candidate", "SourcePass", "TargetPass", "frame_entropy", "importance_weighted_risk",
           "importance_weights", "score_model", "select", "source_pass", "target_pass",
           "utterance_ctc_losses"]

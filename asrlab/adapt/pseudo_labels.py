"""Pseudo-label self-training: transcribe unlabelled target audio, keep what the model is sure of,
fine-tune on it, and repeat.

* :func:`pseudo_label` transcribes a dataset (greedy, or any :class:`~asrlab.decoding.base.Decoder`
  such as beam search with a language model) and scores each transcript with
  :func:`ctc_confidence`, computed from the CTC posteriors alone.
* :func:`keep_confident` keeps the most confident share; :func:`confidence_curve` shows, on a
  *labelled dev* split, how the kept pseudo-labels' WER falls as the share shrinks: the tool to
  choose the share without touching target test labels.
* :func:`self_train` runs rounds of (label, filter, fine-tune), each round starting from the
  previous round's model, optionally with labelled source data mixed in against forgetting.

Uncertainty filtering after DUST (Khurana et al., ICASSP 2021) uses agreement between dropout
samples; here the cheaper per-frame posterior does the filtering, which the curve checks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import torch

from asrlab.config import AlignmentConfig, LoaderConfig, TrainConfig
from asrlab.datasets import SpeechDataset, model_dataset
from asrlab.decoding.base import Decoder
from asrlab.decoding.greedy import greedy_decode
from asrlab.inference import run_model
from asrlab.manifest import Utterance
from asrlab.metrics import error_rates
from asrlab.models.checkpoint import LoadedModel


@dataclass(frozen=True)
class PseudoLabel:
    """One transcribed unlabelled utterance.

    Attributes:
        utterance: the manifest line (its own ``text`` is not read: it may be empty or unknown).
        text: the model's transcript.
        confidence: :func:`ctc_confidence` of it, in ``[0, 1]``.
    """

    utterance: Utterance
    text: str
    confidence: float

    def as_utterance(self) -> Utterance:
        """The manifest line with the pseudo-label as its text (for a training dataset)."""
        extra = {**self.utterance.extra, "pseudo_label": True, "confidence": round(self.confidence, 4)}
        return replace(self.utterance, text=self.text, extra=extra)


def ctc_confidence(log_probs: torch.Tensor, length: int, blank: int) -> float:
    """How sure a CTC model is of its greedy transcript of one utterance.

    The mean posterior of the frames whose best label is not blank: the frames that write the
    transcript. Blank frames are left out, since a model is nearly always sure of silence.

    Args:
        log_probs: ``(T, V)`` log-probabilities of one utterance.
        length: its valid frames (``<= T``).
        blank: the blank's index.

    Returns:
        A value in ``[0, 1]``; 0 when every frame is blank (an empty transcript).
    """
    best, labels = log_probs[:length].float().max(dim=-1)
    emitting = labels != blank
    if not bool(emitting.any()):
        return 0.0
    return float(best[emitting].exp().mean())


def pseudo_label(model: torch.nn.Module, dataset: SpeechDataset, *, decoder: Decoder | None = None,
                 data: LoaderConfig | None = None, device: torch.device | str = "cpu") -> list[PseudoLabel]:
    """Transcribe every utterance of ``dataset`` (in dataset order) with a confidence each.

    Args:
        model: a CTC model on ``device`` (run in eval mode, its mode restored after).
        dataset: the audio to label (labelled or not: its texts are not read).
        decoder: replaces greedy decoding (e.g. beam search with a target LM); the confidence
            still comes from the posteriors.
        data: batching.
        device: where the model runs.
    """
    texts: list[str | None] = [None] * len(dataset)
    confidences = [0.0] * len(dataset)
    blank = dataset.vocab.blank
    for out in run_model(model, dataset, data, device):
        batch_texts = (greedy_decode(out.log_probs, out.out_lens, dataset.vocab) if decoder is None
                       else decoder.decode(out.log_probs, out.out_lens))
        for row, (index, text) in enumerate(zip(out.indices, batch_texts)):
            texts[index] = text
            confidences[index] = ctc_confidence(out.log_probs[row], int(out.out_lens[row]), blank)
    return [PseudoLabel(u, t or "", c) for u, t, c in zip(dataset.utterances, texts, confidences)]


def keep_confident(labels: Sequence[PseudoLabel], share: float) -> list[PseudoLabel]:
    """The most confident ``share`` of the non-empty pseudo-labels (at least one when any is
    non-empty), most confident first."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    ranked = sorted((p for p in labels if p.text.strip()), key=lambda p: -p.confidence)
    if not ranked:
        return []
    return ranked[: max(1, round(share * len(ranked)))]


def confidence_curve(labels: Sequence[PseudoLabel], shares: Sequence[float] = (1.0, 0.8, 0.6, 0.4, 0.2)
                     ) -> list[dict[str, float]]:
    """WER of the kept pseudo-labels against their true texts, per kept share.

    Needs the utterances' true texts, so run it on a *labelled dev* split: it is how a share is
    chosen without target test labels.

    Returns:
        One row per share: ``share``, ``kept`` (utterances), ``threshold`` (lowest kept
        confidence), ``wer`` and ``cer`` of the kept pseudo-labels.
    """
    rows = []
    for share in shares:
        kept = keep_confident(labels, share)
        if not kept:
            continue
        rates = error_rates([p.utterance.text for p in kept], [p.text for p in kept])
        rows.append({"share": float(share), "kept": len(kept), "threshold": kept[-1].confidence,
                     "wer": rates.wer, "cer": rates.cer})
    return rows


@dataclass
class SelfTrainingRound:
    """What one round did: labelled source utterances mixed in, pseudo-labels kept, how sure
    they were, optimiser steps and seconds."""

    round: int
    source: int
    kept: int
    mean_confidence: float
    steps: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"round": self.round, "source": self.source, "kept": self.kept,
                "mean_confidence": self.mean_confidence, "steps": self.steps, "seconds": self.seconds}


@dataclass
class SelfTrainingResult:
    """The model after the last round, and a record per round."""

    model: torch.nn.Module
    rounds: list[SelfTrainingRound] = field(default_factory=list)


def self_train(init: LoadedModel, unlabelled: Sequence[Utterance], config: TrainConfig, *, rounds: int = 2,
               share: float = 0.6, source: Sequence[Utterance] = (), decoder: Decoder | None = None,
               alignment: AlignmentConfig | None = None, data: LoaderConfig = LoaderConfig(num_workers=0),
               progress: bool = False) -> SelfTrainingResult:
    """Rounds of pseudo-labelling ``unlabelled`` and fine-tuning every weight on the kept labels.

    Each round labels with the current model (round 1: ``init``), keeps the most confident
    ``share`` (:func:`keep_confident`) and fine-tunes a copy of the current model on them (plus
    ``source``, labelled source utterances, when given) with ``config``. No target label is read.

    Args:
        init: the source model (left untouched).
        unlabelled: target audio; its texts are never read.
        config: optimisation of each round (its seed is offset by the round).
        rounds: label-and-train rounds.
        share: share of non-empty pseudo-labels kept per round.
        source: labelled source utterances mixed into every round's training set.
        decoder: replaces greedy decoding for the pseudo-labels.
        alignment: also align the pseudo-labelled training batches with all of ``unlabelled``'s
            audio (MMD, CORAL or DANN, :func:`asrlab.adapt.training.adapt_model`) in every round:
            the combined method. None trains on the pseudo-labels alone.
        data: batching.
        progress: show progress bars.
    """
    from asrlab.adapt.training import adapt_model
    from asrlab.finetune import finetune
    from asrlab.utils import pick_device

    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if not unlabelled:
        raise ValueError("self_train: no unlabelled utterances given")
    device = pick_device(config.device)
    current = init
    audio = model_dataset(list(unlabelled), init, labelled=False, on_bad=data.on_bad)
    result = SelfTrainingResult(init.model)
    for number in range(1, rounds + 1):
        started = time.perf_counter()
        current.model.to(device)
        kept = keep_confident(pseudo_label(current.model, audio, decoder=decoder, data=data, device=device), share)
        if not kept:
            raise ValueError(f"self_train round {number}: every pseudo-label is empty (the model writes only "
                             "blanks on this audio); start from a model that transcribes some of it")
        train = model_dataset([p.as_utterance() for p in kept] + list(source), init, on_bad="skip")
        round_config = replace(config, seed=config.seed + number - 1)
        if alignment is None:
            tuned = finetune(current, train, "full", round_config, data=data, progress=progress)
        else:
            tuned = adapt_model(current.model, train, audio, alignment, round_config, data=data, progress=progress)
        current = replace(current, model=tuned.model)
        result.model = tuned.model
        result.rounds.append(SelfTrainingRound(number, len(source), len(kept),
                                               float(np.mean([p.confidence for p in kept])),
                                               len(tuned.history.steps), round(time.perf_counter() - started, 1)))
    return result


__all__ = ["PseudoLabel", "SelfTrainingResult", "SelfTrainingRound", "confidence_curve", "ctc_confidence",
           "keep_confident", "pseudo_label", "self_train"]

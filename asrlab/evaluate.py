"""Run a CTC model over a dataset: transcripts, error rates overall and per domain, timing.

:func:`evaluate` scores a model on a dataset; :func:`evaluate_manifests` takes a model by file,
folder or name and manifest files (Whisper's own decoding too, :func:`evaluate_zero_shot`).

Every evaluation also checks for a model that outputs only blanks (all or nearly all transcripts
empty) and says so with a :class:`~asrlab.errors.BlankOutputWarning`.
"""
from __future__ import annotations

import os
import time
import warnings
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import torch
import torch.nn.functional as F

from asrlab.audio import SAMPLE_RATE, load_audio
from asrlab.config import LoaderConfig, FeatureConfig
from asrlab.datasets import SpeechDataset, audio_seconds, model_dataset
from asrlab.decoding.greedy import greedy_decode
from asrlab.errors import BlankOutputWarning
from asrlab.inference import run_model
from asrlab.manifest import read_manifest
from asrlab.metrics import ErrorRates, empty_fraction, error_rates, per_domain
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.resolve import own_decoder_error, resolve_model
from asrlab.models.zoo import ZeroShotModel
from asrlab.text import CharVocabulary
from asrlab.utils import pick_device

if TYPE_CHECKING:
    from asrlab.decoding import Decoder

#: Share of empty transcripts from which an evaluation warns that the model outputs (nearly) only blanks.
NEARLY_BLANK = 0.9

#: The likely causes of blank-only output, and what to try; the second half of every warning.
BLANK_OUTPUT_ADVICE = (
    "The CTC blank wins (almost) every frame: the model is likely still on CTC's blank-first plateau "
    "(too few optimisation steps, or too little audio to train from scratch), its learning rate is too "
    "high (collapse) or too low, or its vocabulary does not match the labels. Try more steps or more "
    "audio, check the learning rate, start from a pretrained model, and check that the model's "
    "vocabulary is the one the transcripts were encoded with."
)


def blank_output_message(hypotheses: Sequence[str], threshold: float = NEARLY_BLANK) -> str | None:
    """The :class:`~asrlab.errors.BlankOutputWarning` text for an evaluation's transcripts.

    Args:
        hypotheses: one transcript per utterance.
        threshold: the share of empty transcripts from which to warn.

    Returns:
        ``None`` when fewer than ``threshold`` of the transcripts are empty (or there are none),
        else a message saying how many are empty, the likely causes and what to try.
    """
    fraction = empty_fraction(hypotheses)
    if not hypotheses or fraction < threshold:
        return None
    total = len(hypotheses)
    empty = round(fraction * total)
    if empty == total:
        what = f"all {total} transcripts are empty (WER 100%): the model outputs only blanks."
    else:
        what = (f"{empty} of {total} transcripts ({100 * fraction:.0f}%) are empty: "
                "the model outputs almost only blanks.")
    return f"{what} {BLANK_OUTPUT_ADVICE}"


def warn_if_blank_output(hypotheses: Sequence[str], threshold: float = NEARLY_BLANK, stacklevel: int = 2) -> None:
    """Issue one :class:`~asrlab.errors.BlankOutputWarning` when (nearly) every transcript is empty.

    ``stacklevel`` is as for :func:`warnings.warn`, counted from the caller of this function.
    """
    message = blank_output_message(hypotheses, threshold)
    if message is not None:
        warnings.warn(message, BlankOutputWarning, stacklevel=stacklevel + 1)


@dataclass
class EvalResult:
    """Everything an evaluation produced.

    Attributes:
        rates: error rates over all utterances.
        domains: error rates per domain.
        ids, references, hypotheses, domain_names: per utterance, in dataset order.
        loss: mean CTC loss per utterance.
        seconds: wall time of the forward passes and decoding.
        audio_seconds: audio duration processed.
        empty_fraction: (property) share of hypotheses that are empty; 1.0 for a model that
            outputs only blanks.
    """

    rates: ErrorRates
    domains: dict[str, ErrorRates]
    ids: list[str]
    references: list[str]
    hypotheses: list[str]
    domain_names: list[str]
    loss: float
    seconds: float
    audio_seconds: float

    @property
    def real_time_factor(self) -> float:
        """Processing time over audio time (lower is faster)."""
        return self.seconds / max(self.audio_seconds, 1e-9)

    @property
    def empty_fraction(self) -> float:
        """Share of utterances whose hypothesis is empty (the model emitted only blanks for them)."""
        return empty_fraction(self.hypotheses)

    def as_dict(self) -> dict:
        return {**self.rates.as_dict(), "loss": self.loss, "rtf": self.real_time_factor,
                "empty_fraction": self.empty_fraction,
                "domains": {k: v.as_dict() for k, v in self.domains.items()}}


def transcribe_batches(model: CTCModel, dataset: SpeechDataset, data: LoaderConfig | None = None,
                       device: torch.device | str = "cpu",
                       decoder: Decoder | None = None) -> tuple[dict[int, str], float, float, float]:
    """Transcripts of every utterance, keyed by dataset index, plus loss/time/audio totals.

    ``decoder`` (an :func:`asrlab.decoding.make_decoder` result) replaces greedy decoding; its
    time counts in the total.
    """
    hyps: dict[int, str] = {}
    loss_sum, seconds, audio = 0.0, 0.0, 0.0
    with closing(run_model(model, dataset, data, device)) as outputs:
        for out in outputs:
            start = time.perf_counter()
            texts = (greedy_decode(out.log_probs, out.out_lens, dataset.vocab) if decoder is None
                     else decoder.decode(out.log_probs, out.out_lens))
            seconds += out.seconds + time.perf_counter() - start
            if dataset.labelled:
                loss = F.ctc_loss(out.log_probs.transpose(0, 1), out.batch.tokens, out.out_lens,
                                  out.batch.token_lens, blank=dataset.vocab.blank, reduction="sum", zero_infinity=True)
                loss_sum += float(loss)
            audio += audio_seconds(out.batch, dataset.features)
            hyps.update(zip(out.indices, texts))
    return hyps, loss_sum / max(len(dataset), 1), seconds, audio


def utterance_log_probs(model: CTCModel, dataset: SpeechDataset, device: torch.device | str = "cpu",
                        data: LoaderConfig | None = None) -> list[torch.Tensor]:
    """The model's CTC log-probabilities of every utterance, in dataset order: one ``(T_i, V)``
    float tensor per utterance, on the CPU, ``T_i`` its valid output frames."""
    out: list[torch.Tensor | None] = [None] * len(dataset)
    for result in run_model(model, dataset, data, device):
        for i, row, length in zip(result.indices, result.log_probs.float().cpu(), result.out_lens.cpu().tolist()):
            out[i] = row[: int(length)].clone()
    return out  # type: ignore[return-value]


def evaluate(model: CTCModel, dataset: SpeechDataset, data: LoaderConfig | None = None,
             device: torch.device | str = "cpu", decoder: Decoder | None = None) -> EvalResult:
    """Decode ``dataset`` with ``model`` (greedy unless ``decoder`` is given) and score it against
    the manifest texts.

    Warns once, with a :class:`~asrlab.errors.BlankOutputWarning`, when at least
    :data:`NEARLY_BLANK` of the transcripts are empty (see :func:`blank_output_message`).
    """
    hyps, loss, seconds, audio = transcribe_batches(model, dataset, data, device, decoder)
    refs = references(dataset)
    hypotheses = [hyps[i] for i in range(len(dataset))]
    warn_if_blank_output(hypotheses, stacklevel=2)
    domains = [u.domain for u in dataset.utterances]
    return EvalResult(error_rates(refs, hypotheses), per_domain(refs, hypotheses, domains),
                      [u.id for u in dataset.utterances], refs, hypotheses, domains, loss, seconds, audio)


def references(dataset: SpeechDataset) -> list[str]:
    """A labelled dataset's reference transcripts, in dataset order, as its vocabulary writes them."""
    return [dataset.vocab.decode(tokens) for tokens in dataset.tokens]


def evaluate_zero_shot(model: ZeroShotModel, dataset: SpeechDataset, batch_size: int = 8) -> EvalResult:
    """Score a :class:`~asrlab.models.zoo.ZeroShotModel` on a dataset (references and hypotheses
    normalised by the model's own normaliser)."""
    refs, hyps, seconds, audio = [], [], 0.0, 0.0
    for start in range(0, len(dataset), batch_size):
        utts = dataset.utterances[start:start + batch_size]
        waves = [load_audio(u.audio) for u in utts]
        began = time.perf_counter()
        texts = model.transcribe(waves)
        seconds += time.perf_counter() - began
        audio += sum(len(w) for w in waves) / SAMPLE_RATE
        refs += [model.normalize(u.text) or u.text for u in utts]
        hyps += [model.normalize(t) for t in texts]
    domains = [u.domain for u in dataset.utterances]
    return EvalResult(error_rates(refs, hyps), per_domain(refs, hyps, domains), [u.id for u in dataset.utterances],
                      refs, hyps, domains, float("nan"), seconds, audio)


def evaluate_manifests(model: str | os.PathLike | LoadedModel | ZeroShotModel,
                       manifests: Sequence[str | os.PathLike], device: str | None = None,
                       limit: int | None = None, decoder: Decoder | None = None,
                       on_bad: Literal["error", "skip"] = "error") -> EvalResult:
    """WER/CER of a model (file, folder, pretrained name, or loaded) on manifests, per domain too.

    Args:
        model: what :func:`asrlab.models.resolve.resolve_model` accepts.
        manifests: manifest files, scored together.
        device: where to run (default: :func:`asrlab.utils.pick_device`).
        limit: score only the first ``limit`` utterances of each manifest (a fixed subset).
        decoder: a CTC decoder from :func:`asrlab.decoding.make_decoder` (default: greedy).
        on_bad: ``"skip"`` leaves out a bad manifest line (missing or unreadable audio, a text
            that does not fit), counted in a warning, instead of stopping at it.

    Raises:
        ValueError: a ``decoder`` for a model that decodes with its own decoder.
    """
    loaded = resolve_model(model)
    utterances = [u for m in manifests for u in read_manifest(m)[:limit]]
    if isinstance(loaded, ZeroShotModel):
        if decoder is not None:
            raise own_decoder_error(loaded, "a CTC decoder does not apply (leave decoder=None)")
        dataset = SpeechDataset(utterances, CharVocabulary(), FeatureConfig(kind="waveform"), labelled=True,
                                on_bad=on_bad)
        return evaluate_zero_shot(loaded, dataset)
    dataset = model_dataset(utterances, loaded, on_bad=on_bad)
    target = pick_device(device)
    loaded.model.to(target)
    return evaluate(loaded.model, dataset, LoaderConfig(num_workers=0), target, decoder)

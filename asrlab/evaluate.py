"""Run a CTC model over a dataset: transcripts, error rates overall and per domain, timing."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from asrlab.config import DataConfig
from asrlab.datasets import SpeechDataset, audio_seconds, make_loader
from asrlab.decode import greedy_decode
from asrlab.metrics import ErrorRates, error_rates, per_domain
from asrlab.models.base import CTCModel

if TYPE_CHECKING:
    from asrlab.decoding import Decoder


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

    def as_dict(self) -> dict:
        return {**self.rates.as_dict(), "loss": self.loss, "rtf": self.real_time_factor,
                "domains": {k: v.as_dict() for k, v in self.domains.items()}}


@torch.no_grad()
def transcribe_batches(model: CTCModel, dataset: SpeechDataset, data: DataConfig | None = None,
                       device: torch.device | str = "cpu",
                       decoder: Decoder | None = None) -> tuple[dict[int, str], float, float, float]:
    """Transcripts of every utterance, keyed by dataset index, plus loss/time/audio totals.

    ``decoder`` (an :func:`asrlab.decoding.make_decoder` result) replaces greedy decoding; its
    time counts in the total.
    """
    data = data or DataConfig(num_workers=0)
    loader = make_loader(dataset, data, shuffle=False)
    order = [i for batch in loader.batch_sampler for i in batch]
    was_training = model.training
    model.eval()
    hyps: dict[int, str] = {}
    loss_sum, seconds, audio = 0.0, 0.0, 0.0
    position = 0
    for batch in loader:
        start = time.perf_counter()
        batch = batch.to(torch.device(device))
        log_probs, out_lens = model(batch.feats, batch.feat_lens)
        texts = (greedy_decode(log_probs, out_lens, dataset.vocab) if decoder is None
                 else decoder.decode(log_probs, out_lens))
        seconds += time.perf_counter() - start
        if dataset.labelled:
            loss = F.ctc_loss(log_probs.transpose(0, 1), batch.tokens, out_lens, batch.token_lens,
                              blank=dataset.vocab.blank, reduction="sum", zero_infinity=True)
            loss_sum += float(loss)
        audio += audio_seconds(batch, dataset.features)
        for text in texts:
            hyps[order[position]] = text
            position += 1
    model.train(was_training)
    return hyps, loss_sum / max(len(dataset), 1), seconds, audio


def evaluate(model: CTCModel, dataset: SpeechDataset, data: DataConfig | None = None,
             device: torch.device | str = "cpu", decoder: Decoder | None = None) -> EvalResult:
    """Decode ``dataset`` with ``model`` (greedy unless ``decoder`` is given) and score it against
    the manifest texts."""
    hyps, loss, seconds, audio = transcribe_batches(model, dataset, data, device, decoder)
    refs = [_reference(dataset, i) for i in range(len(dataset))]
    hypotheses = [hyps[i] for i in range(len(dataset))]
    domains = [u.domain for u in dataset.utterances]
    return EvalResult(error_rates(refs, hypotheses), per_domain(refs, hypotheses, domains),
                      [u.id for u in dataset.utterances], refs, hypotheses, domains, loss, seconds, audio)


def _reference(dataset: SpeechDataset, index: int) -> str:
    return dataset.vocab.decode(dataset.tokens[index])

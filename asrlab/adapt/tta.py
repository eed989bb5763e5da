"""Test-time adaptation: a few steps of entropy minimisation on each test utterance, then reset.

After SUTA (Lin et al., Interspeech 2022): before transcribing an utterance (or a batch), take
``steps`` gradient steps that make the model's frame posteriors more confident (lower entropy,
optionally with a minimum-class-confusion term), on a small set of parameters only, decode with
the adapted weights, and put the weights back ("episodic" adaptation), so that no utterance
affects another and no label is ever read. The price is ``steps`` extra forward and backward
passes per utterance, which :class:`TTAResult` reports per second of audio.

Which parameters adapt (:data:`TTA_PARAMETERS`):

* ``"norm"``: the affine weights of every normalisation layer (SUTA's choice for wav2vec 2.0);
* ``"frontend"``: the convolutional front end, the first block of the encoder;
* ``"head"``: the CTC output layer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from asrlab.adapt.selection import frame_entropy
from asrlab.config import LoaderConfig
from asrlab.datasets import SpeechDataset, audio_seconds, make_loader
from asrlab.decoding.base import Decoder
from asrlab.decoding.greedy import greedy_decode
from asrlab.models.base import CTCModel
from asrlab.utils import lengths_to_mask

TTAParameters = Literal["norm", "frontend", "head"]
TTA_PARAMETERS: tuple[str, ...] = ("norm", "frontend", "head")
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d)


@dataclass(frozen=True)
class TTAConfig:
    """Settings of entropy minimisation at test time.

    Attributes:
        steps: gradient steps per utterance (or batch) before decoding; 0 decodes unchanged.
        lr: AdamW learning rate of those steps.
        parameters: which parameters adapt (see :data:`TTA_PARAMETERS`).
        mcc_weight: weight of the minimum-class-confusion term (0: entropy only).
        temperature: the posteriors' temperature in the loss (SUTA uses 2.5 for MCC).
        exclude_blank: leave out frames whose best label is blank, which are confident already
            and would drown the rest.
    """

    steps: int = 3
    lr: float = 1e-4
    parameters: TTAParameters = "norm"
    mcc_weight: float = 0.0
    temperature: float = 1.0
    exclude_blank: bool = True

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.parameters not in TTA_PARAMETERS:
            raise ValueError(f"unknown parameters {self.parameters!r}; use one of {', '.join(TTA_PARAMETERS)}")
        if self.lr <= 0 or self.temperature <= 0:
            raise ValueError("lr and temperature must be positive")


def adapted_parameters(model: CTCModel, which: str) -> list[nn.Parameter]:
    """The parameters test-time adaptation changes (see :data:`TTA_PARAMETERS`).

    Raises:
        ValueError: an unknown choice, or a model that has none of them (e.g. ``"norm"`` on a
            model without normalisation layers).
    """
    if which == "norm":
        params = [p for m in model.modules() if isinstance(m, _NORMS) for p in m.parameters(recurse=False)]
    elif which == "frontend":
        params = list(model.encoder.blocks[0].parameters())
    elif which == "head":
        params = list(model.head.parameters())
    else:
        raise ValueError(f"unknown parameters {which!r}; use one of {', '.join(TTA_PARAMETERS)}")
    if not params:
        raise ValueError(f"the model has no {which!r} parameters to adapt; choose another of "
                         f"{', '.join(TTA_PARAMETERS)}")
    return params


def entropy_objective(log_probs: torch.Tensor, lengths: torch.Tensor, config: TTAConfig,
                      blank: int) -> torch.Tensor:
    """The loss of one adaptation step: mean frame entropy (+ ``mcc_weight`` times the
    minimum-class-confusion) over the valid (and, with ``exclude_blank``, non-blank) frames.

    Args:
        log_probs: ``(B, T, V)`` log-probabilities at temperature 1.
        lengths: ``(B,)`` valid frames.
        config: the objective's settings.
        blank: the blank's index.

    Returns:
        A scalar; 0 (with a gradient path) when no frame is left.
    """
    scaled = torch.log_softmax(log_probs / config.temperature, dim=-1)
    valid = lengths_to_mask(lengths.to(log_probs.device), log_probs.shape[1])
    if config.exclude_blank:
        valid = valid & (log_probs.argmax(-1) != blank)
    if not bool(valid.any()):
        return log_probs.sum() * 0.0
    entropy = frame_entropy(scaled, lengths)[valid].mean()
    if config.mcc_weight == 0.0:
        return entropy
    probs = scaled.exp()[valid]                                       # (N, V)
    confusion = probs.T @ probs                                       # (V, V)
    confusion = confusion / confusion.sum(dim=1, keepdim=True).clamp_min(1e-8)
    mcc = (confusion.sum() - confusion.trace()) / confusion.shape[0]
    return entropy + config.mcc_weight * mcc


@dataclass
class TTAResult:
    """Transcripts (in dataset order) and what adapting cost.

    Attributes:
        hypotheses: one transcript per utterance.
        seconds: wall time of adapting and decoding everything.
        audio_seconds: audio processed.
        mean_objective_drop: mean over batches of (first - last) step objective.
    """

    hypotheses: list[str]
    seconds: float
    audio_seconds: float
    mean_objective_drop: float

    @property
    def real_time_factor(self) -> float:
        """Processing time over audio time, as :attr:`asrlab.evaluate.EvalResult.real_time_factor`."""
        return self.seconds / max(self.audio_seconds, 1e-9)


def adapt_and_transcribe(model: CTCModel, dataset: SpeechDataset, config: TTAConfig, *,
                         decoder: Decoder | None = None, data: LoaderConfig | None = None,
                         device: torch.device | str = "cpu") -> TTAResult:
    """Transcribe ``dataset`` with episodic test-time adaptation of each batch.

    The model runs in eval mode throughout (no dropout); its weights are the same after the call
    as before (each batch starts from them), and its mode is restored.

    Args:
        model: a CTC model on ``device``.
        dataset: the test audio (its texts are not read).
        config: the adaptation settings.
        decoder: replaces greedy decoding.
        data: batching; the default ``max_batch_size=1`` adapts per utterance, as SUTA does.
        device: where the model runs.
    """
    data = data or LoaderConfig(max_batch_size=1, num_workers=0)
    loader = make_loader(dataset, data, shuffle=False)
    order = [list(batch) for batch in loader.batch_sampler]
    params = adapted_parameters(model, config.parameters)
    saved = [p.detach().clone() for p in params]
    grad_flags = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    was_training = model.training
    model.eval()
    hypotheses: list[str | None] = [None] * len(dataset)
    drops: list[float] = []
    audio = 0.0
    started = time.perf_counter()
    try:
        for indices, batch in zip(order, loader):
            batch = batch.to(torch.device(device))
            optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
            first = last = 0.0
            for step in range(config.steps):
                log_probs, out_lens = model(batch.feats, batch.feat_lens)
                loss = entropy_objective(log_probs, out_lens, config, dataset.vocab.blank)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"test-time objective is {float(loss)} on {batch.ids[0]}; lower lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                last = float(loss.detach())
                first = last if step == 0 else first
            drops.append(first - last)
            with torch.no_grad():
                log_probs, out_lens = model(batch.feats, batch.feat_lens)
                texts = (greedy_decode(log_probs, out_lens, dataset.vocab) if decoder is None
                         else decoder.decode(log_probs, out_lens))
            for index, text in zip(indices, texts):
                hypotheses[index] = text
            audio += audio_seconds(batch, dataset.features)
            with torch.no_grad():
                for p, original in zip(params, saved):
                    p.copy_(original)
    finally:
        with torch.no_grad():
            for p, original in zip(params, saved):
                p.copy_(original)
        for name, p in model.named_parameters():
            p.requires_grad_(grad_flags[name])
        model.train(was_training)
    return TTAResult([h or "" for h in hypotheses], time.perf_counter() - started, audio,
                          sum(drops) / max(len(drops), 1))


__all__ = ["TTA_PARAMETERS", "TTAConfig", "TTAResult", "adapt_and_transcribe", "adapted_parameters",
           "entropy_objective"]

"""Multi-task fine-tuning: an utterance-level classifier on the shared encoder, beside CTC.

While the model learns to transcribe the target, a small head reads the same encoder and
predicts a class of each utterance (its speaker, accent or domain, from the manifest): each
utterance's valid encoder frames are averaged (padding never counts) and a linear layer gives
the class logits. The loss is ``CTC + mu * cross-entropy``, so the encoder is pushed to keep (and
make linearly readable) what tells the classes apart; with ``mu = 0`` the loss adds exactly
nothing and training is plain fine-tuning.

The pieces:

* :class:`UtteranceClasses`: which manifest field, and its values in index order;
* :class:`AuxiliaryHead`: mean pooling over valid frames and a linear layer;
* :class:`AuxiliaryLoss`: the :class:`~asrlab.train.ExtraLoss` for :func:`~asrlab.train.fit`
  (pass the head as ``fit(extra_modules=head)`` so that the optimiser trains it);
* :func:`auxiliary_accuracy`: how often the head names the class of a dev set's utterances.

:func:`asrlab.finetune.finetune` builds all of them from an :class:`~asrlab.config.AuxiliaryConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from asrlab.config import AuxiliaryConfig
from asrlab.datasets import SpeechDataset
from asrlab.inference import run_model
from asrlab.manifest import Utterance
from asrlab.models.base import CTCModel, EncoderOutput
from asrlab.train import StepInfo
from asrlab.utils import masked_mean

#: Fields that are attributes of every :class:`~asrlab.manifest.Utterance`.
_ATTRIBUTES = ("speaker", "domain", "split")


def utterance_field(utt: Utterance, field: str) -> str:
    """The value of manifest field ``field`` for one utterance, as a string.

    ``"speaker"``, ``"domain"`` and ``"split"`` are every line's own; ``"accent"`` is the line's
    ``accent`` key if it has one, else its ``voice``'s accent (the corpus writes
    ``"voice": {"accent": "en-gb", ...}``), else the accent in an espeak speaker label
    (``"espeak:en-gb+m3"`` -> ``"en-gb"``); any other name is a key of the line.

    Raises:
        ValueError: the line has no such field (naming the manifest line and the keys it has).
    """
    if field in _ATTRIBUTES:
        return str(getattr(utt, field))
    extra = utt.extra
    if field in extra and extra[field] is not None and not isinstance(extra[field], (dict, list)):
        return str(extra[field])
    if field == "accent":
        voice = extra.get("voice")
        if isinstance(voice, dict) and voice.get("accent"):
            return str(voice["accent"])
        if utt.speaker.startswith("espeak:"):
            return utt.speaker.split(":", 1)[1].split("+", 1)[0]
    where = extra.get("_where", utt.audio)
    keys = sorted([*_ATTRIBUTES, *(k for k in extra if not k.startswith("_"))])
    raise ValueError(f"{where}: no field {field!r} to classify by (the line has {keys}); choose another label")


@dataclass(frozen=True)
class UtteranceClasses:
    """The classes of an auxiliary task: a manifest field and its values in index order.

    Attributes:
        field: the manifest field (see :func:`utterance_field`).
        classes: the values, sorted; class ``i`` is ``classes[i]``.
    """

    field: str
    classes: tuple[str, ...]

    @classmethod
    def from_utterances(cls, utterances: Iterable[Utterance], field: str) -> "UtteranceClasses":
        """The classes found in ``utterances`` (usually the training set).

        Raises:
            ValueError: fewer than two classes (nothing to tell apart), or a line without the field.
        """
        values = sorted({utterance_field(u, field) for u in utterances})
        if len(values) < 2:
            raise ValueError(f"an auxiliary task needs at least two classes, but every utterance has "
                             f"{field} {values[0] if values else None!r}; choose another label")
        return cls(field, tuple(values))

    def __len__(self) -> int:
        return len(self.classes)

    def index(self, utt: Utterance) -> int | None:
        """The class index of ``utt``, or None for a value the classes do not hold."""
        try:
            return self.classes.index(utterance_field(utt, self.field))
        except ValueError:
            return None

    def targets(self, utterances: Iterable[Utterance]) -> dict[str, int]:
        """Utterance id -> class index, for the utterances a head trains on.

        Raises:
            ValueError: an utterance of a class not in :attr:`classes`, or one id given two classes.
        """
        out: dict[str, int] = {}
        for utt in utterances:
            index = self.index(utt)
            if index is None:
                raise ValueError(f"{utt.extra.get('_where', utt.audio)}: {self.field} "
                                 f"{utterance_field(utt, self.field)!r} is not one of the classes {self.classes}")
            if out.get(utt.id, index) != index:
                raise ValueError(f"utterance id {utt.id!r} appears twice with different {self.field}s; "
                                 "ids (audio file stems) must be unique")
            out[utt.id] = index
        return out


class AuxiliaryHead(nn.Module):
    """Utterance classes from encoder frames: mean over the valid frames, normalised to zero mean
    and unit variance over D (a layer norm without parameters, as the probes of
    :mod:`asrlab.models.heads` normalise frames, so that the head's learning rate suits any
    encoder's scale), then a linear layer.

    Args:
        input_dim: frame size D of the encoder output.
        num_classes: K.
    """

    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, num_classes)

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``hidden (B, T, D)`` and ``lengths (B,)`` -> ``(B, K)`` float logits (padding never counts)."""
        pooled = masked_mean(hidden.float(), lengths.to(hidden.device))
        return self.linear(F.layer_norm(pooled, pooled.shape[-1:]))


def make_auxiliary_head(input_dim: int, num_classes: int, seed: int = 0) -> AuxiliaryHead:
    """An :class:`AuxiliaryHead` initialised from ``seed`` (torch's global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AuxiliaryHead(input_dim, num_classes)


class AuxiliaryLoss:
    """The :class:`~asrlab.train.ExtraLoss` of a multi-task run: ``mu * cross-entropy`` of the
    utterance classes of the labelled batch, predicted from its last encoder layer.

    The classes of the batch's utterances are looked up by id (:attr:`StepInfo.ids`, which
    :func:`~asrlab.train.fit` fills). The head's weights are trained by ``fit``: pass it as
    ``fit(extra_modules=head)``. With ``weight = 0`` the returned loss is exactly zero and no
    gradient reaches the encoder or the head, so the model trains as it would without the hook.

    Logs ``aux_ce`` (the cross-entropy before ``mu``) and ``aux_acc`` (the batch's accuracy).

    Args:
        head: the classifier.
        targets: utterance id -> class index for every training utterance
            (:meth:`UtteranceClasses.targets`).
        weight: mu.
    """

    def __init__(self, head: AuxiliaryHead, targets: Mapping[str, int], weight: float) -> None:
        if weight < 0:
            raise ValueError(f"weight (mu) must be >= 0, got {weight}")
        self.head = head
        self.targets = dict(targets)
        self.weight = float(weight)

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]:
        if len(info.ids) != source.hidden.shape[0]:
            raise ValueError(f"the auxiliary loss needs the batch's {source.hidden.shape[0]} utterance ids "
                             f"(StepInfo.ids, filled by asrlab.train.fit), got {len(info.ids)}")
        missing = [i for i in info.ids if i not in self.targets]
        if missing:
            raise ValueError(f"no class for utterances {missing[:3]}: build the targets from the training set "
                             "(UtteranceClasses.targets(train.utterances))")
        labels = torch.tensor([self.targets[i] for i in info.ids], device=source.hidden.device)
        with torch.autocast(source.hidden.device.type, enabled=False):
            logits = self.head(source.hidden, source.lengths)
            ce = F.cross_entropy(logits, labels)
        accuracy = float((logits.detach().argmax(dim=-1) == labels).float().mean())
        return self.weight * ce, {"aux_ce": float(ce.detach()), "aux_acc": accuracy}


def build_auxiliary(model: CTCModel, train: SpeechDataset, config: AuxiliaryConfig,
                    seed: int = 0) -> tuple[AuxiliaryLoss, AuxiliaryHead, UtteranceClasses]:
    """The multi-task pieces for fine-tuning ``model`` on ``train``.

    Returns:
        ``(loss, head, classes)``: pass ``loss`` as ``fit(extra_loss=...)`` (or as part of an
        :class:`~asrlab.train.ExtraLosses`) and ``head`` as ``fit(extra_modules=...)``; ``classes``
        reads the labels of other sets (:func:`auxiliary_accuracy`).
    """
    classes = UtteranceClasses.from_utterances(train.utterances, config.label)
    head = make_auxiliary_head(int(model.encoder.output_dim), len(classes), seed)
    head.to(next(model.parameters()).device)
    return AuxiliaryLoss(head, classes.targets(train.utterances), config.weight), head, classes


@torch.no_grad()
def auxiliary_predictions(model: CTCModel, head: AuxiliaryHead, dataset: SpeechDataset,
                          device: torch.device | str | None = None) -> list[int]:
    """The class index the head predicts for every utterance of ``dataset``, in dataset order."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = head.training
    head.eval()
    predictions: list[int] = [-1] * len(dataset)
    try:
        for out in run_model(model, dataset, device=device, return_encoder=True):
            assert out.encoder is not None
            logits = head(out.encoder.hidden, out.encoder.lengths)
            for index, predicted in zip(out.indices, logits.argmax(dim=-1).tolist()):
                predictions[index] = int(predicted)
    finally:
        head.train(was_training)
    return predictions


def auxiliary_accuracy(model: CTCModel, aux_head: AuxiliaryHead, dataset: SpeechDataset,
                       labels: UtteranceClasses) -> float:
    """The share of ``dataset``'s utterances whose class the auxiliary head names right.

    Utterances of a class the head was not trained on (a dev speaker absent from training) are
    left out: the head cannot name them.

    Args:
        model: the fine-tuned model (its encoder feeds the head).
        aux_head: the trained head.
        dataset: labelled or unlabelled utterances with the label's field.
        labels: the head's classes.

    Raises:
        ValueError: no utterance of ``dataset`` belongs to one of the head's classes.
    """
    truth = [labels.index(u) for u in dataset.utterances]
    known = [i for i, t in enumerate(truth) if t is not None]
    if not known:
        raise ValueError(f"no utterance of the set has a {labels.field} the head knows ({labels.classes})")
    predicted = auxiliary_predictions(model, aux_head, dataset)
    return sum(predicted[i] == truth[i] for i in known) / len(known)


def chance_accuracy(dataset: SpeechDataset, labels: UtteranceClasses) -> float:
    """What always naming the most frequent class scores on ``dataset`` (over the known classes)."""
    truth = [t for t in (labels.index(u) for u in dataset.utterances) if t is not None]
    if not truth:
        raise ValueError(f"no utterance of the set has a {labels.field} the head knows ({labels.classes})")
    return max(truth.count(c) for c in set(truth)) / len(truth)


__all__ = ["AuxiliaryHead", "AuxiliaryLoss", "UtteranceClasses", "auxiliary_accuracy", "auxiliary_predictions",
           "build_auxiliary", "chance_accuracy", "make_auxiliary_head", "utterance_field"]

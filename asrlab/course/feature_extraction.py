"""What can be learned cheaply from a frozen encoder's cached layers (notebook 03).

On features from :func:`asrlab.layers.extract_layers`:

* :func:`train_probe` / :func:`evaluate_probe` train and score a CTC head
  (:mod:`asrlab.models.heads`): a linear probe of one layer, a small BiLSTM head, or a learned
  weighted sum of all layers; :func:`fit_probe` does both for a fresh head. Training takes the
  steps of :mod:`asrlab.train` (its optimiser, schedule and :func:`~asrlab.train.optimizer_step`)
  over :func:`probe_batches` (the library's :class:`~asrlab.datasets.BucketBatchSampler`);
* :func:`classify` trains a logistic regression on pooled layers (:func:`asrlab.layers.pool_layers`):
  accent identification, returning accuracy and confusion matrix.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asrlab.config import ProbeConfig, TrainConfig
from asrlab.datasets import BucketBatchSampler
from asrlab.decoding.greedy import greedy_decode
from asrlab.layers import LayerFeatures, layer_names
from asrlab.manifest import Utterance
from asrlab.metrics import ErrorRates, error_rates
from asrlab.models.heads import HeadKind, make_probe
from asrlab.text import CharVocabulary
from asrlab.train import new_state, optimizer_step

__all__ = [
    "ProbeHistory", "ProbeScore", "encode_targets", "pad_layers", "probe_batches", "train_probe", "evaluate_probe",
    "ProbeRun", "fit_probe", "accent_of", "ClassifierResult", "classify", "classify_layers", "LESSON_KNOBS",
]

#: Notebook 03's knobs, per corpus size, with the values its assertions about the lesson's
#: effects (heads against full fine-tuning, layer probes, accent identification) were measured
#: with: its knobs cell passes them to :func:`asrlab.course.runner.lesson_check`.
LESSON_KNOBS = {
    "smoke": {"SEED": 0, "DOMAIN": "accent", "ENCODERS": ("asrlab-source", "whisper-tiny.en-ctc"),
              "PROBE_EPOCHS": 20, "PROBE_LR": 3e-3, "BILSTM_HIDDEN": 64, "BILSTM_LR": 1e-2,
              "FINETUNE_EPOCHS": 2, "FINETUNE_LR": 5e-4, "ACCENT_C": 0.1},
    "lab": {"SEED": 0, "DOMAIN": "accent", "ENCODERS": ("asrlab-source", "whisper-tiny.en-ctc"),
            "PROBE_EPOCHS": 16, "PROBE_LR": 3e-3, "BILSTM_HIDDEN": 64, "BILSTM_LR": 1e-2,
            "FINETUNE_EPOCHS": 5, "FINETUNE_LR": 5e-4, "ACCENT_C": 0.1},
    "full": {"SEED": 0, "DOMAIN": "accent", "ENCODERS": ("asrlab-source", "whisper-tiny.en-ctc"),
             "PROBE_EPOCHS": 8, "PROBE_LR": 3e-3, "BILSTM_HIDDEN": 64, "BILSTM_LR": 1e-2,
             "FINETUNE_EPOCHS": 3, "FINETUNE_LR": 5e-4, "ACCENT_C": 0.1},
}


# --------------------------------------------------------------------------- CTC probes
@dataclass
class ProbeHistory:
    """What :func:`train_probe` did: mean CTC loss per epoch, steps and wall time."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ProbeScore:
    """A head's greedy transcripts and their error rates."""

    rates: ErrorRates
    references: list[str]
    hypotheses: list[str]


def encode_targets(utterances: Sequence[Utterance], vocab: CharVocabulary = CharVocabulary()) -> list[torch.Tensor]:
    """``(U_i,)`` token ids of each utterance's normalised transcript."""
    return [vocab.encode_tensor(vocab.normalize(u.text), source=u.audio) for u in utterances]


def pad_layers(items: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L, T_i, D)`` items -> zero-padded ``(B, L, T, D)`` float32 and ``(B,)`` lengths."""
    lengths = torch.tensor([int(x.shape[1]) for x in items])
    first = items[0]
    out = torch.zeros(len(items), first.shape[0], int(lengths.max()), first.shape[2])
    for row, x in enumerate(items):
        out[row, :, : x.shape[1]] = x
    return out, lengths


def train_probe(probe: nn.Module, feats: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
                config: ProbeConfig = ProbeConfig(), *, blank: int = 0, progress: bool = False) -> ProbeHistory:
    """Train a head (e.g. a :class:`~asrlab.models.heads.CTCProbe`) with CTC on cached features.

    Args:
        probe: maps ``(B, L, T, D)`` features and ``(B,)`` lengths to ``(B, T, V)`` log-probs;
            trained in place.
        feats: per utterance ``(L, T_i, D)`` features (:meth:`LayerFeatures.select`).
        targets: per utterance ``(U_i,)`` token ids (:func:`encode_targets`).
        config: optimisation settings.
        blank: the CTC blank id.
        progress: show a progress bar.

    Returns:
        The :class:`ProbeHistory`.
    """
    from tqdm.auto import trange

    if len(feats) != len(targets) or not feats:
        raise ValueError(f"train_probe needs as many targets as features (> 0), got {len(feats)} and {len(targets)}")
    named = [(name, p) for name, p in probe.named_parameters() if p.requires_grad]
    groups = [{"params": [p for name, p in named if not name.startswith("mix.")], "lr": config.lr},
              {"params": [p for name, p in named if name.startswith("mix.")], "lr": config.lr * config.mix_lr_scale,
               "weight_decay": 0.0}]
    lengths = [int(x.shape[1]) for x in feats]
    total = sum(len(probe_batches(lengths, config.max_frames, config.seed, epoch)) for epoch in range(config.epochs))
    state = new_state(probe, _train_config(config), groups, total_steps=total)
    state.optimizer.zero_grad(set_to_none=True)
    history = ProbeHistory()
    started = time.perf_counter()
    probe.train()
    with torch.random.fork_rng(devices=[]):  # dropout draws from config.seed, not from the caller's state
        torch.manual_seed(config.seed)
        for epoch in trange(config.epochs, desc="probe", unit="epoch", disable=not progress, leave=False):
            losses = []
            for batch in probe_batches(lengths, config.max_frames, config.seed, epoch):
                x, x_lens = pad_layers([feats[i] for i in batch])
                y = [targets[i] for i in batch]
                loss = F.ctc_loss(probe(x, x_lens).transpose(0, 1), torch.cat(y), x_lens,
                                  torch.tensor([len(t) for t in y]), blank=blank, reduction="mean", zero_infinity=True)
                loss.backward()
                optimizer_step(state)
                losses.append(float(loss.detach()))
            history.losses.append(float(np.mean(losses)))
    probe.eval()
    history.steps = state.step
    history.seconds = time.perf_counter() - started
    return history


def probe_batches(lengths: Sequence[int], max_frames: int, seed: int | None = None,
                  epoch: int = 0) -> list[list[int]]:
    """Batches of cached features: :class:`~asrlab.datasets.BucketBatchSampler`'s, with no limit
    on their size but ``max_frames`` padded frames.

    Args:
        lengths: frames per utterance.
        max_frames: padded frames per batch.
        seed: None keeps the length-sorted order (for evaluation); with a seed the length-sorted
            utterances are packed alike every epoch and the order of the batches is shuffled.
        epoch: the epoch whose shuffled order to return.
    """
    sampler = BucketBatchSampler(lengths, max_frames, max_batch_size=len(lengths), num_buckets=len(lengths),
                                 shuffle=seed is not None, seed=seed or 0)
    sampler.set_epoch(epoch)
    return list(sampler)


def _train_config(config: ProbeConfig) -> TrainConfig:
    """The :class:`~asrlab.config.TrainConfig` of a probe's optimiser, schedule and clipping:
    AdamW at ``config.lr``, no warm-up, cosine decay to 5%, full precision."""
    return TrainConfig(epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay, warmup_steps=0,
                       scheduler="cosine", grad_clip=config.grad_clip, amp=False, seed=config.seed,
                       specaugment=None, device="cpu")


@torch.no_grad()
def evaluate_probe(probe: nn.Module, feats: Sequence[torch.Tensor], utterances: Sequence[Utterance],
                   vocab: CharVocabulary = CharVocabulary(), max_frames: int = 20_000) -> ProbeScore:
    """Greedy-decode cached features with a head and score them against the transcripts.

    Args:
        probe: as in :func:`train_probe`; evaluated in eval mode.
        feats: per utterance ``(L, T_i, D)`` features.
        utterances: the same utterances, for their reference texts.
        vocab: the output symbols.
        max_frames: padded frames per batch.
    """
    if len(feats) != len(utterances) or not feats:
        raise ValueError(f"evaluate_probe needs one utterance per feature item, got {len(feats)} and {len(utterances)}")
    was_training = probe.training
    probe.eval()
    hypotheses: list[str] = [""] * len(feats)
    for batch in probe_batches([int(x.shape[1]) for x in feats], max_frames):
        x, x_lens = pad_layers([feats[i] for i in batch])
        for i, text in zip(batch, greedy_decode(probe(x, x_lens), x_lens, vocab)):
            hypotheses[i] = text
    probe.train(was_training)
    references = [vocab.normalize(u.text) for u in utterances]
    return ProbeScore(error_rates(references, hypotheses), references, hypotheses)


@dataclass
class ProbeRun:
    """A probe trained on some layers of cached features, with its scores.

    Attributes:
        name: ``"front end"``, ``"layer 2"``... or ``"weighted sum"`` (see :func:`layer_names`).
        layers: the layers it reads.
        probe: the trained :class:`~asrlab.models.heads.CTCProbe`.
        history: its training.
        scores: split name -> greedy-decoding error rates there.
    """

    name: str
    layers: tuple[int, ...]
    probe: nn.Module
    history: ProbeHistory
    scores: dict[str, ProbeScore]

    @property
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.probe.parameters() if p.requires_grad)


def fit_probe(train: LayerFeatures, layers: int | Sequence[int], config: ProbeConfig = ProbeConfig(), *,
              kind: HeadKind = "linear", hidden: int = 128, evaluate: Mapping[str, LayerFeatures] | None = None,
              vocab: CharVocabulary = CharVocabulary(), progress: bool = False) -> ProbeRun:
    """Train a fresh CTC probe on one layer (an int) or a learned weighted sum of several, and score it.

    Args:
        train: cached features of the training utterances (their transcripts are the targets).
        layers: a layer index, or the layers to mix.
        config: training settings; ``config.seed`` also initialises the head.
        kind: ``"linear"`` or ``"bilstm"`` head.
        hidden: LSTM units per direction of a ``"bilstm"`` head.
        evaluate: split name -> cached features to score the probe on.
        vocab: output symbols.
        progress: show a progress bar.
    """
    chosen = (train.num_layers + layers if layers < 0 else layers,) if isinstance(layers, int) else tuple(layers)
    names = layer_names(train.num_layers)
    name = names[chosen[0]] if len(chosen) == 1 else "weighted sum"
    probe = make_probe(kind, train.dim, len(vocab), len(chosen), hidden=hidden, seed=config.seed)
    history = train_probe(probe, train.select(chosen), encode_targets(train.utterances, vocab), config,
                          blank=vocab.blank, progress=progress)
    scores = {split: evaluate_probe(probe, feats.select(chosen), feats.utterances, vocab)
              for split, feats in (evaluate or {}).items()}
    return ProbeRun(name, chosen, probe, history, scores)


# --------------------------------------------------------------------------- classification
def accent_of(speaker: str) -> str:
    """The accent of an espeak-ng speaker label: ``"espeak:en-gb-scotland+m5"`` -> ``"en-gb-scotland"``.

    Tables and plots show accents by name instead: :func:`asrlab.corpus.domains.accent_name`.
    """
    accent = speaker.split(":", 1)[-1].split("+", 1)[0]
    if not accent:
        raise ValueError(f"no accent in speaker label {speaker!r}")
    return accent


@dataclass(frozen=True)
class ClassifierResult:
    """A classifier's test predictions.

    Attributes:
        accuracy: share of test items predicted right.
        chance: share of the largest class in the test set (what always guessing it scores).
        classes: class names, sorted; the order of the confusion matrix.
        confusion: ``(K, K)`` counts, rows the true class, columns the predicted one.
        predictions: predicted class per test item.
    """

    accuracy: float
    chance: float
    classes: list[str]
    confusion: np.ndarray
    predictions: list[str]


def classify(train_x: np.ndarray, train_y: Sequence[str], test_x: np.ndarray, test_y: Sequence[str],
             c: float = 1.0, seed: int = 0) -> ClassifierResult:
    """Logistic regression on standardised features, trained on one set and scored on another.

    Args:
        train_x: ``(N, D)`` training features (e.g. one layer of :func:`pool_layers`).
        train_y: N training labels.
        test_x: ``(M, D)`` test features.
        test_y: M test labels.
        c: inverse L2 regularisation strength.
        seed: the solver's random state.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x, test_x = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"classify needs (N, D) and (M, D) features, got {train_x.shape} and {test_x.shape}")
    if len(train_y) != train_x.shape[0] or len(test_y) != test_x.shape[0]:
        raise ValueError("classify: one label per row of features, please")
    if len(set(train_y)) < 2:
        raise ValueError("classify needs at least two classes in the training labels")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
    model.fit(train_x, list(train_y))
    predictions = [str(p) for p in model.predict(test_x)]
    classes = sorted(set(train_y) | set(test_y))
    truth = np.asarray(test_y)
    _, counts = np.unique(truth, return_counts=True)
    return ClassifierResult(float(np.mean(np.asarray(predictions) == truth)), float(counts.max() / counts.sum()),
                            classes, confusion_matrix(truth, predictions, labels=classes), predictions)


def classify_layers(train_x: np.ndarray, train_y: Sequence[str], test_x: np.ndarray, test_y: Sequence[str],
                    c: float = 1.0, seed: int = 0) -> list[ClassifierResult]:
    """:func:`classify` on each layer: ``(N, L, D)`` and ``(M, L, D)`` pooled features -> L results."""
    if train_x.ndim != 3 or test_x.ndim != 3 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"classify_layers needs (N, L, D) and (M, L, D) features, "
                         f"got {train_x.shape} and {test_x.shape}")
    return [classify(train_x[:, layer], train_y, test_x[:, layer], test_y, c, seed)
            for layer in range(train_x.shape[1])]

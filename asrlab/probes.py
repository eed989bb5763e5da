"""Feature extraction from a frozen encoder, and what can be learned from it cheaply.

A frozen encoder gives the same outputs every epoch, so they are computed once:
:func:`extract_layers` runs the encoder over utterances in length-sorted batches and keeps every
layer's output per utterance (unpadded, ``(L, T_i, D)``) in a :class:`LayerCache`, on disk or in
memory, keyed by the model's weights and input features, the layer and the audio file. On the
cached features:

* :func:`train_probe` / :func:`evaluate_probe` train and score a CTC head
  (:mod:`asrlab.heads`): a linear probe of one layer, a small BiLSTM head, or a learned
  weighted sum of all layers; :func:`fit_probe` does both for a fresh head;
* :func:`pool_layers` (a length-masked mean over time, :func:`masked_mean`) gives one vector per
  utterance and layer, and :func:`classify` trains a logistic regression on them (accent
  identification), returning accuracy and confusion matrix.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asrlab.config import FeatureConfig, ProbeConfig
from asrlab.decode import greedy_decode
from asrlab.features import FeatureCache, compute_features
from asrlab.heads import HeadKind, make_probe
from asrlab.manifest import Utterance
from asrlab.metrics import ErrorRates, error_rates
from asrlab.models.base import CTCModel
from asrlab.text import CharVocabulary, normalize_text
from asrlab.files import atomic_write
from asrlab.utils import lengths_to_mask, masked_mean

__all__ = [
    "LayerCache", "LayerFeatures", "model_key", "encode_layers", "extract_layers", "layer_names",
    "ProbeConfig", "ProbeHistory", "ProbeScore", "encode_targets", "length_batches", "pad_layers",
    "train_probe", "evaluate_probe", "ProbeRun", "fit_probe", "masked_mean", "pool_layers", "accent_of",
    "ClassifierResult", "classify", "classify_layers", "LESSON_KNOBS",
]

#: Notebook 03's knobs, per corpus size, with the values its assertions about the lesson's
#: effects (heads against full fine-tuning, layer probes, accent identification) were measured
#: with: its knobs cell passes them to :func:`asrlab.notebooks.lesson_check`.
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


# --------------------------------------------------------------------------- the cache
def model_key(model: nn.Module, features: FeatureConfig, name: str = "model") -> str:
    """``<name>-<hash>``: a key that changes when the weights or the input features change.

    Args:
        model: the encoder's model; every entry of its ``state_dict`` is hashed.
        features: the model's input features (part of what its outputs depend on).
        name: a readable prefix, e.g. ``"asrlab-source"``.
    """
    digest = hashlib.sha1(json.dumps(asdict(features), sort_keys=True).encode())
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"name {name!r} must be a plain, non-empty name")
    return f"{name}-{digest.hexdigest()[:12]}"


class LayerCache:
    """Every layer's output for each utterance, keyed by model, layer and audio file.

    An entry is one utterance's ``(L, T, D)`` float16 tensor of all L layers (layer ``l`` is
    ``entry[l]``) and the encoder seconds it took, stored as
    ``<root>/<model key>/<k[:2]>/<k>.npz`` where ``k`` hashes the audio file's path, size and
    modification time: a rewritten file or other weights give a new key, never stale features.
    With ``root=None`` the entries live in memory only.

    Args:
        root: folder of the cache, or None for memory.
        key: the model's key (:func:`model_key`).
    """

    def __init__(self, root: str | os.PathLike | None, key: str) -> None:
        self.key = key
        self.folder = Path(root) / key if root is not None else None
        self._memory: dict[str, tuple[torch.Tensor, float]] = {}

    @staticmethod
    def utterance_key(audio: str) -> str:
        """A hash of the audio file's absolute path, size and modification time."""
        stat = os.stat(audio)
        return hashlib.sha1(f"{os.path.abspath(audio)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, audio: str) -> tuple[torch.Tensor, float] | None:
        """``((L, T, D) float16 layers, encoder seconds)`` of ``audio``, or None when not cached."""
        key = self.utterance_key(audio)
        if self.folder is None:
            return self._memory.get(key)
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                return torch.from_numpy(data["layers"]), float(data["seconds"])
        except (ValueError, OSError, EOFError, KeyError):
            path.unlink(missing_ok=True)  # a torn write: compute again
            return None

    def put(self, audio: str, layers: torch.Tensor, seconds: float) -> torch.Tensor:
        """Store ``(L, T, D)`` layers of ``audio`` (as float16) and return what was stored."""
        stored = layers.detach().to("cpu", torch.float16).contiguous()
        key = self.utterance_key(audio)
        if self.folder is None:
            self._memory[key] = (stored, float(seconds))
            return stored
        path = self._path(key)
        with atomic_write(path) as tmp:
            np.savez(tmp, layers=stored.numpy(), seconds=np.float64(seconds))
        return stored


# --------------------------------------------------------------------------- extraction
@dataclass
class LayerFeatures:
    """Frozen encoder outputs of a list of utterances, unpadded.

    Attributes:
        utterances: the utterances, in the order asked for.
        layers: per utterance, ``(L, T_i, D)`` float16 outputs of every layer (the front end first).
        seconds: wall time of the :func:`extract_layers` call that made this (encoder and cache reads).
        computed: utterances run through the encoder in that call (the rest came from the cache).
        encoder_seconds: encoder time of all these utterances, whenever they were computed: what
            one pass of the frozen encoder over them costs.
    """

    utterances: list[Utterance]
    layers: list[torch.Tensor]
    seconds: float
    computed: int
    encoder_seconds: float

    @property
    def num_layers(self) -> int:
        return int(self.layers[0].shape[0])

    @property
    def dim(self) -> int:
        return int(self.layers[0].shape[-1])

    @property
    def frames(self) -> int:
        """Valid frames over all utterances."""
        return sum(int(x.shape[1]) for x in self.layers)

    def select(self, layers: int | Sequence[int]) -> list[torch.Tensor]:
        """Per utterance ``(L', T_i, D)`` views of the chosen layer(s) (an int gives ``L' = 1``)."""
        index = [layers] if isinstance(layers, int) else list(layers)
        if not index or not all(-self.num_layers <= i < self.num_layers for i in index):
            raise ValueError(f"layers {layers} out of range for {self.num_layers} layers")
        return [x[index] for x in self.layers]


@torch.no_grad()
def encode_layers(model: CTCModel, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every layer's output of a frozen model for one padded batch.

    Args:
        model: a CTC model whose encoder returns per-layer outputs; put it in eval mode first.
        feats: ``(B, T, F)`` input features.
        lengths: ``(B,)`` valid input frames.

    Returns:
        ``(layers (B, L, T', D), out_lengths (B,))``; frames past ``out_lengths`` are zero.

    Raises:
        ValueError: the layers differ in size (they cannot be stacked).
    """
    out = model.encoder(feats, lengths, return_layers=True)
    sizes = {tuple(x.shape) for x in out.layers}
    if len(sizes) != 1:
        raise ValueError(f"the encoder's layers have different shapes {sorted(sizes)}; they cannot be stacked")
    valid = lengths_to_mask(out.lengths, out.layers[0].shape[1])[:, None, :, None]
    return torch.stack(out.layers, dim=1) * valid.to(out.layers[0].dtype), out.lengths


def _batches_by_length(lengths: Sequence[int], max_frames: int,
                       tiebreak: Sequence[float] | None = None) -> list[list[int]]:
    """Indices sorted by length (equal lengths ordered by ``tiebreak``), packed into batches of
    at most ``max_frames`` padded frames."""
    batches: list[list[int]] = []
    keys = tiebreak if tiebreak is not None else [0.0] * len(lengths)
    for index in sorted(range(len(lengths)), key=lambda i: (lengths[i], keys[i])):
        if batches and lengths[index] * (len(batches[-1]) + 1) <= max_frames:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def extract_layers(model: CTCModel, utterances: Sequence[Utterance], features: FeatureConfig,
                   cache: LayerCache, *, input_cache: FeatureCache | None = None, max_frames: int = 12_000,
                   device: str | torch.device = "cpu", progress: bool = False) -> LayerFeatures:
    """Every layer's output for each utterance, from ``cache`` or computed once and cached.

    Missing utterances run through the model (in eval mode, no gradients) in batches of similar
    length of at most ``max_frames`` padded input frames; each utterance's share of its batch's
    encoder time (by frames) is recorded with it.

    Args:
        model: a CTC model (its encoder is what runs); its mode is restored afterwards.
        utterances: what to encode.
        features: the model's input features.
        cache: where outputs are kept (it must belong to this model: see :func:`model_key`).
        input_cache: a cache of input features (e.g. :func:`asrlab.datasets.feature_cache`).
        max_frames: padded input frames per batch.
        device: where the model runs.
        progress: show a progress bar.

    Returns:
        :class:`LayerFeatures` in the order of ``utterances``.
    """
    from tqdm.auto import tqdm

    if not utterances:
        raise ValueError("extract_layers: no utterances given")
    started = time.perf_counter()
    found: list[tuple[torch.Tensor, float] | None] = [cache.get(u.audio) for u in utterances]
    todo = [i for i, entry in enumerate(found) if entry is None]
    inputs = {i: compute_features(utterances[i].audio, features, input_cache) for i in todo}
    batches = [[todo[j] for j in batch] for batch in
               _batches_by_length([int(inputs[i].shape[0]) for i in todo], max_frames)]
    was_training = model.training
    model.eval().to(device)
    try:
        for batch in tqdm(batches, desc="encode", unit="batch", disable=not progress, leave=False):
            lengths = torch.tensor([inputs[i].shape[0] for i in batch])
            feats = torch.zeros(len(batch), int(lengths.max()), inputs[batch[0]].shape[1])
            for row, i in enumerate(batch):
                feats[row, : lengths[row]] = inputs[i]
            began = time.perf_counter()
            layers, out_lengths = encode_layers(model, feats.to(device), lengths.to(device))
            spent = time.perf_counter() - began
            for row, i in enumerate(batch):
                share = spent * float(lengths[row]) / float(lengths.sum())
                found[i] = (cache.put(utterances[i].audio, layers[row, :, : out_lengths[row]], share), share)
    finally:
        model.train(was_training)
    entries = [entry for entry in found if entry is not None]
    return LayerFeatures(list(utterances), [e[0] for e in entries], time.perf_counter() - started, len(todo),
                         sum(e[1] for e in entries))


def layer_names(num_layers: int) -> list[str]:
    """``["front end", "layer 1", ..., "layer L-1"]``: how the notebooks label encoder layers."""
    return ["front end"] + [f"layer {i}" for i in range(1, num_layers)]


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
    return [vocab.encode_tensor(normalize_text(u.text), source=u.audio) for u in utterances]


def length_batches(lengths: Sequence[int], max_frames: int,
                   generator: torch.Generator | None = None) -> list[list[int]]:
    """Batches of similar length under a padded-frame budget; their order shuffled by ``generator``.

    Utterances are sorted by length (equal lengths in a random order when a generator is given)
    and packed greedily, so each batch pads little.
    """
    if max_frames <= 0:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    if generator is None:
        return _batches_by_length(lengths, max_frames)
    batches = _batches_by_length(lengths, max_frames, torch.rand(len(lengths), generator=generator).tolist())
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


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
    """Train a head (e.g. a :class:`~asrlab.heads.CTCProbe`) with CTC on cached features.

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
    params = [p for _, p in named]
    mixing = [p for name, p in named if name.startswith("mix.")]
    groups = [{"params": [p for name, p in named if not name.startswith("mix.")], "lr": config.lr},
              {"params": mixing, "lr": config.lr * config.mix_lr_scale, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    lengths = [int(x.shape[1]) for x in feats]
    total = config.epochs * len(_batches_by_length(lengths, config.max_frames))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, total)))))
    history = ProbeHistory()
    started = time.perf_counter()
    probe.train()
    with torch.random.fork_rng(devices=[]):  # dropout draws from config.seed, not from the caller's state
        torch.manual_seed(config.seed)
        for _ in trange(config.epochs, desc="probe", unit="epoch", disable=not progress, leave=False):
            losses = []
            for batch in length_batches(lengths, config.max_frames, generator):
                x, x_lens = pad_layers([feats[i] for i in batch])
                y = [targets[i] for i in batch]
                loss = F.ctc_loss(probe(x, x_lens).transpose(0, 1), torch.cat(y), x_lens,
                                  torch.tensor([len(t) for t in y]), blank=blank, reduction="mean", zero_infinity=True)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                history.steps += 1
            history.losses.append(float(np.mean(losses)))
    probe.eval()
    history.seconds = time.perf_counter() - started
    return history


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
    for batch in length_batches([int(x.shape[1]) for x in feats], max_frames):
        x, x_lens = pad_layers([feats[i] for i in batch])
        for i, text in zip(batch, greedy_decode(probe(x, x_lens), x_lens, vocab)):
            hypotheses[i] = text
    probe.train(was_training)
    references = [normalize_text(u.text) for u in utterances]
    return ProbeScore(error_rates(references, hypotheses), references, hypotheses)


@dataclass
class ProbeRun:
    """A probe trained on some layers of cached features, with its scores.

    Attributes:
        name: ``"front end"``, ``"layer 2"``... or ``"weighted sum"`` (see :func:`layer_names`).
        layers: the layers it reads.
        probe: the trained :class:`~asrlab.heads.CTCProbe`.
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


# --------------------------------------------------------------------------- pooling and classification
def pool_layers(layers: Sequence[torch.Tensor], std: bool = False) -> np.ndarray:
    """One vector per utterance and layer, pooled over time.

    Args:
        layers: per utterance ``(L, T_i, D)`` features (:attr:`LayerFeatures.layers`).
        std: also pool the standard deviation over time (statistics pooling, as x-vectors do).

    Returns:
        ``(N, L, D)`` float32 means over time, or with ``std`` ``(N, L, 2D)``: the means, then
        the standard deviations (0 for a one-frame utterance).
    """
    pooled = []
    for x in layers:
        frames = x.float().transpose(0, 1)                         # (T_i, L, D)
        flat = frames.reshape(1, frames.shape[0], -1)               # (1, T_i, L * D)
        mean = masked_mean(flat, torch.tensor([frames.shape[0]])).reshape(x.shape[0], x.shape[2])
        pooled.append(torch.cat([mean, x.float().std(dim=1, correction=0)], dim=-1) if std else mean)
    return torch.stack(pooled).numpy()


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

"""Datasets over manifests, length-bucketed batching and collation with lengths.

A batch is ``(feats (B, T, F), feat_lens (B,), tokens (B, U), token_lens (B,))`` plus texts
and ids. Bad utterances are caught when the dataset is built: an error that names the manifest
line, or (``on_bad="skip"``) a counted, logged skip.

:func:`make_dataset` builds a dataset from manifest files and :func:`model_dataset` one that
feeds a loaded model, both reading features through the shared on-disk cache
(:func:`feature_cache`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Literal, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from asrlab.audio import audio_duration
from asrlab.config import LoaderConfig, FeatureConfig
from asrlab.errors import AsrlabError, AudioError, TranscriptError
from asrlab.features import FeatureCache, compute_features
from asrlab.manifest import Utterance, manifest_path, read_manifest, read_manifests
from asrlab.text import CharVocabulary
from asrlab.utils import data_dir

if TYPE_CHECKING:
    from asrlab.models.checkpoint import LoadedModel

log = logging.getLogger(__name__)


@dataclass
class Example:
    """One utterance ready for a model: ``feats (T, F)``, ``tokens (U,)``."""

    feats: torch.Tensor
    tokens: torch.Tensor
    text: str
    id: str
    domain: str


@dataclass
class Batch:
    """A padded batch.

    Attributes:
        feats: ``(B, T, F)`` features, zero past each length.
        feat_lens: ``(B,)`` valid frames.
        tokens: ``(B, U)`` token ids, zero-padded.
        token_lens: ``(B,)`` valid tokens.
        texts, ids, domains: per utterance.
    """

    feats: torch.Tensor
    feat_lens: torch.Tensor
    tokens: torch.Tensor
    token_lens: torch.Tensor
    texts: list[str]
    ids: list[str]
    domains: list[str] = field(default_factory=list)

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.feats.to(device, non_blocking=True), self.feat_lens.to(device),
                     self.tokens.to(device), self.token_lens.to(device), self.texts, self.ids, self.domains)

    @property
    def size(self) -> int:
        return int(self.feats.shape[0])


def min_ctc_frames(tokens: Sequence[int]) -> int:
    """Output frames CTC needs for ``tokens``: one per token plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(tokens, tokens[1:]) if a == b)
    return len(tokens) + repeats


def check_utterance(utt: Utterance, vocab: CharVocabulary, features: FeatureConfig, subsampling: int,
                    where: str, check_audio: bool = True) -> list[int]:
    """Validate one utterance and return its token ids.

    Raises:
        TranscriptError: empty text, characters outside the vocabulary, or a transcript too long
            for the CTC frames the audio gives after ``subsampling``.
        AudioError: the audio file is missing or unreadable (header check), or empty.
    """
    tokens = vocab.encode(vocab.normalize(utt.text), source=where)
    if check_audio:
        if not os.path.isfile(utt.audio):
            raise AudioError(
                f"{where}: audio file not found: {utt.audio}. The 'audio' field is relative to the "
                "manifest's folder; fix the path, rebuild the corpus, or drop the line (on_bad='skip', or --skip-bad)."
            )
        duration = audio_duration(utt.audio)
        if duration <= 0:
            raise AudioError(f"{where}: audio file {utt.audio} holds no samples; remove the line")
    else:
        duration = utt.duration
    frames = int(duration * features.frames_per_second) // subsampling
    needed = min_ctc_frames(tokens)
    if needed > frames:
        raise TranscriptError(
            f"{where}: transcript needs {needed} CTC frames but {utt.audio} ({duration:.2f} s) gives "
            f"{frames} after {subsampling}x subsampling; the text does not belong to this audio, or "
            "the audio is cut short. Fix the line or drop it (on_bad='skip', or --skip-bad)."
        )
    return tokens


class SpeechDataset(Dataset):
    """Utterances of one or more manifests as :class:`Example` items.

    Args:
        utterances: manifest lines (see :func:`asrlab.manifest.read_manifest`).
        vocab: output symbols.
        features: log-mel settings.
        cache: an on-disk feature cache, or None to compute features on every access.
        subsampling: the model's time subsampling, for the CTC length check.
        on_bad: ``"error"`` raises on the first bad utterance; ``"skip"`` drops it, counted in
            :attr:`skipped` and logged.
        check_audio: read each audio header up front (cheap) to catch missing/corrupt files early.
        labelled: False for unlabelled data (domain adaptation): the text is ignored and
            ``tokens`` are empty.
    """

    def __init__(self, utterances: Sequence[Utterance], vocab: CharVocabulary, features: FeatureConfig,
                 cache: FeatureCache | None = None, subsampling: int = 2,
                 on_bad: Literal["error", "skip"] = "error", check_audio: bool = True,
                 labelled: bool = True) -> None:
        self.vocab, self.features, self.cache, self.labelled = vocab, features, cache, labelled
        self.utterances: list[Utterance] = []
        self.tokens: list[list[int]] = []
        self.skipped: list[tuple[str, str]] = []
        for number, utt in enumerate(utterances, start=1):
            where = str(utt.extra.get("_where", f"utterance {number} ({utt.audio})"))
            try:
                if labelled:
                    tokens = check_utterance(utt, vocab, features, subsampling, where, check_audio)
                else:
                    tokens = []
                    if check_audio and audio_duration(utt.audio) <= 0:
                        raise AudioError(f"{where}: audio file {utt.audio} holds no samples; remove the line")
            except AsrlabError as exc:
                if on_bad == "error":
                    raise
                self.skipped.append((utt.audio, str(exc)))
                continue
            self.utterances.append(utt)
            self.tokens.append(tokens)
        if self.skipped:
            log.warning("skipped %d of %d utterances (on_bad='skip', --skip-bad); first: %s",
                        len(self.skipped), len(utterances), self.skipped[0][1])
        if not self.utterances:
            raise ValueError("no usable utterances: the manifest is empty or every line was skipped")

    def __len__(self) -> int:
        return len(self.utterances)

    def frame_lengths(self) -> list[int]:
        """Approximate feature frames per utterance, from the manifest durations (no I/O)."""
        fps = self.features.frames_per_second
        return [int(u.duration * fps) + 1 for u in self.utterances]

    def __getitem__(self, index: int) -> Example:
        utt = self.utterances[index]
        feats = compute_features(utt.audio, self.features, self.cache)
        text = self.vocab.normalize(utt.text) if self.labelled else ""
        return Example(feats, torch.tensor(self.tokens[index], dtype=torch.long), text, utt.id, utt.domain)


def feature_cache(features: FeatureConfig = FeatureConfig()) -> FeatureCache | None:
    """The shared on-disk feature cache under the data folder (``$ASRLAB_DATA/cache``); None for
    raw waveforms (reading the WAV is as fast as reading a cache)."""
    if features.kind == "waveform":
        return None
    return FeatureCache(data_dir() / "cache" / "features", features)


def make_dataset(paths: Sequence[str | os.PathLike], features: FeatureConfig = FeatureConfig(),
                 vocab: CharVocabulary = CharVocabulary(), labelled: bool = True,
                 on_bad: str = "error", cache: bool = True) -> SpeechDataset:
    """A :class:`SpeechDataset` over manifests, with the shared feature cache (unless ``cache``
    is False) and the default subsampling of 2 for the CTC length check."""
    return SpeechDataset(read_manifests(paths), vocab, features, feature_cache(features) if cache else None,
                         labelled=labelled, on_bad=on_bad)  # type: ignore[arg-type]


def model_dataset(utterances: Sequence[Utterance], loaded: LoadedModel, *, labelled: bool = True,
                  on_bad: Literal["error", "skip"] = "error") -> SpeechDataset:
    """A :class:`SpeechDataset` that feeds ``loaded``: its vocabulary, its features (through the
    shared :func:`feature_cache`) and its time subsampling for the CTC length check.

    Args:
        utterances: manifest lines.
        loaded: a :class:`~asrlab.models.LoadedModel`.
        labelled: False reads the audio only (unlabelled target data).
        on_bad: ``"error"`` or ``"skip"``, as for :class:`SpeechDataset`.
    """
    return SpeechDataset(utterances, loaded.vocab, loaded.features, feature_cache(loaded.features),
                         subsampling=loaded.model.subsampling, labelled=labelled, on_bad=on_bad)


def corpus_split(corpus: str | os.PathLike, domain: str, split: str, loaded: LoadedModel,
                 limit: int | None = None) -> SpeechDataset:
    """The labelled :class:`SpeechDataset` of a corpus split (``<corpus>/<domain>/<split>.jsonl``,
    see :func:`asrlab.manifest.manifest_path`) that feeds ``loaded``; with ``limit`` only its
    first utterances."""
    return model_dataset(read_manifest(manifest_path(corpus, domain, split))[:limit], loaded)


def collate(examples: Sequence[Example]) -> Batch:
    """Pad examples into a :class:`Batch` (features and tokens zero-padded, lengths kept)."""
    feat_lens = torch.tensor([e.feats.shape[0] for e in examples], dtype=torch.long)
    token_lens = torch.tensor([e.tokens.shape[0] for e in examples], dtype=torch.long)
    feats = torch.zeros(len(examples), int(feat_lens.max()), examples[0].feats.shape[1])
    tokens = torch.zeros(len(examples), max(1, int(token_lens.max())), dtype=torch.long)
    for i, e in enumerate(examples):
        feats[i, : e.feats.shape[0]] = e.feats
        tokens[i, : e.tokens.shape[0]] = e.tokens
    return Batch(feats, feat_lens, tokens, token_lens, [e.text for e in examples],
                 [e.id for e in examples], [e.domain for e in examples])


def pack_batches(order: Sequence[int], lengths: Sequence[int], max_frames: int,
                 max_batch_size: int) -> list[list[int]]:
    """Cut ``order`` into consecutive batches under a padded-frame budget (a pure function).

    Each batch takes the next indices of ``order`` while its padded size (its size times its
    longest utterance) stays within ``max_frames`` and it holds at most ``max_batch_size``; an
    utterance over the budget gets a batch of its own. Sort ``order`` by length first and the
    batches pad little (:class:`BucketBatchSampler` does).

    Args:
        order: indices into ``lengths``, in the order to pack them.
        lengths: frames per utterance.
        max_frames: padded frames per batch (B * max length) at most.
        max_batch_size: utterances per batch at most.

    Returns:
        The batches, as lists of indices; together they are ``order``, in order.
    """
    if max_frames <= 0 or max_batch_size <= 0:
        raise ValueError(f"max_frames and max_batch_size must be positive, got {max_frames} and {max_batch_size}")
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for index in order:
        length = int(lengths[index])
        if batch and (max(longest, length) * (len(batch) + 1) > max_frames or len(batch) >= max_batch_size):
            batches.append(batch)
            batch, longest = [], 0
        batch.append(int(index))
        longest = max(longest, length)
    if batch:
        batches.append(batch)
    return batches


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length under a frame budget, in a seeded, reproducible order.

    Utterances are sorted by length, cut into ``num_buckets`` buckets, shuffled within each
    bucket, packed into batches of at most ``max_frames`` padded frames and ``max_batch_size``
    utterances (:func:`pack_batches`), and the batches are shuffled. The order depends only on (seed, epoch).
    With ``world_size > 1`` each rank takes every ``world_size``-th batch (equal counts).

    Args:
        lengths: frames per utterance.
        max_frames: padded frames per batch (B * max length) at most.
        max_batch_size: utterances per batch at most.
        num_buckets: length buckets; 1 means plain shuffling (no bucketing).
        shuffle: False keeps a fixed length-sorted order (for evaluation).
    """

    def __init__(self, lengths: Sequence[int], max_frames: int, max_batch_size: int = 64,
                 num_buckets: int = 20, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        if max_frames <= 0 or max_batch_size <= 0:
            raise ValueError("max_frames and max_batch_size must be positive")
        self.lengths = np.asarray(lengths)
        self.max_frames, self.max_batch_size = max_frames, max_batch_size
        self.num_buckets, self.shuffle, self.seed = max(1, num_buckets), shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Choose the epoch's order and skip its first ``start_batch`` batches (for resume)."""
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
        elif self.num_buckets == 1:
            order = rng.permutation(len(self.lengths))
        else:
            # sort by length, shuffle within each length bucket, then pack across buckets
            by_length = np.argsort(self.lengths, kind="stable")
            buckets = np.array_split(by_length, min(self.num_buckets, len(by_length)))
            order = np.concatenate([rng.permutation(b) for b in buckets])
        batches = pack_batches(order.tolist(), self.lengths.tolist(), self.max_frames, self.max_batch_size)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world_size > 1:
            usable = len(batches) - len(batches) % self.world_size
            batches = batches[self.rank:usable:self.world_size]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()[self.start_batch:]

    def __len__(self) -> int:
        return max(0, len(self._batches()) - self.start_batch)


def make_loader(dataset: SpeechDataset, config: LoaderConfig, *, shuffle: bool = True, seed: int = 0,
                rank: int = 0, world_size: int = 1) -> DataLoader:
    """A DataLoader over ``dataset`` with length-bucketed batches and :func:`collate`."""
    max_frames = int(config.max_seconds * dataset.features.frames_per_second)
    sampler = BucketBatchSampler(dataset.frame_lengths(), max_frames, config.max_batch_size,
                                 config.num_buckets if shuffle else 1, shuffle=shuffle, seed=seed,
                                 rank=rank, world_size=world_size)
    workers = config.num_workers
    # Its own generator: otherwise every new iterator draws a seed from torch's global RNG, and a
    # resumed run (which starts an iterator mid-epoch) would see other dropout masks.
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=workers,
                      persistent_workers=False, prefetch_factor=4 if workers > 0 else None,
                      generator=torch.Generator().manual_seed(seed))


def audio_seconds(batch: Batch, features: FeatureConfig) -> float:
    """Seconds of audio in a batch (valid frames only)."""
    return float(batch.feat_lens.sum()) / features.frames_per_second


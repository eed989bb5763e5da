"""Every layer's output of a frozen encoder, computed once and cached, and pooled per utterance.

A frozen encoder gives the same outputs every epoch, so they are computed once:
:func:`extract_layers` runs the model over utterances (:func:`asrlab.inference.run_model`, in
length-sorted batches) and keeps every layer's output per utterance (unpadded, ``(L, T_i, D)``,
:func:`stack_layers`) in a :class:`LayerCache`, on disk or in memory, keyed by the model's weights
and input features (:func:`model_key`), the layer and the audio file; :func:`pool_layers` (a
length-masked mean over time, :func:`~asrlab.utils.masked_mean`) gives one vector per utterance
and layer. Batches of such items for training on them are :class:`asrlab.datasets.BucketBatchSampler`'s.

What is learned from them (CTC probes, accent identification) is notebook 03's:
:mod:`asrlab.course.feature_extraction`.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from asrlab.config import FeatureConfig, LoaderConfig
from asrlab.datasets import SpeechDataset
from asrlab.features import FeatureCache
from asrlab.files import atomic_write
from asrlab.inference import run_model
from asrlab.manifest import Utterance
from asrlab.models.base import CTCModel, EncoderOutput, weights_digest
from asrlab.text import CharVocabulary
from asrlab.utils import lengths_to_mask, masked_mean

__all__ = [
    "LayerCache", "LayerFeatures", "model_key", "weights_digest", "stack_layers", "extract_layers", "layer_names", "pool_layers",
]


# --------------------------------------------------------------------------- the cache
def model_key(model: nn.Module, features: FeatureConfig, name: str = "model") -> str:
    """``<name>-<hash>``: a key that changes when the weights or the input features change.

    Args:
        model: the encoder's model; every entry of its ``state_dict`` is hashed.
        features: the model's input features (part of what its outputs depend on).
        name: a readable prefix, e.g. ``"asrlab-source"``.
    """
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"name {name!r} must be a plain, non-empty name")
    salt = json.dumps(asdict(features), sort_keys=True).encode()
    return f"{name}-{weights_digest(model, salt)[:12]}"


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


def stack_layers(encoder: EncoderOutput) -> torch.Tensor:
    """Every layer of one batch's encoder output in one tensor (a pure function).

    Args:
        encoder: what a CTC model returns with ``return_encoder=True``: per-layer ``(B, T', D)``
            outputs (input projection first) and ``(B,)`` valid frames.

    Returns:
        ``(B, L, T', D)``: layer ``l`` is ``[:, l]``; frames past ``encoder.lengths`` are zero.

    Raises:
        ValueError: the output holds no layers, or they differ in size (they cannot be stacked).
    """
    if not encoder.layers:
        raise ValueError("the encoder output holds no per-layer outputs (run the model with return_encoder=True)")
    sizes = {tuple(x.shape) for x in encoder.layers}
    if len(sizes) != 1:
        raise ValueError(f"the encoder's layers have different shapes {sorted(sizes)}; they cannot be stacked")
    valid = lengths_to_mask(encoder.lengths, encoder.layers[0].shape[1])[:, None, :, None]
    return torch.stack(encoder.layers, dim=1) * valid.to(encoder.layers[0].dtype)


def extract_layers(model: CTCModel, utterances: Sequence[Utterance], features: FeatureConfig,
                   cache: LayerCache, *, input_cache: FeatureCache | None = None, max_frames: int = 12_000,
                   device: str | torch.device = "cpu", progress: bool = False) -> LayerFeatures:
    """Every layer's output for each utterance, from ``cache`` or computed once and cached.

    Missing utterances run through the model (:func:`asrlab.inference.run_model`: eval mode, no
    gradients) in batches of similar length of at most ``max_frames`` padded input frames; each
    utterance's share of its batch's encoder time (by frames) is recorded with it.

    Args:
        model: a CTC model (it runs with ``return_encoder=True``); moved to ``device``, its mode
            restored afterwards.
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
    if not utterances:
        raise ValueError("extract_layers: no utterances given")
    started = time.perf_counter()
    found: list[tuple[torch.Tensor, float] | None] = [cache.get(u.audio) for u in utterances]
    todo = [i for i, entry in enumerate(found) if entry is None]
    if todo:
        missing = SpeechDataset([utterances[i] for i in todo], CharVocabulary(), features, input_cache,
                                check_audio=False, labelled=False)
        # make_loader's budget is int(max_seconds * frames per second): the half frame keeps it max_frames exactly
        batching = LoaderConfig(max_seconds=(max_frames + 0.5) / features.frames_per_second,
                                max_batch_size=len(todo), num_workers=0)
        model.to(device)
        for out in run_model(model, missing, batching, device, return_encoder=True, progress=progress):
            layers, frames = stack_layers(out.encoder), out.batch.feat_lens.tolist()
            for row, (j, length) in enumerate(zip(out.indices, frames)):
                share = out.seconds * length / sum(frames)
                kept = cache.put(utterances[todo[j]].audio, layers[row, :, : out.out_lens[row]], share)
                found[todo[j]] = (kept, share)
    entries = [entry for entry in found if entry is not None]
    return LayerFeatures(list(utterances), [e[0] for e in entries], time.perf_counter() - started, len(todo),
                         sum(e[1] for e in entries))


def layer_names(num_layers: int) -> list[str]:
    """``["front end", "layer 1", ..., "layer L-1"]``: how the notebooks label encoder layers."""
    return ["front end"] + [f"layer {i}" for i in range(1, num_layers)]


# --------------------------------------------------------------------------- pooling
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

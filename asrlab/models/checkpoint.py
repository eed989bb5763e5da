"""Saving and loading model checkpoints: plain dicts of tensors and primitives.

Checkpoints load with ``torch.load(..., weights_only=True)``: no pickled classes, so a file
from elsewhere cannot run code. Writes are atomic (temp file + rename).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from asrlab.config import FeatureConfig, ModelConfig, from_dict
from asrlab.errors import CheckpointError
# load_state lives in models.base (models.ssl uses it too); its name stays importable from here.
from asrlab.models.base import CTCModel, load_state, safe_torch_load
from asrlab.models.factory import build_model
from asrlab.text import CharVocabulary
from asrlab.files import atomic_write

FORMAT = "asrlab-ctc"
#: Files that hold only adapter or LoRA weights and name their base model
#: (:mod:`asrlab.models.adapter_checkpoint`); :func:`asrlab.models.resolve.resolve_model` loads them.
ADAPTER_FORMAT = "asrlab-adapter"
MODEL_FILE = "model.pt"


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temp file beside ``path``, then rename: never a half-written file."""
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
    return path


@dataclass
class LoadedModel:
    """A model with everything needed to feed it: features and vocabulary."""

    model: CTCModel
    features: FeatureConfig
    vocab: CharVocabulary
    meta: dict[str, Any]


def save_model(path: str | os.PathLike, model: CTCModel, features: FeatureConfig,
               vocab: CharVocabulary, meta: dict[str, Any] | None = None) -> Path:
    """Write a self-describing model file (config, features, vocabulary, weights, metadata)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT, "version": 1, "model_config": dict(model.config),
        "feature_config": asdict(features), "vocab": list(vocab.symbols),
        "state_dict": state, "meta": dict(meta or {}),
    }
    return atomic_torch_save(payload, path)


def checkpoint_format(path: str | os.PathLike) -> str | None:
    """The ``format`` of the checkpoint at ``path`` (a file, or a folder holding ``model.pt``), or
    None where there is no such file or it is not a readable checkpoint (never raises)."""
    path = Path(path)
    path = path / MODEL_FILE if path.is_dir() else path
    if not path.is_file():
        return None
    try:
        payload = safe_torch_load(path)
    except CheckpointError:
        return None
    return payload.get("format") if isinstance(payload, dict) else None


def read_checkpoint(path: str | os.PathLike, formats: tuple[str, ...] = (FORMAT,)) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Args:
        path: the file or its folder (``model.pt`` inside).
        formats: the ``format`` values accepted.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}. Train one with `asrlab train` or pass a model name.")
    payload = safe_torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") not in formats:
        raise CheckpointError(f"{path} is not an asrlab model file (missing format={' or '.join(map(repr, formats))})")
    return payload


def load_model(path: str | os.PathLike, config: ModelConfig | None = None) -> LoadedModel:
    """Load a model file written by :func:`save_model` (or a run folder holding ``model.pt``).

    An adapter file (``format="asrlab-adapter"``, written by the ``adapter`` and ``lora`` regimes)
    needs its base model: :func:`asrlab.models.resolve.resolve_model` loads it (as ``asrlab eval``
    does), this function says so.

    Args:
        path: the file or its folder.
        config: if given, the model config the caller expects; a checkpoint saved from another
            config raises :class:`CheckpointError` instead of loading the wrong shapes.
    """
    payload = read_checkpoint(path, formats=(FORMAT, ADAPTER_FORMAT))
    model_config = from_dict(ModelConfig, payload["model_config"])
    if config is not None and config != model_config:
        diff = {k: (v, getattr(model_config, k)) for k, v in asdict(config).items() if getattr(model_config, k) != v}
        raise CheckpointError(
            f"{path} was saved from another model config; differing settings (expected, found): {diff}"
        )
    if payload["format"] == ADAPTER_FORMAT:
        raise CheckpointError(f"{path} holds an adapter without its base model: load it with "
                              "asrlab.models.resolve.resolve_model (as `asrlab eval --model` does), which loads the "
                              f"base ({payload['base']['source']}) and adds the adapter")
    model = build_model(model_config)
    load_state(model, payload["state_dict"], source=str(path))
    return LoadedModel(model, from_dict(FeatureConfig, payload["feature_config"]),
                       CharVocabulary(tuple(payload["vocab"])), dict(payload.get("meta", {})))

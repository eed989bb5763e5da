"""Fine-tuned Whisper checkpoints: the weights that changed from a named base model.

A file written by :func:`save_tuned_whisper` is a dict (tensors and plain values, so it loads
with ``torch.load(weights_only=True)``)::

    {"format": "asrlab-whisper-tuned", "version": 1, "base": "whisper-tiny.en",
     "dims": {...}, "changed": {parameter name: tensor}, "meta": {...}}

Only the tensors that differ from the base are stored (a decoder-only run stores the decoder);
:func:`load_tuned_whisper` loads the base from the zoo by name and puts them back.
"""
from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch

from asrlab.errors import CheckpointError
from asrlab.models.base import safe_torch_load
from asrlab.models.checkpoint import MODEL_FILE, atomic_torch_save, checkpoint_format

if TYPE_CHECKING:  # pragma: no cover
    import whisper

FORMAT = "asrlab-whisper-tuned"


def changed_weights(model: torch.nn.Module, base: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The entries of ``model.state_dict()`` that differ from ``base``'s (CPU copies)."""
    reference = base.state_dict()
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()
            if name not in reference or not torch.equal(t.detach().cpu(), reference[name].detach().cpu().to(t.dtype))}


def save_tuned_whisper(path: str | os.PathLike, model: "whisper.model.Whisper", base_name: str,
                       base: "whisper.model.Whisper", meta: Mapping[str, Any] | None = None) -> Path:
    """Write the weights of ``model`` that differ from ``base``, with the base's name.

    Args:
        path: the file (or a folder, which gets ``model.pt``).
        model: the fine-tuned model.
        base_name: the zoo name that loads ``base`` (``"whisper-tiny.en"``).
        base: the model it was fine-tuned from.
        meta: plain values kept with it (e.g. ``{"input": "variable", "tokens_per_second": 6.0}``).

    Returns:
        The file written.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": 1, "base": base_name, "dims": asdict(model.dims),
               "changed": changed_weights(model, base), "meta": dict(meta or {})}
    atomic_torch_save(payload, path)
    return path


def is_tuned_whisper(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a file, or a folder holding ``model.pt``) is a :func:`save_tuned_whisper` file."""
    return checkpoint_format(path) == FORMAT


def load_tuned_whisper(path: str | os.PathLike,
                       load_base: Callable[[str], "whisper.model.Whisper"] | None = None
                       ) -> tuple["whisper.model.Whisper", dict[str, Any]]:
    """A fine-tuned Whisper from :func:`save_tuned_whisper`'s file.

    Args:
        path: the file or its run folder.
        load_base: gives the base model from its name (default: the zoo's ``load_pretrained``).

    Returns:
        ``(model, meta)``: the model in eval mode and the file's meta, with ``"base"`` added.

    Raises:
        CheckpointError: not such a file, or its weights do not fit the base.
    """
    path = Path(path)
    path = path / MODEL_FILE if path.is_dir() else path
    payload = safe_torch_load(path, "a fine-tuned Whisper checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a fine-tuned Whisper file (missing format={FORMAT!r}); "
                              "write one with `asrlab finetune --init whisper-tiny.en`")
    if load_base is None:
        from asrlab.models.zoo import load_pretrained

        def load_base(name: str) -> "whisper.model.Whisper":
            return load_pretrained(name).model
    model = copy.deepcopy(load_base(payload["base"]))
    if asdict(model.dims) != payload["dims"]:
        raise CheckpointError(f"{path} was fine-tuned from a model with dimensions {payload['dims']}, but "
                              f"{payload['base']!r} has {asdict(model.dims)}")
    state = model.state_dict()
    unknown = sorted(set(payload["changed"]) - set(state))
    if unknown:
        raise CheckpointError(f"{path}: weights {unknown[:5]} are not in {payload['base']!r}")
    for name, tensor in payload["changed"].items():
        if tensor.shape != state[name].shape:
            raise CheckpointError(f"{path}: {name} has shape {tuple(tensor.shape)}, {payload['base']!r} "
                                  f"{tuple(state[name].shape)}")
        state[name] = tensor.to(state[name].dtype)
    model.load_state_dict(state)
    return model.eval(), {**payload["meta"], "base": payload["base"]}


__all__ = ["FORMAT", "changed_weights", "is_tuned_whisper", "load_tuned_whisper", "save_tuned_whisper"]

"""Adapter files: a fine-tuned adapter (or LoRA) stored without its base model.

A domain adapted with the ``adapter`` or ``lora`` regime differs from its base only in the weights
the adapter adds (and the head, if it trained), so that is all its file holds, with the base
model's name and a sha256 of the base weights. Loading (:func:`load_adapter_file`, which
:func:`asrlab.models.resolve.resolve_model` calls for such files, so ``asrlab eval --model DIR``
and ``asrlab transcribe`` work) loads the base, checks that its weights are the ones the adapter
was trained on, and adds the adapter.

The pieces: :class:`AdapterSpec` (what was added, enough to add it again to a fresh base),
:class:`AdapterWeights` (a spec and its trained tensors), :func:`base_sha256`,
:func:`save_adapter_model`, :func:`read_adapter`, :func:`apply_adapter`, :func:`load_adapter_file`.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from asrlab.config import FeatureConfig, from_dict
from asrlab.errors import AsrlabError, CheckpointError
from asrlab.models.adapters import add_adapters, adapter_state, has_adapters, load_adapter_state
from asrlab.models.base import CTCModel, weights_digest
from asrlab.models.checkpoint import (ADAPTER_FORMAT, LoadedModel, atomic_torch_save, checkpoint_format,
                                      load_model, read_checkpoint)
from asrlab.models.lora import LoRAGRU, add_lora, is_peft_layer
from asrlab.text import CharVocabulary

AdapterMethod = Literal["adapter", "lora"]
#: The parameter-efficient methods: residual bottleneck adapters, and LoRA.
ADAPTER_METHODS: tuple[str, ...] = ("adapter", "lora")


@dataclass(frozen=True)
class AdapterSpec:
    """What a parameter-efficient method adds to a base model, and where.

    Each method reads only its own settings.

    Attributes:
        method: ``"adapter"`` (:func:`~asrlab.models.adapters.add_adapters`) or ``"lora"``
            (:func:`~asrlab.models.lora.add_lora`).
        bottleneck: adapters' inner size.
        where: where adapters go: ``"layers"``, ``"all"`` or encoder block indices.
        layer_norm: adapters normalise their input.
        rank: LoRA's rank ``r``.
        alpha: LoRA's scale numerator (the change is ``alpha / r * B @ A``).
        targets: LoRA's modules: ``"auto"`` or module names (files store the names).
    """

    method: AdapterMethod = "adapter"
    bottleneck: int = 64
    where: str | tuple[int, ...] = "layers"
    layer_norm: bool = True
    rank: int = 8
    alpha: float = 16.0
    targets: str | tuple[str, ...] = field(default="auto", hash=False)

    def __post_init__(self) -> None:
        if self.method not in ADAPTER_METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(ADAPTER_METHODS)}")
        for name in ("bottleneck", "rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.where, str):
            object.__setattr__(self, "where", tuple(self.where))
        if not isinstance(self.targets, str):
            object.__setattr__(self, "targets", tuple(self.targets))

    def apply(self, model: nn.Module) -> nn.Module:
        """Add this method to ``model`` in place (its outputs do not change); returns it."""
        if self.method == "adapter":
            return add_adapters(model, self.bottleneck, self.where, self.layer_norm)
        return add_lora(model, self.rank, self.alpha, self.targets)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, not tuples) that ``weights_only`` loading reads back."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AdapterSpec":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def lora_modules(model: nn.Module) -> list[str]:
    """Names of ``model``'s modules that carry LoRA."""
    return [name for name, m in model.named_modules() if isinstance(m, LoRAGRU) or is_peft_layer(m)]


def resolved_spec(model: nn.Module, spec: AdapterSpec) -> AdapterSpec:
    """``spec`` with LoRA's ``"auto"`` targets replaced by the modules ``model`` adapted."""
    if spec.method == "lora" and spec.targets == "auto":
        return replace(spec, targets=tuple(lora_modules(model)))
    return spec


@dataclass
class AdapterWeights:
    """A trained adapter without its base: the spec, the tensors it adds (and the head, if it
    trained), and the sha256 of the base it was trained on (:func:`base_sha256`), if known.

    Attributes:
        spec: how to add the adapter to a fresh base.
        state: ``{name: tensor}`` as :func:`~asrlab.models.adapters.adapter_state` gives it.
        base_sha256: the base's digest, or None.
    """

    spec: AdapterSpec
    state: dict[str, torch.Tensor]
    base_sha256: str | None = None

    @property
    def head(self) -> bool:
        """Whether the adapter brings its own output layer."""
        return any(k.startswith("head.") for k in self.state)

    @property
    def num_bytes(self) -> int:
        """Bytes of the tensors (what one more domain costs to store and to keep in memory)."""
        return sum(t.numel() * t.element_size() for t in self.state.values())

    @classmethod
    def from_model(cls, model: nn.Module, spec: AdapterSpec, head: bool | None = None,
                   base_sha256: str | None = None) -> "AdapterWeights":
        """The adapter of a fine-tuned ``model`` (``head``: as :func:`~asrlab.models.adapters.adapter_state`)."""
        return cls(resolved_spec(model, spec), adapter_state(model, head), base_sha256)


def base_sha256(model: CTCModel, head: bool) -> str:
    """sha256 of the base weights an adapter file depends on: the encoder's, and the head's unless
    the adapter brings its own (``head=True``), which makes the base head irrelevant (and lets a
    base with a random, untrained head such as ``whisper-tiny.en-ctc`` have a stable digest)."""
    if has_adapters(model):
        raise ValueError("base_sha256 hashes a bare base model, and this one already has adapters or LoRA")
    return weights_digest(model.encoder if head else model, algorithm="sha256")


def apply_adapter(model: CTCModel, weights: AdapterWeights, source: str = "the adapter") -> CTCModel:
    """Add ``weights``' adapter to a bare base ``model`` in place and load its tensors; returns it.

    A head of another size than the base's (another vocabulary) replaces the base's head.
    """
    weights.spec.apply(model)
    head = weights.state.get("head.weight")
    if head is not None and tuple(head.shape) != tuple(model.head.weight.shape):
        reference = model.head.weight
        model.head = nn.Linear(head.shape[1], head.shape[0]).to(reference.device, reference.dtype)
        model.config = {**model.config, "vocab_size": int(head.shape[0])}
    load_adapter_state(model, weights.state, source)
    return model


# --------------------------------------------------------------------------- files
def save_adapter_model(path: str | os.PathLike, model: CTCModel, spec: AdapterSpec, base: str, base_digest: str,
                       features: FeatureConfig, vocab: CharVocabulary, meta: dict[str, Any] | None = None,
                       head: bool | None = None) -> Path:
    """Write an adapter file: the adapter's weights and the head (if it trained), not the base.

    Args:
        path: the file (``model.pt`` of a run folder, so ``asrlab eval --model DIR`` finds it).
        model: the fine-tuned model with its adapter.
        spec: the adapter's :class:`AdapterSpec`.
        base: where the base model loads from: a pretrained name (``"asrlab-source"``) or a model file.
        base_digest: :func:`base_sha256` of the bare base, computed with the same ``head``.
        features, vocab: the model's input features and vocabulary.
        meta: extra metadata.
        head: store the head (None: if it trained).
    """
    weights = AdapterWeights.from_model(model, spec, head, base_digest)
    payload = {
        "format": ADAPTER_FORMAT, "version": 1,
        "base": {"source": str(base), "sha256": base_digest, "hashed": "encoder" if weights.head else "model"},
        "spec": weights.spec.to_dict(), "model_config": dict(model.config), "feature_config": asdict(features),
        "vocab": list(vocab.symbols), "state_dict": weights.state, "meta": dict(meta or {}),
    }
    return atomic_torch_save(payload, path)


def read_adapter(path: str | os.PathLike) -> tuple[AdapterWeights, dict[str, Any]]:
    """An adapter file's :class:`AdapterWeights` and its whole payload (base, features, vocabulary, meta).

    Raises:
        CheckpointError: not an adapter file (a full model file says to use ``load_model``).
    """
    payload = read_checkpoint(path, formats=(ADAPTER_FORMAT,))
    return _weights(payload), payload


def is_adapter_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a file, or a folder holding ``model.pt``) is an adapter file."""
    return checkpoint_format(path) == ADAPTER_FORMAT


def load_adapter_file(path: str | os.PathLike) -> LoadedModel:
    """The model an adapter file (or a run folder holding one) describes: :func:`load_adapter_model`."""
    return load_adapter_model(read_checkpoint(path, formats=(ADAPTER_FORMAT,)), str(path))


def _weights(payload: dict[str, Any]) -> AdapterWeights:
    return AdapterWeights(AdapterSpec.from_dict(payload["spec"]), payload["state_dict"], payload["base"]["sha256"])


def load_base(source: str) -> LoadedModel:
    """The base model an adapter names: a pretrained name (an encoder whose head is untrained is
    fine here: the adapter brings its head) or a model file."""
    from asrlab.models.zoo import list_pretrained, load_pretrained

    if source in {e.name for e in list_pretrained()}:
        loaded = load_pretrained(source)
        if not isinstance(loaded, LoadedModel):
            raise ValueError(f"{source} decodes with its own decoder; adapters go on CTC models")
        return loaded
    return load_model(source)


def check_base(model: CTCModel, expected: str, head: bool, base: str, source: str) -> None:
    """Raise :class:`CheckpointError` unless ``model``'s :func:`base_sha256` is ``expected``."""
    found = base_sha256(model, head)
    if found != expected:
        raise CheckpointError(
            f"{source} was trained on base model {base} with weights sha256 {expected}, but {base} here has "
            f"sha256 {found}: the base changed since (retrained, or another version). An adapter only works "
            f"on its own base: load that base, or train the adapter again on this one "
            f"(asrlab finetune --init {base} --regime adapter|lora ...)."
        )


def load_adapter_model(payload: dict[str, Any], source: str) -> LoadedModel:
    """The model an adapter file's contents describe: its base, loaded, checked and adapted.

    Args:
        payload: the file's contents (:func:`~asrlab.models.checkpoint.read_checkpoint`).
        source: the file, for messages.

    Raises:
        CheckpointError: the base cannot be loaded, or its weights are not those the adapter was
            trained on (the message names both digests and what to do).
    """
    base = payload["base"]["source"]
    try:
        loaded = load_base(base)
    except (AsrlabError, FileNotFoundError, ValueError, ImportError) as error:
        raise CheckpointError(f"{source} adapts the base model {base}, which cannot be loaded here: {error}. "
                              "Put the base model back where it was, or load the adapter with "
                              "asrlab.models.adapter_bank.AdapterBank on a base you load yourself.") from None
    weights = _weights(payload)
    check_base(loaded.model, weights.base_sha256 or "", weights.head, base, source)
    model = apply_adapter(loaded.model, weights, source)
    meta = {**payload.get("meta", {}), "base": base, "adapter": weights.spec.to_dict()}
    return LoadedModel(model, from_dict(FeatureConfig, payload["feature_config"]),
                       CharVocabulary(tuple(payload["vocab"])), meta)


__all__ = ["ADAPTER_FORMAT", "ADAPTER_METHODS", "AdapterMethod", "AdapterSpec", "AdapterWeights", "apply_adapter",
           "base_sha256", "check_base", "is_adapter_file", "load_adapter_file", "load_adapter_model", "load_base",
           "lora_modules", "read_adapter", "resolved_spec", "save_adapter_model"]

"""One base model, many domains: :class:`AdapterBank` keeps a base model in memory once and
switches between domains' adapters (or LoRA) per request, by copying a few tensors."""
from __future__ import annotations

import copy
import os
import time

import torch

from asrlab.errors import CheckpointError
from asrlab.models.adapter_checkpoint import AdapterSpec, AdapterWeights, base_sha256, load_base, read_adapter
from asrlab.models.adapters import check_adapter_state, is_adapter_key, load_adapter_state, set_adapters_enabled
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel


class AdapterBank:
    """A base model and the adapters of several domains, one of them active at a time.

    Every adapter in a bank has the same :class:`~asrlab.models.adapter_checkpoint.AdapterSpec`
    (method, sizes, places): the structure is added to the base once, and :meth:`use` copies the
    chosen domain's tensors into it (and its head, or the base's head back); ``use(None)``
    switches the adapters off, which gives the bare base exactly. (LoRA on the head itself, a
    ``targets`` that names ``"head"``, is not supported here: a domain that changes the head
    trains and stores it whole, ``train_head=True``.)

    Args:
        base: the base model (a :class:`~asrlab.models.LoadedModel`, copied so the caller's model is
            left alone), or its pretrained name or model file.

    Attributes:
        loaded: the bank's model with its features and vocabulary, in eval mode, to pass to
            :func:`asrlab.evaluate.evaluate` or :func:`asrlab.inference.transcribe`; its model
            always computes with the active domain's adapter.
        active: the active domain, None for the bare base.
    """

    def __init__(self, base: LoadedModel | str | os.PathLike) -> None:
        loaded = load_base(str(base)) if not isinstance(base, LoadedModel) else base
        model = copy.deepcopy(loaded.model).eval()
        self.loaded = LoadedModel(model, loaded.features, loaded.vocab, dict(loaded.meta))
        self.active: str | None = None
        self._digests = {head: base_sha256(model, head) for head in (False, True)}
        self._base_head = {k: v.detach().clone() for k, v in model.head.state_dict().items()}
        self._spec: AdapterSpec | None = None
        self._domains: dict[str, AdapterWeights] = {}

    @property
    def model(self) -> CTCModel:
        return self.loaded.model

    @property
    def names(self) -> list[str]:
        """The domains added, in order."""
        return list(self._domains)

    def add(self, name: str, state: AdapterWeights | str | os.PathLike) -> None:
        """Add a domain's adapter: :class:`AdapterWeights`, or an adapter file or run folder.

        Raises:
            CheckpointError: the adapter was trained on other base weights (both digests named).
            ValueError: a name already used, another spec than the bank's adapters, or a head for
                another vocabulary.
        """
        if name in self._domains:
            raise ValueError(f"the bank already has a domain {name!r}")
        weights = state if isinstance(state, AdapterWeights) else read_adapter(state)[0]
        source = f"the adapter of {name!r}" + ("" if isinstance(state, AdapterWeights) else f" ({state})")
        expected = self._digests[weights.head]
        if weights.base_sha256 is not None and weights.base_sha256 != expected:
            raise CheckpointError(f"{source} was trained on a base with weights sha256 {weights.base_sha256}, but "
                                  f"this bank's base has sha256 {expected}: give it the base it was trained on, or "
                                  "train the adapter again on this base")
        if any(k.startswith("head.") and is_adapter_key(k) for k in weights.state):
            raise ValueError(f"{source} puts LoRA on the head; a bank serves adapters whose head is whole or absent")
        head = weights.state.get("head.weight")
        if head is not None and head.shape != self.model.head.weight.shape:
            raise ValueError(f"{source} has a head for {head.shape[0]} symbols, the base {self.model.head.out_features}: "
                             "a bank serves one vocabulary")
        if self._spec is None:
            weights.spec.apply(self.model)
            set_adapters_enabled(self.model, self.active is not None)
            self._spec = weights.spec
        elif weights.spec != self._spec:
            raise ValueError(f"{source} is {weights.spec}, the bank's adapters are {self._spec}: a bank holds adapters "
                             "of one kind and size (make one bank per kind)")
        check_adapter_state(self.model, weights.state, source)
        self._domains[name] = weights
        if self.active is not None:
            self.use(self.active)

    @torch.no_grad()
    def use(self, name: str | None) -> float:
        """Make ``name``'s adapter (None: the bare base) the active one.

        Returns:
            The seconds the switch took (copying the adapter's tensors into the model).
        """
        if name is not None and name not in self._domains:
            raise KeyError(f"no domain {name!r} in the bank; it has {self.names}")
        started = time.perf_counter()
        weights = self._domains.get(name) if name is not None else None
        if weights is not None:
            load_adapter_state(self.model, weights.state, f"the adapter of {name!r}")
        if weights is None or not weights.head:
            self.model.head.load_state_dict(self._base_head)
        if self._spec is not None:
            set_adapters_enabled(self.model, weights is not None)
        self.active = name
        return time.perf_counter() - started


__all__ = ["AdapterBank"]

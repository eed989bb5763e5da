"""LoRA (Hu et al. 2021): a frozen weight ``W`` plus a trainable low-rank change ``(alpha / r) * B @ A``.

``A`` is ``(r, in)`` and random, ``B`` is ``(out, r)`` and zero, so a model with LoRA added computes
exactly what it did before; training moves only ``A`` and ``B`` (``r * (in + out)`` numbers per
matrix instead of ``in * out``), and :func:`merge_lora` folds ``B @ A`` into ``W`` afterwards, so
inference costs nothing extra.

Two implementations behind one function, :func:`add_lora`:

* ``nn.Linear`` layers (the Whisper encoder's attention and MLP projections, the DS2 front end's
  projection, a CTC head) get the ``peft`` library's LoRA layers (``peft.inject_adapter_in_model``).
* ``nn.GRU`` layers are asrlab's own :class:`LoRAGRU`. peft cannot adapt a GRU: its LoRA wraps a
  module's forward and adds ``B(A(x))`` to the module's *output*, which works for a layer that is one
  matrix product (Linear, Embedding, Conv) but not for a recurrence, where the weights act inside
  every time step (``h_t = GRU(x_t, h_{t-1}; W_ih, W_hh)``); peft refuses ``nn.GRU`` targets. So
  :class:`LoRAGRU` adds the low-rank change to the weight matrices themselves
  (``W_ih + B_ih A_ih``, ``W_hh + B_hh A_hh``) and runs the same fused GRU kernel ``nn.GRU`` runs,
  which keeps it as fast as the plain GRU on the CPU.

Modules keep their names and their base weights' names (``encoder.rnns.0.forward_gru.weight_ih_l0``
stays where it was): a :class:`LoRAGRU` is the same ``nn.GRU`` object with its class switched (as
``torch.nn.utils.parametrize`` does) and its LoRA matrices in ``lora_A`` / ``lora_B``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

#: Parameter names of LoRA weights contain a part starting with this (``lora_A``, ``lora_B``).
LORA_PREFIX = "lora_"


class LoRAGRU(nn.GRU):
    """An ``nn.GRU`` whose weight matrices carry trainable low-rank changes.

    Not built directly: :meth:`convert` turns an existing ``nn.GRU`` into one in place. For each
    weight matrix ``W`` (``weight_ih_l{k}``: ``(3H, D)``, ``weight_hh_l{k}``: ``(3H, H)``, and their
    ``_reverse`` twins) it holds ``lora_A[name]`` ``(r, in)`` and ``lora_B[name]`` ``(3H, r)``; the
    forward pass uses ``W + scaling * B @ A`` (``scaling = alpha / r``). Biases are not adapted.

    Attributes:
        scaling: ``alpha / r``.
        enabled: False runs the GRU with its base weights only (the exact base model).
        merged: True once :meth:`merge` has folded the change into the weights.
    """

    lora_A: nn.ParameterDict
    lora_B: nn.ParameterDict
    scaling: float
    enabled: bool
    merged: bool

    @classmethod
    def convert(cls, gru: nn.GRU, rank: int, alpha: float) -> "LoRAGRU":
        """Give ``gru`` LoRA matrices (``A`` random, ``B`` zero) and make it a :class:`LoRAGRU`, in place.

        Raises:
            ValueError: ``gru`` already has LoRA, or ``rank`` is not a positive integer.
        """
        if isinstance(gru, LoRAGRU):
            raise ValueError("this GRU already has LoRA; add it once")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"the LoRA rank must be an integer >= 1, got {rank!r}")
        weight = next(w for w in gru.parameters())
        gru.__class__ = cls
        gru.lora_A, gru.lora_B = nn.ParameterDict(), nn.ParameterDict()
        for name in gru._flat_weights_names:
            if not name.startswith("weight_"):
                continue
            out_dim, in_dim = getattr(gru, name).shape
            a = torch.empty(rank, in_dim, device=weight.device, dtype=weight.dtype)
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))     # as nn.Linear (and peft) initialise A
            gru.lora_A[name] = nn.Parameter(a)
            gru.lora_B[name] = nn.Parameter(torch.zeros(out_dim, rank, device=weight.device, dtype=weight.dtype))
        gru.scaling, gru.enabled, gru.merged = float(alpha) / rank, True, False
        return gru  # type: ignore[return-value]

    @property
    def rank(self) -> int:
        return int(next(iter(self.lora_A.values())).shape[0])

    def delta(self, name: str) -> torch.Tensor:
        """``scaling * B @ A`` for the weight matrix ``name`` (e.g. ``"weight_ih_l0"``), its shape."""
        return self.scaling * (self.lora_B[name] @ self.lora_A[name])

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None):  # noqa: A002 (nn.GRU's name)
        """As ``nn.GRU.forward`` on a padded batch (no PackedSequence), with the adapted weights."""
        if not self.enabled or self.merged:
            return super().forward(input, hx)
        if not isinstance(input, torch.Tensor) or input.dim() != 3:
            raise ValueError("LoRAGRU runs on batched (3-D) tensors, not PackedSequences or single sequences")
        weights = [getattr(self, n) + self.delta(n) if n in self.lora_A else getattr(self, n)
                   for n in self._flat_weights_names]
        if hx is None:
            batch = input.shape[0] if self.batch_first else input.shape[1]
            hx = input.new_zeros(self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        output, hidden = torch._VF.gru(input, hx, weights, self.bias, self.num_layers, float(self.dropout),
                                       self.training, self.bidirectional, self.batch_first)
        return output, hidden

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the low-rank changes into the weights (``W += scaling * B @ A``); :meth:`unmerge` undoes it."""
        if not self.merged:
            for name in self.lora_A:
                getattr(self, name).add_(self.delta(name))
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the low-rank changes out of the weights again."""
        if self.merged:
            for name in self.lora_A:
                getattr(self, name).sub_(self.delta(name))
            self.merged = False

    def to_gru(self) -> nn.GRU:
        """Merge, drop the LoRA matrices and turn back into a plain ``nn.GRU`` (in place)."""
        self.merge()
        del self.lora_A, self.lora_B
        for attribute in ("scaling", "enabled", "merged"):
            self.__dict__.pop(attribute, None)
        self.__class__ = nn.GRU
        return self


# --------------------------------------------------------------------------- adding and merging
def is_peft_layer(module: nn.Module) -> bool:
    """Whether ``module`` is one of peft's LoRA layers (without importing peft)."""
    return type(module).__module__.startswith("peft.") and hasattr(module, "get_base_layer")


def lora_targets(model: nn.Module) -> list[str]:
    """The modules :func:`add_lora` adapts by default (``targets="auto"``): every ``nn.GRU`` and
    ``nn.Linear`` of ``model.encoder`` (the head is left to train or stay as it is).

    Linears inside an ``nn.MultiheadAttention`` (its ``out_proj``, which the attention reads as a
    bare weight instead of calling it) and inside bottleneck adapters are skipped.
    """
    encoder = getattr(model, "encoder", model)
    prefix = "encoder." if encoder is not model else ""
    skip = {f"{name}." for name, m in encoder.named_modules()
            if isinstance(m, nn.MultiheadAttention) or type(m).__name__ == "BottleneckAdapter"}
    return [prefix + name for name, m in encoder.named_modules()
            if name and isinstance(m, (nn.GRU, nn.Linear)) and not is_peft_layer(m)
            and not any(name.startswith(s) for s in skip)]


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets: str | Sequence[str] = "auto",
             dropout: float = 0.0) -> nn.Module:
    """Add LoRA to ``model``'s GRU and linear layers, in place; the model's outputs do not change.

    Which parameters train is left as it was for the old ones; the new LoRA matrices require
    gradients (:func:`asrlab.models.adapters.train_adapters` freezes everything else).

    Args:
        model: e.g. a :class:`~asrlab.models.base.CTCModel`.
        rank: ``r``, the rank of each change.
        alpha: the change is scaled by ``alpha / r``.
        targets: ``"auto"`` (:func:`lora_targets`) or module names as ``model.named_modules()``
            gives them (``"encoder.rnns.0.forward_gru"``, ``"head"``).
        dropout: dropout on the input of peft's LoRA branch (linear layers only).

    Returns:
        ``model``.

    Raises:
        ValueError: a target that is missing, already adapted, or neither ``nn.GRU`` nor ``nn.Linear``.
        MissingDependencyError: linear targets and no peft (``pip install peft``).
    """
    names = lora_targets(model) if targets == "auto" else [str(t) for t in targets]
    if not names:
        raise ValueError("no layers to add LoRA to: pass targets= with the names of nn.GRU or nn.Linear modules")
    modules = dict(model.named_modules())
    linears = []
    for name in names:
        module = modules.get(name)
        if module is None:
            raise ValueError(f"LoRA target {name!r} is not a module of this model; names look like "
                             f"{[n for n in list(modules)[1:6]]}")
        if isinstance(module, LoRAGRU) or is_peft_layer(module):
            raise ValueError(f"{name} already has LoRA; add it once")
        if isinstance(module, nn.GRU):
            LoRAGRU.convert(module, rank, alpha)
        elif isinstance(module, nn.Linear):
            linears.append(name)
        else:
            raise ValueError(f"LoRA target {name} is a {type(module).__name__}; asrlab adds LoRA to nn.Linear "
                             "(through peft) and nn.GRU (LoRAGRU) layers")
    if linears:
        _inject_peft(model, linears, rank, alpha, dropout)
    return model


def _inject_peft(model: nn.Module, names: list[str], rank: int, alpha: float, dropout: float) -> None:
    """peft's LoRA on the linear layers ``names``, leaving every other parameter's ``requires_grad`` as it was."""
    from asrlab.errors import MissingDependencyError

    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as error:
        raise MissingDependencyError("LoRA on linear layers uses the peft library: pip install peft==0.21.2") from error
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, bias="none", target_modules=_exact(names))
    inject_adapter_in_model(config, model)
    for name, p in model.named_parameters():  # peft freezes everything else: put the old flags back
        if name in trainable:
            p.requires_grad_(trainable[name])
        elif LORA_PREFIX in name:
            p.requires_grad_(True)


def _exact(names: list[str]) -> str:
    """A peft ``target_modules`` regular expression (peft matches a string with ``re.fullmatch``)
    that selects exactly the modules ``names``."""
    return "|".join(name.replace(".", r"\.") for name in names)


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every LoRA change into its weight and remove the LoRA modules, in place.

    The result is a plain model of the base architecture (``nn.GRU``, ``nn.Linear``) with the
    adapted weights: it computes what the model with LoRA computed (up to float rounding) at no
    extra cost, and :func:`~asrlab.models.checkpoint.save_model` writes it as an ordinary checkpoint.

    Returns:
        ``model``.
    """
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRAGRU):
            module.to_gru()
        elif is_peft_layer(module):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, module.get_base_layer())
    return model


__all__ = ["LORA_PREFIX", "LoRAGRU", "add_lora", "is_peft_layer", "lora_targets", "merge_lora"]

"""Residual bottleneck adapters (Houlsby et al. 2019, Pfeiffer et al. 2020), and what every
parameter-efficient addition (adapters and LoRA) shares: switching them off, their weights alone,
and training them alone.

An adapter after an encoder layer maps its ``(B, T', D)`` output ``h`` to
``h + up(relu(down(layer_norm(h))))`` on valid frames (``down``: ``D -> bottleneck``, ``up``:
``bottleneck -> D``). ``up`` starts at zero, so an adapter that was just added is exactly the
identity and fine-tuning starts from the pretrained model; padded frames stay zero.

:func:`add_adapters` puts one after each layer of a :class:`~asrlab.models.base.StackedEncoder`
(DS2's BiGRU layers, the Conformer's blocks) and optionally after its front end, without touching
the model classes: each adapter becomes a child module ``adapter`` of the layer it follows (so the
base weights keep their names), and the encoder (and front end) switch to a subclass that runs
the adapter after the layer (as ``torch.nn.utils.parametrize`` switches a module's class).

The functions that take any model work on adapters and on LoRA (:mod:`asrlab.models.lora`) alike:
:func:`set_adapters_enabled` (off: the base model, exactly), :func:`adapter_state` and
:func:`load_adapter_state` (only the added weights, plus the head if it trained), and
:func:`train_adapters` (freeze all but them).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from asrlab.errors import CheckpointError
from asrlab.models.base import StackedEncoder
from asrlab.models.lora import LORA_PREFIX, LoRAGRU, is_peft_layer
from asrlab.utils import lengths_to_mask

#: The name of an adapter inside the module it follows; parameter names of adapters contain it.
ADAPTER_NAME = "adapter"


class BottleneckAdapter(nn.Module):
    """``h + up(relu(down(norm(h))))`` on valid frames; the identity when just built or switched off.

    Args:
        dim: ``D``, the size of the layer output it follows.
        bottleneck: the size in between (``2 * D * bottleneck`` weights).
        layer_norm: normalise the input of ``down`` (Pfeiffer); False feeds ``h`` as it is.

    Attributes:
        enabled: False returns the input unchanged.
    """

    def __init__(self, dim: int, bottleneck: int = 64, layer_norm: bool = True) -> None:
        super().__init__()
        if isinstance(bottleneck, bool) or not isinstance(bottleneck, int) or bottleneck < 1:
            raise ValueError(f"the adapter bottleneck must be an integer >= 1, got {bottleneck!r}")
        self.norm = nn.LayerNorm(dim) if layer_norm else nn.Identity()
        self.down = nn.Linear(dim, bottleneck)
        self.act = nn.ReLU()
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.enabled = True

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, T', D)`` and ``(B,)`` valid frames -> ``(B, T', D)``; the change is zero on padding."""
        if not self.enabled:
            return x
        change = self.up(self.act(self.down(self.norm(x))))
        valid = lengths_to_mask(lengths.to(x.device), x.shape[1])[:, :, None].to(x.dtype)
        return x + change * valid


class _AdaptedEncoder:
    """Mixin in front of a StackedEncoder's class: each layer with an ``adapter`` child runs it after."""

    def run_layer(self, layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = super().run_layer(layer, x, lengths)  # type: ignore[misc]
        adapter = layer._modules.get(ADAPTER_NAME)
        return out if adapter is None else adapter(out, lengths)


class _AdaptedFrontEnd:
    """Mixin in front of a front end's class: its ``adapter`` child runs on the front end's output."""

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, out_lengths = super().forward(feats, lengths)  # type: ignore[misc]
        return self._modules[ADAPTER_NAME](x, out_lengths), out_lengths


_CLASSES: dict[tuple[type, type], type] = {}


def _switch_class(module: nn.Module, mixin: type) -> None:
    """Make ``module`` an instance of ``(mixin, its class)``: the same object, its forward extended."""
    cls = type(module)
    if issubclass(cls, mixin):
        return
    if (mixin, cls) not in _CLASSES:
        _CLASSES[mixin, cls] = type(f"Adapted{cls.__name__}", (mixin, cls), {"__module__": __name__})
    module.__class__ = _CLASSES[mixin, cls]


def _where(encoder: StackedEncoder, where: str | Sequence[int]) -> list[int]:
    blocks = len(encoder.blocks)
    if where == "layers":
        return list(range(1, blocks))
    if where == "all":
        return list(range(blocks))
    if isinstance(where, str) or not all(isinstance(i, int) and 0 <= i < blocks for i in where):
        raise ValueError(f"where={where!r}: use 'layers', 'all' or block indices in [0, {blocks}) "
                         "(0 is the front end, i the i-th layer)")
    return sorted(set(where))


def add_adapters(model: nn.Module, bottleneck: int = 64, where: str | Sequence[int] = "layers",
                 layer_norm: bool = True) -> nn.Module:
    """Put a :class:`BottleneckAdapter` after encoder blocks of ``model``, in place; outputs do not change.

    Args:
        model: a :class:`~asrlab.models.base.CTCModel` whose encoder is a
            :class:`~asrlab.models.base.StackedEncoder` (``ds2``, ``conformer``).
        bottleneck: the adapters' inner size.
        where: ``"layers"`` (after every layer of the stack), ``"all"`` (and after the front end),
            or indices into ``model.encoder.blocks`` (0 is the front end).
        layer_norm: each adapter normalises its input.

    Returns:
        ``model``, with ``blocks[i].adapter`` for each chosen block (on the encoder's device).

    Raises:
        ValueError: the encoder is not a StackedEncoder (Whisper's and the SSL encoders: use LoRA,
            :func:`asrlab.models.lora.add_lora`), a block already has an adapter, or ``where`` is bad.
    """
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, StackedEncoder):
        raise ValueError(f"bottleneck adapters go into a StackedEncoder (ds2, conformer), not a "
                         f"{type(encoder).__name__}; adapt this model with LoRA (asrlab.models.lora.add_lora)")
    chosen = _where(encoder, where)
    blocks = encoder.blocks
    for i in chosen:
        if ADAPTER_NAME in blocks[i]._modules:
            raise ValueError(f"block {i} of the encoder already has an adapter; add adapters once")
    reference = next(encoder.parameters())
    for i in chosen:
        adapter = BottleneckAdapter(encoder.output_dim, bottleneck, layer_norm).to(reference.device, reference.dtype)
        blocks[i].add_module(ADAPTER_NAME, adapter)
        if i == 0:
            _switch_class(blocks[i], _AdaptedFrontEnd)
        else:
            _switch_class(encoder, _AdaptedEncoder)
    return model


# --------------------------------------------------------------------------- adapters and LoRA alike
def is_adapter_key(name: str) -> bool:
    """Whether a parameter or state-dict name belongs to an adapter or to LoRA (not to the base model)."""
    return any(part == ADAPTER_NAME or part.startswith(LORA_PREFIX) for part in name.split("."))


def has_adapters(model: nn.Module) -> bool:
    """Whether ``model`` holds adapters or LoRA."""
    return any(is_adapter_key(name) for name, _ in model.named_parameters())


def set_adapters_enabled(model: nn.Module, enabled: bool) -> nn.Module:
    """Switch every adapter and LoRA change of ``model`` on or off; off, it is the base model exactly.

    Which parameters require gradients is not changed. Returns ``model``.
    """
    for module in model.modules():
        if isinstance(module, (BottleneckAdapter, LoRAGRU)):
            module.enabled = bool(enabled)
        elif is_peft_layer(module):
            flags = [(p, p.requires_grad) for p in module.parameters()]
            module.enable_adapters(bool(enabled))  # peft's switch also sets requires_grad: undo that
            for p, flag in flags:
                p.requires_grad_(flag)
    return model


def train_adapters(model: nn.Module, head: bool = False, norms: bool = False) -> nn.Module:
    """Freeze ``model`` except its adapters and LoRA matrices (and the head, and layer norms, if asked).

    Args:
        model: a model with adapters or LoRA.
        head: the output layer ``model.head`` trains too.
        norms: every ``nn.LayerNorm`` of the base model trains too (as Houlsby et al. do).

    Returns:
        ``model``.

    Raises:
        ValueError: the model has neither adapters nor LoRA (nothing would train).
    """
    if not has_adapters(model):
        raise ValueError("the model has no adapters or LoRA: add them first (add_adapters, add_lora)")
    for name, p in model.named_parameters():
        p.requires_grad_(is_adapter_key(name) or (head and name.startswith("head.")))
    if norms:
        for name, module in model.named_modules():
            if isinstance(module, nn.LayerNorm) and not is_adapter_key(name):
                module.requires_grad_(True)
    return model


def adapter_state(model: nn.Module, head: bool | None = None) -> dict[str, torch.Tensor]:
    """The weights a fine-tuned adapter (or LoRA) adds to its base model, copied to the CPU.

    Args:
        model: a model with adapters or LoRA.
        head: include ``head.*`` (the output layer); None includes it when it requires gradients
            (it was trained).

    Returns:
        ``{name: tensor}`` named as in ``model.state_dict()``: adapter and LoRA weights, and the head's.
    """
    if head is None:
        head = any(p.requires_grad for name, p in model.named_parameters() if name.startswith("head."))
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if is_adapter_key(k) or (head and k.startswith("head."))}


def check_adapter_state(model: nn.Module, state: dict[str, torch.Tensor], source: str = "the adapter state") -> None:
    """Raise :class:`CheckpointError` unless ``state`` fits ``model``'s adapters (see :func:`load_adapter_state`)."""
    own = model.state_dict(keep_vars=True)
    missing = sorted(k for k in own if is_adapter_key(k) and k not in state)
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise CheckpointError(f"{source} does not fit this model's adapters: missing {missing[:4]}, unexpected "
                              f"{unexpected[:4]}, shape mismatches {shapes[:4]}. Add the same adapters (method, "
                              "bottleneck or rank, places) as the ones it was trained with.")


@torch.no_grad()
def load_adapter_state(model: nn.Module, state: dict[str, torch.Tensor], source: str = "the adapter state") -> nn.Module:
    """Copy adapter (and head) weights from :func:`adapter_state` into ``model``, in place.

    ``model`` must have the same adapters (same method, sizes and places); every one of its adapter
    weights must be in ``state``. The head is replaced only if ``state`` has it. Returns ``model``.

    Raises:
        CheckpointError: ``state`` lacks adapter weights the model has, has names the model lacks,
            or a shape differs (it came from differently configured adapters).
    """
    check_adapter_state(model, state, source)
    own = model.state_dict(keep_vars=True)
    for key, value in state.items():
        own[key].copy_(value)
    return model


__all__ = ["ADAPTER_NAME", "BottleneckAdapter", "adapter_state", "add_adapters", "check_adapter_state", "has_adapters",
           "is_adapter_key", "load_adapter_state", "set_adapters_enabled", "train_adapters"]

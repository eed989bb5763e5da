"""Fine-tuning regimes: from a pretrained CTC model to a target domain.

Each regime decides what trains and how fast:

* ``scratch``: the same architecture with fresh weights (the no-transfer baseline);
* ``head``: a new output layer, everything else frozen;
* ``top-k``: the top ``k`` encoder blocks and the head train, the rest is frozen;
* ``full``: everything trains at one learning rate;
* ``layerwise``: everything trains, the learning rate shrinking by ``layer_decay`` per block
  below the head;
* ``l2sp``: everything trains, with a penalty pulling the encoder towards its pretrained
  weights (L2-SP, Li et al. 2018), which limits forgetting;
* ``adapter``: the base stays frozen; a small residual bottleneck adapter after each encoder
  layer trains (Houlsby et al. 2019; :mod:`asrlab.models.adapters`), and the head if asked;
* ``lora``: the base stays frozen; low-rank changes to its GRU and linear weight matrices train
  (LoRA, Hu et al. 2021; :mod:`asrlab.models.lora`), and the head if asked.

The last two start exactly at the pretrained model and save only what they add (a few hundred
kB, with the base's name and a sha256 of its weights: :mod:`asrlab.models.adapter_checkpoint`).

A regime and its settings travel together as a :class:`~asrlab.config.RegimeConfig`; every
function here also takes a regime's name, and the settings as keywords (``k=``,
``layer_decay=``, ``l2sp_alpha=``, ``bottleneck=``, ``rank=``), which replace the config's.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from asrlab.config import (REGIMES, LoaderConfig, ModelConfig, Regime, RegimeConfig, TrainConfig, from_dict,
                           regime_config)
from asrlab.datasets import make_dataset
from asrlab.files import check_writable
from asrlab.models import build_model, count_parameters
from asrlab.models.adapter_checkpoint import AdapterSpec, base_sha256, save_adapter_model
from asrlab.models.adapters import has_adapters, train_adapters
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.zoo import list_pretrained
from asrlab.models.resolve import resolve_ctc_model
from asrlab.train import ExtraLoss, History, ParameterPenalty, fit, layerwise_param_groups, train_top_k, unfreeze


def l2sp_penalty(model: CTCModel, alpha: float, beta: float = 0.0) -> Callable[[CTCModel], torch.Tensor]:
    """The L2-SP regulariser for ``model``, anchored at its current (pretrained) weights.

    ``alpha / 2 * ||w_enc - w_enc^0||^2 + beta / 2 * ||w_head||^2``: the encoder is pulled towards
    where it started; the head, which is new to the task, gets a plain L2 penalty.

    Returns:
        A function of the model giving the scalar penalty; ``fit`` adds it to the loss when it is
        wrapped as ``fit(extra_loss=ParameterPenalty(penalty, model))``.
    """
    anchor = {name: p.detach().clone() for name, p in model.encoder.named_parameters()}

    def penalty(current: CTCModel) -> torch.Tensor:
        total = torch.zeros((), device=next(current.parameters()).device)
        for name, p in current.encoder.named_parameters():
            if p.requires_grad:
                total = total + (p - anchor[name].to(p.device)).pow(2).sum()
        head = sum(p.pow(2).sum() for p in current.head.parameters())
        return 0.5 * alpha * total + 0.5 * beta * head

    return penalty


def reset_head(model: CTCModel) -> CTCModel:
    """Replace the output layer with a freshly initialised one of the same shape."""
    model.head = nn.Linear(model.head.in_features, model.head.out_features).to(model.head.weight.device)
    return model


#: The regimes that train only what they add to a frozen base, and save only that.
ADAPTER_REGIMES: tuple[str, ...] = ("adapter", "lora")


def adapter_spec(settings: RegimeConfig) -> AdapterSpec:
    """The :class:`~asrlab.models.adapter_checkpoint.AdapterSpec` of an ``adapter`` or ``lora`` regime."""
    if settings.name not in ADAPTER_REGIMES:
        raise ValueError(f"{settings.name!r} adds no adapter; the regimes that do are {', '.join(ADAPTER_REGIMES)}")
    return AdapterSpec(settings.name, bottleneck=settings.bottleneck, rank=settings.rank)  # type: ignore[arg-type]


@dataclass
class FinetuneResult:
    """What a fine-tuning run produced."""

    regime: str
    model: CTCModel
    history: History
    trainable_parameters: int
    total_parameters: int
    seconds: float
    out_dir: Path | None


def prepare(init: CTCModel, regime: Regime | RegimeConfig, *, lr: float = 1e-3, seed: int = 0,
            k: int | None = None, layer_decay: float | None = None,
            l2sp_alpha: float | None = None, bottleneck: int | None = None,
            rank: int | None = None) -> tuple[CTCModel, list[dict[str, Any]] | None, ExtraLoss | None]:
    """A copy of ``init`` set up for ``regime``.

    Args:
        init: the pretrained model (left untouched).
        regime: a :class:`~asrlab.config.RegimeConfig` or a regime's name.
        lr: the peak learning rate (``"layerwise"`` scales it per block).
        seed: initialises the new weights of ``"scratch"`` and ``"head"``.
        k, layer_decay, l2sp_alpha, bottleneck, rank: replace the regime's settings of those names
            (``k``: ``top_k``).

    Returns:
        ``(model, param_groups, extra_loss)`` for :func:`~asrlab.train.fit`: parameter groups for
        ``"layerwise"`` and the L2-SP penalty for ``"l2sp"``, None otherwise.
    """
    settings = regime_config(regime, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha,
                             bottleneck=bottleneck, rank=rank)
    if settings.name == "scratch":
        torch.manual_seed(seed)
        model = build_model(from_dict(ModelConfig, init.config))
        return model, None, None
    if settings.name in ADAPTER_REGIMES and has_adapters(init):
        raise ValueError("the model already has adapters or LoRA: start the adapter and lora regimes from its base")
    model = copy.deepcopy(init)
    unfreeze(model)
    if settings.name in ADAPTER_REGIMES:
        adapter_spec(settings).apply(model)
        train_adapters(model, head=settings.train_head)
    elif settings.name == "head":
        torch.manual_seed(seed)
        reset_head(model)
        train_top_k(model, 0)
    elif settings.name == "top-k":
        train_top_k(model, settings.top_k)
    elif settings.name == "layerwise":
        return model, layerwise_param_groups(model, lr, settings.layer_decay), None
    elif settings.name == "l2sp":
        return model, None, ParameterPenalty(l2sp_penalty(model, settings.l2sp_alpha), model)
    return model, None, None


def finetune(init: LoadedModel, train: Any, regime: Regime | RegimeConfig, config: TrainConfig, *,
             dev: Any = None, data: LoaderConfig = LoaderConfig(num_workers=0), out_dir: str | os.PathLike | None = None,
             k: int | None = None, layer_decay: float | None = None, l2sp_alpha: float | None = None,
             bottleneck: int | None = None, rank: int | None = None, base: str | os.PathLike | None = None,
             progress: bool = False) -> FinetuneResult:
    """Fine-tune a copy of ``init.model`` on ``train`` (a SpeechDataset) with one regime.

    The pretrained model itself is left untouched. With ``out_dir`` the result is written as
    ``out_dir/model.pt`` (loadable by ``asrlab eval --model out_dir``) and the run resumes. The
    ``adapter`` and ``lora`` regimes write only the adapter (and the head if it trained), naming
    the base (``base``) and its weights' sha256; they train the head whenever the base's is untrained.

    Args:
        regime: a :class:`~asrlab.config.RegimeConfig` or a regime's name (default settings).
        k, layer_decay, l2sp_alpha, bottleneck, rank: replace the regime's settings of those names.
        base: ``adapter``/``lora`` with ``out_dir``: where ``init`` loads from (a pretrained name or a
            model file), stored in the adapter file; default ``init.meta["name"]`` if that is a
            pretrained model's name.
    """
    settings = regime_config(regime, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha,
                             bottleneck=bottleneck, rank=rank)
    save = None
    if settings.name in ADAPTER_REGIMES:
        if init.meta.get("head") == "untrained":
            settings = replace(settings, train_head=True)
        if out_dir is not None:
            save = adapter_saver(init, settings, base)
    model, groups, extra_loss = prepare(init.model, settings, lr=config.lr, seed=config.seed)
    started = time.perf_counter()
    history = fit(model, train, config, data=data, dev=dev, out_dir=out_dir, param_groups=groups,
                  extra_loss=extra_loss, progress=progress, save=save,
                  meta={"regime": settings.name, "init": init.meta.get("name")})
    return FinetuneResult(settings.name, model, history, count_parameters(model, trainable_only=True),
                          count_parameters(model), time.perf_counter() - started,
                          Path(out_dir) if out_dir is not None else None)


def adapter_saver(init: LoadedModel, settings: RegimeConfig,
                  base: str | os.PathLike | None = None) -> Callable[..., Path]:
    """What :func:`~asrlab.train.fit` calls to write an ``adapter``/``lora`` run's ``model.pt``:
    :func:`~asrlab.models.adapter_checkpoint.save_adapter_model` with the base's source and digest
    (computed now, on the bare ``init.model``).

    Raises:
        ValueError: no ``base`` given and ``init.meta["name"]`` is not a pretrained model's name.
    """
    if base is None:
        name = init.meta.get("name")
        if name not in {e.name for e in list_pretrained()}:
            raise ValueError(f"an adapter file names its base model, and {name!r} is not a pretrained model's "
                             "name: pass base= (the pretrained name or model file init was loaded from)")
        source = str(name)
    else:
        source = str(Path(base).resolve()) if Path(base).exists() else str(base)
    spec, digest = adapter_spec(settings), base_sha256(init.model, settings.train_head)

    def save(path: Path, model: CTCModel, features: Any, vocab: Any, meta: dict[str, Any]) -> Path:
        return save_adapter_model(path, model, spec, source, digest, features, vocab, meta, head=settings.train_head)

    return save


def finetune_manifests(init: str | os.PathLike, train: Sequence[str | os.PathLike], regime: Regime | RegimeConfig,
                       out_dir: str | os.PathLike, dev: Sequence[str | os.PathLike] | None = None,
                       epochs: int = 10, lr: float = 1e-3, seed: int = 0, progress: bool = True) -> FinetuneResult:
    """``asrlab finetune``: fine-tune a model file, run folder or pretrained name on manifests.

    ``regime`` is a :class:`~asrlab.config.RegimeConfig` (or a name, with default settings).
    ``out_dir`` is checked before the model is loaded (:func:`~asrlab.files.check_writable`).
    """
    check_writable(out_dir, "the run folder (--out)")
    loaded = resolve_ctc_model(init, "fine-tune its CTC variant (e.g. whisper-tiny.en-ctc)")
    train_set = make_dataset(train, loaded.features, loaded.vocab)
    dev_set = make_dataset(dev, loaded.features, loaded.vocab) if dev else None
    config = replace(TrainConfig(), epochs=epochs, lr=lr, seed=seed, warmup_steps=50, checkpoint_every=50)
    return finetune(loaded, train_set, regime, config, dev=dev_set, out_dir=out_dir, base=init, progress=progress)


__all__ = ["ADAPTER_REGIMES", "REGIMES", "FinetuneResult", "Regime", "RegimeConfig", "adapter_saver", "adapter_spec",
           "finetune", "finetune_manifests", "l2sp_penalty", "prepare", "reset_head"]

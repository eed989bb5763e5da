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
* ``head-then-full``: two stages, as in LP-FT (Kumar et al. 2022): first only the head trains
  (for ``head_share`` of the epochs, default 0.25), then everything does (a fresh optimiser and
  learning-rate schedule for each stage), so that a new head does not send random gradients
  into the pretrained encoder at the start;
* ``adapter``: the base stays frozen; a small residual bottleneck adapter after each encoder
  layer trains (Houlsby et al. 2019; :mod:`asrlab.models.adapters`), and the head if asked;
* ``lora``: the base stays frozen; low-rank changes to its GRU and linear weight matrices train
  (LoRA, Hu et al. 2021; :mod:`asrlab.models.lora`), and the head if asked.

The last two start exactly at the pretrained model and save only what they add (a few hundred
kB, with the base's name and a sha256 of its weights: :mod:`asrlab.models.adapter_checkpoint`).

A regime and its settings travel together as a :class:`~asrlab.config.RegimeConfig`; every
function here also takes a regime's name, and the settings as keywords (``k=``,
``layer_decay=``, ``l2sp_alpha=``, ``head_share=``, ``bottleneck=``, ``rank=``), which replace the config's.

**A new alphabet** (cross-lingual transfer): with ``vocab=`` (a
:class:`~asrlab.text.CharVocabulary` other than the model's own, e.g.
``CharVocabulary.for_language("es")``) the model gets a new output layer with one row per new
symbol (:func:`~asrlab.models.vocabulary.replace_vocabulary`): ``"head"`` and
``"head-then-full"`` train it from there, ``"top-k"``, ``"full"``, ``"layerwise"`` and ``"l2sp"``
start from it, ``"scratch"`` builds the architecture with the new number of outputs. The rows of
the symbols both vocabularies share are copied from the old head (``copy_shared=True``) or start
fresh; new letters start random or from their base letter's row (``init_new``). The result's
``model.pt`` stores the new vocabulary, so ``asrlab eval`` and ``asrlab transcribe`` decode in it.

**Two extra loss terms** can join any regime (with L2-SP too, see
:class:`~asrlab.train.ExtraLosses`):

* multi-task learning (:mod:`asrlab.multitask`, ``auxiliary=AuxiliaryConfig(...)``): a head on
  the shared encoder predicts each utterance's speaker, accent or domain;
  ``CTC + mu * cross-entropy``;
* source replay (:mod:`asrlab.replay`, ``replay_data=`` source utterances): ``CTC_target +
  rho * CTC_source``, the old task kept in the loss against forgetting.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from asrlab.config import (REGIMES, AuxiliaryConfig, LoaderConfig, ModelConfig, Regime, RegimeConfig, ReplayConfig,
                           TrainConfig, from_dict, regime_config)
from asrlab.datasets import SpeechDataset, make_dataset
from asrlab.files import check_writable
from asrlab.models import build_model, count_parameters
from asrlab.models.adapter_checkpoint import AdapterSpec, base_sha256, save_adapter_model
from asrlab.models.adapters import has_adapters, train_adapters
from asrlab.models.base import CTCModel
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.zoo import list_pretrained
from asrlab.models.resolve import resolve_ctc_model
from asrlab.models.vocabulary import NewRows, replace_vocabulary
from asrlab.multitask import AuxiliaryHead, UtteranceClasses, auxiliary_accuracy, build_auxiliary
from asrlab.replay import SourceReplay
from asrlab.text import CharVocabulary
from asrlab.train import (ExtraLoss, History, ParameterPenalty, combine_extra_losses, fit, layerwise_param_groups,
                          train_top_k, unfreeze)

#: The sub-folder of a ``head-then-full`` run folder that holds its first (head-only) stage.
HEAD_STAGE_DIR = "head-stage"


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
    """What a fine-tuning run produced.

    Attributes:
        regime: the regime's name.
        model: the fine-tuned model (a copy; the initial model is untouched).
        history: steps and evaluations (``head-then-full``: both stages, each row with its
            ``stage``, 1 or 2, and steps counted on across them).
        trainable_parameters: parameters that trained (``head-then-full``: in the second stage).
        total_parameters: all parameters of the model.
        seconds: wall time.
        out_dir: where ``model.pt`` went, if anywhere.
        vocab: the vocabulary of the model's outputs (the model's own or the new one).
        aux_head: the auxiliary classifier of a multi-task run, else None.
        aux_classes: its classes, else None.
        aux_dev_accuracy: its accuracy on the dev set (:func:`~asrlab.multitask.auxiliary_accuracy`),
            when there was an auxiliary task and a dev set, else None.
    """

    regime: str
    model: CTCModel
    history: History
    trainable_parameters: int
    total_parameters: int
    seconds: float
    out_dir: Path | None
    vocab: CharVocabulary = field(default_factory=CharVocabulary)
    aux_head: AuxiliaryHead | None = None
    aux_classes: UtteranceClasses | None = None
    aux_dev_accuracy: float | None = None


def prepare(init: CTCModel, regime: Regime | RegimeConfig, *, lr: float = 1e-3, seed: int = 0,
            k: int | None = None, layer_decay: float | None = None, l2sp_alpha: float | None = None,
            vocab: CharVocabulary | None = None, init_vocab: CharVocabulary | None = None, copy_shared: bool = True,
            init_new: NewRows = "random", bottleneck: int | None = None,
            rank: int | None = None) -> tuple[CTCModel, list[dict[str, Any]] | None, ExtraLoss | None]:
    """A copy of ``init`` set up for ``regime``.

    Args:
        init: the pretrained model (left untouched).
        regime: a :class:`~asrlab.config.RegimeConfig` or a regime's name.
        lr: the peak learning rate (``"layerwise"`` scales it per block).
        seed: initialises the new weights of ``"scratch"`` and of a new head.
        k, layer_decay, l2sp_alpha, bottleneck, rank: replace the regime's settings of those names
            (``k``: ``top_k``).
        vocab: the vocabulary to fine-tune into; None (or ``init_vocab`` itself) keeps the model's.
        init_vocab: the vocabulary ``init`` was trained with (default: asrlab's English one).
        copy_shared: with a new vocabulary, copy the head rows of the shared symbols.
        init_new: with a new vocabulary, how new letters' rows start (``"random"`` or
            ``"base_letter"``, see :func:`~asrlab.models.vocabulary.replace_vocabulary`).

    Returns:
        ``(model, param_groups, extra_loss)`` for :func:`~asrlab.train.fit`: parameter groups for
        ``"layerwise"`` and the L2-SP penalty for ``"l2sp"``, None otherwise. For
        ``"head-then-full"`` the model is set up for its first stage (the head only);
        :func:`finetune` unfreezes it for the second.
    """
    settings = regime_config(regime, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha,
                             bottleneck=bottleneck, rank=rank)
    old_vocab = init_vocab or CharVocabulary()
    new_vocab = vocab if vocab is not None and vocab != old_vocab else None
    if new_vocab is not None and init.head.out_features != len(old_vocab):
        raise ValueError(f"the model has {init.head.out_features} outputs but its vocabulary {len(old_vocab)} "
                         "symbols: pass init_vocab= (LoadedModel.vocab)")
    if settings.name == "scratch":
        torch.manual_seed(seed)
        config = from_dict(ModelConfig, init.config)
        if new_vocab is not None:
            config = replace(config, vocab_size=len(new_vocab))
        return build_model(config), None, None
    if settings.name in ADAPTER_REGIMES and has_adapters(init):
        raise ValueError("the model already has adapters or LoRA: start the adapter and lora regimes from its base")
    if new_vocab is not None:
        model = replace_vocabulary(init, old_vocab, new_vocab, copy_shared=copy_shared, init_new=init_new, seed=seed)
    else:
        model = copy.deepcopy(init)
    unfreeze(model)
    if settings.name in ADAPTER_REGIMES:  # a new alphabet's head always trains
        adapter_spec(settings).apply(model)
        train_adapters(model, head=settings.train_head or new_vocab is not None)
    elif settings.name in ("head", "head-then-full"):
        if new_vocab is None:
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


def _check_vocab(dataset: SpeechDataset | None, vocab: CharVocabulary, what: str) -> None:
    if dataset is not None and dataset.vocab != vocab:
        raise ValueError(f"the {what} set was encoded with another vocabulary ({len(dataset.vocab)} symbols) than the "
                         f"model is fine-tuned into ({len(vocab)} symbols): build it with that vocabulary "
                         "(make_dataset(..., vocab=...)) or pass vocab=")


def stage_configs(config: TrainConfig, head_share: float) -> tuple[TrainConfig, TrainConfig]:
    """The training settings of ``head-then-full``'s two stages: ``head_share`` of the epochs (and
    of ``max_steps``, if set) for the head, the rest for everything, at least one epoch each.

    Raises:
        ValueError: fewer than two epochs (or two steps) to split.
    """
    if config.epochs < 2 or (config.max_steps and config.max_steps < 2):
        raise ValueError(f"head-then-full needs at least 2 epochs (and max_steps 0 or >= 2) to split into two "
                         f"stages, got epochs={config.epochs}, max_steps={config.max_steps}")
    first = min(config.epochs - 1, max(1, round(head_share * config.epochs)))
    steps = (0, 0)
    if config.max_steps:
        head_steps = min(config.max_steps - 1, max(1, round(head_share * config.max_steps)))
        steps = (head_steps, config.max_steps - head_steps)
    return (replace(config, epochs=first, max_steps=steps[0]),
            replace(config, epochs=config.epochs - first, max_steps=steps[1]))


def join_stages(first: History, second: History) -> History:
    """One :class:`History` of a two-stage run: rows get their ``stage`` (1, 2), the second
    stage's steps and epochs are counted on from the first's; best dev WER is the second stage's."""
    steps = first.steps[-1]["step"] if first.steps else 0
    epochs = max((row["epoch"] for row in first.steps), default=-1) + 1

    def shifted(rows: list[dict[str, float]], stage: int, step: float = 0, epoch: float = 0) -> list[dict[str, float]]:
        return [{**row, "stage": stage, "step": row["step"] + step, "epoch": row["epoch"] + epoch} for row in rows]

    return History(steps=shifted(first.steps, 1) + shifted(second.steps, 2, steps, epochs),
                   evals=shifted(first.evals, 1) + shifted(second.evals, 2, steps, epochs),
                   best_dev_wer=second.best_dev_wer,
                   best_step=None if second.best_step is None else second.best_step + int(steps),
                   stopped_early=first.stopped_early or second.stopped_early,
                   seconds=first.seconds + second.seconds, audio_seconds=first.audio_seconds + second.audio_seconds,
                   resumed_from_step=first.resumed_from_step)


def finetune(init: LoadedModel, train: SpeechDataset, regime: Regime | RegimeConfig, config: TrainConfig, *,
             dev: SpeechDataset | None = None, data: LoaderConfig = LoaderConfig(num_workers=0),
             out_dir: str | os.PathLike | None = None, k: int | None = None, layer_decay: float | None = None,
             l2sp_alpha: float | None = None, head_share: float | None = None, progress: bool = False,
             vocab: CharVocabulary | None = None, copy_shared: bool = True, init_new: NewRows = "random",
             auxiliary: AuxiliaryConfig | None = None, replay_data: SpeechDataset | None = None,
             replay: ReplayConfig = ReplayConfig(), bottleneck: int | None = None, rank: int | None = None,
             base: str | os.PathLike | None = None) -> FinetuneResult:
    """Fine-tune a copy of ``init.model`` on ``train`` (a SpeechDataset) with one regime.

    The pretrained model itself is left untouched. With ``out_dir`` the result is written as
    ``out_dir/model.pt`` (loadable by ``asrlab eval --model out_dir``, with the vocabulary of the
    model's outputs) and the run resumes (``head-then-full`` keeps its first stage in
    ``out_dir/head-stage``). The ``adapter`` and ``lora`` regimes write only the adapter (and the
    head if it trained), naming the base (``base``) and its weights' sha256; they train the head
    whenever the base's is untrained or the vocabulary is new.

    Args:
        init: the pretrained model with its features and vocabulary.
        train: the labelled target data, encoded with the vocabulary fine-tuned into.
        regime: a :class:`~asrlab.config.RegimeConfig` or a regime's name (default settings).
        config: optimisation settings (``head-then-full`` splits its epochs, :func:`stage_configs`).
        dev: labelled dev data (same vocabulary) for ``fit``'s evaluations and best model, and for
            the auxiliary head's accuracy.
        data: batching.
        out_dir: the run folder, or None to keep everything in memory.
        k, layer_decay, l2sp_alpha, head_share, bottleneck, rank: replace the regime's settings.
        progress: show a progress bar.
        vocab: the vocabulary to fine-tune into (None: ``init.vocab``); see the module docstring.
        copy_shared: with a new vocabulary, copy the head rows of the symbols both share.
        init_new: with a new vocabulary, ``"random"`` or ``"base_letter"`` rows for new letters.
        auxiliary: a multi-task classification head and its weight mu, or None.
        replay_data: labelled source utterances (same vocabulary) to replay, or None.
        replay: rho and the replay batch size (used with ``replay_data``).
        base: ``adapter``/``lora`` with ``out_dir``: where ``init`` loads from (a pretrained name or a
            model file), stored in the adapter file; default ``init.meta["name"]`` if that is a
            pretrained model's name.

    Raises:
        ValueError: a dataset encoded with another vocabulary than the model's outputs.
    """
    settings = regime_config(regime, top_k=k, layer_decay=layer_decay, l2sp_alpha=l2sp_alpha, head_share=head_share,
                             bottleneck=bottleneck, rank=rank)
    target_vocab = vocab or init.vocab
    save = None
    if settings.name in ADAPTER_REGIMES:
        if init.meta.get("head") == "untrained" or target_vocab != init.vocab:
            settings = replace(settings, train_head=True)
        if out_dir is not None:
            save = adapter_saver(init, settings, base)
    for dataset, what in ((train, "training"), (dev, "dev"), (replay_data, "replay")):
        _check_vocab(dataset, target_vocab, what)
    model, groups, penalty = prepare(init.model, settings, lr=config.lr, seed=config.seed, vocab=target_vocab,
                                     init_vocab=init.vocab, copy_shared=copy_shared, init_new=init_new)
    aux_loss = aux_head = classes = None
    if auxiliary is not None:
        aux_loss, aux_head, classes = build_auxiliary(model, train, auxiliary, seed=config.seed)
    replay_loss = None
    if replay_data is not None:
        replay_loss = SourceReplay(model, replay_data, replay.weight, replay.batch_size, seed=config.seed,
                                   per_step=config.grad_accum)
    extra_loss = combine_extra_losses([penalty, aux_loss, replay_loss])
    meta: dict[str, Any] = {"regime": settings.name, "init": init.meta.get("name")}
    if target_vocab != init.vocab:
        meta.update(init_vocab=list(init.vocab.symbols), copy_shared=copy_shared, init_new=init_new)
    if auxiliary is not None:
        meta["auxiliary"] = {"label": auxiliary.label, "weight": auxiliary.weight}
    if replay_data is not None:
        meta["replay"] = {"weight": replay.weight, "batch_size": replay.batch_size}
    started = time.perf_counter()
    run = dict(data=data, dev=dev, param_groups=groups, extra_loss=extra_loss, extra_modules=aux_head,
               extra_lr=auxiliary.lr if auxiliary is not None else None,
               progress=progress, meta=meta, save=save)
    if settings.name == "head-then-full":
        head_config, full_config = stage_configs(config, settings.head_share)
        first = fit(model, train, head_config, out_dir=Path(out_dir) / HEAD_STAGE_DIR if out_dir is not None else None,
                    **run)  # type: ignore[arg-type]
        unfreeze(model)
        second = fit(model, train, full_config, out_dir=out_dir, **run)  # type: ignore[arg-type]
        history = join_stages(first, second)
    else:
        history = fit(model, train, config, out_dir=out_dir, **run)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    aux_dev = None
    if aux_head is not None and classes is not None and dev is not None:
        aux_dev = auxiliary_accuracy(model, aux_head, dev, classes)
    return FinetuneResult(settings.name, model, history, count_parameters(model, trainable_only=True),
                          count_parameters(model), seconds, Path(out_dir) if out_dir is not None else None,
                          target_vocab, aux_head, classes, aux_dev)


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
                       epochs: int = 10, lr: float = 1e-3, seed: int = 0, progress: bool = True, *,
                       vocab: CharVocabulary | None = None, copy_shared: bool = True, init_new: NewRows = "random",
                       auxiliary: AuxiliaryConfig | None = None, replay: Sequence[str | os.PathLike] | None = None,
                       replay_config: ReplayConfig = ReplayConfig()) -> FinetuneResult:
    """``asrlab finetune``: fine-tune a model file, run folder or pretrained name on manifests.

    ``regime`` is a :class:`~asrlab.config.RegimeConfig` (or a name, with default settings).
    ``out_dir`` is checked before the model is loaded (:func:`~asrlab.files.check_writable`).
    Every manifest (training, dev, replayed source) is encoded with ``vocab`` (None: the model's
    own); ``replay`` names the source manifests to replay (:mod:`asrlab.replay`). The other
    keywords are :func:`finetune`'s.
    """
    check_writable(out_dir, "the run folder (--out)")
    loaded = resolve_ctc_model(init, "fine-tune its CTC variant (e.g. whisper-tiny.en-ctc)")
    target_vocab = vocab or loaded.vocab
    train_set = make_dataset(train, loaded.features, target_vocab)
    dev_set = make_dataset(dev, loaded.features, target_vocab) if dev else None
    replay_set = make_dataset(replay, loaded.features, target_vocab) if replay else None
    config = replace(TrainConfig(), epochs=epochs, lr=lr, seed=seed, warmup_steps=50, checkpoint_every=50)
    return finetune(loaded, train_set, regime, config, dev=dev_set, out_dir=out_dir, progress=progress,
                    vocab=target_vocab, copy_shared=copy_shared, init_new=init_new, auxiliary=auxiliary,
                    replay_data=replay_set, replay=replay_config, base=init)


__all__ = ["ADAPTER_REGIMES", "HEAD_STAGE_DIR", "REGIMES", "AuxiliaryConfig", "FinetuneResult", "Regime", "RegimeConfig",
           "ReplayConfig", "adapter_saver", "adapter_spec", "finetune", "finetune_manifests", "join_stages",
           "l2sp_penalty", "prepare", "reset_head", "stage_configs"]

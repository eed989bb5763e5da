"""The training engine: ``fit()`` trains a CTC model with everything a real run needs.

Devices are chosen automatically (CUDA, MPS, CPU), mixed precision is used on CUDA, gradients
can be accumulated and clipped, learning rates warm up and decay (per parameter group), the dev
set drives early stopping and the best model, checkpoints are written atomically (at every
epoch's end, every ``checkpoint_seconds`` and every ``checkpoint_every`` steps) and a killed run
resumes where it stopped, losing at most an epoch or a minute of work, and a seeded run on the
CPU is deterministic.

Extra loss terms plug in through one hook, ``extra_loss`` (an :class:`ExtraLoss`): each step, a
batch of ``extra_data`` (e.g. unlabelled target speech for domain adaptation) is run through the
model together with the labelled batch, and the hook turns both encoder outputs into a loss and
logs. A penalty on the weights (L2-SP) is such a hook too: :class:`ParameterPenalty`.

Everything a run changes as it goes (weights, optimiser, scheduler, scaler, counters, RNG states,
best model, history) is one :class:`TrainState`, whose ``state_dict()`` is the checkpoint and
whose ``load_state_dict()`` resumes from one.

In a data-parallel job (an :class:`~asrlab.parallel.Distributed` with ``world_size`` > 1, read
from ``torchrun``'s environment by default) the model is wrapped in DistributedDataParallel (gloo
on CPU, NCCL on CUDA); each rank takes its share of the batches and only rank 0 writes files.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from asrlab.config import LoaderConfig, TrainConfig, from_dict
from asrlab.datasets import Batch, SpeechDataset, audio_seconds, make_loader
from asrlab.errors import BlankOutputWarning, CheckpointError
from asrlab.evaluate import evaluate
from asrlab.features import SpecAugment
from asrlab.files import check_writable, unwritable
from asrlab.models.base import CTCModel, EncoderOutput, safe_torch_load
from asrlab.models.checkpoint import atomic_torch_save, load_state, save_model
from asrlab.parallel import Distributed
from asrlab.utils import pick_device, seed_everything

CHECKPOINT_FILE = "checkpoint.pt"


# --------------------------------------------------------------------------- freezing, groups
def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients for every parameter of ``module``; returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Let every parameter of ``module`` train again; returns it."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def train_top_k(model: CTCModel, k: int) -> CTCModel:
    """Freeze the encoder except its top ``k`` blocks; the head always trains.

    ``k=0`` trains the head only; ``k=len(model.encoder.blocks)`` trains everything.
    """
    blocks = model.encoder.blocks
    if not 0 <= k <= len(blocks):
        raise ValueError(f"k must be in [0, {len(blocks)}], got {k}")
    freeze(model.encoder)
    for block in blocks[len(blocks) - k:]:
        unfreeze(block)
    unfreeze(model.head)
    return model


def layerwise_param_groups(model: CTCModel, lr: float, decay: float) -> list[dict[str, Any]]:
    """Parameter groups whose learning rate shrinks by ``decay`` per block below the head.

    The head gets ``lr``, the top encoder block ``lr * decay``, the next ``lr * decay**2``...
    Frozen parameters are left out.
    """
    groups = [{"params": [p for p in model.head.parameters() if p.requires_grad], "lr": lr, "name": "head"}]
    for depth, block in enumerate(reversed(model.encoder.blocks), start=1):
        params = [p for p in block.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay**depth, "name": f"block-{depth}"})
    return [g for g in groups if g["params"]]


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


# --------------------------------------------------------------------------- hooks and history
@dataclass(frozen=True)
class StepInfo:
    """Where training is: ``step`` optimiser steps done of ``total_steps``.

    ``ids`` are the utterance ids of the labelled batch, in the order of its rows (and of the
    hook's ``source`` rows), for hooks that look up something per utterance (a class label,
    :class:`asrlab.multitask.AuxiliaryLoss`); empty where the caller did not give them.
    """

    epoch: int
    step: int
    total_steps: int
    ids: tuple[str, ...] = ()

    @property
    def progress(self) -> float:
        """Fraction of training done, in [0, 1] (the DANN schedule reads it)."""
        return min(1.0, self.step / max(1, self.total_steps))


class ExtraLoss(Protocol):
    """The extension hook of :func:`fit`: an extra loss term, called every step with both
    batches' encoder outputs (inside the step's autocast region).

    Args:
        source: encoder output of the labelled batch (hidden ``(B_s, T, D)``, lengths, layers).
        target: encoder output of the extra batch, or None when there is no extra data.
        info: the current step.

    Returns:
        ``(loss, logs)``: a scalar tensor added to the CTC loss, and floats for the history.
    """

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]: ...


class ParameterPenalty:
    """An :class:`ExtraLoss` made of a penalty on the model's weights (e.g. L2-SP,
    :func:`asrlab.finetune.l2sp_penalty`): it ignores the encoder outputs, computes the penalty
    in float32 (outside autocast) and logs it as ``name``.

    Args:
        penalty: the scalar penalty of a model.
        model: the model being trained (not a DistributedDataParallel wrapper).
        name: the history column of the penalty.
    """

    def __init__(self, penalty: Callable[[CTCModel], torch.Tensor], model: CTCModel, name: str = "reg") -> None:
        self.penalty = penalty
        self.model = model
        self.name = name

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.autocast(source.hidden.device.type, enabled=False):
            value = self.penalty(self.model)
        return value, {self.name: float(value.detach())}


class ExtraLosses:
    """Several :class:`ExtraLoss` hooks as one: their losses are summed and their logs merged.

    Fine-tuning with L2-SP, an auxiliary task and source replay at once passes
    ``ExtraLosses([penalty, auxiliary, replay])`` to :func:`fit`.

    Args:
        parts: the hooks, called in this order each step.

    Raises:
        ValueError: (when called) two hooks log under the same name.
    """

    def __init__(self, parts: Sequence[ExtraLoss]) -> None:
        if not parts:
            raise ValueError("ExtraLosses needs at least one hook")
        self.parts = list(parts)

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]:
        total: torch.Tensor | None = None
        logs: dict[str, float] = {}
        for part in self.parts:
            value, part_logs = part(source, target, info)
            clash = set(logs) & set(part_logs)
            if clash:
                raise ValueError(f"two extra losses log {sorted(clash)}: give them different names")
            logs.update(part_logs)
            total = value if total is None else total + value
        assert total is not None
        return total, logs


def combine_extra_losses(parts: Sequence[ExtraLoss | None]) -> ExtraLoss | None:
    """The hooks of ``parts`` that are not None as one hook: None for none, the hook itself for
    one, an :class:`ExtraLosses` for more."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else ExtraLosses(present)


Callback = Callable[[str, dict[str, Any]], None]


@dataclass
class History:
    """What a run did: one row per optimiser step and one per dev evaluation."""

    steps: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    best_dev_wer: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    audio_seconds: float = 0.0
    resumed_from_step: int | None = None

    def column(self, key: str, evals: bool = False) -> list[float]:
        """Values of ``key`` over steps (or evaluations)."""
        rows = self.evals if evals else self.steps
        return [row[key] for row in rows if key in row]

    @property
    def audio_seconds_per_second(self) -> float:
        return self.audio_seconds / max(self.seconds, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        return cls(**data)


# --------------------------------------------------------------------------- training state
@dataclass
class TrainState:
    """Everything a run changes as it goes, and what a checkpoint keeps to resume it.

    :meth:`state_dict` is the checkpoint (tensors and plain values: it loads with
    ``torch.load(..., weights_only=True)``) and :meth:`load_state_dict` reads one back; the keys
    are those checkpoints have always had, so files written by earlier versions still load.

    Attributes:
        config: the run's training settings (a checkpoint of other settings is refused).
        model: the model being trained (not a DistributedDataParallel wrapper).
        optimizer, scheduler, scaler: AdamW, its learning-rate schedule and the AMP grad scaler.
        aug_rng: the SpecAugment generator.
        extra_modules: modules the extra loss trains (e.g. a domain discriminator), or None.
        history: steps and evaluations so far, with the best dev WER.
        epoch, batch_in_epoch: where the labelled data stands.
        step: optimiser steps done.
        extra_epoch, extra_batch: where the extra data stands.
        patience_left: dev evaluations without improvement before early stopping.
        best_model: CPU copy of the weights with the best dev WER so far, or None.
    """

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    aug_rng: torch.Generator
    extra_modules: nn.Module | None = None
    history: History = field(default_factory=History)
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    extra_epoch: int = 0
    extra_batch: int = 0
    patience_left: int = 0
    best_model: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: every field, plus torch's global CPU RNG state (dropout masks)."""
        return {
            "train_config": _jsonable(asdict(self.config)), "model": _cpu(self.model.state_dict()),
            "extra_modules": _cpu(self.extra_modules.state_dict()) if self.extra_modules is not None else {},
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": torch.get_rng_state(), "aug_rng": self.aug_rng.get_state(),
            "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "step": self.step,
            "extra_epoch": self.extra_epoch, "extra_batch": self.extra_batch, "patience_left": self.patience_left,
            "best_model": self.best_model, "history": _jsonable(self.history.to_dict()),
        }

    def load_state_dict(self, state: Mapping[str, Any], source: str = "the checkpoint") -> None:
        """Continue from ``state`` (a :meth:`state_dict`); also sets torch's global CPU RNG.

        Args:
            state: the checkpoint.
            source: where it came from, for error messages (e.g. its path).

        Raises:
            CheckpointError: it was written with other training settings, or its weights do
                not fit the model.
        """
        if from_dict(TrainConfig, state["train_config"]) != self.config:
            raise CheckpointError(
                f"{source} was written by a run with other training settings; use another out_dir "
                "or delete the checkpoint to start over (resume=False)."
            )
        load_state(self.model, state["model"], source)
        if self.extra_modules is not None:
            load_state(self.extra_modules, state["extra_modules"], source)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        self.aug_rng.set_state(state["aug_rng"])
        self.epoch, self.batch_in_epoch, self.step = state["epoch"], state["batch_in_epoch"], state["step"]
        self.extra_epoch, self.extra_batch = state["extra_epoch"], state["extra_batch"]
        self.patience_left = state["patience_left"]
        self.best_model = state.get("best_model")
        self.history = History.from_dict(state["history"])


def new_state(model: nn.Module, config: TrainConfig, param_groups: Sequence[dict[str, Any]] | None = None,
              extra_modules: nn.Module | None = None, *, total_steps: int,
              amp_dtype: torch.dtype | None = None, extra_lr: float | None = None) -> TrainState:
    """A fresh :class:`TrainState`: AdamW over ``param_groups`` (default: every trainable
    parameter at ``config.lr``) plus ``extra_modules``, the schedule (warm-up, then cosine decay
    to 5% over ``total_steps`` optimiser steps, or constant), a grad scaler (active for float16
    autocast only), the SpecAugment generator. ``extra_lr`` is the peak learning rate of
    ``extra_modules`` (default ``config.lr``): a fresh head beside a pretrained model may want a larger one.

    :func:`fit` starts from one, and so does any other loop that takes its steps with
    :func:`optimizer_step` (e.g. the course's probes on cached features).
    """
    if param_groups is None:
        param_groups = [{"params": trainable_parameters(model), "lr": config.lr}]
    groups = [dict(g) for g in param_groups]
    if extra_modules is not None:
        groups.append({"params": trainable_parameters(extra_modules), "lr": extra_lr or config.lr, "name": "extra"})
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    return TrainState(config, model, optimizer, scheduler, scaler, torch.Generator().manual_seed(config.seed),
                      extra_modules, patience_left=config.early_stop_patience)


# --------------------------------------------------------------------------- helpers
def _amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Autocast dtype of the forward pass: bfloat16 where the GPU has it, else float16; None (full
    precision) off CUDA or with ``config.amp`` off."""
    if not (config.amp and device.type == "cuda"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    def scale(step: int) -> float:
        if config.warmup_steps and step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.scheduler == "constant":
            return 1.0
        span = max(1, total_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
    return scale


def _cycle(loader: torch.utils.data.DataLoader, epoch: int, start: int) -> Iterator[tuple[int, int, Batch]]:
    """Endless batches of ``loader``, yielding (epoch, batch index, batch)."""
    while True:
        loader.batch_sampler.set_epoch(epoch, start)
        for offset, batch in enumerate(loader):
            yield epoch, start + offset, batch
        epoch, start = epoch + 1, 0


def _concat(a: Batch, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack two batches' features into one padded ``(B_a + B_b, T, F)`` tensor with lengths."""
    t = max(a.feats.shape[1], b.feats.shape[1])
    feats = torch.cat([F.pad(a.feats, (0, 0, 0, t - a.feats.shape[1])),
                       F.pad(b.feats, (0, 0, 0, t - b.feats.shape[1]))])
    return feats, torch.cat([a.feat_lens, b.feat_lens])


def _split(out: EncoderOutput, n: int) -> tuple[EncoderOutput, EncoderOutput]:
    def part(sl: slice) -> EncoderOutput:
        return EncoderOutput(out.hidden[sl], out.lengths[sl], [x[sl] for x in out.layers])
    return part(slice(0, n)), part(slice(n, None))


def _check_finite(loss: torch.Tensor, batch: Batch, what: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"{what} loss is {float(loss.detach())} on the batch with utterances {batch.ids[:8]}: an audio file "
            "holds silence or corrupt samples, a transcript is too long for its audio, or the learning "
            "rate is too high (try a lower lr or grad_clip). Training stopped instead of going on with NaNs."
        )


# --------------------------------------------------------------------------- one step
def step_loss(net: nn.Module, batch: Batch, feats: torch.Tensor, *, blank: int, info: StepInfo,
              extra_loss: ExtraLoss | None = None, target: Batch | None = None,
              amp_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """The loss of one labelled micro-batch, with the extra loss when there is one.

    Args:
        net: the model (or its DistributedDataParallel wrapper).
        batch: the labelled batch, on the model's device.
        feats: its ``(B, T, F)`` features as the model sees them (after SpecAugment).
        blank: the CTC blank id.
        info: the current step, for ``extra_loss``.
        extra_loss: the hook; with it the model also returns its encoder output.
        target: a batch of extra data run together with ``batch`` (the hook's ``target``).
        amp_dtype: the forward pass's autocast dtype, None for full precision.

    Returns:
        ``(total, ctc, logs)``: scalar losses and the hook's logs.

    Raises:
        FloatingPointError: the CTC or total loss is not finite (naming the batch's utterances).
    """
    with torch.autocast(feats.device.type, dtype=amp_dtype or torch.float16, enabled=amp_dtype is not None):
        if extra_loss is not None:
            if target is not None:
                all_feats, all_lens = _concat(Batch(feats, batch.feat_lens, batch.tokens, batch.token_lens,
                                                    batch.texts, batch.ids), target)
            else:
                all_feats, all_lens = feats, batch.feat_lens
            log_probs, out_lens, enc = net(all_feats, all_lens, return_encoder=True)
            log_probs, out_lens = log_probs[: batch.size], out_lens[: batch.size]
            source_enc, target_enc = _split(enc, batch.size) if target is not None else (enc, None)
            extra, logs = extra_loss(source_enc, target_enc, info)
        else:
            log_probs, out_lens = net(feats, batch.feat_lens)
            extra, logs = None, {}
    ctc = F.ctc_loss(log_probs.float().transpose(0, 1), batch.tokens, out_lens, batch.token_lens,
                     blank=blank, reduction="mean", zero_infinity=False)
    _check_finite(ctc, batch, "CTC")
    loss = ctc if extra is None else ctc + extra.float()
    _check_finite(loss, batch, "total")
    return loss, ctc, logs


def optimizer_step(state: TrainState, world_size: int = 1) -> None:
    """Apply the accumulated gradients: average the extra modules' across processes, clip,
    step the optimiser (through the AMP scaler), clear the gradients, advance the schedule."""
    if state.extra_modules is not None and world_size > 1:
        _allreduce_grads(state.extra_modules, world_size)
    if state.config.grad_clip > 0:
        state.scaler.unscale_(state.optimizer)
        params = [p for g in state.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, state.config.grad_clip)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()
    state.step += 1


# --------------------------------------------------------------------------- fit
def fit(
    model: CTCModel,
    train: SpeechDataset,
    config: TrainConfig = TrainConfig(),
    *,
    data: LoaderConfig = LoaderConfig(),
    dev: SpeechDataset | None = None,
    out_dir: str | os.PathLike | None = None,
    param_groups: Sequence[dict[str, Any]] | None = None,
    extra_loss: ExtraLoss | None = None,
    extra_data: SpeechDataset | None = None,
    extra_modules: nn.Module | None = None,
    extra_lr: float | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    resume: bool = True,
    meta: dict[str, Any] | None = None,
    distributed: Distributed | None = None,
    save: Callable[..., Any] | None = None,
) -> History:
    """Train ``model`` with CTC on ``train``.

    Args:
        model: the model; trained in place (its best dev state is loaded back at the end).
        train: labelled training data.
        config: optimisation settings.
        data: batching settings.
        dev: labelled dev data for evaluation, early stopping and the best model.
        out_dir: where ``checkpoint.pt`` (resume state) and ``model.pt`` (best model) go; None
            keeps everything in memory. It is checked before training starts.
        param_groups: optimiser groups (e.g. :func:`layerwise_param_groups`); default: every
            trainable parameter at ``config.lr``.
        extra_loss: the extension hook, an :class:`ExtraLoss` added to the CTC loss each step
            (domain alignment; a weight penalty such as L2-SP as a :class:`ParameterPenalty`).
        extra_data: data for ``extra_loss`` (unlabelled is fine), batched on its own.
        extra_modules: modules the extra loss trains (e.g. a domain discriminator).
        extra_lr: their peak learning rate (default ``config.lr``).
        callbacks: functions ``(event, state)`` called on ``"step"``, ``"eval"`` and ``"epoch"``.
        progress: show a tqdm progress bar (notebook or terminal).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        meta: extra metadata stored in ``model.pt``.
        save: writes ``model.pt``, called as ``save(path, model, features, vocab, meta)``; None is
            :func:`~asrlab.models.checkpoint.save_model` (the whole model). The ``adapter`` and
            ``lora`` regimes of :mod:`asrlab.finetune` pass one that writes only what they add.
        distributed: this process's place in a data-parallel job; None reads it from
            ``torchrun``'s environment (:meth:`~asrlab.parallel.Distributed.from_env`), which
            is a single process when there is no job.

    Returns:
        The :class:`History` of the run.

    Raises:
        OutputError: ``out_dir`` cannot be written (before training), or a checkpoint or the
            model could not be saved (the disk filled up during the run).
    """
    job = (distributed if distributed is not None else Distributed.from_env()).start()
    rank, world = job.rank, job.world_size
    device = pick_device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", job.local_rank)
    seed_everything(config.seed)
    model.to(device)
    if extra_modules is not None:
        extra_modules.to(device)
    out_path = Path(out_dir) if out_dir is not None else None
    if out_path is not None and rank == 0:
        check_writable(out_path, "the run folder (out_dir)")  # now, not at the end of the run

    train_loader = make_loader(train, data, shuffle=True, seed=config.seed, rank=rank, world_size=world)
    extra_loader = (make_loader(extra_data, data, shuffle=True, seed=config.seed + 1, rank=rank, world_size=world)
                    if extra_data is not None else None)

    def batches_in(e: int) -> int:
        """Batches in epoch ``e``: the count varies from epoch to epoch (packing follows the shuffle)."""
        train_loader.batch_sampler.set_epoch(e)
        return len(train_loader.batch_sampler)

    total_steps = config.max_steps or sum(math.ceil(batches_in(e) / config.grad_accum)
                                          for e in range(config.epochs))

    amp_dtype = _amp_dtype(config, device)
    state = new_state(model, config, param_groups, extra_modules, total_steps=total_steps, amp_dtype=amp_dtype,
                      extra_lr=extra_lr)
    augment = SpecAugment(config.specaugment) if config.specaugment else None
    ckpt_file = out_path / CHECKPOINT_FILE if out_path else None
    if resume and ckpt_file is not None and ckpt_file.is_file():
        saved = safe_torch_load(ckpt_file, "a training checkpoint", f"Delete it (or the run folder {out_path}) "
                                "to train from the start.")
        if not isinstance(saved, dict) or "train_config" not in saved:
            raise CheckpointError(f"{ckpt_file} is not an asrlab training checkpoint (no train_config); delete it "
                                  "to train from the start.")
        state.load_state_dict(saved, str(ckpt_file))
        state.history.resumed_from_step = state.step
    history = state.history

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    extra_iter = _cycle(extra_loader, state.extra_epoch, state.extra_batch) if extra_loader is not None else None

    last_saved = _clock()

    def save_checkpoint() -> None:
        nonlocal last_saved
        last_saved = _clock()
        if ckpt_file is not None and rank == 0:
            try:
                atomic_torch_save(state.state_dict(), ckpt_file)
            except OSError as error:  # the disk filled up during the run: the last checkpoint is intact
                raise unwritable(ckpt_file, "the checkpoint", error) from error

    def run_eval() -> bool:
        """Evaluate on dev; returns True when early stopping says stop."""
        if dev is None:
            return False
        with warnings.catch_warnings():
            # blank-only output is expected early on (CTC's blank-first plateau): warn on final evaluations only
            warnings.simplefilter("ignore", BlankOutputWarning)
            result = evaluate(model, dev, LoaderConfig(max_seconds=data.max_seconds, num_workers=0), device)
        row = {"step": state.step, "epoch": state.epoch, "dev_wer": result.rates.wer, "dev_cer": result.rates.cer,
               "dev_loss": result.loss}
        history.evals.append(row)
        for cb in callbacks:
            cb("eval", {"row": row, "history": history})
        if history.best_dev_wer is None or result.rates.wer < history.best_dev_wer:
            history.best_dev_wer, history.best_step = result.rates.wer, state.step
            state.best_model = _cpu(model.state_dict())
            state.patience_left = config.early_stop_patience
            return False
        state.patience_left -= 1
        return config.early_stop_patience > 0 and state.patience_left <= 0

    bar = tqdm(total=total_steps, initial=state.step, desc="train", unit="step",
               disable=not progress or rank != 0, leave=False, dynamic_ncols=True)
    start_time = time.perf_counter() - history.seconds
    model.train()
    if augment is not None:
        augment.train()
    stop = state.step >= total_steps
    micro = 0
    running: dict[str, float] = {}
    while not stop and state.epoch < config.epochs:
        epoch_size = batches_in(state.epoch)
        train_loader.batch_sampler.set_epoch(state.epoch, state.batch_in_epoch)
        for batch in train_loader:
            batch = batch.to(device)
            feats = augment(batch.feats, batch.feat_lens, state.aug_rng) if augment is not None else batch.feats
            target = None
            if extra_loss is not None and extra_iter is not None:
                state.extra_epoch, state.extra_batch, target = next(extra_iter)
                state.extra_batch += 1
                target = target.to(device)
            loss, ctc, logs = step_loss(net, batch, feats, blank=train.vocab.blank,
                                        info=StepInfo(state.epoch, state.step, total_steps, tuple(batch.ids)),
                                        extra_loss=extra_loss, target=target, amp_dtype=amp_dtype)
            state.scaler.scale(loss / config.grad_accum).backward()
            micro += 1
            state.batch_in_epoch += 1
            history.audio_seconds += audio_seconds(batch, train.features) * world
            for key, value in {"loss": loss.item(), "ctc": ctc.item(), **logs}.items():
                running[key] = running.get(key, 0.0) + float(value)
            last_of_epoch = state.batch_in_epoch >= epoch_size
            if micro % config.grad_accum and not last_of_epoch:
                continue
            optimizer_step(state, world)
            row = {k: v / micro for k, v in running.items()}
            row.update(step=state.step, epoch=state.epoch, lr=state.optimizer.param_groups[0]["lr"])
            history.steps.append(row)
            running, micro = {}, 0
            history.seconds = time.perf_counter() - start_time
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3f}", refresh=False)
            for cb in callbacks:
                cb("step", {"row": row, "history": history, "model": model})
            stop = state.step >= total_steps
            if config.eval_every and state.step % config.eval_every == 0:
                stop = run_eval() or stop
                history.stopped_early = history.stopped_early or (stop and state.step < total_steps)
            if ((config.checkpoint_every and state.step % config.checkpoint_every == 0)
                    or (config.checkpoint_seconds and _clock() - last_saved >= config.checkpoint_seconds)):
                save_checkpoint()
            if stop:
                break
        if state.batch_in_epoch >= epoch_size:
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
            if not config.eval_every:
                early = run_eval()
                history.stopped_early = history.stopped_early or (early and state.epoch < config.epochs)
                stop = stop or early
            for cb in callbacks:
                cb("epoch", {"epoch": state.epoch, "history": history})
            save_checkpoint()  # every epoch: a kill loses at most one epoch (or checkpoint_seconds) of work
    bar.close()
    history.seconds = time.perf_counter() - start_time
    save_checkpoint()
    if state.best_model is not None:
        model.load_state_dict(state.best_model)
    if out_path is not None and rank == 0:
        run_meta = {"train_config": _jsonable(asdict(config)), "steps": state.step,
                    "best_dev_wer": history.best_dev_wer, "seconds": history.seconds, **(meta or {})}
        try:
            (save or save_model)(out_path / "model.pt", model, train.features, train.vocab, run_meta)
        except OSError as error:
            raise unwritable(out_path / "model.pt", "the trained model", error) from error
    return history


def _clock() -> float:
    """Seconds on a monotonic clock, for checkpoints by time (a function, so tests can stand in a fake one)."""
    return time.monotonic()


def _allreduce_grads(module: nn.Module, world: int) -> None:
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _jsonable(value: Any) -> Any:
    """Tuples to lists, recursively, so the value survives ``weights_only`` loading."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


__all__ = ["CHECKPOINT_FILE", "Distributed", "ExtraLoss", "ExtraLosses", "History", "ParameterPenalty", "StepInfo",
           "TrainState", "combine_extra_losses", "fit", "freeze", "layerwise_param_groups", "new_state",
           "optimizer_step", "step_loss", "train_top_k", "trainable_parameters", "unfreeze"]

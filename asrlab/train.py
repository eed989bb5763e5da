"""The training engine: ``fit()`` trains a CTC model with everything a real run needs.

Devices are chosen automatically (CUDA, MPS, CPU), mixed precision is used on CUDA, gradients
can be accumulated and clipped, learning rates warm up and decay (per parameter group), the dev
set drives early stopping and the best model, checkpoints are written atomically and a killed
run resumes where it stopped, and a seeded run on the CPU is deterministic.

Extra loss terms (domain adaptation) plug in through ``extra_loss``: each step, a batch of
``extra_data`` (e.g. unlabelled target speech) is run through the model together with the
labelled batch, and the hook turns both encoder outputs into a loss and logs.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel (gloo on
CPU, NCCL on CUDA); each rank takes its share of the batches and only rank 0 writes files.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from asrlab.config import DataConfig, TrainConfig, from_dict
from asrlab.datasets import Batch, SpeechDataset, audio_seconds, make_loader
from asrlab.errors import BlankOutputWarning, CheckpointError
from asrlab.evaluate import evaluate
from asrlab.features import SpecAugment
from asrlab.models.base import CTCModel, EncoderOutput
from asrlab.models.checkpoint import atomic_torch_save, load_state, save_model
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
    """Where training is: ``step`` optimiser steps done of ``total_steps``."""

    epoch: int
    step: int
    total_steps: int

    @property
    def progress(self) -> float:
        """Fraction of training done, in [0, 1] (the DANN schedule reads it)."""
        return min(1.0, self.step / max(1, self.total_steps))


class ExtraLoss(Protocol):
    """An extra loss term: called every step with both batches' encoder outputs.

    Args:
        source: encoder output of the labelled batch (hidden ``(B_s, T, D)``, lengths, layers).
        target: encoder output of the extra batch, or None when there is no extra data.
        info: the current step.

    Returns:
        ``(loss, logs)``: a scalar tensor added to the CTC loss, and floats for the history.
    """

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]: ...


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


# --------------------------------------------------------------------------- helpers
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


def _distributed() -> tuple[int, int]:
    """(rank, world size), starting the process group under torchrun if needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


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


# --------------------------------------------------------------------------- fit
def fit(
    model: CTCModel,
    train: SpeechDataset,
    config: TrainConfig = TrainConfig(),
    *,
    data: DataConfig = DataConfig(),
    dev: SpeechDataset | None = None,
    out_dir: str | os.PathLike | None = None,
    param_groups: Sequence[dict[str, Any]] | None = None,
    extra_loss: ExtraLoss | None = None,
    regularizer: Callable[[CTCModel], torch.Tensor] | None = None,
    extra_data: SpeechDataset | None = None,
    extra_modules: nn.Module | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    resume: bool = True,
    meta: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` with CTC on ``train``.

    Args:
        model: the model; trained in place (its best dev state is loaded back at the end).
        train: labelled training data.
        config: optimisation settings.
        data: batching settings.
        dev: labelled dev data for evaluation, early stopping and the best model.
        out_dir: where ``checkpoint.pt`` (resume state) and ``model.pt`` (best model) go; None
            keeps everything in memory.
        param_groups: optimiser groups (e.g. :func:`layerwise_param_groups`); default: every
            trainable parameter at ``config.lr``.
        extra_loss: an :class:`ExtraLoss` added to the CTC loss each step.
        extra_data: data for ``extra_loss`` (unlabelled is fine), batched on its own.
        extra_modules: modules the extra loss trains (e.g. a domain discriminator).
        regularizer: a penalty on the model's parameters added to the loss every step (e.g.
            L2-SP, :func:`asrlab.finetune.l2sp_penalty`), logged as ``"reg"``.
        callbacks: functions ``(event, state)`` called on ``"step"``, ``"eval"`` and ``"epoch"``.
        progress: show a tqdm progress bar (notebook or terminal).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        meta: extra metadata stored in ``model.pt``.

    Returns:
        The :class:`History` of the run.
    """
    rank, world = _distributed()
    device = pick_device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    seed_everything(config.seed)
    model.to(device)
    if extra_modules is not None:
        extra_modules.to(device)
    out_path = Path(out_dir) if out_dir is not None else None

    train_loader = make_loader(train, data, shuffle=True, seed=config.seed, rank=rank, world_size=world)
    extra_loader = (make_loader(extra_data, data, shuffle=True, seed=config.seed + 1, rank=rank, world_size=world)
                    if extra_data is not None else None)

    def batches_in(e: int) -> int:
        """Batches in epoch ``e``: the count varies from epoch to epoch (packing follows the shuffle)."""
        train_loader.batch_sampler.set_epoch(e)
        return len(train_loader.batch_sampler)

    total_steps = config.max_steps or sum(math.ceil(batches_in(e) / config.grad_accum)
                                          for e in range(config.epochs))

    if param_groups is None:
        param_groups = [{"params": trainable_parameters(model), "lr": config.lr}]
    groups = [dict(g) for g in param_groups]
    if extra_modules is not None:
        groups.append({"params": trainable_parameters(extra_modules), "lr": config.lr, "name": "extra"})
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("nothing to train: every parameter is frozen")
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    use_amp = config.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    augment = SpecAugment(config.specaugment) if config.specaugment else None
    aug_gen = torch.Generator().manual_seed(config.seed)

    history = History()
    epoch, batch_in_epoch, step = 0, 0, 0
    extra_epoch, extra_batch = 0, 0
    patience_left = config.early_stop_patience
    best_state: dict[str, torch.Tensor] | None = None
    ckpt_file = out_path / CHECKPOINT_FILE if out_path else None
    if resume and ckpt_file is not None and ckpt_file.is_file():
        state = torch.load(ckpt_file, map_location="cpu", weights_only=True)
        if from_dict(TrainConfig, state["train_config"]) != config:
            raise CheckpointError(
                f"{ckpt_file} was written by a run with other training settings; use another out_dir "
                "or delete the checkpoint to start over (resume=False)."
            )
        load_state(model, state["model"], str(ckpt_file))
        if extra_modules is not None:
            load_state(extra_modules, state["extra_modules"], str(ckpt_file))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        aug_gen.set_state(state["aug_rng"])
        epoch, batch_in_epoch, step = state["epoch"], state["batch_in_epoch"], state["step"]
        extra_epoch, extra_batch = state["extra_epoch"], state["extra_batch"]
        patience_left = state["patience_left"]
        best_state = state.get("best_model")
        history = History.from_dict(state["history"])
        history.resumed_from_step = step

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    extra_iter = _cycle(extra_loader, extra_epoch, extra_batch) if extra_loader is not None else None

    def save_checkpoint() -> None:
        if ckpt_file is None or rank != 0:
            return
        atomic_torch_save({
            "train_config": _jsonable(asdict(config)), "model": _cpu(model.state_dict()),
            "extra_modules": _cpu(extra_modules.state_dict()) if extra_modules is not None else {},
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "rng": torch.get_rng_state(), "aug_rng": aug_gen.get_state(),
            "epoch": epoch, "batch_in_epoch": batch_in_epoch, "step": step,
            "extra_epoch": extra_epoch, "extra_batch": extra_batch, "patience_left": patience_left,
            "best_model": best_state, "history": _jsonable(history.to_dict()),
        }, ckpt_file)

    def run_eval() -> bool:
        """Evaluate on dev; returns True when early stopping says stop."""
        nonlocal best_state, patience_left
        if dev is None:
            return False
        with warnings.catch_warnings():
            # blank-only output is expected early on (CTC's blank-first plateau): warn on final evaluations only
            warnings.simplefilter("ignore", BlankOutputWarning)
            result = evaluate(model, dev, DataConfig(max_seconds=data.max_seconds, num_workers=0), device)
        row = {"step": step, "epoch": epoch, "dev_wer": result.rates.wer, "dev_cer": result.rates.cer,
               "dev_loss": result.loss}
        history.evals.append(row)
        for cb in callbacks:
            cb("eval", {"row": row, "history": history})
        if history.best_dev_wer is None or result.rates.wer < history.best_dev_wer:
            history.best_dev_wer, history.best_step = result.rates.wer, step
            best_state = _cpu(model.state_dict())
            patience_left = config.early_stop_patience
            return False
        patience_left -= 1
        return config.early_stop_patience > 0 and patience_left <= 0

    bar = tqdm(total=total_steps, initial=step, desc="train", unit="step",
               disable=not progress or rank != 0, leave=False, dynamic_ncols=True)
    start_time = time.perf_counter() - history.seconds
    model.train()
    if augment is not None:
        augment.train()
    stop = step >= total_steps
    micro = 0
    running: dict[str, float] = {}
    while not stop and epoch < config.epochs:
        epoch_size = batches_in(epoch)
        train_loader.batch_sampler.set_epoch(epoch, batch_in_epoch)
        for batch in train_loader:
            batch = batch.to(device)
            feats = augment(batch.feats, batch.feat_lens, aug_gen) if augment is not None else batch.feats
            info = StepInfo(epoch, step, total_steps)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                if extra_loss is not None:
                    target = None
                    if extra_iter is not None:
                        extra_epoch, extra_batch, target_batch = next(extra_iter)
                        extra_batch += 1
                        target_batch = target_batch.to(device)
                        all_feats, all_lens = _concat(Batch(feats, batch.feat_lens, batch.tokens, batch.token_lens,
                                                            batch.texts, batch.ids), target_batch)
                    else:
                        all_feats, all_lens = feats, batch.feat_lens
                    log_probs, out_lens, enc = net(all_feats, all_lens, return_encoder=True)
                    log_probs, out_lens = log_probs[: batch.size], out_lens[: batch.size]
                    source_enc, target_enc = _split(enc, batch.size) if extra_iter is not None else (enc, None)
                    extra, logs = extra_loss(source_enc, target_enc, info)
                else:
                    log_probs, out_lens = net(feats, batch.feat_lens)
                    extra, logs = None, {}
            ctc = F.ctc_loss(log_probs.float().transpose(0, 1), batch.tokens, out_lens, batch.token_lens,
                             blank=train.vocab.blank, reduction="mean", zero_infinity=False)
            _check_finite(ctc, batch, "CTC")
            loss = ctc if extra is None else ctc + extra.float()
            if regularizer is not None:
                reg = regularizer(model)
                logs = {**logs, "reg": float(reg.detach())}
                loss = loss + reg
            _check_finite(loss, batch, "total")
            scaler.scale(loss / config.grad_accum).backward()
            micro += 1
            batch_in_epoch += 1
            history.audio_seconds += audio_seconds(batch, train.features) * world
            for key, value in {"loss": loss.item(), "ctc": ctc.item(), **logs}.items():
                running[key] = running.get(key, 0.0) + float(value)
            last_of_epoch = batch_in_epoch >= epoch_size
            if micro % config.grad_accum and not last_of_epoch:
                continue
            if extra_modules is not None and world > 1:
                _allreduce_grads(extra_modules, world)
            if config.grad_clip > 0:
                scaler.unscale_(optimizer)
                params = [p for g in optimizer.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            row = {k: v / micro for k, v in running.items()}
            row.update(step=step, epoch=epoch, lr=optimizer.param_groups[0]["lr"])
            history.steps.append(row)
            running, micro = {}, 0
            history.seconds = time.perf_counter() - start_time
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3f}", refresh=False)
            for cb in callbacks:
                cb("step", {"row": row, "history": history, "model": model})
            stop = step >= total_steps
            if config.eval_every and step % config.eval_every == 0:
                stop = run_eval() or stop
                history.stopped_early = history.stopped_early or (stop and step < total_steps)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save_checkpoint()
            if stop:
                break
        if batch_in_epoch >= epoch_size:
            epoch, batch_in_epoch = epoch + 1, 0
            if not config.eval_every:
                early = run_eval()
                history.stopped_early = history.stopped_early or (early and epoch < config.epochs)
                stop = stop or early
            for cb in callbacks:
                cb("epoch", {"epoch": epoch, "history": history})
            if not config.checkpoint_every or stop:
                save_checkpoint()
    bar.close()
    history.seconds = time.perf_counter() - start_time
    save_checkpoint()
    if best_state is not None:
        model.load_state_dict(best_state)
    if out_path is not None and rank == 0:
        run_meta = {"train_config": _jsonable(asdict(config)), "steps": step,
                    "best_dev_wer": history.best_dev_wer, "seconds": history.seconds, **(meta or {})}
        save_model(out_path / "model.pt", model, train.features, train.vocab, run_meta)
    return history


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


__all__ = ["CHECKPOINT_FILE", "ExtraLoss", "History", "StepInfo", "fit", "freeze", "unfreeze",
           "layerwise_param_groups", "train_top_k", "trainable_parameters"]

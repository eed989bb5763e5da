"""End-to-end fine-tuning of Whisper on a target domain: its own decoder, tokenizer and loss.

:func:`finetune_whisper` trains a copy of a pretrained ``whisper.model.Whisper`` with teacher
forcing on target transcripts (:mod:`asrlab.models.whisper_seq2seq`), with the optimiser,
schedule and clipping of :mod:`asrlab.train` (``new_state``, ``optimizer_step``). What trains is
a :data:`~asrlab.models.whisper_seq2seq.Freezing`; forgetting is limited by L2-SP (a pull
towards the pretrained weights) or by source replay (labelled source utterances in every batch).
:func:`finetune_whisper_manifests` is ``asrlab finetune --init whisper-tiny.en``.
"""
from __future__ import annotations

import copy
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from asrlab.audio import load_audio
from asrlab.config import TrainConfig
from asrlab.files import check_writable
from asrlab.manifest import read_manifest
from asrlab.models.whisper_seq2seq import (FREEZINGS, Freezing, Safeguards, apply_freezing, log_mel_batch,
                                           seq2seq_loss, text_targets, transcribe_variable, whisper_tokenizer,
                                           window_decode)
from asrlab.models.whisper_tuned import save_tuned_whisper
from asrlab.train import new_state, optimizer_step

if TYPE_CHECKING:  # pragma: no cover
    import whisper


@dataclass(frozen=True)
class WhisperTuneConfig:
    """One Whisper fine-tuning run.

    Attributes:
        freezing: what trains: ``"decoder"``, ``"top-encoder"`` (with ``top_layers``) or ``"all"``.
        top_layers: encoder blocks trained by ``"top-encoder"``.
        lr: peak learning rate (AdamW; Whisper fine-tunes at 1e-5 to 1e-4).
        steps: optimiser steps.
        batch_size: target utterances per step.
        window: train on 30 s windows (what the pretrained model saw) instead of variable-length input.
        l2sp_alpha: L2-SP strength: ``alpha / 2 * ||w - w0||^2`` over the trained weights (0: off).
        replay: labelled source utterances added to every batch (0: none).
        warmup_steps: linear warm-up steps.
        tokens_per_second: decoding cap on text tokens per second of audio.
        seed: batch order and replay draw.
    """

    freezing: Freezing = "all"
    top_layers: int = 2
    lr: float = 3e-5
    steps: int = 60
    batch_size: int = 8
    window: bool = False
    l2sp_alpha: float = 0.0
    replay: int = 0
    warmup_steps: int = 6
    tokens_per_second: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.freezing not in FREEZINGS:
            raise ValueError(f"unknown freezing {self.freezing!r}; use one of {FREEZINGS}")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.l2sp_alpha < 0 or self.replay < 0:
            raise ValueError(f"lr must be > 0 and l2sp_alpha, replay >= 0; got {self.lr}, {self.l2sp_alpha}, "
                             f"{self.replay}")


@dataclass
class Labelled:
    """Labelled audio: ``(samples,)`` waveforms at 16 kHz and their transcripts."""

    waves: list[np.ndarray]
    texts: list[str]

    def __post_init__(self) -> None:
        if len(self.waves) != len(self.texts):
            raise ValueError(f"{len(self.waves)} waves but {len(self.texts)} transcripts")

    def __len__(self) -> int:
        return len(self.waves)

    @property
    def seconds(self) -> float:
        return sum(len(w) for w in self.waves) / 16_000


def read_labelled(manifests: Sequence[str | os.PathLike], limit: int | None = None,
                  max_seconds: float | None = None) -> Labelled:
    """The audio and transcripts of manifest files (the first ``limit`` lines of each), leaving
    out utterances longer than ``max_seconds`` (e.g. 30: Whisper's window)."""
    utterances = [u for m in manifests for u in read_manifest(m)[:limit]
                  if max_seconds is None or u.duration <= max_seconds]
    return Labelled([load_audio(u.audio) for u in utterances], [u.text for u in utterances])


@dataclass
class WhisperTuneResult:
    """What a run produced: the model, its losses per step, its cost."""

    model: "whisper.model.Whisper"
    config: WhisperTuneConfig
    losses: list[float]
    seconds: float
    audio_seconds: float
    trainable_parameters: int
    total_parameters: int
    meta: dict[str, Any] = field(default_factory=dict)


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (sorted, cut, then shuffled), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def l2sp_term(model: torch.nn.Module, anchor: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    """``alpha / 2 * sum ||w - w0||^2`` over the trainable parameters of ``model``."""
    total = torch.zeros(())
    for name, p in model.named_parameters():
        if p.requires_grad:
            total = total + (p - anchor[name]).pow(2).sum()
    return 0.5 * alpha * total


def finetune_whisper(base: "whisper.model.Whisper", train: Labelled, config: WhisperTuneConfig = WhisperTuneConfig(),
                     source: Labelled | None = None, progress: bool = False) -> WhisperTuneResult:
    """Fine-tune a copy of ``base`` on ``train`` (``base`` is left untouched), on the CPU or its device.

    Args:
        base: a pretrained ``whisper.model.Whisper``.
        train: the target's labelled utterances (each at most 30 s).
        config: :class:`WhisperTuneConfig`.
        source: labelled source utterances for replay (needed when ``config.replay > 0``).
        progress: show a progress bar.

    Returns:
        :class:`WhisperTuneResult` with the model in eval mode.

    Raises:
        ValueError: no training utterances, or replay without ``source``.
    """
    if not len(train):
        raise ValueError("no training utterances")
    if config.replay and (source is None or not len(source)):
        raise ValueError(f"replay={config.replay} needs labelled source utterances (source=...)")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = apply_freezing(copy.deepcopy(base).float(), config.freezing, config.top_layers)
    device = next(model.parameters()).device
    tokenizer = whisper_tokenizer(model)
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()} if config.l2sp_alpha else {}
    train_config = replace(TrainConfig(), lr=config.lr, warmup_steps=config.warmup_steps, seed=config.seed,
                           specaugment=None, amp=False, weight_decay=0.0, grad_clip=1.0)
    state = new_state(model, train_config, total_steps=config.steps)
    lengths = [len(w) for w in train.waves]
    batches: list[list[int]] = []
    losses, audio = [], 0.0
    started = time.perf_counter()
    model.train()
    bar = tqdm(total=config.steps, desc=f"whisper {config.freezing}", disable=not progress, leave=False)
    for _ in range(config.steps):
        if not batches:
            batches = _batches(lengths, config.batch_size, rng)
        batch = batches.pop()
        waves, texts = [train.waves[i] for i in batch], [train.texts[i] for i in batch]
        if config.replay:
            picks = rng.sample(range(len(source)), min(config.replay, len(source)))
            waves += [source.waves[i] for i in picks]
            texts += [source.texts[i] for i in picks]
        feats, feat_lengths = log_mel_batch(waves, model.dims.n_mels, window=config.window)
        targets = text_targets(tokenizer, texts, model.dims.n_text_ctx)
        loss = seq2seq_loss(model, feats.to(device), feat_lengths, targets, window=config.window)
        total = loss + l2sp_term(model, anchor, config.l2sp_alpha).to(loss.device) if anchor else loss
        total.backward()
        optimizer_step(state)
        losses.append(float(loss.detach()))
        audio += sum(len(w) for w in waves) / 16_000
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    model.eval()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return WhisperTuneResult(model, config, losses, time.perf_counter() - started, audio, trainable,
                             sum(p.numel() for p in model.parameters()))


def transcribe(model: "whisper.model.Whisper", waves: Sequence[np.ndarray], *, window: bool = False,
               tokens_per_second: float = 6.0, guards: Safeguards | None = None, batch_size: int = 8) -> list[str]:
    """Transcribe with Whisper's decoder, as a model was fine-tuned: variable-length input
    (:func:`~asrlab.models.whisper_seq2seq.greedy_decode`, capped at ``tokens_per_second``) or
    30 s windows (``window=True``: ``model.decode`` with ``guards``, default
    :class:`~asrlab.models.whisper_seq2seq.Safeguards`).

    Returns:
        One text per wave, as Whisper writes it (normalise before scoring).
    """
    if window:
        return window_decode(model, waves, guards or Safeguards(tokens_per_second=tokens_per_second),
                             batch_size=batch_size)
    return transcribe_variable(model, waves, tokens_per_second, batch_size)


#: ``asrlab finetune``'s regimes for Whisper, and what each trains.
WHISPER_REGIMES: dict[str, str] = {
    "head": "the decoder (Whisper's output side: embeddings, blocks, final norm), the encoder frozen",
    "top-k": "the decoder and the top k encoder blocks",
    "full": "everything",
    "l2sp": "everything, pulled towards the shipped weights (L2-SP)",
}


def regime_config(regime: str, *, k: int = 2, l2sp_alpha: float = 1.0, **settings: Any) -> WhisperTuneConfig:
    """The :class:`WhisperTuneConfig` of one of ``asrlab finetune``'s regimes (:data:`WHISPER_REGIMES`).

    Args:
        regime: ``"head"`` (decoder only), ``"top-k"``, ``"full"`` or ``"l2sp"``.
        k: encoder blocks trained by ``"top-k"``.
        l2sp_alpha: the L2-SP strength of ``"l2sp"``.
        settings: other :class:`WhisperTuneConfig` fields (``lr``, ``steps``, ...).

    Raises:
        ValueError: a regime that does not apply to Whisper fine-tuned end to end.
    """
    if regime not in WHISPER_REGIMES:
        raise ValueError(f"regime {regime!r} does not apply to Whisper fine-tuned end to end; use one of "
                         + ", ".join(f"{name} ({what})" for name, what in WHISPER_REGIMES.items()))
    freezing = {"head": "decoder", "top-k": "top-encoder"}.get(regime, "all")
    return WhisperTuneConfig(freezing=freezing, top_layers=k, l2sp_alpha=l2sp_alpha if regime == "l2sp" else 0.0,
                             **settings)


def finetune_whisper_manifests(init: str, train: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                               config: WhisperTuneConfig = WhisperTuneConfig(),
                               source: Sequence[str | os.PathLike] | None = None,
                               progress: bool = True) -> WhisperTuneResult:
    """``asrlab finetune --init whisper-tiny.en``: fine-tune Whisper end to end on manifests and
    write ``out_dir/model.pt`` (the weights that changed, and the base's name).

    Args:
        init: the base model's name in the zoo (``"whisper-tiny.en"``).
        train: target manifests (each utterance at most 30 s, with a transcript).
        out_dir: the run folder (checked before anything is loaded).
        config: :class:`WhisperTuneConfig`.
        source: manifests of labelled source speech for replay (``config.replay > 0``).

    Raises:
        ValueError: a transcript or utterance Whisper cannot train on (the message names the
            manifest line and the fix).
    """
    from asrlab.models.zoo import load_pretrained

    check_writable(out_dir, "the run folder (--out)")
    target = _checked(train)
    replay = _checked(source) if source else None
    base = load_pretrained(init).model
    result = finetune_whisper(base, target, config, replay, progress=progress)
    path = save_tuned_whisper(Path(out_dir) / "model.pt", result.model, init, base,
                              meta={"train": [str(p) for p in train], "config": asdict(config),
                                    "input": "window" if config.window else "variable",
                                    "tokens_per_second": config.tokens_per_second})
    result.meta["path"] = str(path)
    return result


def _checked(manifests: Sequence[str | os.PathLike]) -> Labelled:
    """Manifests read for Whisper, each line checked: a transcript, audio of at most 30 s."""
    waves, texts = [], []
    for manifest in manifests:
        for line, u in enumerate(read_manifest(manifest), start=1):
            if not u.text.strip():
                raise ValueError(f"{manifest}, line {line}: empty transcript; Whisper fine-tuning needs a "
                                 "transcript for every utterance (label it or remove the line)")
            wave = load_audio(u.audio)
            if len(wave) > 30 * 16_000:
                raise ValueError(f"{manifest}, line {line}: {u.audio} lasts {len(wave) / 16_000:.1f} s, longer "
                                 "than Whisper's 30 s window; split it or remove the line")
            waves.append(wave)
            texts.append(u.text)
    if not waves:
        raise ValueError(f"{', '.join(map(str, manifests))}: no utterances to fine-tune on")
    return Labelled(waves, texts)


__all__ = ["WHISPER_REGIMES", "Labelled", "regime_config", "WhisperTuneConfig", "WhisperTuneResult", "finetune_whisper", "finetune_whisper_manifests",
           "l2sp_term", "read_labelled", "transcribe"]

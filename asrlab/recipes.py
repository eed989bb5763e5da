"""Ready-made runs behind the command line and the notebooks: train, evaluate, transcribe.

Each function is a short composition of the library's pieces with sensible presets, so the CLI
and the notebooks call the same code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import torch

from asrlab.config import TRAIN_PRESETS, LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
# The foundations live in the library (datasets, evaluate, manifest, models.resolve); their names
# stay importable from here for the notebooks and scripts that import them from asrlab.recipes.
from asrlab.datasets import feature_cache, make_dataset
from asrlab.errors import AsrlabError, AudioError
from asrlab.evaluate import evaluate_manifests, evaluate_zero_shot
from asrlab.features import compute_features
from asrlab.files import check_writable
from asrlab.manifest import manifest_path, read_manifests
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.resolve import own_decoder_error, resolve_model
from asrlab.train import History, fit
from asrlab.utils import seed_everything

#: Model, training and batching settings for the two sizes of every run (kept with the other
#: settings, :data:`asrlab.config.TRAIN_PRESETS`).
PRESETS: dict[str, tuple[ModelConfig, TrainConfig, LoaderConfig]] = TRAIN_PRESETS


def train_recipe(*, out_dir: str | os.PathLike, corpus: str | os.PathLike | None = None,
                 train: Sequence[str | os.PathLike] | None = None, dev: Sequence[str | os.PathLike] | None = None,
                 arch: str = "ds2", preset: str = "full", epochs: int | None = None, lr: float | None = None,
                 seed: int = 0, progress: bool = True) -> tuple[History, Path]:
    """Train a model from scratch on a corpus's source domain or on given manifests.

    ``seed`` decides the initial weights as well as the batches: on the CPU, two runs with one
    seed give the same weights, and a killed run that resumes ends with an uninterrupted one's.

    ``out_dir`` is checked first (:func:`~asrlab.files.check_writable`): an output that cannot
    be written stops the run before any data is read, not at its final save.
    """
    check_writable(out_dir, "the run folder (--out)")
    if corpus is not None:
        train = train or [manifest_path(corpus, "source", "train")]
        dev = dev or [manifest_path(corpus, "source", "dev")]
    if not train:
        raise ValueError("give a corpus folder or training manifests")
    model_cfg, train_cfg, data_cfg = PRESETS[preset]
    model_cfg = replace(model_cfg, arch=arch)  # type: ignore[arg-type]
    train_cfg = replace(train_cfg, seed=seed, epochs=epochs or train_cfg.epochs, lr=lr or train_cfg.lr)
    features = FeatureConfig(n_mels=model_cfg.n_mels)
    train_set = make_dataset(train, features)
    dev_set = make_dataset(dev, features) if dev else None
    seed_everything(seed)  # the initial weights too, not only fit()'s batches: --seed N reproduces the run
    model = build_model(model_cfg)
    history = fit(model, train_set, train_cfg, data=data_cfg, dev=dev_set, out_dir=out_dir, progress=progress,
                  meta={"train_manifests": [str(p) for p in train], "preset": preset})
    return history, Path(out_dir)


@dataclass(frozen=True)
class Transcript:
    """One file's transcript, or why it has none."""

    path: str | os.PathLike
    text: str | None
    error: str | None = None


def transcribe_each(model, audio: Sequence[str | os.PathLike], decoder=None) -> Iterator[Transcript]:
    """Transcribe audio files one at a time, yielding each result as soon as it is ready; a file
    that cannot be read gives a :class:`Transcript` with the reason in ``error`` and the rest go on.

    Args:
        model: what :func:`asrlab.models.resolve.resolve_model` accepts (resolved once, first).
        audio: the files.
        decoder: a CTC decoder from :func:`asrlab.decoding.make_decoder` (default: greedy; the
            model's own decoding for Whisper).
    """
    from asrlab.audio import load_audio
    from asrlab.decoding.greedy import greedy_decode

    if isinstance(model, (str, os.PathLike)):
        from asrlab.deploy.runtime import is_exported

        if is_exported(model):
            yield from _transcribe_exported(model, audio, decoder)
            return
    loaded = resolve_model(model)
    if not isinstance(loaded, LoadedModel) and decoder is not None:
        raise own_decoder_error(loaded, "a CTC decoder does not apply (leave decoder=None)")
    if isinstance(loaded, LoadedModel):
        loaded.model.eval()
    for path in audio:
        try:
            if not isinstance(loaded, LoadedModel):
                yield Transcript(path, loaded.transcribe([load_audio(path)])[0])
                continue
            feats = compute_features(str(path), loaded.features)[None]
        except AsrlabError as exc:
            yield Transcript(path, None, str(exc))
            continue
        with torch.no_grad():
            log_probs, lengths = loaded.model(feats, torch.tensor([feats.shape[1]]))
        texts = (greedy_decode(log_probs, lengths, loaded.vocab) if decoder is None
                 else decoder.decode(log_probs, lengths))
        yield Transcript(path, texts[0])


def _transcribe_exported(path: str | os.PathLike, audio: Sequence[str | os.PathLike], decoder=None) -> Iterator[Transcript]:
    """:func:`transcribe_each` for a file written by ``asrlab export`` (audio resampled to its rate)."""
    from asrlab.audio import load_audio
    from asrlab.decoding.greedy import greedy_decode
    from asrlab.deploy.runtime import load_exported

    exported = load_exported(path)
    for item in audio:
        try:
            log_probs = torch.from_numpy(exported.log_probs(load_audio(item, exported.sample_rate)))[None]
        except AsrlabError as exc:
            yield Transcript(item, None, str(exc))
            continue
        lengths = torch.tensor([log_probs.shape[1]])
        text = (greedy_decode(log_probs, lengths, exported.vocab) if decoder is None
                else decoder.decode(log_probs, lengths))[0]
        yield Transcript(item, text)


def transcribe_files(model, audio: Sequence[str | os.PathLike], decoder=None) -> list[str]:
    """Transcripts of audio files (greedy CTC, or ``decoder`` from :func:`asrlab.decoding.make_decoder`;
    the model's own decoding for Whisper). A file that cannot be read raises :class:`AudioError`
    (:func:`transcribe_each` goes on past it)."""
    texts = []
    for result in transcribe_each(model, audio, decoder):
        if result.error is not None:
            raise AudioError(result.error)
        texts.append(result.text)
    return texts


def domain_gap_table(corpus: str | os.PathLike, models: Sequence[str] | None = None, split: str = "test",
                     limit: int | None = 60) -> dict[str, object]:
    """Every available pretrained model (or ``models``) on every domain's ``split``.

    Returns:
        ``{"models": {name: {domain: {"wer", "cer", "utterances", ...}}}, "limit": ..., "split": ...}``;
        models that are not available here are listed under ``"unavailable"`` with the reason.
    """
    from asrlab.corpus.domains import DOMAINS
    from asrlab.models.zoo import list_pretrained

    manifests = [manifest_path(corpus, d, split) for d in DOMAINS]
    manifests = [m for m in manifests if m.is_file()]
    if not manifests:
        raise FileNotFoundError(f"no {split}.jsonl manifests under {corpus}: build the corpus first")
    table: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    for entry in list_pretrained():
        if (models and entry.name not in models) or (not models and entry.kind == "encoder"):
            continue
        ok, why = entry.availability()
        if not ok:
            unavailable[entry.name] = why
            continue
        result = evaluate_manifests(entry.name, manifests, limit=limit)
        table[entry.name] = {d: r.as_dict() for d, r in result.domains.items()}
        table[entry.name]["_rtf"] = {"rtf": result.real_time_factor}
    return {"models": table, "unavailable": unavailable, "split": split, "limit": limit}


__all__ = ["PRESETS", "Transcript", "domain_gap_table", "evaluate_manifests", "evaluate_zero_shot", "feature_cache",
           "make_dataset", "manifest_path", "read_manifests", "resolve_model", "train_recipe", "transcribe_each",
           "transcribe_files"]

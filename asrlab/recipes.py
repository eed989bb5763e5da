"""Ready-made runs behind the command line and the notebooks: train, evaluate, transcribe.

Each function is a short composition of the library's pieces with sensible presets, so the CLI
and the notebooks call the same code.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

from asrlab.config import TRAIN_PRESETS, DataConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import EvalResult, evaluate
from asrlab.features import FeatureCache, compute_features
from asrlab.manifest import Utterance, read_manifest
from asrlab.models import LoadedModel, build_model, load_model
from asrlab.text import CharVocabulary
from asrlab.train import History, fit
from asrlab.utils import data_dir, pick_device

#: Model, training and batching settings for the two sizes of every run (kept with the other
#: settings, :data:`asrlab.config.TRAIN_PRESETS`).
PRESETS: dict[str, tuple[ModelConfig, TrainConfig, DataConfig]] = TRAIN_PRESETS


def feature_cache(features: FeatureConfig = FeatureConfig()) -> FeatureCache | None:
    """The shared on-disk feature cache under the data folder (``$ASRLAB_DATA/cache``); None for
    raw waveforms (reading the WAV is as fast as reading a cache)."""
    if features.kind == "waveform":
        return None
    return FeatureCache(data_dir() / "cache" / "features", features)


def read_manifests(paths: Sequence[str | os.PathLike]) -> list[Utterance]:
    """The utterances of several manifests, in order."""
    return [u for p in paths for u in read_manifest(p)]


def make_dataset(paths: Sequence[str | os.PathLike], features: FeatureConfig = FeatureConfig(),
                 vocab: CharVocabulary = CharVocabulary(), labelled: bool = True,
                 on_bad: str = "error", cache: bool = True) -> SpeechDataset:
    """A :class:`SpeechDataset` over manifests, with the shared feature cache."""
    return SpeechDataset(read_manifests(paths), vocab, features, feature_cache(features) if cache else None,
                         labelled=labelled, on_bad=on_bad)  # type: ignore[arg-type]


def resolve_model(name_or_path: str | os.PathLike):
    """A model file, a run folder written by ``asrlab train``, or a pretrained model's name.

    Returns:
        A :class:`~asrlab.models.LoadedModel`, or a :class:`~asrlab.models.zoo.ZeroShotModel`
        for models that decode with their own decoder (Whisper).
    """
    from asrlab.models.zoo import get_entry, list_pretrained, load_pretrained

    path = Path(name_or_path)
    if path.exists():
        return load_model(path)
    names = [e.name for e in list_pretrained()]
    if str(name_or_path) in names:
        if get_entry(str(name_or_path)).kind == "encoder":
            raise ValueError(f"{name_or_path} has an untrained CTC head: fine-tune it before evaluating "
                             "(asrlab.models.zoo.load_pretrained gives the model)")
        return load_pretrained(str(name_or_path))
    raise FileNotFoundError(
        f"no model file, run folder or pretrained model called {name_or_path!r}: pass a model.pt, a folder "
        f"written by `asrlab train`, or one of {', '.join(names)}"
    )


def evaluate_zero_shot(model, dataset: SpeechDataset, batch_size: int = 8) -> EvalResult:
    """Score a :class:`~asrlab.models.zoo.ZeroShotModel` on a dataset (references and hypotheses
    normalised by the model's own normaliser)."""
    import time

    from asrlab.audio import load_audio
    from asrlab.metrics import error_rates, per_domain

    refs, hyps, seconds, audio = [], [], 0.0, 0.0
    for start in range(0, len(dataset), batch_size):
        utts = dataset.utterances[start:start + batch_size]
        waves = [load_audio(u.audio) for u in utts]
        began = time.perf_counter()
        texts = model.transcribe(waves)
        seconds += time.perf_counter() - began
        audio += sum(len(w) for w in waves) / 16000
        refs += [model.normalize(u.text) or u.text for u in utts]
        hyps += [model.normalize(t) for t in texts]
    domains = [u.domain for u in dataset.utterances]
    return EvalResult(error_rates(refs, hyps), per_domain(refs, hyps, domains), [u.id for u in dataset.utterances],
                      refs, hyps, domains, float("nan"), seconds, audio)


def train_recipe(*, out_dir: str | os.PathLike, corpus: str | os.PathLike | None = None,
                 train: Sequence[str | os.PathLike] | None = None, dev: Sequence[str | os.PathLike] | None = None,
                 arch: str = "ds2", preset: str = "full", epochs: int | None = None, lr: float | None = None,
                 seed: int = 0, progress: bool = True) -> tuple[History, Path]:
    """Train a model from scratch on a corpus's source domain or on given manifests."""
    if corpus is not None:
        train = train or [Path(corpus) / "source" / "train.jsonl"]
        dev = dev or [Path(corpus) / "source" / "dev.jsonl"]
    if not train:
        raise ValueError("give a corpus folder or training manifests")
    model_cfg, train_cfg, data_cfg = PRESETS[preset]
    model_cfg = replace(model_cfg, arch=arch)  # type: ignore[arg-type]
    train_cfg = replace(train_cfg, seed=seed, epochs=epochs or train_cfg.epochs, lr=lr or train_cfg.lr)
    features = FeatureConfig(n_mels=model_cfg.n_mels)
    train_set = make_dataset(train, features)
    dev_set = make_dataset(dev, features) if dev else None
    model = build_model(model_cfg)
    history = fit(model, train_set, train_cfg, data=data_cfg, dev=dev_set, out_dir=out_dir, progress=progress,
                  meta={"train_manifests": [str(p) for p in train], "preset": preset})
    return history, Path(out_dir)


def evaluate_manifests(model, manifests: Sequence[str | os.PathLike], device: str | None = None,
                       limit: int | None = None, decoder=None) -> EvalResult:
    """WER/CER of a model (file, folder, pretrained name, or loaded) on manifests, per domain too.

    Args:
        limit: score only the first ``limit`` utterances of each manifest (a fixed subset).
        decoder: a CTC decoder from :func:`asrlab.decoding.make_decoder` (default: greedy).
    """
    from asrlab.models.zoo import ZeroShotModel

    loaded = model if isinstance(model, (LoadedModel, ZeroShotModel)) else resolve_model(model)
    utterances = [u for m in manifests for u in read_manifest(m)[:limit]]
    if isinstance(loaded, ZeroShotModel):
        if decoder is not None:
            raise ValueError("this model decodes with its own decoder; a CTC decoder does not apply")
        dataset = SpeechDataset(utterances, CharVocabulary(), FeatureConfig(kind="waveform"), labelled=True)
        return evaluate_zero_shot(loaded, dataset)
    dataset = SpeechDataset(utterances, loaded.vocab, loaded.features, feature_cache(loaded.features),
                            subsampling=loaded.model.subsampling)
    target = pick_device(device)
    loaded.model.to(target)
    return evaluate(loaded.model, dataset, DataConfig(num_workers=0), target, decoder)


@torch.no_grad()
def transcribe_files(model, audio: Sequence[str | os.PathLike], decoder=None) -> list[str]:
    """Transcripts of audio files (greedy CTC, or ``decoder`` from :func:`asrlab.decoding.make_decoder`;
    the model's own decoding for Whisper)."""
    from asrlab.audio import load_audio
    from asrlab.decode import greedy_decode
    from asrlab.models.zoo import ZeroShotModel

    loaded = model if isinstance(model, (LoadedModel, ZeroShotModel)) else resolve_model(model)
    if isinstance(loaded, ZeroShotModel):
        if decoder is not None:
            raise ValueError("this model decodes with its own decoder; a CTC decoder does not apply")
        return loaded.transcribe([load_audio(p) for p in audio])
    loaded.model.eval()
    texts = []
    for path in audio:
        feats = compute_features(str(path), loaded.features)[None]
        log_probs, lengths = loaded.model(feats, torch.tensor([feats.shape[1]]))
        texts.extend(greedy_decode(log_probs, lengths, loaded.vocab) if decoder is None
                     else decoder.decode(log_probs, lengths))
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

    manifests = [Path(corpus) / d / f"{split}.jsonl" for d in DOMAINS]
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

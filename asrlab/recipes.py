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

from asrlab.config import DataConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import EvalResult, evaluate
from asrlab.features import FeatureCache, compute_features
from asrlab.manifest import Utterance, read_manifest
from asrlab.models import LoadedModel, build_model, load_model
from asrlab.text import CharVocabulary
from asrlab.train import History, fit
from asrlab.utils import data_dir, pick_device

#: Model, training and batching settings for the two sizes of every run.
PRESETS: dict[str, tuple[ModelConfig, TrainConfig, DataConfig]] = {
    "smoke": (ModelConfig().smoke(), TrainConfig(epochs=8, lr=3e-3, warmup_steps=10),
              DataConfig(max_seconds=120.0, num_workers=0)),
    "full": (ModelConfig(), TrainConfig(epochs=12, lr=2e-3, warmup_steps=300, checkpoint_every=200),
             DataConfig(max_seconds=240.0, num_workers=1)),
}


def feature_cache(features: FeatureConfig = FeatureConfig()) -> FeatureCache:
    """The shared on-disk feature cache under the data folder (``$ASRLAB_DATA/cache``)."""
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


def resolve_model(name_or_path: str | os.PathLike) -> LoadedModel:
    """Load a model from a file or run folder (named pretrained models come with the model zoo)."""
    path = Path(name_or_path)
    if path.exists():
        return load_model(path)
    raise FileNotFoundError(
        f"no model file or folder at {name_or_path!r}: pass a model.pt, or a folder written by `asrlab train`"
    )


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


def evaluate_manifests(model: str | os.PathLike | LoadedModel, manifests: Sequence[str | os.PathLike],
                       device: str | None = None) -> EvalResult:
    """Greedy WER/CER of a model (file, folder or loaded) on manifests, per domain too."""
    loaded = model if isinstance(model, LoadedModel) else resolve_model(model)
    dataset = make_dataset(manifests, loaded.features, loaded.vocab)
    target = pick_device(device)
    loaded.model.to(target)
    return evaluate(loaded.model, dataset, DataConfig(num_workers=0), target)


@torch.no_grad()
def transcribe_files(model: str | os.PathLike | LoadedModel, audio: Sequence[str | os.PathLike]) -> list[str]:
    """Greedy transcripts of audio files, one at a time."""
    from asrlab.decode import greedy_decode

    loaded = model if isinstance(model, LoadedModel) else resolve_model(model)
    loaded.model.eval()
    texts = []
    for path in audio:
        feats = compute_features(str(path), loaded.features)[None]
        log_probs, lengths = loaded.model(feats, torch.tensor([feats.shape[1]]))
        texts.extend(greedy_decode(log_probs, lengths, loaded.vocab))
    return texts

"""Shared fixtures: a few utterances synthesised with espeak-ng, written as a manifest."""
from __future__ import annotations

from pathlib import Path

import pytest

import asrlab  # noqa: F401  (before torch: asrlab chooses OpenMP's wait policy, which torch reads once)
import torch  # noqa: E402

from asrlab.audio import save_audio
from asrlab.manifest import Utterance, write_manifest

SENTENCES = [
    "the cat sat on the mat",
    "open the window please",
    "seven green apples",
    "she reads a book every night",
    "turn left at the big house",
    "my brother likes cold water",
    "we will meet at noon",
    "the dog runs in the park",
]


def synthesize_manifest(folder: Path, sentences: list[str], voices: list[tuple[str, str]],
                        domain: str = "test", split: str = "train") -> Path:
    """Write one WAV per (sentence, voice) pair and a manifest; returns the manifest path."""
    from asrlab.corpus.espeak import EspeakSynthesizer, EspeakVoice

    synth = EspeakSynthesizer()
    utts = []
    for i, text in enumerate(sentences):
        accent, variant = voices[i % len(voices)]
        wave = synth.synthesize(text, EspeakVoice(accent, variant, rate=160))
        path = folder / "audio" / f"{domain}-{split}-{i:03d}.wav"
        save_audio(path, wave)
        utts.append(Utterance(str(path), text, len(wave) / 16000, domain, f"{accent}+{variant}", split))
    return write_manifest(folder / f"{split}.jsonl", utts)


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """Eight short utterances from two espeak voices."""
    folder = tmp_path_factory.mktemp("tiny")
    return synthesize_manifest(folder, SENTENCES, [("en-us", "m1"), ("en-us", "f2")])


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory):
    """Feature caches and runs made by unit tests go to a temporary folder, not ./data."""
    import os

    old = os.environ.get("ASRLAB_DATA")
    os.environ["ASRLAB_DATA"] = str(tmp_path_factory.mktemp("asrlab-data"))
    yield
    if old is None:
        os.environ.pop("ASRLAB_DATA", None)
    else:
        os.environ["ASRLAB_DATA"] = old


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from threads on a busy 2-core machine: one torch thread for a module
    (use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_pretrained(tiny_manifest):
    """A small untrained conv + BiGRU model wrapped as a pretrained model, and the tiny dataset:
    ``(LoadedModel, SpeechDataset)`` for tests of the fine-tuning regimes."""
    from asrlab.config import FeatureConfig, ModelConfig
    from asrlab.datasets import SpeechDataset
    from asrlab.manifest import read_manifest
    from asrlab.models import build_model
    from asrlab.models.checkpoint import LoadedModel
    from asrlab.text import CharVocabulary

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0))
    init = LoadedModel(model, FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    return init, SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())

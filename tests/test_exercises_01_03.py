"""The exercises of notebooks 01 and 03: each hint's library call runs, at tiny size, and changes
the result compared with the notebook's default.

The data are made here: a few espeak-ng utterances (tests/conftest.py), a tiny CTC model, and
for 01's first exercise one small domain of the smoke corpus built with another seed. The
reverberation of 01's fourth exercise reuses the room bank of ``data/corpus-smoke/_banks`` when
that corpus exists (otherwise it simulates the rooms into a temporary folder).

What is not tested, and why:

- 03, exercise 1 (``DOMAIN = "noisy"``) is a rerun of the whole notebook with another knob,
  minutes of work with two pretrained encoders; the test checks that the knob is one the
  lesson check knows, that changing it turns the effect assertions off, and that the accent
  names the hint promises are the ones the noisy domain's voices carry.
- 03, exercise 3 (``PROBE_EPOCHS = 30``) is likewise a knob: the test trains a probe for two
  budgets through the same call the notebook makes (``feature_extraction.fit_probe``) and checks that the
  knob turns the effect assertions off.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from asrlab.audio import load_audio
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, ProbeConfig, TrainConfig
from asrlab.corpus.build import build_corpus, build_shift
from asrlab.corpus.domains import DOMAINS, SOURCE_ACCENTS, accent_name
from asrlab.corpus.shifts import AddNoise, Compose, Telephone
from asrlab.course import data_prep, feature_extraction
from asrlab.course.runner import lesson_check
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import evaluate
from asrlab.finetune import finetune
from asrlab.layers import LayerCache, LayerFeatures, extract_layers, model_key, pool_layers
from asrlab.manifest import Utterance, read_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

ROOT = Path(__file__).resolve().parent.parent
SMOKE_CORPUS = ROOT / "data" / "corpus-smoke"
SEED = 0


@pytest.fixture(scope="module")
def waves(tiny_manifest: Path) -> list[np.ndarray]:
    return [load_audio(u.audio) for u in read_manifest(tiny_manifest)]


@pytest.fixture(scope="module")
def accented(tmp_path_factory) -> list[Utterance]:
    """Eight utterances: two accents, two voices each."""
    from conftest import SENTENCES, synthesize_manifest

    voices = [("en-gb-scotland", "m1"), ("en-029", "f2"), ("en-gb-scotland", "f2"), ("en-029", "m1")]
    return read_manifest(synthesize_manifest(tmp_path_factory.mktemp("accented"), SENTENCES, voices))


@pytest.fixture(scope="module")
def tiny_model():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0)).eval()


def layers_of(model, utterances) -> LayerFeatures:
    cache = LayerCache(None, model_key(model, FeatureConfig(), "tiny"))
    return extract_layers(model, utterances, FeatureConfig(), cache)


# --------------------------------------------------------------------------- notebook 01
def test_01_exercise_1_another_seed_builds_another_corpus(tmp_path: Path, monkeypatch) -> None:
    """build_corpus(..., domains=[...], seed=1): other texts, other statistics (one small domain here)."""
    # The builder's worker pool spawns processes, which read __main__.__spec__; an IPython shell
    # made by an earlier test (test_lesson_knobs.py) leaves a __main__ without one.
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", getattr(sys.modules["__main__"], "__spec__", None),
                        raising=False)
    other = build_corpus(tmp_path / "corpus-seed1", "smoke", domains=["commands"], seed=1, progress=False)
    seed1 = read_manifest(other.manifest("commands", "test"))
    built = SMOKE_CORPUS / "commands" / "test.jsonl"  # the notebooks' corpus has seed 0: read it, never rebuild it
    seed0 = read_manifest(built if built.is_file() else build_corpus(
        tmp_path / "corpus-seed0", "smoke", domains=["commands"], seed=0, progress=False).manifest("commands", "test"))
    assert [u.text for u in seed1] != [u.text for u in seed0]
    x1, x0 = data_prep.utterance_statistics(seed1), data_prep.utterance_statistics(seed0)
    assert x1.shape[1] == x0.shape[1] == 160 and not np.array_equal(x1[:5], x0[:5])
    accuracy = data_prep.knn_accuracy(np.concatenate([x0, x1]), ["seed 0"] * len(x0) + ["seed 1"] * len(x1), seed=SEED)
    assert 0.0 <= accuracy <= 1.0


def test_01_exercise_2_normalised_statistics_hide_the_channel(waves) -> None:
    """data_prep.wave_statistics(..., FeatureConfig()) then data_prep.knn_accuracy."""
    phone = [Telephone()(w, np.random.default_rng(SEED)) for w in waves]
    labels = ["clean"] * len(waves) + ["telephone"] * len(phone)
    raw = data_prep.wave_statistics(waves + phone)
    normalised = data_prep.wave_statistics(waves + phone, FeatureConfig())
    means, stds = normalised[: len(waves), :80], normalised[: len(waves), 80:]
    assert np.abs(means).max() < 1e-3 and np.allclose(stds, 1.0, atol=0.02)  # every bin of speech: mean 0, std 1
    assert data_prep.knn_accuracy(normalised, labels, seed=SEED) < data_prep.knn_accuracy(raw, labels, seed=SEED)


def test_01_exercise_3_noise_at_several_snrs(waves) -> None:
    """AddNoise("pink", (snr, snr)) per waveform, wave_statistics, knn_accuracy clean vs noisy."""
    clean = data_prep.wave_statistics(waves)
    labels = ["clean"] * len(waves) + ["noisy"] * len(waves)
    accuracy = {}
    for snr in (30.0, 0.0):
        noisy = [AddNoise("pink", (snr, snr))(w, np.random.default_rng(SEED)) for w in waves]
        x = data_prep.wave_statistics(noisy)
        assert x.shape == clean.shape and not np.allclose(x, clean)
        accuracy[snr] = data_prep.knn_accuracy(np.concatenate([clean, x]), labels, seed=SEED)
    assert accuracy[0.0] == 1.0 and accuracy[30.0] <= accuracy[0.0]


def test_01_exercise_4_reverberation_then_telephone(waves, tmp_path: Path) -> None:
    """Compose((room, Telephone())) and the measurements of section 5."""
    banks = SMOKE_CORPUS / "_banks" if (SMOKE_CORPUS / "_banks").is_dir() else tmp_path / "_banks"
    room = build_shift(DOMAINS["reverb"].shift, "smoke", SEED, banks)
    clean = np.concatenate(waves[:3])
    phone = Telephone()(clean, np.random.default_rng(SEED))
    both = Compose((room, Telephone()))(clean, np.random.default_rng(SEED))
    above_3k6 = {name: data_prep.band_energy_fraction(w, 3600) for name, w in (("clean", clean), ("both", both))}
    assert 10 * np.log10(above_3k6["clean"] / above_3k6["both"]) > 30  # the telephone band survives
    assert data_prep.fastest_decay_db_per_s(both) < data_prep.fastest_decay_db_per_s(phone) / 2  # and so does the room


def test_01_exercise_5_in_domain_text_lowers_the_oov_rate() -> None:
    """data_prep.oov_rate(train["source"] + train["telephone"], test["telephone"])."""
    def utts(*texts: str) -> list[Utterance]:
        return [Utterance("/nonexistent.wav", t, 1.0, "d", "s", "train") for t in texts]

    source, telephone = utts("the cat sat", "a dog ran"), utts("press one for sales", "press two")
    test = utts("press one to repeat", "the sales menu")
    assert data_prep.oov_rate(source + telephone, test) < data_prep.oov_rate(source, test)


# --------------------------------------------------------------------------- notebook 03
def test_03_exercise_1_another_domain_turns_the_effect_checks_off() -> None:
    """DOMAIN = "noisy": a lesson knob; its voices carry the four source accents by name."""
    knobs = feature_extraction.LESSON_KNOBS["smoke"]
    assert lesson_check(knobs, DOMAIN="accent")
    assert not lesson_check(knobs, DOMAIN="noisy")
    assert {"noisy", "reverb", "telephone"} <= set(DOMAINS)
    assert {accent_name(a) for a in SOURCE_ACCENTS} == {"American", "British", "Received Pronunciation", "New York"}
    assert DOMAINS["noisy"].train_voices.accents == SOURCE_ACCENTS


def test_03_exercise_2_top_k_trains_fewer_parameters(tiny_model, tiny_manifest: Path) -> None:
    """finetune(source, train, "top-k", FINETUNE, k=1, ...) against the notebook's "full"."""
    init = LoadedModel(tiny_model, FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    data = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())
    config = TrainConfig(epochs=1, lr=5e-3, warmup_steps=0, specaugment=None, seed=SEED)
    batches = LoaderConfig(num_workers=0, max_batch_size=4)
    top = finetune(init, data, "top-k", config, k=1, dev=data, data=batches)
    full = finetune(init, data, "full", config, dev=data, data=batches)
    assert 0 < top.trainable_parameters < full.trainable_parameters and top.seconds > 0
    assert 0.0 <= evaluate(top.model, data, LoaderConfig(num_workers=0)).rates.wer


def test_03_exercise_3_a_longer_budget_trains_longer(tiny_model, tiny_manifest: Path) -> None:
    """PROBE_EPOCHS = 30: the probes of sections 3 and 4 (feature_extraction.fit_probe) train for more steps."""
    feats = layers_of(tiny_model, read_manifest(tiny_manifest))
    short = ProbeConfig(epochs=2, max_frames=2000, seed=SEED)
    runs = {epochs: feature_extraction.fit_probe(feats, -1, replace(short, epochs=epochs), evaluate={"dev": feats})
            for epochs in (2, 6)}
    assert runs[6].history.steps == 3 * runs[2].history.steps
    assert runs[6].history.losses[-1] < runs[2].history.losses[-1]
    assert not lesson_check(feature_extraction.LESSON_KNOBS["smoke"], PROBE_EPOCHS=30)


def test_03_exercise_4_statistics_pooling(tiny_model, accented) -> None:
    """layers.pool_layers(f.layers, std=True) in place of the mean, then the same classifier."""
    feats = layers_of(tiny_model, accented)
    mean, stats = pool_layers(feats.layers), pool_layers(feats.layers, std=True)
    n, layers, dim = mean.shape
    assert stats.shape == (n, layers, 2 * dim) and np.array_equal(stats[..., :dim], mean)
    assert (stats[..., dim:] > 0).any()
    labels = [accent_name(u.speaker) for u in accented]
    with_std = feature_extraction.classify(stats[:, -1], labels, stats[:, -1], labels, seed=SEED)
    assert with_std.classes == ["Caribbean", "Scottish"] and with_std.confusion.sum() == n


def test_03_exercise_5_voices_instead_of_accents(tiny_model, accented) -> None:
    """train_test_split(pooled, [u.speaker ...], test_size=0.5, random_state=SEED), then feature_extraction.classify."""
    from sklearn.model_selection import train_test_split

    pooled = pool_layers(layers_of(tiny_model, accented).layers)[:, -1]
    speakers = [u.speaker for u in accented]
    x_a, x_b, y_a, y_b = train_test_split(pooled, speakers, test_size=0.5, random_state=SEED)
    voice = feature_extraction.classify(x_a, y_a, x_b, y_b, seed=SEED)
    accent = feature_extraction.classify(pooled, [accent_name(s) for s in speakers], pooled, [accent_name(s) for s in speakers])
    assert len(voice.classes) == 4 and len(accent.classes) == 2  # voices, not accents
    assert voice.confusion.sum() == len(y_b) == 4

"""Simulated target data: noise found in the pauses of target audio, its SNR estimated, and mixed
into labelled source speech at those SNRs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asrlab.adapt.noise_simulation import (estimate_noise, frame_powers, noise_only_frames, simulate,
                                           simulate_utterances, utterance_snr_db)
from asrlab.audio import SAMPLE_RATE, load_audio, save_audio
from asrlab.corpus.shifts import measure_snr_db, mix_at_snr
from asrlab.manifest import Utterance


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Tone bursts of 0.3 s with 0.2 s pauses: a stand-in for speech with gaps between words."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    on = (t % 0.5) < 0.3
    return (0.3 * np.sin(2 * np.pi * rng.uniform(150, 300) * t) * on).astype(np.float32)


def noisy_copies(snr_db: float, count: int = 6, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [mix_at_snr(clean, rng.standard_normal(len(clean)).astype(np.float32), snr_db)
            for clean in (speech_like(2.0, rng) for _ in range(count))]


def test_frame_powers_and_mask():
    wave = np.concatenate([np.zeros(100), np.ones(100)]).astype(np.float32)
    powers = frame_powers(wave, 50)
    assert powers.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert noise_only_frames(powers, 0.5).tolist() == [True, True, False, False]
    assert frame_powers(wave[:10], 50).shape == (0,)
    with pytest.raises(ValueError, match="quantile"):
        noise_only_frames(powers, 1.0)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_snr_is_estimated_from_the_pauses(snr_db):
    estimate = estimate_noise(noisy_copies(snr_db), quantile=0.2)
    assert abs(float(np.median(estimate.snr_db)) - snr_db) < 2.0, estimate.snr_db
    assert estimate.seconds > 0.5 and estimate.bank.dtype == np.float32


def test_snr_of_pure_noise_and_of_silence():
    powers = np.array([1.0, 1.0, 1.0, 1.0])
    assert utterance_snr_db(powers, np.array([True, True, False, False])) == float("-inf")
    assert utterance_snr_db(np.array([0.0, 4.0]), np.array([True, False])) == float("inf")


def test_simulate_mixes_at_a_drawn_estimate():
    estimate = estimate_noise(noisy_copies(10.0), quantile=0.2)
    clean = speech_like(1.5, np.random.default_rng(5))
    noisy = simulate(clean, estimate, np.random.default_rng(0))
    assert noisy.shape == clean.shape
    assert min(abs(measure_snr_db(clean, noisy) - s) for s in estimate.snr_db) < 0.01
    long = speech_like(30.0, np.random.default_rng(5))       # longer than the bank: it is tiled
    assert simulate(long, estimate, np.random.default_rng(0)).shape == long.shape


def test_silent_or_short_target_audio_is_refused():
    with pytest.raises(ValueError, match="no additive noise"):
        estimate_noise([speech_like(2.0, np.random.default_rng(0))])     # digital silence in the pauses
    with pytest.raises(ValueError, match="long"):
        estimate_noise([np.ones(10, dtype=np.float32)])


def test_simulated_utterances_keep_the_source_transcripts(tmp_path: Path):
    rng = np.random.default_rng(1)
    source = []
    for i in range(3):
        path = tmp_path / "src" / f"u{i}.wav"
        save_audio(path, speech_like(1.0, rng))
        source.append(Utterance(str(path), f"text {i}", 1.0, "source", "spk", "train", {"_where": "x"}))
    estimate = estimate_noise(noisy_copies(5.0), quantile=0.2)
    out = simulate_utterances(source, estimate, tmp_path / "sim", domain="noise-5db-simulated", seed=3)
    assert [u.text for u in out] == ["text 0", "text 1", "text 2"]
    assert all(u.domain == "noise-5db-simulated" and "_where" not in u.extra for u in out)
    again = simulate_utterances(source, estimate, tmp_path / "sim2", domain="d", seed=3)
    assert np.array_equal(load_audio(out[0].audio), load_audio(again[0].audio))     # seeded
    assert not np.array_equal(load_audio(out[0].audio), load_audio(source[0].audio))

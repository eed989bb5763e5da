"""Synthesis engines: every declared espeak voice works; piper and flite when installed."""
from __future__ import annotations

import numpy as np
import pytest

from asrlab.corpus.domains import DOMAINS
from asrlab.corpus.espeak import ESPEAK_ACCENTS, ESPEAK_VARIANTS, EspeakSynthesizer, EspeakVoice
from asrlab.corpus.flite import FliteSynthesizer, FliteVoiceSpec, flite_available
from asrlab.corpus.piper import PiperSynthesizer, PiperVoiceSpec, piper_available


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer()


def test_every_accent_and_variant_speaks(espeak: EspeakSynthesizer) -> None:
    assert len(ESPEAK_ACCENTS) >= 8
    for accent in ESPEAK_ACCENTS:
        for variant in ESPEAK_VARIANTS:
            wave = espeak.synthesize("hello there", EspeakVoice(accent, variant))
            assert wave.dtype == np.float32 and 0.2 < len(wave) / 16000 < 3.0
            assert np.isfinite(wave).all() and np.abs(wave).max() > 0.05


def test_voices_of_every_domain_pool_exist(espeak: EspeakSynthesizer) -> None:
    for spec in DOMAINS.values():
        for pool in (spec.train_voices, spec.eval_voices):
            if pool is None:
                continue
            assert set(pool.accents) <= set(ESPEAK_ACCENTS) and set(pool.variants) <= set(ESPEAK_VARIANTS)


def test_synthesis_is_deterministic_and_prosody_matters(espeak: EspeakSynthesizer) -> None:
    voice = EspeakVoice("en-us", "f2", rate=150)
    a = espeak.synthesize("the quick brown fox", voice)
    b = espeak.synthesize("the quick brown fox", voice)
    fast = espeak.synthesize("the quick brown fox", EspeakVoice("en-us", "f2", rate=260))
    assert np.array_equal(a, b)
    assert len(fast) < 0.8 * len(a)


def test_unknown_voice_is_a_clear_error(espeak: EspeakSynthesizer) -> None:
    with pytest.raises(ValueError, match="no voice"):
        espeak.synthesize("hello", EspeakVoice("xx-klingon"))


@pytest.mark.skipif(not piper_available(), reason="piper-tts or its voice package is not installed")
def test_piper_voice_speaks() -> None:
    wave = PiperSynthesizer().synthesize("hello there", PiperVoiceSpec())
    assert wave.dtype == np.float32 and 0.3 < len(wave) / 16000 < 3.0


@pytest.mark.skipif(not flite_available(), reason="the flite binary is not installed")
def test_flite_voice_speaks() -> None:
    wave = FliteSynthesizer().synthesize("hello there", FliteVoiceSpec("slt"))
    assert wave.dtype == np.float32 and 0.3 < len(wave) / 16000 < 3.0

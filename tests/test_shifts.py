"""Tests for asrlab.corpus.shifts: acoustic domain-shift transforms."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import welch

from asrlab.corpus.shifts import (
    PEAK_LIMIT,
    AddNoise,
    BabbleBank,
    Compose,
    Gain,
    Reverb,
    RirBank,
    Speed,
    Telephone,
    Transform,
    measure_snr_db,
    mix_at_snr,
    mulaw_decode,
    mulaw_encode,
    pink_noise,
    schroeder_rt60,
)

SR = 16_000


def speechlike(seconds: float = 3.0, seed: int = 0, peak: float = 0.5) -> np.ndarray:
    """A ``(samples,)`` float32 voiced-speech stand-in: gliding harmonics, syllable envelope,
    leading and trailing silence."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 120.0 + 40.0 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    wave = voiced * envelope + 0.01 * rng.standard_normal(n)
    wave[: n // 10] = 0.0
    wave[-n // 10 :] = 0.0
    return (peak * wave / np.max(np.abs(wave))).astype(np.float32)


def band_energy(wave: np.ndarray, low: float, high: float) -> float:
    """Power of ``wave`` between ``low`` and ``high`` Hz (Welch PSD integrated)."""
    freqs, psd = welch(wave, fs=SR, nperseg=1024)
    sel = (freqs >= low) & (freqs <= high)
    return float(psd[sel].sum() * (freqs[1] - freqs[0]))


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return speechlike()


@pytest.fixture(scope="module")
def babble_bank() -> BabbleBank:
    return BabbleBank([speechlike(seconds=2.0 + 0.3 * i, seed=100 + i) for i in range(8)], name="test")


@pytest.fixture(scope="module")
def rir_bank() -> RirBank:
    return RirBank.generate(n=4, rt60=(0.3, 0.6), seed=0)


@pytest.fixture(scope="module")
def all_transforms(babble_bank: BabbleBank, rir_bank: RirBank) -> dict[str, Transform]:
    return {
        "white": AddNoise("white", snr_db=(0.0, 20.0)),
        "pink": AddNoise("pink", snr_db=(0.0, 20.0)),
        "babble": AddNoise("babble", snr_db=(0.0, 20.0), babble=babble_bank),
        "reverb": Reverb(rir_bank),
        "telephone": Telephone(),
        "speed": Speed((0.9, 1.1)),
        "gain": Gain((-6.0, 6.0)),
        "compose": Compose((Speed((0.9, 1.1)), Reverb(rir_bank), AddNoise("pink", (5.0, 15.0)))),
    }


# --------------------------------------------------------------------------- SNR


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 10.0, 20.0, 30.0])
def test_add_noise_hits_the_target_snr(kind, snr, clean, babble_bank):
    shift = AddNoise(kind, snr_db=(snr, snr), babble=babble_bank)
    noisy = shift(clean, np.random.default_rng(7))
    assert measure_snr_db(clean, noisy) == pytest.approx(snr, abs=0.1)


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_add_noise_draws_snr_inside_the_range(kind, clean, babble_bank):
    shift = AddNoise(kind, snr_db=(3.0, 12.0), babble=babble_bank)
    measured = [measure_snr_db(clean, shift(clean, np.random.default_rng(s))) for s in range(20)]
    assert all(2.9 <= m <= 12.1 for m in measured)
    assert max(measured) - min(measured) > 3.0  # really drawn, not fixed


def test_snr_survives_peak_limiting():
    loud = speechlike(peak=0.98)
    noisy = AddNoise("white", snr_db=(-5.0, -5.0))(loud, np.random.default_rng(0))
    assert np.max(np.abs(noisy)) <= PEAK_LIMIT + 1e-6
    assert np.dot(noisy, loud) / np.dot(loud, loud) < 0.9  # the mixture had to be scaled down
    assert measure_snr_db(loud, noisy) == pytest.approx(-5.0, abs=0.1)


def test_measure_snr_db_is_scale_invariant_and_checks_shapes(clean):
    noise = np.random.default_rng(0).standard_normal(clean.size).astype(np.float32)
    noisy = mix_at_snr(clean, noise, 12.0)
    assert measure_snr_db(clean, noisy) == pytest.approx(12.0, abs=1e-3)
    assert measure_snr_db(clean, 0.3 * noisy) == pytest.approx(12.0, abs=1e-3)
    assert measure_snr_db(clean, 2.0 * clean) == math.inf
    with pytest.raises(ValueError, match="equal length"):
        measure_snr_db(clean, noisy[:-1])
    with pytest.raises(ValueError, match="silent"):
        measure_snr_db(np.zeros(10), np.ones(10))


def test_silent_input_is_rejected_by_add_noise():
    with pytest.raises(ValueError, match="silent"):
        AddNoise("white", (10.0, 10.0))(np.zeros(SR, dtype=np.float32), np.random.default_rng(0))


def test_pink_noise_falls_10_db_per_decade():
    noise = pink_noise(10 * SR, np.random.default_rng(0))
    assert noise.dtype == np.float32 and noise.shape == (10 * SR,)
    assert np.mean(noise**2) == pytest.approx(1.0, rel=1e-3)
    assert spectral_slope(noise, 8192, 6000) == pytest.approx(-10.0, abs=1.5)


def spectral_slope(signal: np.ndarray, nperseg: int, top_hz: float) -> float:
    """dB per decade of ``signal``'s Welch spectrum between 50 Hz and ``top_hz`` (a line fit)."""
    freqs, psd = welch(signal, fs=SR, nperseg=nperseg)
    sel = (freqs >= 50) & (freqs <= top_hz)
    return float(np.polyfit(np.log10(freqs[sel]), 10 * np.log10(psd[sel]), 1)[0])


def added_noise(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """What a mixture adds to ``clean``: the residual after the best scaled copy of it."""
    return noisy - np.dot(noisy, clean) / np.dot(clean, clean) * clean


def test_pink_noise_in_the_mixture_is_pink(clean):
    noisy = AddNoise("pink", snr_db=(-20.0, -20.0))(clean, np.random.default_rng(3))
    assert spectral_slope(added_noise(noisy, clean), 4096, 6000) == pytest.approx(-10.0, abs=2.0)


def test_white_noise_is_flat(clean):
    noisy = AddNoise("white", snr_db=(-20.0, -20.0))(clean, np.random.default_rng(3))
    assert abs(spectral_slope(added_noise(noisy, clean), 4096, 7000)) < 1.0


def test_babble_bank_mixes_several_talkers(babble_bank):
    babble = babble_bank.sample(2 * SR, np.random.default_rng(0), talkers=(4, 4))
    assert babble.shape == (2 * SR,) and babble.dtype == np.float32
    # four independent unit-power talkers: power near 4, and the sum is not any single talker
    assert 2.0 < float(np.mean(babble**2)) < 6.0
    assert len(babble_bank) == 8
    assert json.dumps(babble_bank.describe())
    single = BabbleBank([speechlike(seed=1)])  # fewer waves than talkers: drawn with replacement
    assert single.sample(SR, np.random.default_rng(0), talkers=(3, 3)).shape == (SR,)


# --------------------------------------------------------------------------- determinism, contract


@pytest.mark.parametrize(
    "name", ["white", "pink", "babble", "reverb", "telephone", "speed", "gain", "compose"]
)
def test_same_seed_same_output_different_seed_differs(name, all_transforms, clean):
    shift = all_transforms[name]
    first = shift(clean, np.random.default_rng(42))
    again = shift(clean, np.random.default_rng(42))
    np.testing.assert_array_equal(first, again)
    if name == "telephone":  # deterministic channel
        np.testing.assert_array_equal(first, shift(clean, np.random.default_rng(43)))
        return
    others = [shift(clean, np.random.default_rng(seed)) for seed in (43, 44, 45)]
    assert any(o.shape != first.shape or not np.array_equal(o, first) for o in others)


def test_transforms_do_not_touch_global_random_state(all_transforms, clean):
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    for shift in all_transforms.values():
        shift(clean, np.random.default_rng(1))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("peak", [0.05, 1.0, 4.0])
@pytest.mark.parametrize(
    "name", ["white", "pink", "babble", "reverb", "telephone", "speed", "gain", "compose"]
)
def test_outputs_are_finite_float32_and_peak_limited(name, peak, all_transforms):
    wave = speechlike(peak=peak, seed=5)
    shift = all_transforms[name]
    assert isinstance(shift, Transform)
    out = shift(wave, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.ndim == 1
    assert np.isfinite(out).all()
    assert np.max(np.abs(out)) <= PEAK_LIMIT + 1e-6
    assert np.max(np.abs(out)) > 0.0
    assert json.dumps(shift.describe())
    assert shift.describe()["type"] == type(shift).__name__


@pytest.mark.parametrize(
    "name", ["white", "pink", "babble", "reverb", "telephone", "gain"]
)
def test_length_preserving_transforms_keep_length(name, all_transforms):
    for n in (SR, 3 * SR + 7, 1001):
        wave = speechlike(seconds=(n + 1) / SR, seed=2)[:n]
        assert all_transforms[name](wave, np.random.default_rng(0)).shape == (n,)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 100), dtype=np.float32), "mono"),
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "NaN"),
    ],
)
def test_bad_waveforms_are_rejected(bad, match, all_transforms):
    for shift in all_transforms.values():
        with pytest.raises(ValueError, match=match):
            shift(bad, np.random.default_rng(0))


def test_rng_must_be_a_generator(clean):
    with pytest.raises(TypeError, match="default_rng"):
        Gain((0.0, 1.0))(clean, 0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reverb


def test_rir_bank_rt60_matches_target(rir_bank):
    assert len(rir_bank) == 4
    for rir, room in zip(rir_bank.rirs, rir_bank.settings["rooms"]):
        target = room["rt60_target"]
        assert 0.3 <= target <= 0.6
        assert schroeder_rt60(rir) == pytest.approx(target, rel=0.5)
        assert float(np.sum(rir.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-4)
        assert rir.size <= 2 * SR  # tail cut at -60 dB


def test_rir_bank_is_reproducible_from_its_seed(rir_bank):
    again = RirBank.generate(n=1, rt60=(0.3, 0.6), seed=0)
    np.testing.assert_array_equal(again.rirs[0], rir_bank.rirs[0])


def test_schroeder_rt60_of_an_exponential_decay():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    rir = rng.standard_normal(SR) * 10 ** (-3 * t / 0.5)  # amplitude falls 60 dB in 0.5 s
    assert schroeder_rt60(rir) == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="never decays"):
        schroeder_rt60(np.ones(100))


def test_reverb_keeps_length_alignment_and_loudness(rir_bank):
    shift = Reverb(rir_bank)
    impulse = np.zeros(SR, dtype=np.float32)
    impulse[4000] = 0.5
    for seed in range(6):  # several RIRs of the bank
        out = shift(impulse, np.random.default_rng(seed))
        assert out.shape == impulse.shape
        assert int(np.argmax(np.abs(out))) == 4000  # direct path lands on the input sample
        assert np.sum(out[:3900] ** 2) < 1e-3 * np.sum(out**2)  # nothing arrives early
    noise = (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    wet = shift(noise, np.random.default_rng(0))
    assert 0.5 < np.std(wet) / np.std(noise) < 2.0  # unit-energy RIRs keep loudness comparable


def test_reverb_adds_a_decaying_tail(rir_bank, clean):
    burst = clean.copy()
    burst[SR:] = 0.0  # speech for 1 s, then silence
    wet = Reverb(rir_bank)(burst, np.random.default_rng(0))
    tail = slice(SR + 800, SR + 3200)  # 50 to 200 ms after the speech stops
    assert np.sum(burst[tail] ** 2) == 0.0
    assert np.sum(wet[tail] ** 2) > 1e-4 * np.sum(wet[:SR] ** 2)
    assert np.sum(wet[SR + 12000 :] ** 2) < np.sum(wet[tail] ** 2)  # and it decays


def test_reverb_describe_includes_rt60_range(rir_bank):
    described = Reverb(rir_bank).describe()
    assert described["rt60"] == [0.3, 0.6]
    assert described["n_rirs"] == 4 and described["seed"] == 0
    assert Reverb(rir_bank).rt60 == (0.3, 0.6)
    json.dumps(described)


def test_rir_bank_accepts_given_rirs():
    rir = np.zeros(2000)
    rir[100] = 1.0
    rir[300:] = 0.05 * np.random.default_rng(0).standard_normal(1700) * np.exp(-np.arange(1700) / 300)
    bank = RirBank([rir], settings={"source": "hand-made"})
    assert bank.onsets == (40,)
    assert Reverb(bank).rt60 is None
    wave = speechlike(seconds=0.5)
    assert Reverb(bank)(wave, np.random.default_rng(0)).shape == wave.shape


# --------------------------------------------------------------------------- telephone


def test_mulaw_round_trip():
    x = np.random.default_rng(0).uniform(-1, 1, 100_000).astype(np.float32)
    codes = mulaw_encode(x)
    assert codes.dtype == np.uint8 and codes.min() >= 0 and codes.max() <= 255
    decoded = mulaw_decode(codes)
    assert decoded.dtype == np.float32
    # an 8-bit mu-law step is ~2.2% of the magnitude (plus a floor near zero)
    assert np.all(np.abs(decoded - x) <= 0.022 * (np.abs(x) + 1.0 / 255) + 1e-6)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    assert measure_snr_db(tone, mulaw_decode(mulaw_encode(tone))) > 35.0
    assert mulaw_encode(np.array([-1.0, 1.0, 5.0])).tolist() == [0, 255, 255]
    assert np.all(np.diff(mulaw_encode(np.linspace(-1, 1, 1000)).astype(int)) >= 0)
    np.testing.assert_allclose(mulaw_decode(np.array([0, 255])), [-1.0, 1.0], atol=1e-6)


def test_mulaw_rejects_bad_codes_and_mu():
    with pytest.raises(ValueError, match="0..255"):
        mulaw_decode(np.array([0, 256]))
    with pytest.raises(ValueError, match="integer codes"):
        mulaw_decode(np.array([0.5]))
    with pytest.raises(ValueError, match="mu"):
        mulaw_encode(np.zeros(3), mu=0)


def test_telephone_band_limits_white_noise():
    noise = (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    out = Telephone()(noise, np.random.default_rng(0))
    assert out.shape == noise.shape
    assert band_energy(out, 3600, 8000) < 0.01 * band_energy(noise, 3600, 8000)
    assert band_energy(out, 0, 150) < 0.05 * band_energy(noise, 0, 150)
    passband = band_energy(out, 600, 3000) / band_energy(noise, 600, 3000)
    assert 0.7 < passband < 1.3


def test_telephone_keeps_speech_time_aligned(clean):
    out = Telephone()(clean, np.random.default_rng(0))
    lags = np.arange(-20, 21)
    xcorr = [np.dot(np.roll(out, -lag), clean) for lag in lags]
    assert lags[int(np.argmax(xcorr))] == 0
    # the band-pass removes the fundamental (< 300 Hz), but what remains is the same speech
    correlation = np.dot(out, clean) / np.sqrt(np.dot(out, out) * np.dot(clean, clean))
    assert correlation > 0.4


# --------------------------------------------------------------------------- speed, gain, compose


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.25])
def test_speed_scales_duration_and_pitch(factor):
    n = 2 * SR
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)).astype(np.float32)
    out = Speed((factor, factor))(tone, np.random.default_rng(0))
    assert abs(out.size - n / factor) <= 1
    freqs, psd = welch(out, fs=SR, nperseg=4096)
    assert freqs[np.argmax(psd)] == pytest.approx(1000 * factor, abs=8)


def test_speed_draws_factors_in_range(clean):
    lengths = {Speed((0.9, 1.1))(clean, np.random.default_rng(s)).size for s in range(20)}
    assert len(lengths) > 5
    assert all(clean.size / 1.1 - 2 <= n <= clean.size / 0.9 + 2 for n in lengths)
    np.testing.assert_array_equal(Speed((1.0, 1.0))(clean, np.random.default_rng(0)), clean)


def test_gain_scales_then_limits(clean):
    np.testing.assert_allclose(Gain((6.0, 6.0))(0.1 * clean, np.random.default_rng(0)),
                               0.1 * clean * 10 ** (6 / 20), rtol=1e-5)
    loud = Gain((20.0, 20.0))(clean, np.random.default_rng(0))
    assert np.max(np.abs(loud)) == pytest.approx(PEAK_LIMIT)


def test_compose_applies_in_order_with_one_generator(clean, rir_bank):
    steps = (Speed((0.9, 1.1)), AddNoise("white", (5.0, 5.0)), Reverb(rir_bank))
    rng = np.random.default_rng(9)
    manual = clean
    for step in steps:
        manual = step(manual, rng)
    np.testing.assert_array_equal(Compose(steps)(clean, np.random.default_rng(9)), manual)
    reordered = Compose(steps[::-1])(clean, np.random.default_rng(9))
    assert reordered.shape != manual.shape or not np.array_equal(reordered, manual)


def test_compose_describe_lists_steps_in_order(all_transforms):
    described = all_transforms["compose"].describe()
    assert [d["type"] for d in described["transforms"]] == ["Speed", "Reverb", "AddNoise"]
    everything = Compose(tuple(all_transforms.values()))
    text = json.dumps(everything.describe())
    assert json.loads(text)["transforms"][-1]["type"] == "Compose"
    identity = Compose(())(np.full(4, 0.5, np.float32), np.random.default_rng(0))
    np.testing.assert_array_equal(identity, 0.5)


# --------------------------------------------------------------------------- invalid settings


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: AddNoise("white", snr_db=(20.0, 5.0)), "low <= high"),
        (lambda: AddNoise("white", snr_db=(5.0,)), r"\(low, high\)"),
        (lambda: AddNoise("white", snr_db=(5.0, math.inf)), "finite"),
        (lambda: AddNoise("brown", (5.0, 10.0)), "'white', 'pink' or 'babble'"),  # type: ignore
        (lambda: AddNoise("babble", snr_db=(5.0, 10.0)), "BabbleBank"),
        (lambda: AddNoise("white", snr_db=(5.0, 10.0), talkers=(0, 2)), "talkers"),
        (lambda: Speed((0.0, 1.1)), "> 0"),
        (lambda: Speed((-1.0, 1.1)), "> 0"),
        (lambda: Speed((1.1, 0.9)), "low <= high"),
        (lambda: Gain((6.0, -6.0)), "low <= high"),
        (lambda: Telephone(band=(300.0, 5000.0)), "4000"),
        (lambda: Telephone(band=(0.0, 3400.0)), "> 0"),
        (lambda: Telephone(codec="gsm"), "mulaw"),  # type: ignore[arg-type]
        (lambda: Reverb("not a bank"), "RirBank"),  # type: ignore[arg-type]
        (lambda: Compose((Gain(), np.abs)), "not a transform"),  # type: ignore[arg-type]
        (lambda: BabbleBank([]), "at least one"),
        (lambda: BabbleBank([np.zeros(100)]), "silent"),
        (lambda: RirBank(()), "at least one"),
        (lambda: RirBank.generate(n=1, rt60=(0.0, 0.5)), "> 0"),
        (lambda: RirBank.generate(n=1, rt60=(0.6, 0.3)), "low <= high"),
        (lambda: RirBank.generate(n=0), "n >= 1"),
        (lambda: RirBank.generate(n=1, rt60=(0.05, 0.3), room_dims_max=(10.0, 10.0, 4.0)), "absorbing"),
        (lambda: RirBank.generate(n=1, rt60=(0.5, 3.0)), "image-source order"),
        (lambda: RirBank.generate(n=1, room_dims_min=(9.0, 3.0, 2.4)), "exceeds room_dims_max"),
    ],
)
def test_invalid_settings_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()

"""Audio loading: bad input gives an AudioError that names the file; resampling; saving."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import asrlab.audio as audio_mod
from asrlab.audio import SAMPLE_RATE, audio_duration, load_audio, resample, save_audio
from asrlab.errors import AudioError


def tone(seconds: float = 0.5, sr: int = SAMPLE_RATE, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(wave: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / sr)[spectrum.argmax()])


# --------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.wav"
    with pytest.raises(AudioError, match="not found") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not audio at all\n" * 20)
    with pytest.raises(AudioError, match="cannot read") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_truncated_wav(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(1.0), SAMPLE_RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header intact, half the samples gone
    with pytest.raises(AudioError, match="truncated") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_truncated_inside_header(tmp_path):
    path = tmp_path / "stub.wav"
    sf.write(path, tone(0.2), SAMPLE_RATE, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16")
    with pytest.raises(AudioError, match="no samples") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_stereo_is_an_error_when_asked(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([tone(0.2), tone(0.2, freq=880)], axis=1), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="2 channels") as info:
        load_audio(path, multichannel="error")
    assert str(path) in str(info.value)


def test_stereo_mix_averages_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(0.2), tone(0.2, freq=880, amp=0.1)
    sf.write(path, np.stack([left, right], axis=1), SAMPLE_RATE, subtype="FLOAT")
    mixed = load_audio(path, multichannel="mix")
    assert mixed.shape == left.shape and mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("sr", [8_000, 44_100])
def test_other_rates_are_resampled(tmp_path, sr):
    path = tmp_path / f"tone{sr}.wav"
    sf.write(path, tone(1.5, sr=sr), sr, subtype="FLOAT")
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == pytest.approx(1.5 * SAMPLE_RATE, abs=2)    # duration preserved
    assert peak_frequency(wave, SAMPLE_RATE) == pytest.approx(440.0, abs=2.0)  # pitch preserved


def test_resample_to_another_target_rate(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1.0), SAMPLE_RATE, subtype="FLOAT")
    assert len(load_audio(path, sample_rate=8_000)) == 8_000
    same = tone(0.1)
    assert resample(same, SAMPLE_RATE, SAMPLE_RATE) is same


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_samples(tmp_path, bad):
    path = tmp_path / "nan.wav"
    wave = tone(0.2)
    wave[100:103] = bad
    sf.write(path, wave, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="3 NaN/inf samples") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_audio_duration_and_header_errors(tmp_path):
    path = tmp_path / "tone.wav"
    save_audio(path, tone(0.75))
    assert audio_duration(path) == pytest.approx(0.75)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(AudioError) as info:
        audio_duration(garbage)
    assert str(garbage) in str(info.value)


# --------------------------------------------------------------------------- saving
def test_save_audio_round_trip(tmp_path):
    path = tmp_path / "sub" / "dir" / "x.wav"   # parent folders are created
    wave = tone(0.3)
    save_audio(path, wave)
    info = sf.info(path)
    assert info.samplerate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16"
    back = load_audio(path)
    np.testing.assert_allclose(back, wave, atol=1.0 / 32768 + 1e-7)
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]  # no temp file left


def test_save_audio_clips_and_validates(tmp_path):
    path = tmp_path / "loud.wav"
    save_audio(path, np.array([2.0, -3.0, 0.5], dtype=np.float32))
    np.testing.assert_allclose(load_audio(path), [32767 / 32768, -1.0, 0.5], atol=1e-4)
    with pytest.raises(ValueError, match="samples"):
        save_audio(tmp_path / "2d.wav", np.zeros((10, 2)))
    with pytest.raises(AudioError, match="NaN"):
        save_audio(tmp_path / "nan.wav", np.array([0.0, np.nan]))
    assert not (tmp_path / "nan.wav").exists()


def test_save_audio_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    save_audio(path, tone(0.2))
    before = path.read_bytes()

    def broken_write(file, *args, **kwargs):  # a crash half-way through writing
        with open(file, "wb") as handle:
            handle.write(b"RIFF")
        raise OSError("disk full")

    monkeypatch.setattr(audio_mod.sf, "write", broken_write)
    with pytest.raises(OSError):
        save_audio(path, tone(0.4))
    assert path.read_bytes() == before      # the old file is untouched
    np.testing.assert_allclose(load_audio(path), tone(0.2), atol=1e-4)

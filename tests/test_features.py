"""Log-mel features, normalisation, the on-disk cache and SpecAugment."""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
import torch

import asrlab.features as features_mod
from asrlab.audio import load_audio, save_audio
from asrlab.config import FeatureConfig, SpecAugmentConfig
from asrlab.errors import AudioError
from asrlab.features import FeatureCache, SpecAugment, compute_features, log_mel, num_frames


def noise(samples: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


@pytest.mark.parametrize("samples", [400, 8_000, 16_000, 16_123])
def test_log_mel_shape(samples):
    feats = log_mel(noise(samples))
    assert feats.shape == (samples // 160 + 1, 80)
    assert feats.shape[0] == num_frames(samples, FeatureConfig())
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()


def test_log_mel_other_settings_and_bad_shape():
    config = FeatureConfig(n_mels=40, hop_ms=20.0)
    assert log_mel(noise(16_000), config).shape == (16_000 // 320 + 1, 40)
    with pytest.raises(ValueError, match="samples"):
        log_mel(np.zeros((2, 1000), dtype=np.float32))


def test_per_utterance_normalisation():
    wave = noise(16_000) * np.linspace(0.1, 1.0, 16_000, dtype=np.float32)
    feats = log_mel(wave)
    assert torch.allclose(feats.mean(dim=0), torch.zeros(80), atol=1e-4)
    assert torch.allclose(feats.std(dim=0), torch.ones(80), atol=1e-3)
    raw = log_mel(wave, FeatureConfig(normalize="none"))
    assert raw.mean(dim=0).abs().max() > 1.0     # plain log power: not normalised
    assert torch.allclose((raw - raw.mean(0)) / (raw.std(0) + 1e-5), feats, atol=1e-5)


def test_log_mel_accepts_tensors():
    wave = noise(4_000)
    assert torch.equal(log_mel(torch.from_numpy(wave)), log_mel(wave))


# --------------------------------------------------------------------------- cache
def test_cache_hit_returns_identical_features_without_recomputing(tmp_path, monkeypatch):
    audio = tmp_path / "a.wav"
    save_audio(audio, noise(8_000))
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    first = cache.get(str(audio))
    assert torch.equal(first, log_mel(load_audio(audio)))
    files = list(cache.root.rglob("*.npy"))
    assert len(files) == 1 and files[0].parent.parent == cache.root

    def no_compute(*args, **kwargs):
        raise AssertionError("a cache hit must not recompute features")

    monkeypatch.setattr(features_mod, "log_mel", no_compute)
    second = cache.get(str(audio))
    assert torch.equal(first, second) and second.dtype == torch.float32
    assert torch.equal(compute_features(str(audio), FeatureConfig(), cache), first)


def test_rewritten_audio_gives_new_features(tmp_path):
    audio = tmp_path / "a.wav"
    save_audio(audio, noise(8_000, seed=1))
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    old = cache.get(str(audio))
    save_audio(audio, noise(12_000, seed=2))                       # new size
    new = cache.get(str(audio))
    assert new.shape[0] == 12_000 // 160 + 1 and not torch.equal(old[:10], new[:10])

    save_audio(audio, noise(12_000, seed=3))                       # same size, new mtime
    stat = os.stat(audio)
    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    newer = cache.get(str(audio))
    assert newer.shape == new.shape and not torch.equal(newer, new)
    assert torch.equal(newer, log_mel(load_audio(audio)))


def test_settings_change_uses_another_folder(tmp_path):
    a = FeatureCache(tmp_path, FeatureConfig())
    b = FeatureCache(tmp_path, FeatureConfig(n_mels=40))
    c = FeatureCache(tmp_path, FeatureConfig(normalize="none"))
    assert len({a.root, b.root, c.root}) == 3
    assert FeatureCache(tmp_path, FeatureConfig()).root == a.root
    audio = tmp_path / "a.wav"
    save_audio(audio, noise(4_000))
    assert a.get(str(audio)).shape[1] == 80 and b.get(str(audio)).shape[1] == 40


def test_corrupt_cache_file_is_recomputed(tmp_path):
    audio = tmp_path / "a.wav"
    save_audio(audio, noise(4_000))
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    good = cache.get(str(audio))
    (npy,) = cache.root.rglob("*.npy")
    npy.write_bytes(npy.read_bytes()[:40])                          # a torn write
    assert torch.equal(cache.get(str(audio)), good)


def test_cache_missing_audio_raises_audio_error(tmp_path):
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    missing = tmp_path / "gone.wav"
    with pytest.raises(AudioError) as info:
        cache.get(str(missing))
    assert str(missing) in str(info.value)


# --------------------------------------------------------------------------- SpecAugment
def batch(b: int = 3, t: int = 200, f: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    feats = torch.randn(b, t, f, generator=torch.Generator().manual_seed(0)) + 5.0  # never 0 by chance
    lengths = torch.tensor([t, t - 50, t - 120])[:b]
    feats = feats * (torch.arange(t)[None, :, None] < lengths[:, None, None])
    return feats, lengths


def test_specaugment_is_identity_in_eval_mode():
    feats, lengths = batch()
    aug = SpecAugment(SpecAugmentConfig()).eval()
    assert torch.equal(aug(feats, lengths, torch.Generator().manual_seed(0)), feats)


def test_specaugment_masks_in_train_mode_and_is_seeded():
    feats, lengths = batch()
    aug = SpecAugment(SpecAugmentConfig(freq_masks=2, freq_width=15, time_masks=2, time_width=40))
    aug.train()
    out = aug(feats, lengths, torch.Generator().manual_seed(1))
    assert out.shape == feats.shape
    assert not torch.equal(out, feats)
    changed = out != feats
    assert torch.all(out[changed] == 0)                     # masked values are set to 0
    again = aug(feats, lengths, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    other = aug(feats, lengths, torch.Generator().manual_seed(2))
    assert not torch.equal(out, other)


def test_specaugment_time_masks_stay_within_lengths_and_limits():
    feats, lengths = batch()
    config = SpecAugmentConfig(freq_masks=0, time_masks=1, time_width=30, max_time_fraction=0.2)
    aug = SpecAugment(config).train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        out = aug(feats, lengths, gen)
        for i, length in enumerate(lengths.tolist()):
            masked = (out[i] == 0).all(dim=1) & (feats[i] != 0).any(dim=1)
            frames = masked.nonzero().flatten()
            if len(frames):
                assert frames.max() < length
                assert len(frames) <= min(config.time_width, int(length * config.max_time_fraction))
                assert frames.max() - frames.min() + 1 == len(frames)   # one contiguous mask


def test_specaugment_freq_masks_respect_width():
    feats, lengths = batch()
    aug = SpecAugment(SpecAugmentConfig(freq_masks=1, freq_width=10, time_masks=0)).train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        out = aug(feats, lengths, gen)
        for i in range(feats.shape[0]):
            bins = (out[i, : lengths[i]] == 0).all(dim=0).nonzero().flatten()
            assert len(bins) <= 10


def test_specaugment_disabled_kinds_are_identity():
    feats, lengths = batch()
    aug = SpecAugment(SpecAugmentConfig(freq_masks=0, time_masks=0)).train()
    assert torch.equal(aug(feats, lengths, torch.Generator().manual_seed(0)), feats)


def test_feature_config_is_hashable_for_the_transform_cache():
    assert replace(FeatureConfig(), n_mels=40) != FeatureConfig()
    assert hash(FeatureConfig()) == hash(FeatureConfig())


def test_audio_shorter_than_a_window_is_a_clear_error_naming_the_file(tmp_path) -> None:
    import numpy as np

    from asrlab.audio import save_audio
    from asrlab.config import FeatureConfig
    from asrlab.errors import AudioError
    from asrlab.features import compute_features

    path = tmp_path / "blip.wav"
    save_audio(path, np.full(100, 0.1, dtype=np.float32))
    with pytest.raises(AudioError, match="blip.wav.*shorter than one"):
        compute_features(str(path), FeatureConfig())


def test_frequency_warp_moves_content_up_or_down_and_factor_one_is_identity() -> None:
    from asrlab.features import warp_frequency

    feats = torch.zeros(3, 4, 80)
    feats[:, :, 40] = 1.0  # one bright bin
    warped = warp_frequency(feats, torch.tensor([1.0, 1.1, 0.9]))
    assert torch.equal(warped[0], feats[0])
    peak = warped.mean(1).argmax(-1)
    assert peak[1] == 44 and peak[2] == 36  # 40 * 1.1, 40 * 0.9
    assert warped.shape == feats.shape
    with pytest.raises(ValueError, match="positive"):
        warp_frequency(feats, torch.tensor([1.0, 0.0, 1.0]))


def test_specaugment_warp_is_seeded_and_off_in_eval() -> None:
    from asrlab.config import SpecAugmentConfig
    from asrlab.features import SpecAugment

    feats, lengths = torch.randn(2, 50, 80), torch.tensor([50, 30])
    augment = SpecAugment(SpecAugmentConfig(freq_masks=0, time_masks=0, freq_warp=0.1)).train()
    first = augment(feats, lengths, torch.Generator().manual_seed(1))
    again = augment(feats, lengths, torch.Generator().manual_seed(1))
    assert torch.equal(first, again) and not torch.equal(first, feats)
    assert torch.equal(augment.eval()(feats, lengths), feats)

"""Simulated target data: the target domain's own noise, cut from its unlabelled audio, added to
labelled source speech.

A label-free adaptation for *additive* shifts. Speech has pauses; in a noisy recording those
frames hold the noise alone. :func:`estimate_noise` finds them in each unlabelled target
utterance (the quietest frames), keeps them as a noise bank, and estimates each utterance's
signal-to-noise ratio from the power of its noise frames against the rest.
:func:`simulate_utterances` then mixes that noise into labelled *source* utterances at SNRs drawn
from the estimates: the model can be fine-tuned on speech that sounds like the target, with
transcripts that come from the source. No target transcript is read, and no clean version of a
target utterance (the graded corpus keeps one, ``clean_audio``, which this module never opens).

It only helps where the shift *is* additive noise; MMD, DANN and self-training make no such
assumption. Knowing the kind of shift is a prior, and this method spends it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from asrlab.audio import SAMPLE_RATE, load_audio, save_audio
from asrlab.corpus.shifts import mix_at_snr
from asrlab.manifest import Utterance


@dataclass(frozen=True)
class NoiseEstimate:
    """What the unlabelled target audio says about its noise.

    Attributes:
        bank: ``(samples,)`` the noise-only stretches of every utterance, end to end.
        snr_db: ``(N,)`` one SNR estimate per utterance (dB; whole-utterance signal power over
            noise power, as the corpus's noise shifts define it).
        sample_rate: of ``bank``.
    """

    bank: np.ndarray
    snr_db: np.ndarray
    sample_rate: int = SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.bank) / self.sample_rate


def frame_powers(wave: np.ndarray, frame: int) -> np.ndarray:
    """Mean power of each whole ``frame``-sample frame of a ``(samples,)`` wave: ``(frames,)``."""
    count = len(wave) // frame
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = wave[: count * frame].astype(np.float64).reshape(count, frame)
    return (frames ** 2).mean(axis=1)


def noise_only_frames(powers: np.ndarray, quantile: float = 0.2) -> np.ndarray:
    """Which frames hold noise alone: those at or below the ``quantile`` of the frame powers.

    Args:
        powers: ``(frames,)`` mean power per frame.
        quantile: the share of the quietest frames taken as noise (speech leaves at least this
            much of an utterance in pauses).

    Returns:
        ``(frames,)`` boolean mask.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    if len(powers) == 0:
        return np.zeros(0, dtype=bool)
    return powers <= np.quantile(powers, quantile)


def utterance_snr_db(powers: np.ndarray, noise: np.ndarray) -> float:
    """Whole-utterance SNR from frame powers and the noise-only mask: the noise power is the mean
    of the noise frames, the signal power what the whole utterance holds beyond it.

    Returns:
        The SNR in dB (``inf`` for a silent noise estimate, ``-inf`` when nothing stands above
        the noise).
    """
    noise_power = float(powers[noise].mean()) if noise.any() else 0.0
    signal_power = float(powers.mean()) - noise_power
    if noise_power <= 0.0:
        return float("inf")
    if signal_power <= 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(signal_power / noise_power))


def estimate_noise(waves: Sequence[np.ndarray], *, sample_rate: int = SAMPLE_RATE, frame_seconds: float = 0.032,
                   quantile: float = 0.2) -> NoiseEstimate:
    """The noise bank and per-utterance SNRs of unlabelled target audio.

    Args:
        waves: ``(samples,)`` float waveforms of the target's unlabelled utterances.
        sample_rate: of ``waves``.
        frame_seconds: frame length for the power measure.
        quantile: see :func:`noise_only_frames`.

    Raises:
        ValueError: no wave is at least two frames long, or no frame holds any noise (silent
            target audio: then there is nothing to simulate).
    """
    frame = max(1, int(round(frame_seconds * sample_rate)))
    pieces: list[np.ndarray] = []
    snrs: list[float] = []
    for wave in waves:
        powers = frame_powers(np.asarray(wave), frame)
        if len(powers) < 2:
            continue
        noise = noise_only_frames(powers, quantile)
        snrs.append(utterance_snr_db(powers, noise))
        frames = np.asarray(wave[: len(powers) * frame], dtype=np.float32).reshape(len(powers), frame)
        pieces.append(frames[noise].reshape(-1))
    if not snrs:
        raise ValueError(f"no target utterance is at least {2 * frame_seconds:.3f} s long: nothing to estimate "
                         "the noise from")
    bank = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if not np.any(bank):
        raise ValueError("the target audio's quietest frames are digital silence: it holds no additive noise "
                         "to simulate (use another adaptation method for this shift)")
    finite = np.array([s for s in snrs if np.isfinite(s)], dtype=np.float64)
    return NoiseEstimate(bank.astype(np.float32), finite, sample_rate)


def simulate(clean: np.ndarray, estimate: NoiseEstimate, rng: np.random.Generator) -> np.ndarray:
    """``clean`` plus a random stretch of the noise bank, at an SNR drawn from the estimates.

    Args:
        clean: ``(samples,)`` source speech at ``estimate.sample_rate``.
        estimate: from :func:`estimate_noise`.
        rng: draws the stretch and the SNR.

    Returns:
        ``(samples,)`` float32.
    """
    if len(estimate.snr_db) == 0:
        raise ValueError("the noise estimate holds no finite SNR to draw from")
    need = len(clean)
    bank = estimate.bank
    if len(bank) < need:
        bank = np.tile(bank, int(np.ceil(need / len(bank))))
    start = int(rng.integers(0, len(bank) - need + 1))
    snr = float(rng.choice(estimate.snr_db))
    return mix_at_snr(np.asarray(clean, dtype=np.float32), bank[start:start + need], snr)


def simulate_utterances(utterances: Sequence[Utterance], estimate: NoiseEstimate, out_dir: str | os.PathLike, *,
                        domain: str, seed: int = 0) -> list[Utterance]:
    """Write a noisy copy of each labelled source utterance into ``out_dir/audio/`` and return
    them as utterances of ``domain`` (transcripts from the source; ``extra["simulated"]``
    records the drawn SNR).

    A copy already written by the same seed and estimate is overwritten (the draws are
    deterministic given ``seed`` and the utterance order).
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir) / "audio"
    written = []
    for utt in utterances:
        wave = load_audio(utt.audio, estimate.sample_rate)
        noisy = simulate(wave, estimate, rng)
        path = out / f"{utt.id}.wav"
        save_audio(path, noisy, estimate.sample_rate)
        extra = {k: v for k, v in utt.extra.items() if not k.startswith("_")}
        written.append(Utterance(str(path), utt.text, utt.duration, domain, utt.speaker, utt.split,
                                 {**extra, "simulated": {"from": str(utt.audio)}}))
    return written


__all__ = ["NoiseEstimate", "estimate_noise", "frame_powers", "noise_only_frames", "simulate", "simulate_utterances",
           "utterance_snr_db"]

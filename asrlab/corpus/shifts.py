"""Acoustic domain shifts: turn clean synthetic speech into noisy, reverberant, telephone or
speed-perturbed target domains.

Every transform is a small frozen dataclass that is called as ``transform(wave, rng)`` on a
``(samples,)`` float waveform at 16 kHz and returns a new ``(samples',)`` float32 waveform at
16 kHz. All randomness comes from the ``rng`` argument (a :class:`numpy.random.Generator`), so a
transform is a pure function of its settings, the input and the generator state: the same seed
gives the same output. ``describe()`` returns the settings as a JSON-serialisable dict, which
the corpus builder stores in the manifest. Outputs are finite and peak-limited: a result whose
peak exceeds :data:`PEAK_LIMIT` is rescaled (never clipped).

Transforms compose with :class:`Compose`::

    bank = RirBank.generate(n=32, rt60=(0.3, 0.8), seed=0)      # slow, once per corpus
    shift = Compose((Reverb(bank), AddNoise("pink", snr_db=(5.0, 20.0))))
    noisy = shift(clean, np.random.default_rng(1234))

Expensive set-up (room impulse responses, babble sources) lives in banks that the caller builds
once (:class:`RirBank`, :class:`BabbleBank`); per-utterance work is a few FFTs, about 1-2 ms for a
3 s utterance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
from scipy import fft as sfft
from scipy.signal import butter, fftconvolve, resample_poly, sosfreqz

from asrlab.audio import SAMPLE_RATE

__all__ = [
    "PEAK_LIMIT", "Transform", "AddNoise", "BabbleBank", "Reverb", "RirBank", "Telephone",
    "Speed", "Gain", "Compose", "measure_snr_db", "mix_at_snr", "pink_noise", "mulaw_encode",
    "mulaw_decode", "schroeder_rt60", "simulate_rirs",
]

PEAK_LIMIT = 0.99
"""Outputs whose absolute peak exceeds this are rescaled to it."""

_PINK_LOW_HZ = 20.0  # pink noise has no energy below this (inaudible rumble would dominate its power)
_RIR_PRE_SAMPLES = 40  # samples kept before an RIR's direct-path peak (half pra's fractional delay)
_RIR_TAIL_DB = 60.0  # RIRs are cut once the remaining energy is this far below the total
_SPEED_MAX_DENOMINATOR = 100  # speed factors are realised as p/q with q <= this (short filters)
_TELEPHONE_SR = 8_000
_TELEPHONE_PAD = 1_024  # zero padding (16 kHz samples) that keeps FFT filtering from wrapping
_MAX_IMAGE_ORDER = 200  # beyond this, pyroomacoustics' image-source model takes many seconds


# --------------------------------------------------------------------------- protocol, helpers


@runtime_checkable
class Transform(Protocol):
    """A domain shift: ``(samples,)`` waveform + generator -> ``(samples',)`` float32 waveform."""

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply the shift to a 16 kHz ``(samples,)`` waveform, drawing randomness from ``rng``."""
        ...

    def describe(self) -> dict[str, Any]:
        """The transform's settings as a JSON-serialisable dict with a ``"type"`` key."""
        ...


def _check_wave(wave: np.ndarray, who: str) -> np.ndarray:
    """Return ``wave`` as a finite, non-empty ``(samples,)`` float32 array or raise ValueError."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"{who} expects a (samples,) mono waveform, got shape {wave.shape}")
    if wave.size == 0:
        raise ValueError(f"{who} got an empty waveform")
    if not np.isfinite(wave).all():
        raise ValueError(f"{who} got a waveform with NaN/inf samples")
    return wave


def _check_rng(rng: np.random.Generator, who: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{who} needs a numpy Generator, e.g. np.random.default_rng(seed), got {type(rng).__name__}"
        )


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two ``(samples,)`` arrays, accumulated in float64.

    ``np.einsum`` rather than ``np.dot``: BLAS may spread a long float64 dot product over
    threads, which costs far more than it saves here and oversubscribes parallel workers.
    """
    return float(np.einsum("i,i->", a, b, dtype=np.float64))


def _peak_limit(wave: np.ndarray) -> np.ndarray:
    """Cast to float32 and rescale so that ``max(|wave|) <= PEAK_LIMIT``."""
    wave = np.asarray(wave, dtype=np.float32)
    peak = float(np.max(np.abs(wave)))
    if peak > PEAK_LIMIT:
        wave = wave * np.float32(PEAK_LIMIT / peak)
    return wave


def _check_range(
    value: Sequence[float], name: str, *, low: float | None = None, low_inclusive: bool = True
) -> tuple[float, float]:
    """Validate a ``(low, high)`` range of finite numbers with ``low <= high``; return floats."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}; swap the bounds")
    if low is not None and (lo < low or (lo == low and not low_inclusive)):
        bound = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {bound} {low}, got {value!r}")
    return lo, hi


def _check_triple(value: Sequence[float], name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (metres), got {value!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"{name} must be 3 positive numbers (metres), got {value!r}")
    return out  # type: ignore[return-value]


# --------------------------------------------------------------------------- noise


def measure_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Signal-to-noise ratio of ``noisy`` against its clean reference, in dB.

    The clean signal is first fitted to ``noisy`` by least squares (``alpha * clean``), so a gain
    applied after mixing (e.g. peak limiting) does not count as noise; the rest
    ``noisy - alpha * clean`` is the noise. Powers are taken over the whole utterance.

    Args:
        clean: ``(samples,)`` reference waveform.
        noisy: ``(samples,)`` waveform of the same length.

    Returns:
        ``10 log10(P_signal / P_noise)``; ``inf`` when ``noisy`` is a scaled copy of ``clean``.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noisy = np.asarray(noisy, dtype=np.float64)
    if clean.ndim != 1 or clean.shape != noisy.shape:
        raise ValueError(
            f"measure_snr_db expects two (samples,) arrays of equal length, got {clean.shape} and "
            f"{noisy.shape}"
        )
    clean_power = _dot(clean, clean)
    if clean_power == 0.0:
        raise ValueError("measure_snr_db: the clean reference is silent, the SNR is undefined")
    alpha = _dot(noisy, clean) / clean_power
    residual = noisy - alpha * clean
    noise_power = _dot(residual, residual)
    if noise_power == 0.0:
        return math.inf
    return 10.0 * math.log10(alpha * alpha * clean_power / noise_power)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` to ``clean`` so that the whole-utterance SNR is exactly ``snr_db``.

    The noise is first made orthogonal to the clean signal (a component of relative power about
    ``1/samples`` is removed), so signal and noise powers add exactly and
    :func:`measure_snr_db` returns ``snr_db`` up to float32 rounding.

    Args:
        clean: ``(samples,)`` waveform, not silent.
        noise: ``(samples,)`` noise, not silent and not a multiple of ``clean``.
        snr_db: the target ratio of signal power to noise power, in dB.

    Returns:
        ``(samples,)`` float32 mixture (not peak-limited).
    """
    c = np.asarray(clean, dtype=np.float32)
    n = np.asarray(noise, dtype=np.float32)
    if c.ndim != 1 or c.shape != n.shape:
        raise ValueError(f"mix_at_snr expects equal (samples,) arrays, got {c.shape} and {n.shape}")
    clean_power = _dot(c, c)
    if clean_power == 0.0:
        raise ValueError("cannot mix noise at an SNR into a silent waveform (its power is 0)")
    # noise' = noise - k * clean is orthogonal to clean; its power is P_nn - k * P_nc.
    k = _dot(n, c) / clean_power
    noise_power = _dot(n, n) - k * _dot(n, c)
    if noise_power <= 1e-9 * _dot(n, n) or noise_power <= 0.0:
        raise ValueError("the noise is silent (or a copy of the signal), cannot set an SNR")
    scale = math.sqrt(clean_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    # clean + scale * noise', in float32
    return c * np.float32(1.0 - scale * k) + n * np.float32(scale)


@lru_cache(maxsize=64)
def _pink_shape(m: int) -> np.ndarray:
    """Amplitude ``1 / sqrt(f)`` (0 below 20 Hz) for the ``(m // 2 + 1,)`` bins of an m-point rfft."""
    freqs = np.arange(m // 2 + 1, dtype=np.float64) * (SAMPLE_RATE / m)
    shape = np.zeros(freqs.size, dtype=np.float32)
    audible = freqs >= _PINK_LOW_HZ
    shape[audible] = 1.0 / np.sqrt(freqs[audible])
    shape.setflags(write=False)
    return shape


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise made by shaping a random spectrum with FFTs.

    The power spectral density falls by 10 dB per decade (3 dB per octave) from 20 Hz up to
    8 kHz; there is no energy below 20 Hz.

    Args:
        n: number of samples.
        rng: the source of randomness.

    Returns:
        ``(n,)`` float32 noise with zero mean and unit mean power.
    """
    if n < 1:
        raise ValueError(f"pink_noise needs n >= 1 samples, got {n}")
    m = sfft.next_fast_len(max(n, 64), real=True)
    bins = m // 2 + 1
    spectrum = rng.standard_normal((bins, 2), dtype=np.float32).view(np.complex64)[:, 0]
    noise = sfft.irfft(spectrum * _pink_shape(m), n=m)[:n]
    noise = noise - noise.mean()
    power = _dot(noise, noise) / n
    return (noise / np.float32(math.sqrt(power) if power > 0 else 1.0)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class BabbleBank:
    """Speech waveforms from which babble noise is built; make it once, from other utterances.

    Each waveform is stored scaled to unit mean power, so every talker in the babble is equally
    loud. Babble for one utterance is the sum of a few waveforms, each started at a random
    offset and looped to the needed length.

    Attributes:
        waves: the ``(samples_i,)`` float32 source waveforms at 16 kHz (unit power).
        name: a label for manifests, e.g. ``"train/clean speakers 0-9"``.
    """

    waves: tuple[np.ndarray, ...] = field(repr=False)
    name: str = ""

    def __post_init__(self) -> None:
        waves = tuple(self.waves) if not isinstance(self.waves, np.ndarray) else (self.waves,)
        if not waves:
            raise ValueError("BabbleBank needs at least one waveform")
        prepared = []
        for i, wave in enumerate(waves):
            wave = _check_wave(wave, f"BabbleBank (waveform {i})")
            power = _dot(wave, wave) / wave.size
            if power == 0.0:
                raise ValueError(f"BabbleBank: waveform {i} is silent; babble needs speech")
            prepared.append((wave / np.float32(math.sqrt(power))).astype(np.float32))
        object.__setattr__(self, "waves", tuple(prepared))

    def __len__(self) -> int:
        return len(self.waves)

    def sample(self, n: int, rng: np.random.Generator, talkers: tuple[int, int] = (3, 6)) -> np.ndarray:
        """Sum ``talkers`` (drawn uniformly, inclusive) randomly offset, looped waveforms.

        Args:
            n: length of the babble in samples.
            rng: the source of randomness.
            talkers: ``(low, high)`` number of simultaneous talkers. Waveforms are drawn without
                replacement when the bank holds enough of them.

        Returns:
            ``(n,)`` float32 babble.
        """
        lo, hi = _check_range(talkers, "talkers", low=1)
        count = int(rng.integers(int(lo), int(hi) + 1))
        chosen = rng.choice(len(self.waves), size=count, replace=count > len(self.waves))
        babble = np.zeros(n, dtype=np.float32)
        for index in chosen:
            wave = self.waves[int(index)]
            offset = int(rng.integers(wave.size))
            babble += np.take(wave, np.arange(offset, offset + n), mode="wrap")
        return babble

    def describe(self) -> dict[str, Any]:
        """Name, number of waveforms and total seconds (JSON-serialisable)."""
        seconds = sum(w.size for w in self.waves) / SAMPLE_RATE
        return {"name": self.name, "n_waves": len(self.waves), "seconds": round(seconds, 3)}


@dataclass(frozen=True)
class AddNoise:
    """Additive noise at an SNR drawn uniformly from ``snr_db`` per utterance.

    The SNR is the ratio of signal power to noise power over the whole utterance (silences
    included), and :func:`measure_snr_db` of the output against the input equals the draw.

    Attributes:
        kind: ``"white"`` (Gaussian), ``"pink"`` (1/f, see :func:`pink_noise`) or ``"babble"``
            (several talkers from ``babble``).
        snr_db: ``(low, high)`` range of SNRs in dB; ``(x, x)`` gives a fixed SNR.
        babble: the waveforms babble is made from; required for ``kind="babble"``.
        talkers: ``(low, high)`` number of babble talkers per utterance.
    """

    kind: Literal["white", "pink", "babble"]
    snr_db: tuple[float, float]
    babble: BabbleBank | None = None
    talkers: tuple[int, int] = (3, 6)

    def __post_init__(self) -> None:
        if self.kind not in ("white", "pink", "babble"):
            raise ValueError(f"AddNoise.kind must be 'white', 'pink' or 'babble', got {self.kind!r}")
        object.__setattr__(self, "snr_db", _check_range(self.snr_db, "AddNoise.snr_db"))
        if self.kind == "babble" and self.babble is None:
            raise ValueError(
                "AddNoise(kind='babble') needs a BabbleBank: build one from other utterances, "
                "e.g. AddNoise('babble', snr_db, babble=BabbleBank(waves))"
            )
        if self.babble is not None and not isinstance(self.babble, BabbleBank):
            raise ValueError(f"AddNoise.babble must be a BabbleBank, got {type(self.babble).__name__}")
        lo, hi = _check_range(self.talkers, "AddNoise.talkers", low=1)
        if lo != int(lo) or hi != int(hi):
            raise ValueError(f"AddNoise.talkers must be whole numbers, got {self.talkers!r}")
        object.__setattr__(self, "talkers", (int(lo), int(hi)))

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add noise to a ``(samples,)`` waveform; returns ``(samples,)`` float32."""
        wave = _check_wave(wave, "AddNoise")
        _check_rng(rng, "AddNoise")
        snr = float(rng.uniform(*self.snr_db))
        n = wave.size
        if self.kind == "white":
            noise = rng.standard_normal(n, dtype=np.float32)
        elif self.kind == "pink":
            noise = pink_noise(n, rng)
        else:
            assert self.babble is not None  # checked in __post_init__
            noise = self.babble.sample(n, rng, self.talkers)
        return _peak_limit(mix_at_snr(wave, noise, snr))

    def describe(self) -> dict[str, Any]:
        """Kind and SNR range (plus talkers and bank for babble)."""
        out: dict[str, Any] = {"type": "AddNoise", "kind": self.kind, "snr_db": list(self.snr_db)}
        if self.kind == "babble" and self.babble is not None:
            out["talkers"] = list(self.talkers)
            out["babble_bank"] = self.babble.describe()
        return out


# --------------------------------------------------------------------------- reverberation


def schroeder_rt60(
    rir: np.ndarray, sample_rate: int = SAMPLE_RATE, fit_db: tuple[float, float] = (-5.0, -25.0)
) -> float:
    """Reverberation time of a room impulse response by Schroeder backward integration.

    The energy decay curve ``EDC(t) = sum_{tau >= t} h(tau)^2`` (in dB, 0 at the start) is fitted
    with a straight line between ``fit_db[0]`` and ``fit_db[1]`` and extrapolated to -60 dB
    (the default is T20).

    Args:
        rir: ``(taps,)`` impulse response.
        sample_rate: its sample rate in Hz.
        fit_db: the two decay levels (dB, negative, first above second) the line is fitted between.

    Returns:
        RT60 in seconds.
    """
    h = np.asarray(rir, dtype=np.float64)
    if h.ndim != 1 or h.size < 2:
        raise ValueError(f"schroeder_rt60 expects a (taps,) impulse response, got shape {h.shape}")
    start, stop = fit_db
    if not stop < start < 0:
        raise ValueError(f"fit_db must be two negative levels, first above second, got {fit_db}")
    edc = np.cumsum((h * h)[::-1])[::-1]
    if edc[0] <= 0:
        raise ValueError("schroeder_rt60: the impulse response is all zeros")
    with np.errstate(divide="ignore"):
        edc_db = 10.0 * np.log10(edc / edc[0])
    i0 = int(np.argmax(edc_db <= start))
    below = edc_db <= stop
    if not below.any():
        raise ValueError(f"the impulse response never decays to {stop} dB; it is too short to fit")
    i1 = int(np.argmax(below))
    if i1 - i0 < 2:
        raise ValueError("the decay is too fast to fit (fewer than 2 samples between the levels)")
    t = np.arange(i0, i1 + 1) / sample_rate
    slope = np.polyfit(t, edc_db[i0 : i1 + 1], 1)[0]  # dB per second
    return float(-60.0 / slope)


def _prepare_rir(rir: np.ndarray) -> tuple[np.ndarray, int]:
    """Trim an RIR around its direct path and its -60 dB tail; scale to unit energy.

    Returns:
        ``(taps,)`` float32 RIR and the index of its direct-path peak.
    """
    h = np.asarray(rir, dtype=np.float64)
    if h.ndim != 1 or h.size == 0 or not np.isfinite(h).all():
        raise ValueError(f"an RIR must be a finite (taps,) array, got shape {h.shape}")
    peak = int(np.argmax(np.abs(h)))
    if h[peak] == 0.0:
        raise ValueError("an RIR is all zeros")
    start = max(peak - _RIR_PRE_SAMPLES, 0)
    h = h[start:]
    edc = np.cumsum((h * h)[::-1])[::-1]
    keep = int(np.count_nonzero(edc > edc[0] * 10.0 ** (-_RIR_TAIL_DB / 10.0)))
    h = h[: max(keep, peak - start + 1)]
    h = h / math.sqrt(_dot(h, h))
    return h.astype(np.float32), peak - start


@dataclass(frozen=True, eq=False)
class RirBank:
    """Room impulse responses computed once, from which :class:`Reverb` draws one per utterance.

    Each RIR is cut to start shortly before its direct-path peak and to end once 60 dB of its
    energy has decayed, and scaled to unit energy (so reverberation keeps the loudness
    comparable). Build simulated banks with :meth:`generate`; ``RirBank(rirs)`` accepts any
    measured or simulated 16 kHz RIRs.

    Attributes:
        rirs: ``(taps_i,)`` float32 impulse responses at 16 kHz.
        settings: JSON-serialisable description of how the bank was made.
        onsets: index of each RIR's direct-path peak (computed).
        rt60s: each RIR's RT60 in seconds by :func:`schroeder_rt60` (computed; ``nan`` when the
            RIR is too short to fit).
    """

    rirs: tuple[np.ndarray, ...] = field(repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    onsets: tuple[int, ...] = field(init=False)
    rt60s: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        rirs = (self.rirs,) if isinstance(self.rirs, np.ndarray) and self.rirs.ndim == 1 else self.rirs
        if len(rirs) == 0:
            raise ValueError("RirBank needs at least one impulse response")
        prepared = [_prepare_rir(r) for r in rirs]
        object.__setattr__(self, "rirs", tuple(h for h, _ in prepared))
        object.__setattr__(self, "onsets", tuple(onset for _, onset in prepared))
        rt60s = []
        for h in self.rirs:
            try:
                rt60s.append(schroeder_rt60(h))
            except ValueError:
                rt60s.append(math.nan)
        object.__setattr__(self, "rt60s", tuple(rt60s))
        object.__setattr__(self, "settings", dict(self.settings))

    def __len__(self) -> int:
        return len(self.rirs)

    @classmethod
    def generate(cls, n: int = 32, **simulation: Any) -> "RirBank":
        """Simulate ``n`` shoebox rooms and prepare their RIRs.

        Args:
            n: rooms (RIRs) to simulate.
            simulation: the other keyword arguments of :func:`simulate_rirs` (``rt60``,
                ``room_dims_min``, ``room_dims_max``, ``seed``, ``min_distance``, ``wall_margin``),
                with its defaults.

        Returns:
            The bank; its ``settings`` record all the arguments.
        """
        rirs, settings = simulate_rirs(n, **simulation)
        return cls(rirs=rirs, settings=settings)

    def describe(self) -> dict[str, Any]:
        """Bank settings (without the per-room list) and the measured RT60 range."""
        out = {k: v for k, v in self.settings.items() if k != "rooms"}
        out["n_rirs"] = len(self.rirs)
        measured = [r for r in self.rt60s if math.isfinite(r)]
        if measured:
            out["rt60_measured"] = [round(min(measured), 3), round(max(measured), 3)]
        return out


def simulate_rirs(
    n: int = 32,
    rt60: tuple[float, float] = (0.3, 0.8),
    room_dims_min: tuple[float, float, float] = (3.0, 3.0, 2.4),
    room_dims_max: tuple[float, float, float] = (8.0, 6.0, 3.5),
    seed: int = 0,
    *,
    min_distance: float = 0.5,
    wall_margin: float = 0.5,
) -> tuple[tuple[np.ndarray, ...], dict[str, Any]]:
    """Simulate ``n`` shoebox rooms with pyroomacoustics' image-source model.

    For each RIR a target RT60, room dimensions, a source and a microphone position are drawn
    uniformly; wall absorption and the image-source order come from ``pra.inverse_sabine``.
    This is slow (about 0.1-3 s per RIR, longest for small rooms with long RT60): build the
    bank once and share it.

    Args:
        n: number of impulse responses.
        rt60: ``(low, high)`` target reverberation times in seconds.
        room_dims_min: smallest room (length, width, height) in metres.
        room_dims_max: largest room in metres.
        seed: seeds the draws, so a bank is reproducible from its settings.
        min_distance: least source-microphone distance in metres.
        wall_margin: least distance of source and microphone from any wall, in metres.

    Returns:
        The raw ``(taps_i,)`` float64 RIRs, as simulated (``RirBank(rirs, settings)`` prepares
        them; keep these, not a bank's prepared ones, to rebuild the same bank later), and the
        settings, which record all the arguments and each room.
    """
    import pyroomacoustics as pra  # slow import, only needed here

    if int(n) != n or n < 1:
        raise ValueError(f"simulate_rirs needs n >= 1 impulse responses, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"simulate_rirs needs an integer seed, got {seed!r}")
    lo_rt, hi_rt = _check_range(rt60, "rt60", low=0.0, low_inclusive=False)
    dims_min = np.array(_check_triple(room_dims_min, "room_dims_min"))
    dims_max = np.array(_check_triple(room_dims_max, "room_dims_max"))
    if (dims_min > dims_max).any():
        raise ValueError(
            f"room_dims_min {dims_min.tolist()} exceeds room_dims_max {dims_max.tolist()}"
        )
    if (dims_min <= 2 * wall_margin).any():
        raise ValueError(f"every room dimension must exceed 2 * wall_margin = {2 * wall_margin} m")
    if min_distance < 0 or np.linalg.norm(dims_min - 2 * wall_margin) <= min_distance:
        raise ValueError(f"min_distance {min_distance} m does not fit in the smallest room")
    _check_reachable_rt60(pra, lo_rt, hi_rt, dims_min, dims_max)

    rng = np.random.default_rng(seed)
    rirs, rooms = [], []
    for _ in range(int(n)):
        target = float(rng.uniform(lo_rt, hi_rt))
        dims = rng.uniform(dims_min, dims_max)
        absorption, max_order = pra.inverse_sabine(target, dims)
        while True:
            source = rng.uniform(wall_margin, dims - wall_margin)
            mic = rng.uniform(wall_margin, dims - wall_margin)
            if np.linalg.norm(source - mic) >= min_distance:
                break
        room = pra.ShoeBox(
            dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=max_order
        )
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rirs.append(np.asarray(room.rir[0][0], dtype=np.float64))
        rooms.append({
            "rt60_target": round(target, 4), "dims": [round(float(d), 3) for d in dims],
            "max_order": int(max_order),
        })
    settings = {
        "source": "pyroomacoustics", "n": int(n), "rt60": [lo_rt, hi_rt],
        "room_dims_min": dims_min.tolist(), "room_dims_max": dims_max.tolist(),
        "seed": int(seed), "min_distance": float(min_distance),
        "wall_margin": float(wall_margin), "rooms": rooms,
    }
    return tuple(rirs), settings


def _check_reachable_rt60(
    pra: Any, lo_rt: float, hi_rt: float, dims_min: np.ndarray, dims_max: np.ndarray
) -> None:
    """Fail before simulating when some draw would be impossible or take very long."""
    try:
        pra.inverse_sabine(lo_rt, dims_max)  # shortest RT60 in the largest room: absorption <= 1?
    except ValueError:
        raise ValueError(
            f"an RT60 of {lo_rt} s cannot be reached in a {dims_max.tolist()} m room even with fully "
            "absorbing walls; raise the low end of rt60 or make room_dims_max smaller"
        ) from None
    _, order = pra.inverse_sabine(hi_rt, dims_min)  # longest RT60 in the smallest room
    if order > _MAX_IMAGE_ORDER:
        raise ValueError(
            f"an RT60 of {hi_rt} s in a {dims_min.tolist()} m room needs image-source order {order} "
            f"(> {_MAX_IMAGE_ORDER}), which takes minutes to simulate; lower the high end of rt60 "
            "or make room_dims_min larger"
        )


@dataclass(frozen=True)
class Reverb:
    """Reverberation: convolve with one RIR of ``bank``, drawn per utterance.

    The output is time-aligned with the input (the RIR's direct path lands on the input's
    samples) and has the input's length: the reverberant tail past the end is dropped.

    Attributes:
        bank: the precomputed impulse responses (see :meth:`RirBank.generate`).
    """

    bank: RirBank

    def __post_init__(self) -> None:
        if not isinstance(self.bank, RirBank):
            raise ValueError(
                f"Reverb needs a RirBank (e.g. RirBank.generate(n=32, rt60=(0.3, 0.8))), got "
                f"{type(self.bank).__name__}"
            )

    @property
    def rt60(self) -> tuple[float, float] | None:
        """The bank's target RT60 range in seconds, when it was simulated."""
        rt60 = self.bank.settings.get("rt60")
        return None if rt60 is None else (float(rt60[0]), float(rt60[1]))

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Reverberate a ``(samples,)`` waveform; returns ``(samples,)`` float32."""
        wave = _check_wave(wave, "Reverb")
        _check_rng(rng, "Reverb")
        index = int(rng.integers(len(self.bank)))
        rir, onset = self.bank.rirs[index], self.bank.onsets[index]
        wet = fftconvolve(wave, rir)  # float32 in, float32 out
        return _peak_limit(wet[onset : onset + wave.size])

    def describe(self) -> dict[str, Any]:
        """The bank's settings: rt60 range, room sizes, seed, number of RIRs, measured RT60s."""
        return {"type": "Reverb", **self.bank.describe()}


# --------------------------------------------------------------------------- telephone


def _check_mu(mu: int) -> int:
    if isinstance(mu, bool) or int(mu) != mu or not 1 <= mu <= 65535:
        raise ValueError(f"mu must be an integer in 1..65535 (255 for 8-bit codes), got {mu!r}")
    return int(mu)


def mulaw_encode(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """Mu-law compand and quantise samples to the integer codes ``0 .. mu``.

    ``y = sign(x) * ln(1 + mu |x|) / ln(1 + mu)`` is quantised uniformly: code ``round((y + 1)
    * mu / 2)``, so ``mu = 255`` gives 256 levels (8 bits), finest near zero.

    Args:
        x: float samples of any shape; values outside [-1, 1] are clipped.
        mu: compression parameter; ``255`` gives 8-bit codes.

    Returns:
        Codes of the same shape, of the smallest unsigned dtype holding ``mu`` (uint8 for 255).
    """
    mu = _check_mu(mu)
    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    # log(1 + mu|x|) rather than log1p: several times faster in float32 and exact enough here
    magnitude = np.log(np.float32(mu) * np.abs(x) + np.float32(1.0)) * np.float32(1.0 / math.log1p(mu))
    y = np.copysign(magnitude, x)
    codes = np.floor((y + np.float32(1.0)) * np.float32(mu / 2) + np.float32(0.5))
    return codes.astype(np.min_scalar_type(mu))


@lru_cache(maxsize=4)
def _mulaw_table(mu: int) -> np.ndarray:
    """The ``(mu + 1,)`` float32 sample value of every mu-law code."""
    y = np.arange(mu + 1, dtype=np.float64) * (2.0 / mu) - 1.0
    table = (np.sign(y) * np.expm1(np.abs(y) * math.log1p(mu)) / mu).astype(np.float32)
    table.setflags(write=False)
    return table


def mulaw_decode(codes: np.ndarray, mu: int = 255) -> np.ndarray:
    """Invert :func:`mulaw_encode`: integer codes ``0 .. mu`` -> float32 samples in [-1, 1].

    Args:
        codes: integer codes of any shape.
        mu: the compression parameter they were encoded with.

    Returns:
        float32 samples of the same shape.
    """
    mu = _check_mu(mu)
    codes = np.asarray(codes)
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"mulaw_decode expects integer codes, got dtype {codes.dtype}")
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) > mu):
        raise ValueError(
            f"mu-law codes must lie in 0..{mu}, got {int(codes.min())}..{int(codes.max())}"
        )
    return np.take(_mulaw_table(mu), codes)


@lru_cache(maxsize=16)
def _bandpass_table(low: float, high: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude response of a Butterworth band-pass at 8 kHz on a fine grid: (freqs, |H|)."""
    sos = butter(order, [low, high], btype="bandpass", fs=_TELEPHONE_SR, output="sos")
    freqs, response = sosfreqz(sos, worN=8193, fs=_TELEPHONE_SR)
    return freqs, np.abs(response).astype(np.float32)


@dataclass(frozen=True)
class Telephone:
    """A narrow-band telephone channel: band-pass, 8 kHz, 8-bit mu-law, back to 16 kHz.

    The Butterworth band-pass (scipy ``butter``, ``order`` per band edge) is applied as its
    zero-phase magnitude response in the frequency domain, before encoding and again after
    decoding (the two ends of the line); the 16 -> 8 -> 16 kHz conversions are done on the same
    spectra, so the whole channel costs four real FFTs. Output length equals input length and the
    output is time-aligned with the input.

    Attributes:
        codec: only ``"mulaw"`` (G.711-style 8-bit companding) for now.
        band: ``(low, high)`` pass band in Hz, within (0, 4000).
        order: Butterworth order.
    """

    codec: Literal["mulaw"] = "mulaw"
    band: tuple[float, float] = (300.0, 3400.0)
    order: int = 4

    def __post_init__(self) -> None:
        if self.codec != "mulaw":
            raise ValueError(f"Telephone.codec must be 'mulaw', got {self.codec!r}")
        low, high = _check_range(self.band, "Telephone.band", low=0.0, low_inclusive=False)
        if not low < high < _TELEPHONE_SR / 2:
            raise ValueError(
                f"Telephone.band must satisfy 0 < low < high < {_TELEPHONE_SR // 2} Hz, "
                f"got {self.band!r}"
            )
        if int(self.order) != self.order or not 1 <= self.order <= 12:
            raise ValueError(f"Telephone.order must be an integer in 1..12, got {self.order!r}")
        object.__setattr__(self, "band", (low, high))
        object.__setattr__(self, "order", int(self.order))

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pass a ``(samples,)`` waveform through the channel (deterministic; ``rng`` is unused)."""
        wave = _check_wave(wave, "Telephone")
        _check_rng(rng, "Telephone")
        n = wave.size
        m = 4 * sfft.next_fast_len(-(-(n + _TELEPHONE_PAD) // 4), real=True)  # 16 kHz FFT size
        bins8 = m // 4 + 1  # bins of the 8 kHz signal: 0 .. 4 kHz
        freqs, magnitude = _bandpass_table(*self.band, self.order)
        mask = np.interp(np.arange(bins8) * (SAMPLE_RATE / m), freqs, magnitude).astype(np.float32)
        mask[-1] = 0.0  # the 4 kHz bin cannot be split between the two sides of the spectrum
        spectrum = sfft.rfft(wave, n=m)[:bins8] * mask
        narrow = sfft.irfft(spectrum, n=m // 2) * np.float32(0.5)  # 8 kHz, band-limited
        narrow = mulaw_decode(mulaw_encode(narrow))
        spectrum = sfft.rfft(narrow) * mask
        out = sfft.irfft(spectrum, n=m)[:n] * np.float32(2.0)  # back to 16 kHz
        return _peak_limit(out)

    def describe(self) -> dict[str, Any]:
        """Codec, pass band and filter order."""
        return {"type": "Telephone", "codec": self.codec, "band": list(self.band), "order": self.order,
                "sample_rate": _TELEPHONE_SR}


# --------------------------------------------------------------------------- speed, gain, compose


@dataclass(frozen=True)
class Speed:
    """Speed perturbation (as Kaldi's): resample so that duration scales by ``1 / factor``.

    Pitch and tempo change together. The factor is drawn uniformly from ``factor`` and realised as
    the nearest fraction ``p/q`` with ``q <= 100`` (within about 1e-4; fixed factors such as 0.9
    and 1.1 are exact), which keeps the polyphase filter short.

    Attributes:
        factor: ``(low, high)`` speed factors, positive; ``> 1`` is faster and shorter.
    """

    factor: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "factor", _check_range(self.factor, "Speed.factor", low=0.0, low_inclusive=False)
        )

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Speed-perturb a ``(samples,)`` waveform; returns ``(ceil(samples / factor),)`` float32."""
        wave = _check_wave(wave, "Speed")
        _check_rng(rng, "Speed")
        ratio = Fraction(float(rng.uniform(*self.factor))).limit_denominator(_SPEED_MAX_DENOMINATOR)
        if ratio == 1:
            return _peak_limit(wave.copy())
        # Play the samples as if recorded at sample_rate * factor, resampled back to sample_rate.
        return _peak_limit(resample_poly(wave, ratio.denominator, ratio.numerator))

    def describe(self) -> dict[str, Any]:
        """The factor range."""
        return {"type": "Speed", "factor": list(self.factor)}


@dataclass(frozen=True)
class Gain:
    """Loudness change by a gain in dB drawn uniformly from ``db`` (then peak-limited).

    Attributes:
        db: ``(low, high)`` gain range in dB.
    """

    db: tuple[float, float] = (-6.0, 6.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", _check_range(self.db, "Gain.db"))

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Scale a ``(samples,)`` waveform; returns ``(samples,)`` float32."""
        wave = _check_wave(wave, "Gain")
        _check_rng(rng, "Gain")
        gain = 10.0 ** (float(rng.uniform(*self.db)) / 20.0)
        return _peak_limit(wave * np.float32(gain))

    def describe(self) -> dict[str, Any]:
        """The gain range."""
        return {"type": "Gain", "db": list(self.db)}


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order, sharing one generator (each draws in turn).

    Attributes:
        transforms: the transforms, first applied first; empty is the identity.
    """

    transforms: tuple[Transform, ...] = ()

    def __post_init__(self) -> None:
        transforms = tuple(self.transforms)
        for i, t in enumerate(transforms):
            if not isinstance(t, Transform):
                raise ValueError(
                    f"Compose item {i} ({type(t).__name__}) is not a transform: it needs "
                    "__call__(wave, rng) and describe()"
                )
        object.__setattr__(self, "transforms", transforms)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply every transform to a ``(samples,)`` waveform in order."""
        wave = _check_wave(wave, "Compose")
        _check_rng(rng, "Compose")
        for t in self.transforms:
            wave = t(wave, rng)
        return _peak_limit(wave)

    def describe(self) -> dict[str, Any]:
        """``{"type": "Compose", "transforms": [each transform's describe(), in order]}``."""
        return {"type": "Compose", "transforms": [t.describe() for t in self.transforms]}


@dataclass(frozen=True)
class OneOf:
    """Apply one of ``transforms``, drawn uniformly per utterance with the given generator.

    Attributes:
        transforms: the alternatives (at least one).
    """

    transforms: tuple[Transform, ...] = ()

    def __post_init__(self) -> None:
        transforms = tuple(self.transforms)
        if not transforms:
            raise ValueError("OneOf needs at least one transform")
        for i, t in enumerate(transforms):
            if not isinstance(t, Transform):
                raise ValueError(f"OneOf item {i} ({type(t).__name__}) is not a transform")
        object.__setattr__(self, "transforms", transforms)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply one randomly chosen transform to a ``(samples,)`` waveform."""
        _check_rng(rng, "OneOf")
        choice = int(rng.integers(len(self.transforms)))
        return self.transforms[choice](wave, rng)

    def describe(self) -> dict[str, Any]:
        """``{"type": "OneOf", "transforms": [...]}``."""
        return {"type": "OneOf", "transforms": [t.describe() for t in self.transforms]}

"""Measurements the notebooks make before any model: corpus tables, vocabulary overlap,
utterance-level feature statistics, 2-D embeddings, and signal measurements of domain shifts.

Everything here returns plain numbers or NumPy arrays, so a notebook can print them and assert
on them; the plots of the same quantities are in :mod:`asrlab.course.plots`.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from asrlab.config import FeatureConfig
from asrlab.features import FeatureCache, compute_features
from asrlab.manifest import Utterance, read_manifest
from asrlab.text import normalize_text

__all__ = [
    "utterance_statistics", "embed_2d", "knn_accuracy", "corpus_statistics", "words", "vocabulary",
    "vocabulary_overlap", "oov_rate", "wave_statistics", "spectrogram_db", "band_energy_fraction", "envelope_db",
    "noise_floor_db", "silent_fraction", "fastest_decay_db_per_s", "LESSON_KNOBS",
]

#: Notebook 01's knobs, per corpus size, with the values its assertions about the lesson's
#: effects (noise floors, vocabulary gaps, nearest-neighbour accuracies) were measured with:
#: its knobs cell passes them to :func:`asrlab.course.runner.lesson_check`.
LESSON_KNOBS = {
    "smoke": {"SEED": 0, "FLOOR_PERCENTILE": 10, "STATS_PER_SPLIT": None, "NEIGHBOURS": 5},
    "lab": {"SEED": 0, "FLOOR_PERCENTILE": 10, "STATS_PER_SPLIT": 60, "NEIGHBOURS": 5},
    "full": {"SEED": 0, "FLOOR_PERCENTILE": 10, "STATS_PER_SPLIT": 60, "NEIGHBOURS": 5},
}


# --------------------------------------------------------------------------- text and corpus
def words(text: str) -> list[str]:
    """The words of ``text`` after asrlab's normalisation (lower case, no punctuation)."""
    return normalize_text(text).split()


def vocabulary(utterances: Iterable[Utterance]) -> Counter[str]:
    """Word counts over the normalised transcripts of ``utterances``."""
    counts: Counter[str] = Counter()
    for utt in utterances:
        counts.update(words(utt.text))
    return counts


def vocabulary_overlap(a: Iterable[Utterance], b: Iterable[Utterance]) -> float:
    """Jaccard overlap ``|A & B| / |A | B|`` of the word types of two sets of utterances."""
    va, vb = set(vocabulary(a)), set(vocabulary(b))
    if not va and not vb:
        raise ValueError("vocabulary_overlap: both sets of utterances are empty")
    return len(va & vb) / len(va | vb)


def oov_rate(reference: Iterable[Utterance], utterances: Iterable[Utterance]) -> float:
    """Share of the running words of ``utterances`` that never occur in ``reference``.

    With ``reference`` a training set, this is the out-of-vocabulary rate a word-level model
    trained on it would face.
    """
    known = set(vocabulary(reference))
    counts = vocabulary(utterances)
    total = sum(counts.values())
    if total == 0:
        raise ValueError("oov_rate: the utterances hold no words")
    return sum(n for w, n in counts.items() if w not in known) / total


def corpus_statistics(manifests: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """One row per (domain, split) of the manifests, in the order they first appear.

    Args:
        manifests: JSONL manifest files (see :mod:`asrlab.manifest`).

    Returns:
        Dicts with ``domain``, ``split``, ``utterances``, ``minutes``, ``mean_duration_s``,
        ``min_duration_s``, ``max_duration_s``, ``words`` (running words), ``mean_words``,
        ``distinct_words`` and ``speakers``.
    """
    groups: dict[tuple[str, str], list[Utterance]] = {}
    for path in manifests:
        for utt in read_manifest(Path(path)):
            groups.setdefault((utt.domain, utt.split), []).append(utt)
    rows = []
    for (domain, split), utts in groups.items():
        durations = np.array([u.duration for u in utts])
        counts = vocabulary(utts)
        rows.append({
            "domain": domain, "split": split, "utterances": len(utts),
            "minutes": float(durations.sum() / 60.0), "mean_duration_s": float(durations.mean()),
            "min_duration_s": float(durations.min()), "max_duration_s": float(durations.max()),
            "words": int(sum(counts.values())), "mean_words": sum(counts.values()) / len(utts),
            "distinct_words": len(counts), "speakers": len({u.speaker for u in utts}),
        })
    return rows


# --------------------------------------------------------------------------- features
def utterance_statistics(utterances: Sequence[Utterance], features: FeatureConfig = FeatureConfig(),
                         cache: FeatureCache | None = None) -> np.ndarray:
    """Per-utterance mean and standard deviation of every log-mel bin over time.

    The features are computed without per-utterance normalisation (``normalize="none"`` replaces
    whatever ``features`` says): normalised features have mean 0 and std 1 in every bin by
    construction, which would hide exactly the channel, noise and room differences these
    statistics are meant to show.

    Args:
        utterances: the utterances to describe.
        features: log-mel settings (``kind`` must be ``"logmel"``).
        cache: an optional feature cache; its settings must be ``features`` with
            ``normalize="none"``.

    Returns:
        ``(N, 2F)`` float32 array: the F bin means, then the F bin standard deviations.
    """
    if features.kind != "logmel":
        raise ValueError(f"utterance_statistics needs log-mel features, got kind={features.kind!r}")
    config = replace(features, normalize="none")
    if cache is not None and cache.config != config:
        raise ValueError(f"the cache holds features with {cache.config}, not the unnormalised {config}")
    if not utterances:
        raise ValueError("utterance_statistics: no utterances given")
    rows = []
    for utt in utterances:
        feats = compute_features(utt.audio, config, cache).numpy()  # (T, F)
        rows.append(np.concatenate([feats.mean(axis=0), feats.std(axis=0)]))
    return np.stack(rows).astype(np.float32)


def wave_statistics(waves: Iterable[np.ndarray],
                    features: FeatureConfig = FeatureConfig(normalize="none")) -> np.ndarray:
    """Per-waveform mean and standard deviation of every log-mel bin over time, for audio in memory.

    :func:`utterance_statistics` for waveforms that are not files (a shift applied on the fly);
    unlike it, ``features`` is used as given, so ``FeatureConfig()`` (per-utterance
    normalisation) shows what normalisation leaves of the statistics.

    Args:
        waves: ``(samples,)`` waveforms at the rate ``features`` expects.
        features: log-mel settings (default: unnormalised).

    Returns:
        ``(N, 2F)`` float32 array: the F bin means, then the F bin standard deviations.
    """
    from asrlab.features import log_mel

    rows = [log_mel(np.asarray(w, dtype=np.float32), features).numpy() for w in waves]  # (T, F) each
    if not rows:
        raise ValueError("wave_statistics: no waveforms given")
    return np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in rows]).astype(np.float32)


def embed_2d(x: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """A 2-D t-SNE map of the rows of ``x`` (columns standardised first).

    Deterministic for a given ``seed`` (PCA initialisation, fixed ``random_state``). The
    perplexity is lowered to ``(N - 1) / 3`` for small N, as t-SNE needs it below N.

    Args:
        x: ``(N, D)`` array, N >= 4.
        seed: t-SNE's random state.
        perplexity: the perplexity for large N.

    Returns:
        ``(N, 2)`` float32 coordinates.
    """
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 4:
        raise ValueError(f"embed_2d needs an (N, D) array with N >= 4 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embed_2d: x holds NaN/inf values")
    scaled = StandardScaler().fit_transform(x)
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (x.shape[0] - 1) / 3.0), init="pca",
                learning_rate="auto", random_state=seed)
    return tsne.fit_transform(scaled).astype(np.float32)


def knn_accuracy(x: np.ndarray, labels: Sequence[str], classes: Sequence[str] | None = None, k: int = 5,
                 folds: int = 5, repeats: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier predicting ``labels`` from ``x``.

    A model-free test of whether domains differ in ``x``: features are standardised (inside each
    fold), and folds are stratified and shuffled with ``seed``; the cross-validation is repeated
    with ``repeats`` different shuffles and averaged, so that with few utterances the result does
    not hinge on one split into folds. Chance is about ``1 / classes``.

    Args:
        x: ``(N, D)`` features, e.g. from :func:`utterance_statistics`.
        labels: N labels.
        classes: keep only the rows whose label is one of these (default: all).
        k: neighbours.
        folds: cross-validation folds; every class needs at least this many rows.
        repeats: cross-validations, each with its own shuffle.
        seed: shuffles the folds.

    Returns:
        Mean accuracy over the folds, in [0, 1].
    """
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x)
    labels = np.asarray([str(label) for label in labels])
    if x.ndim != 2 or x.shape[0] != labels.size:
        raise ValueError(f"knn_accuracy needs (N, D) features and N labels, got {x.shape} and {labels.size}")
    keep = np.isin(labels, list(classes)) if classes is not None else np.ones(labels.size, dtype=bool)
    names, counts = np.unique(labels[keep], return_counts=True)
    if names.size < 2 or counts.min() < folds:
        raise ValueError(f"knn_accuracy needs >= 2 classes with >= {folds} rows each, got "
                         f"{dict(zip(names.tolist(), counts.tolist()))}")
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=k))
    splits = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return float(cross_val_score(model, x[keep], labels[keep], cv=splits).mean())


# --------------------------------------------------------------------------- signals
def spectrogram_db(wave: np.ndarray, sample_rate: int = 16_000, n_fft: int = 512,
                   hop: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB (Hann window, 0 dB = the loudest bin).

    Args:
        wave: ``(samples,)`` waveform.
        sample_rate: its rate in Hz.
        n_fft: FFT size (and window length) in samples.
        hop: frame shift in samples.

    Returns:
        ``freqs (n_fft//2+1,)`` in Hz, ``times (T,)`` in seconds and ``power_db (n_fft//2+1, T)``,
        floored at -100 dB.
    """
    from scipy.signal import stft

    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size < n_fft:
        raise ValueError(f"spectrogram_db needs a (samples,) waveform of at least {n_fft} samples, "
                         f"got shape {wave.shape}")
    freqs, times, spec = stft(wave, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop)  # frames centred, from t=0
    power = np.abs(spec) ** 2
    power_db = 10.0 * np.log10(np.maximum(power, 1e-20) / max(float(power.max()), 1e-20))
    return freqs, times, np.maximum(power_db, -100.0).astype(np.float32)


def band_energy_fraction(wave: np.ndarray, low_hz: float, high_hz: float | None = None,
                         sample_rate: int = 16_000) -> float:
    """Share of the signal's energy between ``low_hz`` and ``high_hz`` (default: Nyquist).

    Computed from the whole-utterance power spectrum, so 0.01 means 20 dB below the total.
    """
    spectrum = np.abs(np.fft.rfft(np.asarray(wave, dtype=np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1.0 / sample_rate)
    total = float(spectrum.sum())
    if total == 0.0:
        raise ValueError("band_energy_fraction: the waveform is silent")
    high = sample_rate / 2 if high_hz is None else high_hz
    return float(spectrum[(freqs >= low_hz) & (freqs <= high)].sum() / total)


def envelope_db(wave: np.ndarray, sample_rate: int = 16_000, frame_ms: float = 10.0) -> np.ndarray:
    """Energy per non-overlapping frame in dB (0 dB = the loudest frame, floored at -100 dB)."""
    frame = int(round(sample_rate * frame_ms / 1000.0))
    wave = np.asarray(wave, dtype=np.float64)
    n = wave.size // frame
    if n < 2:
        raise ValueError(f"envelope_db needs at least two {frame_ms:g} ms frames, got {wave.size} samples")
    energy = (wave[: n * frame].reshape(n, frame) ** 2).sum(axis=1)
    db = 10.0 * np.log10(np.maximum(energy, 1e-20) / max(float(energy.max()), 1e-20))
    return np.maximum(db, -100.0)


def noise_floor_db(wave: np.ndarray, percentile: float = 10.0, sample_rate: int = 16_000) -> float:
    """The level the quietest ``percentile`` % of 10 ms frames stay under, in dB below the loudest frame.

    Pauses set it: noise or reverberation that fills them raises it; the exact zeros a
    synthesiser writes between words take it to the -100 dB floor of :func:`envelope_db`.
    """
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    return float(np.percentile(envelope_db(wave, sample_rate), percentile))


def silent_fraction(wave: np.ndarray, sample_rate: int = 16_000, frame_ms: float = 10.0) -> float:
    """Share of the non-overlapping ``frame_ms`` frames that are digital silence (every sample exactly 0).

    Synthesisers write such frames between words; a microphone, with its own noise, never does.
    """
    frame = int(round(sample_rate * frame_ms / 1000.0))
    wave = np.asarray(wave)
    n = wave.size // frame
    if n < 1:
        raise ValueError(f"silent_fraction needs at least one {frame_ms:g} ms frame, got {wave.size} samples")
    return float(np.mean(~wave[: n * frame].reshape(n, frame).any(axis=1)))


def fastest_decay_db_per_s(wave: np.ndarray, sample_rate: int = 16_000, span_s: float = 0.1,
                           quantile: float = 0.99) -> float:
    """How fast the energy envelope falls at the sharpest offsets, in dB per second.

    The drop of the 10 ms energy envelope over ``span_s`` is taken at every frame, and its
    ``quantile`` (the sharpest offsets, robust to a single click) divided by ``span_s``. Dry
    speech falls by tens of dB within 100 ms at the end of words; in a room the energy cannot
    fall faster than the room's decay, about 60 dB per RT60 seconds, so reverberation lowers
    this number.
    """
    env = envelope_db(wave, sample_rate, frame_ms=10.0)
    k = max(1, int(round(span_s * 100)))  # frames of 10 ms
    if env.size <= k:
        raise ValueError(f"fastest_decay_db_per_s: the waveform is shorter than span_s={span_s} s")
    drops = env[:-k] - env[k:]
    return float(np.quantile(drops, quantile) / (k / 100.0))


"""Chunked (pseudo-streaming) transcription with a model that cannot stream.

A bidirectional GRU's backward direction reads the utterance from its end, so nothing can be
emitted before the speaker stops. The usual way round it: cut the audio into fixed chunks, run
each on its own (optionally with ``context_seconds`` of audio either side, whose frames are
computed and then dropped), keep each chunk's own output frames, and decode the frames of all
chunks together. A chunk's result is ready ``chunk + right context`` seconds after its first
sample arrives, plus its compute time; the price is accuracy, since words are cut at chunk
edges and the per-utterance feature normalisation sees only the chunk.

:func:`chunked_transcribe` transcribes one waveform this way; :func:`chunk_study` measures WER
and latency for several chunk sizes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from asrlab.audio import load_audio
from asrlab.decoding.greedy import greedy_decode
from asrlab.deploy.runtime import as_recognizer
from asrlab.manifest import read_manifest
from asrlab.metrics import error_rates

__all__ = ["ChunkedTranscript", "ChunkStudyRow", "chunked_transcribe", "chunk_study"]

#: A last chunk shorter than this is merged into the one before it (seconds).
MIN_CHUNK_SECONDS = 0.1


@dataclass
class ChunkedTranscript:
    """One waveform transcribed chunk by chunk.

    Attributes:
        text: greedy decoding of every chunk's kept frames, in order.
        chunk_texts: each chunk's own greedy transcript (words cut at its edges show here).
        compute_seconds: per chunk, the time to compute its log-probabilities.
        chunk_seconds, context_seconds: the settings.
        audio_seconds: the waveform's duration.
    """

    text: str
    chunk_texts: list[str]
    compute_seconds: list[float]
    chunk_seconds: float
    context_seconds: float
    audio_seconds: float

    @property
    def latency_seconds(self) -> float:
        """Worst delay from a chunk's first sample to its result: the chunk, its right context
        (audio still to come) and the longest compute time."""
        return self.chunk_seconds + self.context_seconds + max(self.compute_seconds, default=0.0)


def chunked_transcribe(model: Any, wave: np.ndarray, chunk_seconds: float, context_seconds: float = 0.0,
                       threads: int | None = None) -> ChunkedTranscript:
    """Transcribe ``wave`` in chunks of ``chunk_seconds``, each run on its own.

    Args:
        model: a recogniser or what :func:`asrlab.deploy.runtime.as_recognizer` accepts (an
            exported file, a model file, a pretrained name, a :class:`~asrlab.models.LoadedModel`).
        wave: ``(samples,)`` float32 waveform at the model's sample rate.
        chunk_seconds: the step between chunks; a last piece shorter than
            :data:`MIN_CHUNK_SECONDS` joins the chunk before it.
        context_seconds: audio either side of a chunk that the model also reads (its frames are
            dropped): 0 runs chunks independently.
        threads: intra-op threads (None: the default).

    Returns:
        A :class:`ChunkedTranscript`; a chunk as long as the waveform gives the whole-utterance
        transcript.
    """
    if chunk_seconds <= 0 or context_seconds < 0:
        raise ValueError(f"chunk_seconds must be > 0 and context_seconds >= 0, got {chunk_seconds}, {context_seconds}")
    recognizer = as_recognizer(model, threads=threads)
    wave = np.asarray(wave, dtype=np.float32)
    rate, stride = recognizer.sample_rate, recognizer.frame_stride
    step, context = max(int(round(chunk_seconds * rate)), stride), int(round(context_seconds * rate))
    starts = list(range(0, len(wave), step))
    if len(starts) > 1 and len(wave) - starts[-1] < MIN_CHUNK_SECONDS * rate:
        starts.pop()
    kept, texts, compute = [], [], []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(wave)
        left, right = max(0, start - context), min(len(wave), end + context)
        began = time.perf_counter()
        log_probs = recognizer.log_probs(wave[left:right])                     # (T', V)
        compute.append(time.perf_counter() - began)
        frame_start = left + stride * np.arange(log_probs.shape[0])             # each frame's first sample
        own = (frame_start >= start) & ((frame_start < end) | (i + 1 == len(starts)))
        kept.append(log_probs[own])
        texts.append(_greedy(log_probs[own], recognizer.vocab))
    text = _greedy(np.concatenate(kept), recognizer.vocab)
    return ChunkedTranscript(text, texts, compute, chunk_seconds, context_seconds, len(wave) / rate)


def _greedy(log_probs: np.ndarray, vocab) -> str:
    lp = torch.from_numpy(np.ascontiguousarray(log_probs))[None]
    return greedy_decode(lp, torch.tensor([lp.shape[1]]), vocab)[0]


@dataclass
class ChunkStudyRow:
    """WER and latency of chunked transcription at one chunk size.

    Attributes:
        chunk_seconds: chunk size; ``None`` means whole utterances (the reference row).
        context_seconds: context either side.
        wer, cer: greedy error rates over the utterances.
        mean_compute_seconds, max_compute_seconds: compute time per chunk.
        latency_seconds: worst delay of a result (chunk + right context + longest compute);
            for whole utterances, the longest utterance plus its compute time.
        utterances: utterances scored.
    """

    chunk_seconds: float | None
    context_seconds: float
    wer: float
    cer: float
    mean_compute_seconds: float
    max_compute_seconds: float
    latency_seconds: float
    utterances: int


def chunk_study(model: Any, manifests: Sequence[str | os.PathLike],
                chunk_seconds: Sequence[float | None] = (None, 4.0, 2.0, 1.0, 0.5), context_seconds: float = 0.0,
                limit: int | None = 10, threads: int | None = 1) -> list[ChunkStudyRow]:
    """WER and latency of :func:`chunked_transcribe` for each chunk size, on a few utterances.

    Args:
        model: what :func:`chunked_transcribe` accepts (loaded once).
        manifests: manifest files.
        chunk_seconds: chunk sizes; ``None`` transcribes whole utterances.
        context_seconds: context either side of each chunk.
        limit: utterances per manifest.
        threads: intra-op threads.
    """
    recognizer = as_recognizer(model, threads=threads)
    utterances = [u for m in manifests for u in read_manifest(m)[:limit]]
    if not utterances:
        raise ValueError("chunk_study: the manifests hold no utterances")
    waves = [load_audio(u.audio, recognizer.sample_rate) for u in utterances]
    refs = [recognizer.vocab.normalize(u.text) for u in utterances]
    rows = []
    for size in chunk_seconds:
        results = [chunked_transcribe(recognizer, w, size if size is not None else len(w) / recognizer.sample_rate + 1,
                                      context_seconds if size is not None else 0.0) for w in waves]
        compute = [c for r in results for c in r.compute_seconds]
        rates = error_rates(refs, [r.text for r in results])
        if size is None:
            latency = max(r.audio_seconds + max(r.compute_seconds) for r in results)
        else:
            latency = max(r.latency_seconds for r in results)
        rows.append(ChunkStudyRow(size, context_seconds if size is not None else 0.0, rates.wer, rates.cer,
                                  float(np.mean(compute)), max(compute), latency, len(utterances)))
    return rows

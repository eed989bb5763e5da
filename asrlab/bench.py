"""``asrlab bench``: how fast this machine synthesises, trains and transcribes.

Three measurements in one run, on utterances it synthesises itself:

1. synthesis: utterances per second, end to end (worker start-up, espeak-ng, resampling,
   writing WAV files) for the ``accent`` domain's voices;
2. training, in audio-seconds per second, for the same model on the same data two ways:
   a plain loop over shuffled fixed-size padded batches that computes features on the fly,
   and :func:`asrlab.train.fit` with length-bucketed batches under a seconds budget and cached
   features, once in this process and once as two single-threaded data-parallel processes
   (:mod:`asrlab.parallel`); the ratio of the faster one to the plain loop. The plain loop is
   measured twice: in this process (OpenMP threads wait passively, as asrlab sets them) and in a
   fresh process whose threads spin (OpenMP's fastest setting for one job alone on the machine);
3. inference: the real-time factor of greedy transcription in batches.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.corpus.build import CorpusBuilder, UtteranceJob, plan_jobs, render
from asrlab.corpus.domains import get_domain
from asrlab.datasets import SpeechDataset, audio_seconds, collate
from asrlab.evaluate import evaluate
from asrlab.features import FeatureCache
from asrlab.manifest import Utterance
from asrlab.models import build_model, count_parameters
from asrlab.parallel import run_data_parallel, run_in_subprocess
from asrlab.text import CharVocabulary
from asrlab.train import fit
from asrlab.utils import machine_description


def bench_synthesis(out_dir: Path, count: int, seed: int = 0) -> tuple[list[Utterance], float]:
    """Render ``count`` accent-domain utterances with a fresh worker pool; (utterances, utt/s)."""
    spec = get_domain("accent")
    builder = CorpusBuilder(out_dir, "smoke", seed, progress=False)
    jobs: list[UtteranceJob] = plan_jobs(spec, "train", seed, 0, count, set(), builder.engines, out_dir / "audio")
    start = time.perf_counter()
    with builder.worker_pool({}) as pool:
        durations = list(pool.imap(render, jobs, chunksize=8))
    seconds = time.perf_counter() - start
    utts = [Utterance(j.path, j.text, d, j.domain, j.voice.speaker_id, "train") for j, d in zip(jobs, durations)]
    return utts, count / seconds


def bench_naive_training(dataset: SpeechDataset, model_config: ModelConfig, seconds: float,
                         batch_size: int = 8, lr: float = 1e-3, seed: int = 0) -> float:
    """A plain loop: shuffled fixed-size batches, features computed from audio every time.

    Returns audio-seconds trained per wall-clock second.
    """
    torch.manual_seed(seed)
    model = build_model(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate, num_workers=0)
    audio, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch in loader:
            log_probs, out_lens = model(batch.feats, batch.feat_lens)
            loss = F.ctc_loss(log_probs.transpose(0, 1), batch.tokens, out_lens, batch.token_lens)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            audio += audio_seconds(batch, dataset.features)
            if time.perf_counter() - start >= seconds:
                break
    return audio / (time.perf_counter() - start)


def fit_rate(utts: list[Utterance], cache_dir: Path, model_config: ModelConfig, steps: int,
             max_seconds: float) -> float:
    """Audio-seconds per second of :func:`asrlab.train.fit` for ``steps`` steps on cached features.

    Batches hold up to ``max_seconds`` of audio each, bucketed by length; no loader worker (on
    2 cores a worker process takes time from training). Module-level so that
    :func:`asrlab.parallel.run_data_parallel` can run it in each worker.
    """
    features = FeatureConfig()
    dataset = SpeechDataset(utts, CharVocabulary(), features, cache=FeatureCache(cache_dir, features))
    torch.manual_seed(0)
    model = build_model(model_config)
    history = fit(model, dataset, TrainConfig(epochs=1, max_steps=steps, lr=1e-3, warmup_steps=0,
                                              specaugment=None, seed=0),
                  data=LoaderConfig(max_seconds=max_seconds, max_batch_size=256, num_workers=0), progress=False)
    return history.audio_seconds_per_second


def run_bench(quick: bool = False, progress: bool = True, workdir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the three measurements; returns a JSON-ready dict."""
    root = Path(workdir or tempfile.mkdtemp(prefix="asrlab-bench-"))
    count = 300 if quick else 1000
    utts, synth_rate = bench_synthesis(root / "corpus", count)
    features, vocab = FeatureConfig(), CharVocabulary()
    model_config = ModelConfig()
    plain = SpeechDataset(utts, vocab, features, cache=None)
    naive_seconds = 15.0 if quick else 40.0
    naive_rate = bench_naive_training(plain, model_config, naive_seconds)
    # The same loop in a fresh process whose OpenMP threads spin while they wait (asrlab sets
    # them to wait passively, which protects against contention but slows small-matrix work).
    naive_spin_rate = run_in_subprocess(bench_naive_training, (plain, model_config, naive_seconds),
                                        env={"OMP_WAIT_POLICY": "ACTIVE"})

    cache = FeatureCache(root / "cache", features)
    warm_start = time.perf_counter()
    cached = SpeechDataset(utts, vocab, features, cache=cache)
    for i in range(len(cached)):
        cached[i]
    cache_seconds = time.perf_counter() - warm_start
    steps = 4 if quick else 10
    fast_rate = fit_rate(utts, root / "cache", model_config, steps, max_seconds=240.0)
    parallel_rate = None
    if not torch.cuda.is_available() and (os.cpu_count() or 1) >= 2:
        parallel_rate = run_data_parallel(fit_rate, (utts, root / "cache", model_config, steps, 120.0), processes=2)
    torch.manual_seed(0)
    model = build_model(model_config)
    result = evaluate(model, cached, LoaderConfig(max_seconds=400.0, num_workers=0))
    return {
        "machine": machine_description(),
        "synthesis_utterances_per_second": round(synth_rate, 1),
        "synthesis_utterances": count,
        "model_parameters": count_parameters(model),
        "train_naive_audio_seconds_per_second": round(naive_rate, 1),
        "train_fast_audio_seconds_per_second": round(fast_rate, 1),
        "train_fast_data_parallel_audio_seconds_per_second": None if parallel_rate is None else round(parallel_rate, 1),
        "train_data_parallel_processes": None if parallel_rate is None else 2,
        "train_naive_spinning_threads_audio_seconds_per_second": round(naive_spin_rate, 1),
        "train_speedup": round(max(fast_rate, parallel_rate or 0.0) / naive_rate, 2),
        "train_speedup_vs_spinning_naive": round(max(fast_rate, parallel_rate or 0.0) / naive_spin_rate, 2),
        "feature_cache_build_seconds": round(cache_seconds, 1),
        "inference_real_time_factor": round(result.real_time_factor, 5),
        "inference_audio_seconds": round(result.audio_seconds, 1),
    }

"""What a deployment costs and loses: size on disk, speed on one thread, peak memory, WER.

Each measurement is a function that returns a dataclass: :func:`measure_speed`
(:class:`SpeedResult`), :func:`peak_memory` (:class:`MemoryResult`, in a fresh process, since
the native memory of torch and onnxruntime is invisible to ``tracemalloc``),
:func:`evaluate_recognizer` (an :class:`asrlab.evaluate.EvalResult`), and
:func:`compare_deployments`, which exports a model in several variants and measures each
(:class:`DeploymentResult`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from asrlab.audio import load_audio
from asrlab.deploy.runtime import Recognizer, TorchRecognizer, as_recognizer, load_exported
from asrlab.evaluate import EvalResult, references
from asrlab.manifest import read_manifest
from asrlab.metrics import error_rates, per_domain

__all__ = ["SpeedResult", "MemoryResult", "DeploymentResult", "DEFAULT_VARIANTS", "measure_speed", "peak_memory",
           "evaluate_recognizer", "compare_deployments", "file_size_mb", "measure_speeds"]

#: The variants :func:`compare_deployments` measures by default: (format, quantisation), where
#: format ``"pytorch"`` is the model as trained, run by PyTorch without export.
DEFAULT_VARIANTS: tuple[tuple[str, str], ...] = (
    ("pytorch", "none"), ("torchscript", "none"), ("torchscript", "int8"),
    ("onnx", "none"), ("onnx", "int8"), ("onnx", "fp16"),
)


def file_size_mb(path: str | os.PathLike) -> float:
    """Size of a file on disk in MB (10^6 bytes)."""
    return Path(path).stat().st_size / 1e6


@dataclass
class SpeedResult:
    """Time to compute CTC log-probabilities (the front end included; decoding not).

    Attributes:
        seconds: compute time over all utterances, the fastest of the repeats for each.
        audio_seconds: audio duration processed.
        per_utterance: compute seconds of each utterance.
        threads: intra-op threads used.
    """

    seconds: float
    audio_seconds: float
    per_utterance: list[float]
    threads: int

    @property
    def rtf(self) -> float:
        """Real-time factor: compute time over audio time (lower is faster; 0.05 is 20x real time)."""
        return self.seconds / max(self.audio_seconds, 1e-9)


def measure_speed(model: Any, waves: Sequence[np.ndarray], threads: int = 1, repeats: int = 3,
                  warmup: int = 1) -> SpeedResult:
    """Real-time factor of ``model`` over ``waves``, one utterance at a time, on ``threads`` threads.

    Each utterance runs ``repeats`` times and its fastest run counts (the least disturbed by other
    processes); ``warmup`` runs of the first utterance come first (allocations, lazy init).

    Args:
        model: a recogniser or what :func:`asrlab.deploy.runtime.as_recognizer` accepts; a
            recogniser loaded with other threads is reloaded (exports) or run with ``threads``.
        waves: ``(samples,)`` float32 waveforms at the model's sample rate.
        threads: intra-op threads (torch's ``set_num_threads``, onnxruntime's session option).
        repeats: runs per utterance.
        warmup: untimed runs first.
    """
    return measure_speeds({"model": model}, waves, threads, repeats, warmup)["model"]


def measure_speeds(models: dict[str, Any], waves: Sequence[np.ndarray], threads: int = 1, repeats: int = 3,
                   warmup: int = 1) -> dict[str, SpeedResult]:
    """:func:`measure_speed` of several models, interleaved: each repeat runs every model on an
    utterance in turn, so that a busy machine slows them all alike and the comparison stays fair.

    Returns:
        A :class:`SpeedResult` per name of ``models``.
    """
    if not waves:
        raise ValueError("measure_speed: no waveforms given")
    recognizers = {name: _with_threads(as_recognizer(m, threads=threads), threads) for name, m in models.items()}
    for recognizer in recognizers.values():
        for _ in range(warmup):
            recognizer.log_probs(waves[0])
    best = {name: [float("inf")] * len(waves) for name in recognizers}
    for _ in range(max(repeats, 1)):
        for i, wave in enumerate(waves):
            for name, recognizer in recognizers.items():
                began = time.perf_counter()
                recognizer.log_probs(wave)
                best[name][i] = min(best[name][i], time.perf_counter() - began)
    results = {}
    for name, recognizer in recognizers.items():
        audio = sum(len(w) for w in waves) / recognizer.sample_rate
        results[name] = SpeedResult(sum(best[name]), audio, best[name], threads)
    return results


def _with_threads(recognizer: Recognizer, threads: int) -> Recognizer:
    if getattr(recognizer, "threads", None) == threads:
        return recognizer
    if isinstance(recognizer, TorchRecognizer):
        recognizer.threads = threads
        return recognizer
    return load_exported(recognizer.path, threads=threads)  # type: ignore[attr-defined]


@dataclass
class MemoryResult:
    """Peak resident memory of a fresh process that loads a model and transcribes one file.

    Attributes:
        peak_mb: the process's peak resident set while it loaded the model and ran it once, MB.
        baseline_mb: its resident set after the imports (torch, onnxruntime) and reading the
            audio, before the model loads, MB (NaN where /proc is missing: then ``peak_mb`` is
            the peak since the process started, imports included).
    """

    peak_mb: float
    baseline_mb: float

    @property
    def model_mb(self) -> float:
        """What loading and running the model added to the peak."""
        return self.peak_mb - self.baseline_mb


def peak_memory(model: str | os.PathLike, audio: str | os.PathLike, threads: int = 1, quantize: str = "none",
                timeout: float = 300.0) -> MemoryResult:
    """Peak memory of loading ``model`` and transcribing ``audio`` once, in a fresh Python process.

    Args:
        model: an exported file, or a model file / pretrained name run by PyTorch.
        audio: a WAV file at the model's rate.
        threads: intra-op threads.
        quantize: ``"int8"`` to run a PyTorch model dynamically quantised (exports carry their own).
        timeout: seconds before the probe process is killed.
    """
    command = [sys.executable, "-m", "asrlab.deploy.measure", str(model), str(audio), str(threads), quantize]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe for {model} failed: {done.stderr.strip()[-500:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return MemoryResult(data["peak_mb"], data["baseline_mb"])


def _rss_mb(field: str) -> float | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process in MB, from /proc (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak resident set to its current size (Linux: ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _maxrss_mb() -> float:
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def _probe(model: str, audio: str, threads: int, quantize: str) -> dict[str, float]:
    """The child of :func:`peak_memory`: import, note the resident set, load and run, note the peak.

    On Linux the peak is reset after the imports (whose transient peak would hide the model's);
    elsewhere ``ru_maxrss`` counts from the process start.
    """
    import torch  # noqa: F401 - in the baseline: every variant's process imports both

    import onnxruntime  # noqa: F401
    from asrlab.deploy.runtime import is_exported

    wave = load_audio(audio)
    baseline = _rss_mb("VmRSS") if _reset_peak() else None
    if is_exported(model):
        recognizer: Recognizer = load_exported(model, threads=threads)
    else:
        from asrlab.models.resolve import resolve_ctc_model

        recognizer = TorchRecognizer(resolve_ctc_model(model), quantize=quantize, threads=threads)
    recognizer.transcribe(wave)
    if baseline is not None:
        return {"peak_mb": _rss_mb("VmHWM") or _maxrss_mb(), "baseline_mb": baseline}
    return {"peak_mb": _maxrss_mb(), "baseline_mb": float("nan")}


def evaluate_recognizer(model: Any, manifests: Sequence[str | os.PathLike], limit: int | None = None,
                        threads: int | None = None) -> EvalResult:
    """WER/CER of a recogniser (an exported file, a quantised model...) on manifests, greedy decoding.

    One utterance at a time, as deployed; references are the manifests' texts normalised by the
    model's vocabulary, as :func:`asrlab.evaluate.evaluate` scores them, so the two compare.

    Args:
        model: a recogniser or what :func:`asrlab.deploy.runtime.as_recognizer` accepts.
        manifests: manifest files, scored together.
        limit: the first ``limit`` utterances of each manifest.
        threads: intra-op threads (None: the default).

    Returns:
        An :class:`~asrlab.evaluate.EvalResult` (``loss`` is NaN; ``seconds`` is compute and
        decoding time).
    """
    from asrlab.config import FeatureConfig
    from asrlab.datasets import SpeechDataset

    recognizer = as_recognizer(model, threads=threads)
    utterances = [u for m in manifests for u in read_manifest(m)[:limit]]
    dataset = SpeechDataset(utterances, recognizer.vocab,
                            FeatureConfig(kind="waveform", sample_rate=recognizer.sample_rate), labelled=True)
    hypotheses, seconds, audio = [], 0.0, 0.0
    for utt in dataset.utterances:
        wave = load_audio(utt.audio, recognizer.sample_rate)
        began = time.perf_counter()
        hypotheses.append(recognizer.transcribe(wave))
        seconds += time.perf_counter() - began
        audio += len(wave) / recognizer.sample_rate
    refs = references(dataset)
    domains = [u.domain for u in dataset.utterances]
    return EvalResult(error_rates(refs, hypotheses), per_domain(refs, hypotheses, domains),
                      [u.id for u in dataset.utterances], refs, hypotheses, domains, float("nan"), seconds, audio)


@dataclass
class DeploymentResult:
    """One variant of a model, measured.

    Attributes:
        format: ``"pytorch"`` (as trained, no export), ``"torchscript"`` or ``"onnx"``.
        quantize: ``"none"``, ``"int8"`` or ``"fp16"``.
        path: the exported file (the model file for ``"pytorch"``).
        size_mb: its size on disk.
        rtf: real-time factor on ``threads`` threads (:func:`measure_speeds`, all variants interleaved).
        wer, cer: greedy error rates per manifest (a dict: manifest name -> rate).
        peak_mb, baseline_mb: :func:`peak_memory` (NaN when not measured); their difference is
            what the model costs.
        threads: intra-op threads of the speed and memory measurements.
        utterances: utterances scored.
    """

    format: str
    quantize: str
    path: str
    size_mb: float
    rtf: float
    wer: dict[str, float]
    cer: dict[str, float]
    peak_mb: float
    baseline_mb: float
    threads: int
    utterances: int

    @property
    def name(self) -> str:
        return self.format if self.quantize == "none" else f"{self.format} {self.quantize}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name}


def compare_deployments(model: str | os.PathLike, manifests: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                        variants: Sequence[tuple[str, str]] = DEFAULT_VARIANTS, *, limit: int | None = None,
                        speed_utterances: int = 10, threads: int = 1, memory: bool = True,
                        progress: bool = False) -> list[DeploymentResult]:
    """Export ``model`` in each variant and measure size, one-thread speed, memory and WER.

    Args:
        model: a model file or pretrained name (exported with :func:`asrlab.deploy.export.export_model`).
        manifests: test manifests; WER is reported per manifest (e.g. source and a target domain).
        out_dir: where the exports go (``<format>-<quantize>.onnx|.pt``).
        variants: (format, quantisation) pairs; format ``"pytorch"`` runs the model file itself
            (``"int8"``: quantised in memory).
        limit: utterances per manifest for WER.
        speed_utterances: utterances of the first manifest timed for the real-time factor.
        threads: intra-op threads for speed and memory.
        memory: measure peak memory (a fresh process per variant, a few seconds each).
        progress: print a line per variant.
    """
    from asrlab.deploy.export import export_model
    from asrlab.models.resolve import resolve_ctc_model

    loaded = resolve_ctc_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timed = read_manifest(manifests[0])[:speed_utterances]
    waves = [load_audio(u.audio, loaded.features.sample_rate) for u in timed]
    model_file = _model_file(model)
    recognizers: dict[tuple[str, str], Recognizer] = {}
    paths: dict[tuple[str, str], Path] = {}
    for format, quantize in variants:
        if format == "pytorch":
            paths[format, quantize] = model_file
            recognizers[format, quantize] = TorchRecognizer(loaded, quantize=quantize, threads=threads)
        else:
            suffix = ".onnx" if format == "onnx" else ".pt"
            paths[format, quantize] = export_model(loaded, out_dir / f"{format}-{quantize}{suffix}", format, quantize,
                                                   name=str(loaded.meta.get("name") or Path(str(model)).stem))
            recognizers[format, quantize] = load_exported(paths[format, quantize], threads=threads)
    speeds = measure_speeds(recognizers, waves, threads=threads, repeats=5)  # type: ignore[arg-type]
    results = []
    for (format, quantize), recognizer in recognizers.items():
        path = paths[format, quantize]
        scores = {Path(m).parent.name or str(m): evaluate_recognizer(recognizer, [m], limit) for m in manifests}
        mem = (peak_memory(path, timed[0].audio, threads, quantize if format == "pytorch" else "none")
               if memory else MemoryResult(float("nan"), float("nan")))
        result = DeploymentResult(format, quantize, str(path), file_size_mb(path), speeds[format, quantize].rtf,
                                  {k: r.rates.wer for k, r in scores.items()}, {k: r.rates.cer for k, r in scores.items()},
                                  mem.peak_mb, mem.baseline_mb, threads,
                                  sum(r.rates.utterances for r in scores.values()))
        if progress:
            print(f"{result.name}: {result.size_mb:.2f} MB, RTF {result.rtf:.4f}, WER "
                  + ", ".join(f"{k} {100 * v:.1f}%" for k, v in result.wer.items())
                  + (f", peak {result.peak_mb:.0f} MB (+{result.peak_mb - result.baseline_mb:.0f} MB over the "
                     "imports)" if memory else ""), flush=True)
        results.append(result)
    return results


def _model_file(model: str | os.PathLike) -> Path:
    """The file a model name stands for (a pretrained name: its shipped file; a run folder: its model.pt)."""
    path = Path(model)
    if path.is_dir():
        return path / "model.pt"
    if path.is_file():
        return path
    from asrlab.models.zoo import SOURCE_MODEL_FILE

    if str(model) == "asrlab-source":
        return SOURCE_MODEL_FILE
    raise ValueError(f"compare_deployments needs a model file, run folder or 'asrlab-source', not {model!r}")


if __name__ == "__main__":  # the child process of peak_memory()
    print(json.dumps(_probe(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))

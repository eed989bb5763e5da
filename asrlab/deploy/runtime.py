"""Run an exported file, or a PyTorch model, as a recogniser: waveform in, log-probs and text out.

A recogniser (:class:`ExportedModel` for ``.onnx`` and TorchScript files, :class:`TorchRecognizer`
for a :class:`~asrlab.models.LoadedModel`, optionally int8-quantised) has one interface:
``log_probs(wave)`` gives ``(T', V)`` CTC log-probabilities of one ``(samples,)`` waveform at
``sample_rate``, ``transcribe(wave)`` their greedy decoding, and ``frame_stride`` says how many
input samples make one output frame. :func:`as_recognizer` makes one from whatever names a model.
"""
from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from asrlab.decoding.greedy import greedy_decode
from asrlab.errors import AudioError, CheckpointError
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

__all__ = ["Recognizer", "ExportedModel", "TorchRecognizer", "load_exported", "is_exported", "as_recognizer",
           "check_waveform"]

_EXPORT_HINT = ("export a model with `asrlab export --model MODEL --format onnx --out FILE.onnx` "
                "(or --format torchscript --out FILE.pt)")


class Recognizer(Protocol):
    """What :mod:`asrlab.deploy.measure` and :mod:`asrlab.deploy.chunked` run."""

    vocab: CharVocabulary
    sample_rate: int
    frame_stride: int

    def log_probs(self, wave: np.ndarray) -> np.ndarray: ...

    def transcribe(self, wave: np.ndarray) -> str: ...


def check_waveform(wave: np.ndarray | torch.Tensor, min_samples: int, where: str = "") -> np.ndarray:
    """``wave`` as a contiguous float32 ``(samples,)`` array, or a ValueError saying what is wrong."""
    wave = np.ascontiguousarray(wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else wave,
                                dtype=np.float32)
    at = f"{where}: " if where else ""
    if wave.ndim != 1:
        raise AudioError(f"{at}expected one mono (samples,) waveform, got shape {wave.shape}: mix it down to mono")
    if wave.size < min_samples:
        raise AudioError(f"{at}{wave.size} samples is shorter than one analysis window ({min_samples} samples): "
                         "give at least a few hundredths of a second of audio")
    return wave


def _decode(log_probs: np.ndarray, vocab: CharVocabulary) -> str:
    lp = torch.from_numpy(np.ascontiguousarray(log_probs))[None]
    return greedy_decode(lp, torch.tensor([lp.shape[1]]), vocab)[0]


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an exported file: a ``.onnx`` name, or a TorchScript archive that
    holds asrlab's metadata (a plain checkpoint or a missing file is not)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return True
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    from asrlab.deploy.export import TORCHSCRIPT_META_FILE

    with zipfile.ZipFile(path) as archive:
        return any(n.endswith(f"extra/{TORCHSCRIPT_META_FILE}") for n in archive.namelist())


class ExportedModel:
    """An exported file (:func:`asrlab.deploy.export.export_model`) ready to run on the CPU.

    Attributes:
        path: the file.
        backend: ``"onnx"`` (onnxruntime) or ``"torchscript"``.
        meta: the file's metadata (:func:`asrlab.deploy.export.export_metadata`).
        vocab: its vocabulary.
        sample_rate: the rate its input must have.
        frame_stride: input samples per output frame.
        threads: intra-op threads (onnxruntime's session, or torch's while a call runs); None
            leaves the library's default.
    """

    def __init__(self, path: Path, backend: str, meta: dict[str, Any], runner: Any, threads: int | None) -> None:
        self.path, self.backend, self.meta, self._runner, self.threads = path, backend, meta, runner, threads
        self.vocab = CharVocabulary(tuple(meta["vocab"]))
        self.sample_rate = int(meta["sample_rate"])
        self.frame_stride = int(meta["frame_stride"])
        features = meta.get("features", {})
        self.min_samples = int(self.sample_rate * float(features.get("win_ms", 25.0)) / 1000)

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}, backend={self.backend!r}, quantize={self.meta.get('quantize')!r})"

    def log_probs(self, wave: np.ndarray | torch.Tensor) -> np.ndarray:
        """``(samples,)`` float32 waveform at :attr:`sample_rate` -> ``(T', V)`` float32 log-probabilities."""
        wave = check_waveform(wave, self.min_samples, str(self.path))
        if self.backend == "onnx":
            return self._runner.run(None, {"waveform": wave})[0]
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                return self._runner(torch.from_numpy(wave)).numpy()
        finally:
            torch.set_num_threads(previous)

    def transcribe(self, wave: np.ndarray | torch.Tensor) -> str:
        """Greedy CTC transcript of one waveform."""
        return _decode(self.log_probs(wave), self.vocab)


def load_exported(path: str | os.PathLike, threads: int | None = None) -> ExportedModel:
    """Load an exported ``.onnx`` (onnxruntime) or TorchScript file.

    TorchScript files load with ``torch.jit.load``, which runs the TorchScript program the file
    holds (not arbitrary Python, but more than the weights-only checkpoints of the rest of
    asrlab): load only files you exported or trust.

    Args:
        path: the file.
        threads: intra-op threads (e.g. 1 to measure one core); None for the default.

    Raises:
        CheckpointError: the file is missing, unreadable, or not an asrlab export; the message
            names it and says how to make one.
    """
    from asrlab.deploy.export import EXPORT_FORMAT, META_KEY, TORCHSCRIPT_META_FILE

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"exported model not found: {path}. Check the path, or {_EXPORT_HINT}")
    if path.suffix.lower() == ".onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise CheckpointError(f"cannot load {path} with onnxruntime: {str(exc).splitlines()[0]}. It is corrupt, "
                                  f"cut short or not an ONNX model; {_EXPORT_HINT}") from None
        text = session.get_modelmeta().custom_metadata_map.get(META_KEY)
        backend, runner = "onnx", session
    else:
        extra = {TORCHSCRIPT_META_FILE: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.11: "torch.jit.load is deprecated"
                runner = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except Exception as exc:
            raise CheckpointError(f"{path} is not a TorchScript export ({str(exc).splitlines()[0]}); "
                                  f"{_EXPORT_HINT}") from None
        text, backend = extra[TORCHSCRIPT_META_FILE] or None, "torchscript"
    try:
        meta = json.loads(text) if text else {}
    except ValueError:
        meta = {}
    if meta.get("format") != EXPORT_FORMAT or "vocab" not in meta:
        raise CheckpointError(f"{path} is not an asrlab export: it carries no asrlab metadata (vocabulary, sample "
                              f"rate); {_EXPORT_HINT}")
    return ExportedModel(path, backend, meta, runner, threads)


class TorchRecognizer:
    """A PyTorch :class:`~asrlab.models.LoadedModel` behind the recogniser interface.

    Features come from :func:`asrlab.features.log_mel` (the training features), one utterance at a
    time.

    Args:
        loaded: the model, its features and vocabulary.
        quantize: ``"int8"`` runs a dynamically quantised copy (:func:`asrlab.deploy.export.quantize_torch`).
        threads: torch threads while a call runs (None: unchanged).
    """

    def __init__(self, loaded: LoadedModel, quantize: str = "none", threads: int | None = None) -> None:
        from asrlab.deploy.export import quantize_torch

        if quantize not in ("none", "int8"):
            raise ValueError(f"a PyTorch model runs as 'none' or 'int8', not {quantize!r}")
        self.loaded = loaded
        self.model = quantize_torch(loaded.model.cpu()) if quantize == "int8" else loaded.model.cpu()
        self.model.eval()
        self.quantize, self.threads = quantize, threads
        self.vocab, self.sample_rate = loaded.vocab, loaded.features.sample_rate
        hop = int(round(loaded.features.sample_rate * loaded.features.hop_ms / 1000))
        self.frame_stride = hop * int(loaded.model.subsampling)
        self.min_samples = int(self.sample_rate * loaded.features.win_ms / 1000)

    def log_probs(self, wave: np.ndarray | torch.Tensor) -> np.ndarray:
        """``(samples,)`` waveform -> ``(T', V)`` float32 log-probabilities."""
        from asrlab.features import log_mel

        wave = check_waveform(wave, self.min_samples)
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                feats = log_mel(wave, self.loaded.features)[None]
                log_probs, _ = self.model(feats, torch.tensor([feats.shape[1]]))
            return log_probs[0].numpy()
        finally:
            torch.set_num_threads(previous)

    def transcribe(self, wave: np.ndarray | torch.Tensor) -> str:
        """Greedy CTC transcript of one waveform."""
        return _decode(self.log_probs(wave), self.vocab)


def as_recognizer(model: Any, threads: int | None = None) -> Recognizer:
    """A recogniser for ``model``: an exported file, a recogniser (returned as it is), a
    :class:`LoadedModel`, or what :func:`asrlab.models.resolve.resolve_ctc_model` accepts."""
    if isinstance(model, (ExportedModel, TorchRecognizer)):
        return model
    if isinstance(model, LoadedModel):
        return TorchRecognizer(model, threads=threads)
    if isinstance(model, (str, os.PathLike)) and is_exported(model):
        return load_exported(model, threads=threads)
    from asrlab.models.resolve import resolve_ctc_model

    return TorchRecognizer(resolve_ctc_model(model), threads=threads)

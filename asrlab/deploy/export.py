"""Export a CTC model with its front end and vocabulary to one file: TorchScript or ONNX, float,
int8 or fp16.

The file maps a 16 kHz float32 waveform ``(samples,)`` to CTC log-probabilities ``(frames, V)``
(:class:`~asrlab.deploy.frontend.WaveformCTC`) and carries what is needed to read them
(:func:`export_metadata`: the vocabulary, the sample rate, the features, the frame stride): in
ONNX as the metadata property ``"asrlab"`` (JSON), in TorchScript as the extra file
``asrlab.json``. :mod:`asrlab.deploy.runtime` loads either; ``standalone_onnx.py`` needs only
onnxruntime, numpy and soundfile.

Quantisation (``quantize="int8"``):

* TorchScript: ``torch.ao.quantization.quantize_dynamic`` on ``nn.GRU`` and ``nn.Linear``: int8
  weights, activations quantised on the fly, int8 kernels for the GRU and linear layers.
* ONNX: onnxruntime's ``quantize_dynamic`` quantises ``MatMul`` (the projection and the head;
  the front end's mel product is left in float32: the power spectrum spans too many orders of
  magnitude for 8 bits). onnxruntime has no integer ``GRU`` kernel and its quantiser leaves
  ``GRU`` nodes alone, so the GRU weights (most of the model) are stored as int8 with a
  per-row scale (:func:`gru_weights_int8`), turned back into float32 when the file loads: the
  file is about 4x smaller, the GRUs compute in float32 (weight-only quantisation).

``quantize="fp16"`` (ONNX only) stores the weights as float16 with a ``Cast`` to float32 in
front (:func:`weights_fp16`): half the size, float32 arithmetic, since onnxruntime's CPU GRU has
no float16 kernel. TorchScript fp16 is refused: CPU torch has no fast float16 GRU.
"""
from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from asrlab.config import EXPORT_FORMATS, QUANTIZATIONS
from asrlab.deploy.frontend import WaveformCTC
from asrlab.files import atomic_write
from asrlab.models.checkpoint import LoadedModel

__all__ = ["EXPORT_FORMAT", "ONNX_OPSET", "export_model", "export_metadata", "waveform_module", "quantize_torch",
           "quantize_onnx_int8", "gru_weights_int8", "weights_fp16", "META_KEY", "TORCHSCRIPT_META_FILE"]

#: The ``format`` of an export's metadata.
EXPORT_FORMAT = "asrlab-ctc-export"
#: The ONNX opset: 17 is the first with ``STFT``.
ONNX_OPSET = 17
#: The ONNX metadata property that holds :func:`export_metadata` as JSON.
META_KEY = "asrlab"
#: The extra file of a TorchScript export that holds :func:`export_metadata` as JSON.
TORCHSCRIPT_META_FILE = "asrlab.json"


def waveform_module(loaded: LoadedModel) -> WaveformCTC:
    """A copy of ``loaded``'s model behind its front end, in eval mode (the original is untouched)."""
    return WaveformCTC(copy.deepcopy(loaded.model).cpu(), loaded.features).eval()


def quantize_torch(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of every ``nn.GRU`` and ``nn.Linear`` of ``module`` (a copy).

    Weights become int8 (per tensor); activations are quantised per batch at run time. The
    front end has no such layers and stays in float32.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao.quantization is moving to torchao
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(module).eval(), {nn.GRU, nn.Linear},
                                                      dtype=torch.qint8)


def export_metadata(loaded: LoadedModel, format: str, quantize: str, name: str = "") -> dict[str, Any]:
    """What an exported file carries besides the graph (plain JSON values).

    Keys: ``format`` (:data:`EXPORT_FORMAT`), ``version``, ``backend`` (``"onnx"`` or
    ``"torchscript"``), ``quantize``, ``model`` (its name), ``vocab`` (symbols, blank first),
    ``blank`` (0), ``sample_rate``, ``frame_stride`` (input samples per output frame),
    ``features`` (the :class:`~asrlab.config.FeatureConfig` as a dict), ``input``, ``output``.
    """
    features = loaded.features
    hop = int(round(features.sample_rate * features.hop_ms / 1000))
    return {
        "format": EXPORT_FORMAT, "version": 1, "backend": format, "quantize": quantize,
        "model": name or str(loaded.meta.get("name", "")), "vocab": list(loaded.vocab.symbols),
        "blank": loaded.vocab.blank, "sample_rate": features.sample_rate,
        "frame_stride": hop * int(loaded.model.subsampling), "features": asdict(features),
        "input": f"waveform: (samples,) float32 mono at {features.sample_rate} Hz",
        "output": "log_probs: (frames, V) float32 CTC log-probabilities, blank at index 0",
    }


def export_model(model: str | os.PathLike | LoadedModel, out: str | os.PathLike, format: str = "onnx",
                 quantize: str = "none", *, name: str = "") -> Path:
    """Write ``model`` with its front end and vocabulary to ``out``.

    Args:
        model: a model file, run folder, pretrained name (:func:`asrlab.models.resolve.resolve_ctc_model`)
            or a :class:`LoadedModel`; its features must be asrlab's log-mel.
        out: the file to write (atomically); ``.onnx`` for ONNX, ``.pt`` for TorchScript by convention.
        format: ``"onnx"`` or ``"torchscript"`` (:data:`asrlab.config.EXPORT_FORMATS`).
        quantize: ``"none"``, ``"int8"`` or ``"fp16"`` (ONNX only) (:data:`asrlab.config.QUANTIZATIONS`).
        name: the model's name in the metadata (default: the loaded model's ``meta["name"]``).

    Returns:
        ``out`` as a Path.

    Raises:
        ValueError: an unknown format or quantisation, fp16 for TorchScript, or a model whose
            features are not log-mel.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantisation {quantize!r}; use one of {', '.join(QUANTIZATIONS)}")
    if format == "torchscript" and quantize == "fp16":
        raise ValueError("fp16 applies to ONNX exports only (CPU torch has no fast float16 GRU): use "
                         "--format onnx --quantize fp16, or --quantize int8 for TorchScript")
    from asrlab.models.resolve import resolve_ctc_model

    loaded = resolve_ctc_model(model, instead="export a CTC model (asrlab's own, or a fine-tuned CTC head)")
    if not name and isinstance(model, (str, os.PathLike)):
        name = str(loaded.meta.get("name") or Path(model).stem)
    module = waveform_module(loaded)
    meta = export_metadata(loaded, format, quantize, name)
    rate = loaded.features.sample_rate
    examples = [0.1 * torch.randn(n, generator=torch.Generator().manual_seed(n)) for n in (rate, rate * 3 // 2 + 37)]
    out = Path(out)
    if format == "torchscript":
        _export_torchscript(quantize_torch(module) if quantize == "int8" else module, examples, meta, out)
    else:
        _export_onnx(module, examples[0], meta, quantize, out)
    return out


def _export_torchscript(module: nn.Module, examples: list[torch.Tensor], meta: dict, out: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.11 points to torch.export, which has no TorchScript file
        traced = torch.jit.trace(module, (examples[0],), check_inputs=[(x,) for x in examples])
        with atomic_write(out) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files={TORCHSCRIPT_META_FILE: json.dumps(meta)})


def _export_onnx(module: nn.Module, example: torch.Tensor, meta: dict, quantize: str, out: Path) -> None:
    import onnx

    with atomic_write(out) as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and constant-folding notes
            torch.onnx.export(module, (example,), str(tmp), input_names=["waveform"], output_names=["log_probs"],
                              dynamic_axes={"waveform": {0: "samples"}, "log_probs": {0: "frames"}},
                              opset_version=ONNX_OPSET, dynamo=False)
        if quantize == "int8":
            quantize_onnx_int8(tmp, tmp)
        graph = onnx.load(str(tmp))
        if quantize == "fp16":
            weights_fp16(graph)
        del graph.metadata_props[:]
        graph.metadata_props.add(key=META_KEY, value=json.dumps(meta))
        onnx.save(graph, str(tmp))


# --------------------------------------------------------------------------- ONNX graph rewrites
def quantize_onnx_int8(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Dynamic int8 quantisation of an exported ONNX file (``target`` may be ``source``).

    onnxruntime's ``quantize_dynamic`` turns the model's ``MatMul`` nodes into ``MatMulInteger``
    with int8 weights (the front end's nodes are excluded); then :func:`gru_weights_int8` stores
    the GRU weights, which onnxruntime does not quantise, as int8. The weights use 7 bits
    (``reduce_range``): on x86 processors without VNNI (AVX2 only, e.g. AMD EPYC) onnxruntime's
    u8 x s8 products saturate 16-bit sums, and full-range weights changed a third of a small
    model's characters there (``tests/test_deploy.py`` allows 15%), which 7 bits bring back within bounds.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, target = Path(source), Path(target)
    graph = onnx.load(str(source))
    front = [n.name for n in graph.graph.node if n.name.startswith("/frontend/")]
    staged = target.with_name(target.name + ".int8")
    try:
        import logging

        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing" and shape-inference notes
        try:
            quantize_dynamic(str(source), str(staged), weight_type=QuantType.QInt8, reduce_range=True, op_types_to_quantize=["MatMul"],
                             nodes_to_exclude=front)
        finally:
            logging.getLogger().setLevel(quiet)
        quantized = onnx.load(str(staged))
        gru_weights_int8(quantized)
        onnx.save(quantized, str(target))
    finally:
        staged.unlink(missing_ok=True)
    return target


def _initializers(model) -> dict[str, Any]:
    return {init.name: init for init in model.graph.initializer}


def _replace_initializer(model, name: str, new: list, nodes: list) -> None:
    """Swap initializer ``name`` for ``new`` initializers and ``nodes`` (in order), which compute ``name``."""
    graph = model.graph
    for init in [i for i in graph.initializer if i.name == name]:
        graph.initializer.remove(init)
    graph.initializer.extend(new)
    for node in reversed(nodes):
        graph.node.insert(0, node)


def gru_weights_int8(model) -> int:
    """Store every ONNX ``GRU`` node's input (W) and recurrent (R) weights as int8, in place.

    Each weight matrix gets one symmetric scale per row (``max |w| / 127``); a ``Cast`` to float32
    and a ``Mul`` by the scales give the GRU its weights back. These are plain ops on constants, so
    onnxruntime folds them when it loads the file (a ``DequantizeLinear`` would be kept and run at
    every call): the file is small, the weights in memory are float32 again.

    Returns:
        The number of weight tensors stored as int8.
    """
    from onnx import TensorProto, helper, numpy_helper

    inits = _initializers(model)
    done = 0
    for node in list(model.graph.node):
        if node.op_type != "GRU":
            continue
        for name in node.input[1:3]:
            if name not in inits:
                continue
            weights = numpy_helper.to_array(inits[name]).astype(np.float32)       # (dirs, 3H, D)
            scale = np.maximum(np.abs(weights).max(axis=-1, keepdims=True), 1e-12) / 127.0
            q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
            new = [numpy_helper.from_array(q, f"{name}_int8"),
                   numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale")]
            cast = helper.make_node("Cast", [f"{name}_int8"], [f"{name}_int8_float"], name=f"{name}_cast",
                                    to=TensorProto.FLOAT)
            scaled = helper.make_node("Mul", [f"{name}_int8_float", f"{name}_scale"], [name], name=f"{name}_scaled")
            _replace_initializer(model, name, new, [cast, scaled])
            inits.pop(name)
            done += 1
    return done


def weights_fp16(model, min_size: int = 1024, skip_prefix: str = "frontend.") -> int:
    """Store every float32 initializer of at least ``min_size`` values as float16, in place, with a
    ``Cast`` to float32 in front (the front end's window and filters, ``skip_prefix``, stay float32).

    Returns:
        The number of initializers stored as float16.
    """
    from onnx import TensorProto, helper, numpy_helper

    done = 0
    for init in list(model.graph.initializer):
        if (init.data_type != TensorProto.FLOAT or init.name.startswith(skip_prefix)
                or int(np.prod(init.dims)) < min_size):
            continue
        name = init.name
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{name}_fp16")
        cast = helper.make_node("Cast", [f"{name}_fp16"], [name], name=f"{name}_to_float", to=TensorProto.FLOAT)
        _replace_initializer(model, name, [half], [cast])
        done += 1
    return done

"""Deployment: one exported file per model (ONNX or TorchScript, float, int8 or fp16) that turns a
16 kHz waveform into text, and what it costs.

* :mod:`asrlab.deploy.frontend`: the log-mel front end in exportable ops, and the model behind it.
* :mod:`asrlab.deploy.export`: :func:`~asrlab.deploy.export.export_model` (``asrlab export``), quantisation.
* :mod:`asrlab.deploy.runtime`: :func:`~asrlab.deploy.runtime.load_exported` and recognisers.
* :mod:`asrlab.deploy.measure`: size, one-thread real-time factor, peak memory, WER.
* :mod:`asrlab.deploy.chunked`: chunked (pseudo-streaming) transcription and a chunk-size study.
* ``standalone_onnx.py``: a transcriber that needs only onnxruntime, numpy and soundfile.

Importing this package imports nothing else (``standalone_onnx`` stays free of torch).
"""

"""Transcribe WAV files with an exported .onnx model, using only onnxruntime, numpy and soundfile.

Usage: python standalone_onnx.py MODEL.onnx FILE.wav [FILE.wav ...]
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import soundfile as sf


def main(model_path, wav_paths):
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = json.loads(session.get_modelmeta().custom_metadata_map["asrlab"])  # vocabulary, sample rate
    vocab, rate = meta["vocab"], meta["sample_rate"]
    for path in wav_paths:
        if not os.path.isfile(path):
            sys.exit(f"{path}: no such file: check the path")
        wave, file_rate = sf.read(path, dtype="float32", always_2d=True)
        if file_rate != rate:
            sys.exit(f"{path}: sampled at {file_rate} Hz, the model needs {rate} Hz: resample it first, "
                     f"e.g. `sox {path} -r {rate} out.wav`")
        log_probs = session.run(None, {"waveform": wave.mean(axis=1)})[0]   # (frames, V)
        best = log_probs.argmax(axis=1)                                      # greedy CTC: best path,
        keep = (best != 0) & np.append(True, best[1:] != best[:-1])          # repeats merged, blanks (0) dropped
        print(f"{path}\t{' '.join(''.join(vocab[i] for i in best[keep]).split())}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])

"""Deployment: the exportable front end, ONNX and TorchScript exports (float, int8, fp16), their
parity with PyTorch, the standalone onnxruntime script, the CLI round trip, chunked decoding,
the measurements, and the errors for bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asrlab.audio import load_audio, save_audio
from asrlab.config import FeatureConfig, ModelConfig
from asrlab.deploy import standalone_onnx
from asrlab.deploy.export import export_model
from asrlab.deploy.frontend import FEATURE_TOLERANCE, LogMelFrontEnd
from asrlab.deploy.runtime import TorchRecognizer, is_exported, load_exported
from asrlab.errors import CheckpointError
from asrlab.features import log_mel
from asrlab.metrics import error_rates
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel, save_model
from asrlab.text import CharVocabulary

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Largest difference of exported log-probabilities from PyTorch's (float32, other kernels).
ONNX_TOLERANCE = 1e-3
TORCHSCRIPT_TOLERANCE = 1e-4
#: fp16 weights: each weight rounded to 11 significant bits.
FP16_TOLERANCE = 0.05
#: int8: the character error rate of the int8 transcripts against the float ones, on speech.
INT8_MAX_CER = 0.15

FEATURES = FeatureConfig(n_mels=40)


def _loaded(seed: int = 0, hidden: int = 96) -> LoadedModel:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch="ds2", n_mels=40, hidden=hidden, num_layers=2, conv_channels=4,
                                    dropout=0.0)).eval()
    with torch.no_grad():
        model.head.weight.mul_(8.0)  # confident outputs, as a trained model's: greedy paths of real characters
    return LoadedModel(model, FEATURES, CharVocabulary(), {"name": "tiny"})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[LoadedModel, Path]:
    """A small untrained model and its checkpoint file."""
    loaded = _loaded()
    path = save_model(tmp_path_factory.mktemp("deploy") / "tiny.pt", loaded.model, loaded.features, loaded.vocab,
                      loaded.meta)
    return loaded, path


@pytest.fixture(scope="module")
def exports(tiny, tmp_path_factory) -> dict[str, Path]:
    """Every export of the tiny model: ``"<format>-<quantize>"`` -> file."""
    folder = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt, quantize in [("onnx", "none"), ("onnx", "int8"), ("onnx", "fp16"), ("torchscript", "none"),
                          ("torchscript", "int8")]:
        suffix = ".onnx" if fmt == "onnx" else ".pt"
        out[f"{fmt}-{quantize}"] = export_model(tiny[1], folder / f"{fmt}-{quantize}{suffix}", fmt, quantize)
    return out


def _waves() -> list[np.ndarray]:
    """Synthetic waveforms of several lengths: chirps with noise."""
    rng = np.random.default_rng(0)
    waves = []
    for seconds in (0.37, 1.0, 2.3):
        t = np.arange(int(16000 * seconds)) / 16000
        chirp = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
        waves.append((chirp + 0.02 * rng.standard_normal(t.size)).astype(np.float32))
    return waves


@pytest.mark.parametrize("normalize", ["utterance", "none"])
def test_front_end_matches_asrlab_features(normalize) -> None:
    config = FeatureConfig(n_mels=40, normalize=normalize)
    front = LogMelFrontEnd(config)
    for wave in _waves():
        ours, theirs = front(torch.from_numpy(wave)), log_mel(wave, config)
        assert ours.shape == theirs.shape
        scale = 1.0 if normalize == "utterance" else float(theirs.abs().max())
        assert float((ours - theirs).abs().max()) < FEATURE_TOLERANCE * scale


def test_front_end_refuses_other_features() -> None:
    with pytest.raises(ValueError, match="log-mel"):
        LogMelFrontEnd(FeatureConfig(kind="whisper"))


@pytest.mark.parametrize("name,tolerance", [("onnx-none", ONNX_TOLERANCE), ("torchscript-none", TORCHSCRIPT_TOLERANCE),
                                            ("onnx-fp16", FP16_TOLERANCE)])
def test_exported_log_probs_match_pytorch(tiny, exports, name, tolerance) -> None:
    reference = TorchRecognizer(tiny[0])
    exported = load_exported(exports[name], threads=1)
    assert exported.vocab == tiny[0].vocab and exported.sample_rate == 16000 and exported.frame_stride == 320
    for wave in _waves():
        ours, theirs = exported.log_probs(wave), reference.log_probs(wave)
        assert ours.shape == theirs.shape                      # lengths are dynamic: one trace, every length
        assert float(np.abs(ours - theirs).max()) < tolerance


def test_int8_exports_are_smaller_and_close(tiny, exports) -> None:
    size = {k: v.stat().st_size for k, v in exports.items()}
    assert size["torchscript-int8"] < size["torchscript-none"] / 2.5
    assert size["onnx-int8"] < size["onnx-none"] / 2.5
    assert size["onnx-fp16"] < size["onnx-none"] / 1.6
    reference = TorchRecognizer(tiny[0])
    for name in ("torchscript-int8", "onnx-int8"):
        exported = load_exported(exports[name])
        for wave in _waves():
            diff = np.abs(exported.log_probs(wave) - reference.log_probs(wave))
            assert 0 < float(diff.max()) < 3.0                 # quantised (not a copy of the float model), not broken


def _disagreement(recognizer, reference, waves) -> float:
    return error_rates([reference.transcribe(w) for w in waves], [recognizer.transcribe(w) for w in waves]).cer


def test_int8_transcripts_stay_close_to_float(tiny, exports, tiny_manifest) -> None:
    from asrlab.manifest import read_manifest

    waves = [load_audio(u.audio) for u in read_manifest(tiny_manifest)[:4]]
    reference = TorchRecognizer(tiny[0])
    assert all(reference.transcribe(w) for w in waves)
    for recognizer in (load_exported(exports["torchscript-int8"]), load_exported(exports["onnx-int8"]),
                       TorchRecognizer(tiny[0], quantize="int8")):
        assert _disagreement(recognizer, reference, waves) <= INT8_MAX_CER
    other = TorchRecognizer(_loaded(seed=1))                   # the bound can fail: other weights break it
    assert _disagreement(other, reference, waves) > INT8_MAX_CER


def test_standalone_script_prints_the_pytorch_transcripts(tiny, exports, tmp_path) -> None:
    reference = TorchRecognizer(tiny[0])
    paths = []
    for i, wave in enumerate(_waves()):
        save_audio(tmp_path / f"w{i}.wav", wave)
        paths.append(str(tmp_path / f"w{i}.wav"))
    done = subprocess.run([sys.executable, standalone_onnx.__file__, str(exports["onnx-none"]), *paths],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.rstrip("\n").split("\n")
    expected = [f"{p}\t{reference.transcribe(load_audio(p))}" for p in paths]
    assert lines == expected
    assert len(Path(standalone_onnx.__file__).read_text().splitlines()) <= 45


def test_standalone_script_names_the_file_and_the_fix(exports, tmp_path) -> None:
    wrong = tmp_path / "8k.wav"
    save_audio(wrong, np.zeros(8000, dtype=np.float32), sample_rate=8000)
    for path, words in ((wrong, ["8000 Hz", "16000 Hz", "resample"]), (tmp_path / "none.wav", ["no such file"])):
        done = subprocess.run([sys.executable, standalone_onnx.__file__, str(exports["onnx-none"]), str(path)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        assert str(path) in done.stderr and all(w in done.stderr for w in words), done.stderr


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_cli_export_then_transcribe(tiny, tmp_path, capsys, fmt, suffix) -> None:
    from asrlab.cli import main

    wav = tmp_path / "a.wav"
    save_audio(wav, _waves()[1])
    out = tmp_path / f"model{suffix}"
    assert main(["export", "--model", str(tiny[1]), "--format", fmt, "--quantize", "int8", "--out", str(out)]) == 0
    assert is_exported(out) and load_exported(out).meta["quantize"] == "int8"
    capsys.readouterr()
    assert main(["transcribe", "--model", str(out), str(wav)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"{wav}\t{load_exported(out).transcribe(load_audio(wav))}"


def test_not_an_export_is_refused_with_the_fix(tiny, tmp_path) -> None:
    import onnx

    assert not is_exported(tiny[1]) and not is_exported(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    bare = tmp_path / "bare.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(bare))
    for path in (tiny[1], garbage, bare, tmp_path / "missing.onnx"):
        with pytest.raises(CheckpointError) as caught:
            load_exported(path)
        assert str(path) in str(caught.value) and "asrlab export" in str(caught.value)


def test_export_refuses_what_does_not_apply(tiny, tmp_path) -> None:
    with pytest.raises(ValueError, match="ONNX exports only"):
        export_model(tiny[0], tmp_path / "m.pt", "torchscript", "fp16")
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(tiny[0], tmp_path / "m.x", "tflite")


def test_exported_model_rejects_bad_waveforms(exports) -> None:
    from asrlab.errors import AudioError

    exported = load_exported(exports["onnx-none"])
    with pytest.raises(AudioError, match="mono"):
        exported.log_probs(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(AudioError, match=str(exports["onnx-none"]).replace("\\", "\\\\") + ".*shorter"):
        exported.log_probs(np.zeros(100, dtype=np.float32))


def test_chunked_transcription(exports) -> None:
    from asrlab.deploy.chunked import chunked_transcribe

    exported = load_exported(exports["onnx-none"])
    wave = _waves()[2]
    whole = chunked_transcribe(exported, wave, chunk_seconds=10.0)
    assert whole.text == exported.transcribe(wave) and len(whole.compute_seconds) == 1
    # context that covers the whole utterance: every chunk sees it all, and keeps its own frames
    full_context = chunked_transcribe(exported, wave, chunk_seconds=0.5, context_seconds=5.0)
    assert full_context.text == whole.text and len(full_context.chunk_texts) == 5   # 2.3 s: 0.5 s x 4 + 0.3 s
    cut = chunked_transcribe(exported, wave, chunk_seconds=0.5)
    assert len(cut.compute_seconds) == 5 and cut.latency_seconds >= 0.5
    with pytest.raises(ValueError, match="chunk_seconds"):
        chunked_transcribe(exported, wave, chunk_seconds=0)


def test_measurements(tiny, exports, tiny_manifest, tmp_path) -> None:
    from asrlab.deploy.chunked import chunk_study
    from asrlab.deploy.measure import compare_deployments, evaluate_recognizer, measure_speed, peak_memory

    waves = _waves()
    speed = measure_speed(exports["onnx-int8"], waves, threads=1, repeats=1)
    assert speed.rtf > 0 and len(speed.per_utterance) == 3 and speed.audio_seconds == pytest.approx(3.67, abs=0.01)
    exported, torch_model = evaluate_recognizer(exports["onnx-none"], [tiny_manifest], limit=3), \
        evaluate_recognizer(tiny[0], [tiny_manifest], limit=3)
    assert exported.rates.utterances == 3 and exported.hypotheses == torch_model.hypotheses
    memory = peak_memory(exports["onnx-none"], str(load_manifest_audio(tiny_manifest)), threads=1)
    assert memory.peak_mb >= memory.baseline_mb > 10
    rows = compare_deployments(tiny[1], [tiny_manifest], tmp_path, [("pytorch", "none"), ("onnx", "int8")], limit=2,
                               speed_utterances=2, memory=False)
    assert [r.name for r in rows] == ["pytorch", "onnx int8"] and rows[1].size_mb < rows[0].size_mb
    assert set(rows[0].wer) == {Path(tiny_manifest).parent.name} and json.dumps(rows[0].as_dict())
    study = chunk_study(exports["onnx-none"], [tiny_manifest], (None, 1.0), limit=2)
    assert [r.chunk_seconds for r in study] == [None, 1.0] and all(r.utterances == 2 for r in study)


def load_manifest_audio(manifest: Path) -> str:
    from asrlab.manifest import read_manifest

    return read_manifest(manifest)[0].audio

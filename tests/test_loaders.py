"""Tests for asrlab.corpus.loaders on tiny trees in the LibriSpeech, Libri-light and ARCTIC layouts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asrlab.audio import load_audio
from asrlab.corpus.loaders import (
    ARCTIC_SPEAKERS,
    arctic_split,
    prepare_cmu_arctic,
    prepare_librilight_limited,
    prepare_librispeech,
)
from asrlab.errors import ManifestError, TranscriptError
from asrlab.manifest import read_manifest


def _public(extra: dict) -> dict:
    """The manifest's own extra keys (read_manifest adds private ``_`` keys such as ``_where``)."""
    return {k: v for k, v in extra.items() if not k.startswith("_")}


def _write_tone(path: Path, seconds: float, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * rate))) / rate
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate,
             subtype="PCM_16")


def _librispeech_chapter(folder: Path, speaker: str, chapter: str,
                         texts: list[str], seconds: float = 0.5) -> list[str]:
    """Write FLACs and a trans.txt for one chapter; return the utterance ids."""
    chapter_dir = folder / speaker / chapter
    ids = [f"{speaker}-{chapter}-{n:04d}" for n in range(len(texts))]
    for utt_id in ids:
        _write_tone(chapter_dir / f"{utt_id}.flac", seconds)
    lines = [f"{utt_id} {text}" for utt_id, text in zip(ids, texts, strict=True)]
    (chapter_dir / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return ids


@pytest.fixture()
def librispeech(tmp_path: Path) -> Path:
    """root/LibriSpeech/{dev-clean,test-clean}: 3 + 2 utterances, three speakers."""
    base = tmp_path / "data" / "LibriSpeech"
    _librispeech_chapter(base / "dev-clean", "84", "121123", ["HELLO WORLD", "IT'S A TEST"], 0.5)
    _librispeech_chapter(base / "dev-clean", "174", "50561", ["THE CAT SAT"], 0.25)
    _librispeech_chapter(base / "test-clean", "1089", "134686", ["ONE", "TWO THREE"], 0.75)
    (base / "SPEAKERS.TXT").write_text("; not a subset\n")
    return tmp_path / "data"


# --------------------------------------------------------------------------- LibriSpeech


def test_librispeech_manifests(librispeech: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = prepare_librispeech(librispeech, out, progress=False)
    assert paths == {"dev-clean": out / "dev-clean.jsonl", "test-clean": out / "test-clean.jsonl"}
    dev = read_manifest(paths["dev-clean"])
    test = read_manifest(paths["test-clean"])
    assert len(dev) == 3 and len(test) == 2
    assert sorted(u.text for u in dev) == ["hello world", "it's a test", "the cat sat"]
    assert {u.speaker for u in dev} == {"84", "174"}
    assert {u.split for u in dev} == {"dev-clean"} and {u.split for u in test} == {"test-clean"}
    assert {u.domain for u in dev} == {"librispeech"}
    by_id = {u.id: u for u in dev}
    assert by_id["174-50561-0000"].duration == pytest.approx(0.25)
    assert by_id["84-121123-0000"].duration == pytest.approx(0.5)
    assert _public(by_id["84-121123-0000"].extra) == {"chapter": "121123"}
    # audio points at the original FLAC, relative to the manifest, and loads
    assert Path(by_id["84-121123-0000"].audio).suffix == ".flac"
    first = json.loads(paths["dev-clean"].read_text().splitlines()[0])
    assert not Path(first["audio"]).is_absolute()
    assert load_audio(by_id["84-121123-0000"].audio).shape == (8000,)


def test_librispeech_root_may_be_the_librispeech_folder(librispeech: Path, tmp_path: Path) -> None:
    paths = prepare_librispeech(librispeech / "LibriSpeech", tmp_path / "out",
                                subsets=["test-clean"], domain="books", progress=False)
    utts = read_manifest(paths["test-clean"])
    assert [u.text for u in sorted(utts, key=lambda u: u.id)] == ["one", "two three"]
    assert {u.domain for u in utts} == {"books"}


def test_librispeech_convert_audio(librispeech: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = prepare_librispeech(librispeech, out, subsets=["test-clean"], convert_audio=True,
                                progress=False)
    utts = read_manifest(paths["test-clean"])
    for utt in utts:
        assert Path(utt.audio).parent == (out / "wav" / "test-clean").resolve()
        info = sf.info(utt.audio)
        assert info.format == "WAV" and info.samplerate == 16000
        assert utt.duration == pytest.approx(0.75)
    # a second run reuses the converted files
    again = read_manifest(prepare_librispeech(librispeech, out, subsets=["test-clean"],
                                              convert_audio=True, progress=False)["test-clean"])
    assert [u.audio for u in again] == [u.audio for u in utts]


def test_librispeech_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="openslr.org/12"):
        prepare_librispeech(tmp_path / "nowhere", tmp_path / "out")


def test_librispeech_missing_subset_lists_found(librispeech: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"'dev-other' not found.*dev-clean, test-clean"):
        prepare_librispeech(librispeech, tmp_path / "out", subsets=["dev-clean", "dev-other"])
    assert not (tmp_path / "out" / "dev-clean.jsonl").exists()  # checked before any work


def test_librispeech_transcript_without_audio(librispeech: Path, tmp_path: Path) -> None:
    (librispeech / "LibriSpeech/dev-clean/84/121123/84-121123-0001.flac").unlink()
    with pytest.raises(ManifestError, match=r"84-121123.trans.txt:2 names 84-121123-0001"):
        prepare_librispeech(librispeech, tmp_path / "out", progress=False)


def test_librispeech_audio_without_transcript(librispeech: Path, tmp_path: Path) -> None:
    _write_tone(librispeech / "LibriSpeech/dev-clean/84/121123/84-121123-0009.flac", 0.1)
    with pytest.raises(ManifestError, match=r"84-121123-0009.flac has no line in .*84-121123.trans.txt"):
        prepare_librispeech(librispeech, tmp_path / "out", progress=False)


def test_librispeech_chapter_without_transcript_file(librispeech: Path, tmp_path: Path) -> None:
    (librispeech / "LibriSpeech/dev-clean/174/50561/174-50561.trans.txt").unlink()
    with pytest.raises(ManifestError, match=r"audio without transcript: .*174-50561-0000.flac"):
        prepare_librispeech(librispeech, tmp_path / "out", progress=False)


def test_librispeech_digits_rejected_with_file_and_line(librispeech: Path, tmp_path: Path) -> None:
    _librispeech_chapter(librispeech / "LibriSpeech/dev-clean", "99", "7", ["OK", "IN 1905 SHE"])
    where = r"99-7.trans.txt:2 \(99-7-0001, characters \['0', '1', '5', '9'\]\)"
    with pytest.raises(TranscriptError, match=where):
        prepare_librispeech(librispeech, tmp_path / "out", progress=False)
    paths = prepare_librispeech(librispeech, tmp_path / "out", on_invalid_text="skip",
                                progress=False)
    assert "ok" in {u.text for u in read_manifest(paths["dev-clean"])}
    assert len(read_manifest(paths["dev-clean"])) == 4


# --------------------------------------------------------------------------- Libri-light


@pytest.fixture()
def librilight(tmp_path: Path) -> Path:
    """librispeech_finetuning/1h/{0..5}/{clean,other} with one utterance each, 9h with two."""
    base = tmp_path / "ll" / "librispeech_finetuning"
    for fold in range(6):
        _librispeech_chapter(base / "1h" / str(fold) / "clean", f"{100 + fold}", "1",
                             [f"CLEAN FOLD {'ABCDEF'[fold]}"], 0.5)
        _librispeech_chapter(base / "1h" / str(fold) / "other", f"{200 + fold}", "2",
                             ["OTHER VOICE"], 0.25)
    _librispeech_chapter(base / "9h" / "clean", "300", "3", ["NINE HOURS", "MORE DATA"], 1.0)
    (base / "phones").mkdir()
    return tmp_path / "ll"


@pytest.mark.parametrize(("subset", "count", "minutes"), [
    ("10min", 2, 0.75 / 60), ("1h", 12, 4.5 / 60), ("10h", 14, 6.5 / 60)])
def test_librilight_subsets(librilight: Path, tmp_path: Path, subset: str, count: int,
                            minutes: float) -> None:
    path = prepare_librilight_limited(librilight, tmp_path / "out", subset, progress=False)
    assert path == tmp_path / "out" / f"librilight-{subset}.jsonl"
    utts = read_manifest(path)
    assert len(utts) == count
    assert sum(u.duration for u in utts) / 60 == pytest.approx(minutes)
    assert {u.split for u in utts} == {"train"} and {u.domain for u in utts} == {"librilight"}
    assert {u.extra["quality"] for u in utts} == {"clean", "other"}


def test_librilight_fields(librilight: Path, tmp_path: Path) -> None:
    utts = read_manifest(prepare_librilight_limited(librilight / "librispeech_finetuning",
                                                    tmp_path / "out", "10min", progress=False))
    clean = next(u for u in utts if u.extra["quality"] == "clean")
    assert clean.text == "clean fold a" and clean.speaker == "100"
    assert _public(clean.extra) == {"chapter": "1", "fold": "1h/0", "quality": "clean"}


def test_librilight_errors(librilight: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="10min"):
        prepare_librilight_limited(librilight, tmp_path / "out", "5h")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="librispeech_finetuning.tgz"):
        prepare_librilight_limited(tmp_path / "missing", tmp_path / "out", "1h")
    shutil.rmtree(librilight / "librispeech_finetuning/9h")
    prepare_librilight_limited(librilight, tmp_path / "out", "1h", progress=False)
    with pytest.raises(FileNotFoundError, match=r"9h not found .*1h, phones"):
        prepare_librilight_limited(librilight, tmp_path / "out", "10h")


def test_librilight_transcript_without_audio(librilight: Path, tmp_path: Path) -> None:
    (librilight / "librispeech_finetuning/1h/0/other/200/2/200-2-0000.flac").unlink()
    with pytest.raises(ManifestError, match=r"200-2.trans.txt:1 names 200-2-0000"):
        prepare_librilight_limited(librilight, tmp_path / "out", "10min", progress=False)


# --------------------------------------------------------------------------- CMU ARCTIC

ARCTIC_TEXT = {
    "arctic_a0001": "Author of the danger trail, Philip Steels, etc.",
    "arctic_a0002": "Not at this particular case, Tom, apologized Whittemore.",
    "arctic_b0001": "Will we ever forget it.",
}


def _arctic_speaker(root: Path, spk: str, texts: dict[str, str], seconds: float = 0.5) -> Path:
    spk_dir = root / f"cmu_us_{spk}_arctic"
    for utt_id in texts:
        _write_tone(spk_dir / "wav" / f"{utt_id}.wav", seconds)
    (spk_dir / "etc").mkdir(parents=True, exist_ok=True)
    lines = [f'( {utt_id} "{text}" )' for utt_id, text in texts.items()]
    (spk_dir / "etc" / "txt.done.data").write_text("\n".join(lines) + "\n")
    return spk_dir


@pytest.fixture()
def arctic(tmp_path: Path) -> Path:
    root = tmp_path / "arctic"
    for spk, seconds in (("bdl", 0.5), ("ksp", 0.25), ("awb", 1.0)):
        _arctic_speaker(root, spk, ARCTIC_TEXT, seconds)
    (root / "README").write_text("not a speaker\n")
    return root


def test_arctic_all_speakers(arctic: Path, tmp_path: Path) -> None:
    path = prepare_cmu_arctic(arctic, tmp_path / "out", progress=False)
    assert path == tmp_path / "out" / "cmu_arctic.jsonl"
    utts = read_manifest(path)
    assert len(utts) == 9
    assert {u.speaker for u in utts} == {"bdl", "ksp", "awb"}
    assert {u.domain for u in utts} == {"arctic"}
    for utt in utts:
        assert utt.extra["accent"] == ARCTIC_SPEAKERS[utt.speaker][0]
        assert utt.extra["gender"] == "male"
        assert utt.split == arctic_split(utt.id)
        assert utt.duration == pytest.approx({"bdl": 0.5, "ksp": 0.25, "awb": 1.0}[utt.speaker])
    texts = {u.text for u in utts}
    assert texts == {"author of the danger trail philip steels etc",
                     "not at this particular case tom apologized whittemore",
                     "will we ever forget it"}
    assert {u.extra["accent"] for u in utts} == {"us", "indian", "scottish"}


def test_arctic_speaker_subset(arctic: Path, tmp_path: Path) -> None:
    utts = read_manifest(prepare_cmu_arctic(arctic, tmp_path / "out", speakers=["ksp"],
                                            domain="accent", progress=False))
    assert len(utts) == 3 and {u.speaker for u in utts} == {"ksp"}
    assert {u.domain for u in utts} == {"accent"}


def test_arctic_split_is_by_sentence_and_deterministic() -> None:
    ids = [f"arctic_a{n:04d}" for n in range(1, 594)] + [f"arctic_b{n:04d}" for n in range(1, 540)]
    splits = [arctic_split(i) for i in ids]
    assert splits == [arctic_split(i) for i in ids]
    shares = {s: splits.count(s) / len(ids) for s in ("train", "dev", "test")}
    assert shares["train"] == pytest.approx(0.8, abs=0.05)
    assert shares["dev"] == pytest.approx(0.1, abs=0.03)
    assert shares["test"] == pytest.approx(0.1, abs=0.03)
    assert {arctic_split(i, 0.0, 0.0) for i in ids} == {"train"}
    with pytest.raises(ValueError, match="sum to less than 1"):
        arctic_split("arctic_a0001", 0.5, 0.5)


def test_arctic_errors(arctic: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="festvox.org"):
        prepare_cmu_arctic(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"\['jmk'\] not found .*found: awb, bdl, ksp"):
        prepare_cmu_arctic(arctic, tmp_path / "out", speakers=["bdl", "jmk"])
    (arctic / "cmu_us_bdl_arctic/wav/arctic_a0002.wav").unlink()
    with pytest.raises(ManifestError, match=r"txt.done.data:2 names arctic_a0002"):
        prepare_cmu_arctic(arctic, tmp_path / "out", speakers=["bdl"], progress=False)
    _write_tone(arctic / "cmu_us_ksp_arctic/wav/arctic_c0001.wav", 0.1)
    with pytest.raises(ManifestError, match=r"arctic_c0001.wav has no line in"):
        prepare_cmu_arctic(arctic, tmp_path / "out", speakers=["ksp"], progress=False)


def test_arctic_malformed_line_and_digits(tmp_path: Path) -> None:
    root = tmp_path / "arctic"
    spk_dir = _arctic_speaker(root, "slt", {"arctic_a0001": "In 1905 they left."})
    with pytest.raises(TranscriptError, match=r"txt.done.data:1 \(arctic_a0001"):
        prepare_cmu_arctic(root, tmp_path / "out", progress=False)
    (spk_dir / "etc" / "txt.done.data").write_text("arctic_a0001 no parentheses\n")
    with pytest.raises(TranscriptError, match=r"txt.done.data:1: expected"):
        prepare_cmu_arctic(root, tmp_path / "out", progress=False)


def test_arctic_unknown_speaker_gets_unknown_accent(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "arctic"
    _arctic_speaker(root, "zzz", {"arctic_a0001": "Hello there."})
    utts = read_manifest(prepare_cmu_arctic(root, tmp_path / "out", progress=False))
    assert _public(utts[0].extra) == {"accent": "unknown", "gender": "unknown"}
    assert "zzz" in caplog.text

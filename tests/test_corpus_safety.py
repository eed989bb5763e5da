"""Nothing lost: concurrent builds into one folder, resumed builds, truncated WAVs and a full disk.

Builds here are tiny (a few seconds of audio per split, through :func:`tiny_sizes`), so that a
test can build, damage and rebuild a corpus and compare it file for file with a clean one.
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asrlab import audio as audio_module
from asrlab.audio import save_audio
from asrlab.corpus import build as build_module
from asrlab.corpus.build import build_corpus
from asrlab.corpus.domains import DOMAINS, SPLITS, SplitMinutes
from asrlab.errors import AudioWriteError
from asrlab.files import temporary_sibling
from asrlab.manifest import read_manifest

DiskUsage = collections.namedtuple("DiskUsage", "total used free")
TINY = SplitMinutes(train=0.06, unlabelled=0.03, dev=0.03, test=0.03)  # a few utterances each


def tiny_sizes(monkeypatch, *names: str) -> None:
    """Shrink every split of ``names`` to a few seconds at size "smoke"."""
    for name in names:
        monkeypatch.setitem(DOMAINS, name, dataclasses.replace(DOMAINS[name], sizes={"smoke": TINY}))


def corpus_files(root: Path, domain: str) -> dict[str, bytes]:
    """Every manifest and WAV of a domain, by path relative to ``root``."""
    folder = root / domain
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.suffix in (".wav", ".jsonl")}


# --------------------------------------------------------------------------- concurrent builds
_BUILD_SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    from asrlab.corpus.build import build_corpus
    from asrlab.corpus.domains import DOMAINS, SplitMinutes
    DOMAINS["source"] = dataclasses.replace(
        DOMAINS["source"], sizes={"smoke": SplitMinutes(train=0.1, unlabelled=0.05, dev=0.05, test=0.05)})
    build_corpus(sys.argv[1], "smoke", ["source"], seed=int(sys.argv[2]), workers=1, progress=False)
""")


def test_two_builds_into_one_folder_at_once_both_finish_and_lose_no_audio(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    builds = [subprocess.Popen([sys.executable, "-c", _BUILD_SCRIPT, str(tmp_path), str(seed)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for seed in (1, 2)]
    outputs = [b.communicate(timeout=300)[0] for b in builds]
    assert [b.returncode for b in builds] == [0, 0], outputs
    for split in SPLITS:
        utts = read_manifest(tmp_path / "source" / f"{split}.jsonl")
        assert utts
        missing = [u.audio for u in utts if not Path(u.audio).is_file()]
        assert not missing, (split, missing)
    assert "waiting" in "".join(outputs)  # one build waited for the other, and said so


def test_the_stale_audio_cleaner_never_removes_a_temporary_file(tmp_path: Path) -> None:
    kept, stale = tmp_path / "kept.wav", tmp_path / "stale.wav"
    in_flight = [temporary_sibling(tmp_path / "other.wav"), tmp_path / "older.123-456.tmp.wav",
                 tmp_path / "other.wav.123-456.tmp"]
    for path in [kept, stale, *in_flight]:
        path.write_bytes(b"RIFF")
    build_module._remove_stale_audio(tmp_path, {str(kept)})
    assert kept.is_file() and not stale.exists()
    assert all(p.is_file() for p in in_flight)


def test_save_audio_writes_its_temporary_file_under_a_name_no_wav_glob_matches(tmp_path: Path,
                                                                               monkeypatch) -> None:
    seen: list[str] = []
    real_write = sf.write

    def spy(file, *args, **kwargs):
        seen.append(os.path.basename(file))
        return real_write(file, *args, **kwargs)

    monkeypatch.setattr(audio_module.sf, "write", spy)
    save_audio(tmp_path / "a.wav", np.zeros(1600, dtype=np.float32))
    assert len(seen) == 1 and not seen[0].endswith(".wav")
    assert sf.info(str(tmp_path / "a.wav")).format == "WAV"
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


# --------------------------------------------------------------------------- resumed builds
def test_a_resumed_reverb_build_equals_a_clean_build_file_for_file(tmp_path: Path, monkeypatch) -> None:
    tiny_sizes(monkeypatch, "reverb")
    build_corpus(tmp_path, "smoke", ["reverb"], seed=4, workers=1, progress=False)
    clean = corpus_files(tmp_path, "reverb")
    # an interrupted build: the last splits' manifests never written, some of their audio missing
    for split in ("unlabelled", "train"):
        (tmp_path / "reverb" / f"{split}.jsonl").unlink()
        for wav in sorted((tmp_path / "reverb" / "audio" / split).glob("*.wav"))[::2]:
            wav.unlink()
    resumed = build_corpus(tmp_path, "smoke", ["reverb"], seed=4, workers=1, progress=False)
    assert sorted(s.split for s in resumed.splits if not s.skipped_existing) == ["train", "unlabelled"]
    assert corpus_files(tmp_path, "reverb") == clean


def test_a_reloaded_rir_bank_is_the_bank_that_was_generated(tmp_path: Path) -> None:
    spec = {"kind": "reverb", "rt60": (0.3, 0.5), "room_dims_min": (4.0, 3.0, 2.5),
            "room_dims_max": (5.0, 4.0, 3.0)}
    made = build_module._rir_bank(spec, "smoke", 7, tmp_path)
    again = build_module._rir_bank(spec, "smoke", 7, tmp_path)
    assert len(made) == len(again)
    for a, b in zip(made.rirs, again.rirs):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert made.onsets == again.onsets and made.describe() == again.describe()


def test_a_truncated_wav_is_rendered_again(tmp_path: Path, monkeypatch) -> None:
    tiny_sizes(monkeypatch, "telephone")
    build_corpus(tmp_path, "smoke", ["telephone"], seed=2, workers=1, progress=False)
    clean = corpus_files(tmp_path, "telephone")
    # one WAV of a finished split and one of a split whose build was interrupted, cut in half
    victims = [Path(read_manifest(tmp_path / "telephone" / f"{split}.jsonl")[0].audio) for split in ("dev", "test")]
    for victim in victims:
        data = victim.read_bytes()
        victim.write_bytes(data[: len(data) // 2])
        assert build_module._valid_wav(str(victim)) == 0.0
    (tmp_path / "telephone" / "test.jsonl").unlink()
    build_corpus(tmp_path, "smoke", ["telephone"], seed=2, workers=1, progress=False)
    assert corpus_files(tmp_path, "telephone") == clean


# --------------------------------------------------------------------------- full disk
def test_a_full_disk_names_the_file_and_says_the_disk_is_full(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "utt.wav"

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audio_module.sf, "write", no_space)
    with pytest.raises(AudioWriteError, match="disk is full") as caught:
        save_audio(target, np.zeros(1600, dtype=np.float32))
    assert str(target) in str(caught.value)
    assert not any(tmp_path.iterdir())  # no temp file left behind


def test_libsndfiles_bare_system_error_on_a_full_disk_is_explained(tmp_path: Path, monkeypatch) -> None:
    # libsndfile reports a failed write as "System error." and drops the errno: asrlab looks at
    # the free space of the folder instead
    target = tmp_path / "utt.wav"

    def system_error(*args, **kwargs):
        raise sf.LibsndfileError(2, "Error opening file: ")

    monkeypatch.setattr(audio_module.sf, "write", system_error)
    monkeypatch.setattr(audio_module.shutil, "disk_usage", lambda path: DiskUsage(10**9, 10**9, 0))
    with pytest.raises(AudioWriteError, match="disk is full") as caught:
        save_audio(target, np.zeros(1600, dtype=np.float32))
    assert str(target) in str(caught.value)

    monkeypatch.setattr(audio_module.shutil, "disk_usage", lambda path: DiskUsage(10**9, 0, 10**9))
    with pytest.raises(AudioWriteError, match="cannot write") as caught:
        save_audio(target, np.zeros(1600, dtype=np.float32))
    assert str(target) in str(caught.value) and "disk is full" not in str(caught.value)

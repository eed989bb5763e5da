"""The corpus builder: manifests, sizes, determinism, disjoint voices, skipping and resuming."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.corpus import build as build_module
from asrlab.corpus.build import build_corpus, load_summary
from asrlab.corpus.domains import DOMAINS, SPLITS
from asrlab.errors import MissingDependencyError
from asrlab.manifest import read_manifest, total_minutes
from asrlab.text import CharVocabulary

DOMAINS_UNDER_TEST = ["source", "telephone"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, "smoke", DOMAINS_UNDER_TEST, seed=3, workers=2, progress=False)
    return out


def test_every_split_has_a_manifest_of_the_declared_size(corpus: Path) -> None:
    for domain in DOMAINS_UNDER_TEST:
        for split in SPLITS:
            utts = read_manifest(corpus / domain / f"{split}.jsonl")
            wanted = DOMAINS[domain].sizes["smoke"][split]
            assert wanted * 0.9 <= total_minutes(utts) <= wanted * 1.5, (domain, split)
            for u in utts:
                assert u.domain == domain and u.split == split
                assert Path(u.audio).is_file()
                CharVocabulary().encode(u.text)


def test_manifest_lines_carry_the_required_keys_with_relative_audio(corpus: Path) -> None:
    line = json.loads((corpus / "source" / "train.jsonl").read_text().splitlines()[0])
    assert {"audio", "text", "duration", "domain", "speaker", "split"} <= set(line)
    assert not Path(line["audio"]).is_absolute()


def test_test_voices_and_texts_are_disjoint_from_training(corpus: Path) -> None:
    for domain in DOMAINS_UNDER_TEST:
        train = read_manifest(corpus / domain / "train.jsonl")
        test = read_manifest(corpus / domain / "test.jsonl")
        assert not {u.speaker for u in train} & {u.speaker for u in test}
        assert not {u.text for u in train} & {u.text for u in test}


def test_telephone_domain_is_band_limited(corpus: Path) -> None:
    import numpy as np
    from asrlab.audio import load_audio

    def high_band_share(path: str) -> float:
        spectrum = np.abs(np.fft.rfft(load_audio(path))) ** 2
        freqs = np.fft.rfftfreq(2 * (len(spectrum) - 1), 1 / 16000)
        return float(spectrum[freqs > 4000].sum() / spectrum.sum())

    phone = [u.audio for u in read_manifest(corpus / "telephone" / "test.jsonl")[:5]]
    clean = [u.audio for u in read_manifest(corpus / "source" / "test.jsonl")[:5]]
    assert max(map(high_band_share, phone)) < 1e-3 < min(map(high_band_share, clean))


def test_same_seed_gives_the_same_corpus_with_any_number_of_workers(corpus: Path, tmp_path: Path) -> None:
    build_corpus(tmp_path, "smoke", ["telephone"], seed=3, workers=1, progress=False)
    ours = (corpus / "telephone" / "dev.jsonl").read_text()
    again = (tmp_path / "telephone" / "dev.jsonl").read_text()
    assert ours == again
    first = read_manifest(corpus / "telephone" / "dev.jsonl")[0]
    second = read_manifest(tmp_path / "telephone" / "dev.jsonl")[0]
    assert Path(first.audio).read_bytes() == Path(second.audio).read_bytes()


def test_rebuild_skips_current_splits_and_resumes_missing_audio(corpus: Path) -> None:
    again = build_corpus(corpus, "smoke", DOMAINS_UNDER_TEST, seed=3, workers=2, progress=False)
    assert again.rendered == 0 and all(s.skipped_existing for s in again.splits)
    manifest = corpus / "source" / "dev.jsonl"
    before = manifest.read_text()
    victim = Path(read_manifest(manifest)[0].audio)
    victim.unlink()
    resumed = build_corpus(corpus, "smoke", ["source"], seed=3, workers=2, progress=False)
    assert victim.is_file()
    assert manifest.read_text() == before
    assert [s.split for s in resumed.splits if not s.skipped_existing] == ["dev"]


def test_summary_table_lists_minutes(corpus: Path) -> None:
    summary = load_summary(corpus)
    assert {(s["domain"], s["split"]) for s in summary["splits"]} >= {("source", "train"), ("telephone", "test")}


def test_missing_real_recordings_leave_the_domain_out_with_a_message(tmp_path: Path, monkeypatch, capsys) -> None:
    def absent(*args, **kwargs):
        raise MissingDependencyError("install asterisk-core-sounds-en-wav")

    monkeypatch.setattr("asrlab.corpus.asterisk.load_asterisk_prompts", absent)
    summary = build_corpus(tmp_path, "smoke", ["real_telephone"], progress=False)
    assert "real_telephone" in summary.missing
    assert "asterisk-core-sounds-en-wav" in capsys.readouterr().out
    assert not (tmp_path / "real_telephone" / "train.jsonl").exists()


def test_unknown_domain_and_size_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="known domains"):
        build_corpus(tmp_path, "smoke", ["martian"], progress=False)
    with pytest.raises(ValueError, match="smoke"):
        build_module.CorpusBuilder(tmp_path, "huge")  # type: ignore[arg-type]


def test_a_changed_recipe_never_reuses_audio_made_for_another_voice(tmp_path: Path, monkeypatch) -> None:
    build_corpus(tmp_path, "smoke", ["commands"], seed=5, workers=1, progress=False)
    before = {u.audio: u for u in read_manifest(tmp_path / "commands" / "dev.jsonl")}
    flite_here = build_module.flite_available()
    monkeypatch.setattr(build_module, "flite_available", lambda: not flite_here)
    monkeypatch.setattr(build_module, "piper_available", lambda: False)
    build_corpus(tmp_path, "smoke", ["commands"], seed=5, workers=1, progress=False)
    after = read_manifest(tmp_path / "commands" / "dev.jsonl")
    for utt in after:  # a file kept from the first build must hold the same text and voice
        if utt.audio in before:
            assert (before[utt.audio].text, before[utt.audio].extra["voice"]) == (utt.text, utt.extra["voice"])
    listed = {Path(u.audio).name for u in after}
    assert {p.name for p in (tmp_path / "commands" / "audio" / "dev").glob("*.wav")} == listed

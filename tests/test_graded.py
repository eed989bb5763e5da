"""Graded noise shifts: the same source utterances at fixed SNRs, built into a corpus folder."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from asrlab.audio import load_audio
from asrlab.corpus.graded import build_graded_noise, noise_domain, split_by_duration
from asrlab.corpus.shifts import measure_snr_db
from asrlab.manifest import Utterance, manifest_path, read_manifest
from conftest import SENTENCES, synthesize_manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A corpus folder with the three source splits graded shifts are made from."""
    root = tmp_path_factory.mktemp("graded-corpus")
    voices = [("en-us", "m1"), ("en-gb", "f2")]
    synthesize_manifest(root / "source", SENTENCES, voices, domain="source", split="unlabelled")
    synthesize_manifest(root / "source", SENTENCES[:3], voices, domain="source", split="dev")
    synthesize_manifest(root / "source", SENTENCES[3:6], voices, domain="source", split="test")
    return root


def test_each_level_is_a_domain_with_four_splits_at_its_snr(corpus):
    levels = build_graded_noise(corpus, (20.0, 5.0), seed=1)
    assert [level.domain for level in levels] == ["noise-20db", "noise-5db"]
    for level in levels:
        for split, path in level.manifests.items():
            assert path == manifest_path(corpus, level.domain, split)
            for utt in read_manifest(path):
                assert utt.domain == level.domain and utt.split == split
                snr = measure_snr_db(load_audio(utt.extra["clean_audio"]), load_audio(utt.audio))
                assert snr == pytest.approx(level.snr_db, abs=0.5)


def test_levels_share_utterances_and_noise_so_only_severity_changes(corpus):
    mild, severe = build_graded_noise(corpus, (20.0, 5.0), seed=1)
    for split in ("train", "unlabelled", "dev", "test"):
        a, b = read_manifest(mild.manifests[split]), read_manifest(severe.manifests[split])
        assert [(u.text, u.extra["clean_audio"]) for u in a] == [(u.text, u.extra["clean_audio"]) for u in b]
    clean = load_audio(read_manifest(mild.manifests["dev"])[0].extra["clean_audio"])
    noise_mild = load_audio(read_manifest(mild.manifests["dev"])[0].audio) - clean
    noise_severe = load_audio(read_manifest(severe.manifests["dev"])[0].audio) - clean
    # the same noise waveform, 15 dB louder (up to the peak limiter and 16-bit rounding)
    ratio = float((noise_severe ** 2).sum() / (noise_mild ** 2).sum())
    assert 10 * math.log10(ratio) == pytest.approx(15.0, abs=1.0)


def test_labelled_and_unlabelled_parts_are_disjoint_and_cover_the_source(corpus):
    (level,) = build_graded_noise(corpus, (10.0,), seed=1)
    train = {u.extra["clean_audio"] for u in read_manifest(level.manifests["train"])}
    unlabelled = {u.extra["clean_audio"] for u in read_manifest(level.manifests["unlabelled"])}
    source = {u.audio for u in read_manifest(manifest_path(corpus, "source", "unlabelled"))}
    assert train and unlabelled and not train & unlabelled and train | unlabelled == source
    dev = [u.extra["clean_audio"] for u in read_manifest(level.manifests["dev"])]
    assert dev == [u.audio for u in read_manifest(manifest_path(corpus, "source", "dev"))]


def test_a_level_built_the_same_way_is_kept(corpus):
    (level,) = build_graded_noise(corpus, (15.0,), seed=1)
    first = os.path.getmtime(level.manifests["test"])
    build_graded_noise(corpus, (15.0,), seed=1)
    assert os.path.getmtime(level.manifests["test"]) == first
    build_graded_noise(corpus, (15.0,), seed=2)
    assert os.path.getmtime(level.manifests["test"]) != first


def test_a_corpus_without_source_splits_is_refused_with_the_build_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="asrlab corpus build") as info:
        build_graded_noise(tmp_path, (10.0,))
    assert str(tmp_path / "source") in str(info.value)


def test_split_by_duration_takes_about_the_share():
    utts = [Utterance(f"/a/{i}.wav", "x", 1.0 + i % 3, "d", "s", "unlabelled") for i in range(30)]
    first, rest = split_by_duration(utts, 1 / 3, seed=0)
    assert len(first) + len(rest) == 30 and not {u.audio for u in first} & {u.audio for u in rest}
    share = sum(u.duration for u in first) / sum(u.duration for u in utts)
    assert 1 / 3 <= share < 1 / 3 + 3 / 60
    assert split_by_duration(utts, 1 / 3, seed=0) == (first, rest)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_by_duration(utts, 1.0, seed=0)


def test_noise_domain_names():
    assert noise_domain(5) == "noise-5db" and noise_domain(12.5) == "noise-12.5db"

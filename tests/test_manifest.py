"""JSONL manifests: relative paths, round trips, and errors that name file:line."""
from __future__ import annotations

import json
import shutil

import pytest

from asrlab.errors import ManifestError
from asrlab.manifest import Utterance, read_manifest, total_minutes, write_manifest

GOOD = {"audio": "audio/a.wav", "text": "hello", "duration": 1.5, "domain": "d", "speaker": "s", "split": "train"}


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_round_trip_with_relative_paths(tmp_path):
    folder = tmp_path / "corpus"
    utts = [
        Utterance(str(folder / "audio" / "a.wav"), "hello there", 1.25, "news", "spk1", "train",
                  extra={"engine": "espeak", "voice": "en-us"}),
        Utterance(str(folder / "audio" / "sub" / "b.wav"), "caf\u00e9", 0.5, "chat", "spk2", "dev"),
    ]
    path = write_manifest(folder / "train.jsonl", utts)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["audio"] for r in rows] == ["audio/a.wav", "audio/sub/b.wav"]   # relative on disk
    assert rows[0]["engine"] == "espeak" and "extra" not in rows[0]
    assert "caf\u00e9" in path.read_text(encoding="utf-8")                     # not \u-escaped

    back = read_manifest(path)
    assert [(u.audio, u.text, u.duration, u.domain, u.speaker, u.split) for u in back] == \
        [(u.audio, u.text, u.duration, u.domain, u.speaker, u.split) for u in utts]
    assert back[0].extra["engine"] == "espeak"
    assert back[0].id == "a"

    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)           # relative paths follow the manifest
    assert read_manifest(moved / "train.jsonl")[1].audio == str(moved / "audio" / "sub" / "b.wav")


def test_absolute_paths_are_kept(tmp_path):
    row = dict(GOOD, audio="/data/x.wav")
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(row)])
    assert read_manifest(path)[0].audio == "/data/x.wav"


def test_private_where_is_recorded_but_not_written_back(tmp_path):
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(GOOD), "", json.dumps(dict(GOOD, text="again"))])
    utts = read_manifest(path)
    assert len(utts) == 2                                  # blank lines are skipped...
    assert utts[0].extra["_where"] == f"{path}:1"
    assert utts[1].extra["_where"] == f"{path}:3"          # ...but still counted
    out = write_manifest(tmp_path / "out.jsonl", utts)
    assert "_where" not in out.read_text()
    assert "_where" not in utts[0].to_json()


def test_bad_json_names_file_and_line(tmp_path):
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(GOOD), json.dumps(GOOD), '{"audio": "x.wav", '])
    with pytest.raises(ManifestError, match="not valid JSON") as info:
        read_manifest(path)
    assert f"{path}:3" in str(info.value)


def test_non_object_line(tmp_path):
    path = write_lines(tmp_path / "m.jsonl", ["[1, 2]"])
    with pytest.raises(ManifestError, match=f"{path}:1: expected a JSON object"):
        read_manifest(path)


def test_missing_key_names_file_line_and_key(tmp_path):
    row = {k: v for k, v in GOOD.items() if k != "speaker"}
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(GOOD), json.dumps(row)])
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert f"{path}:2" in str(info.value) and "'speaker'" in str(info.value)


@pytest.mark.parametrize("duration, message", [
    (0, "positive"), (-1.0, "positive"), ("NaN", "positive"), ("long", "not a number"), (None, "not a number"),
])
def test_bad_duration_names_file_and_line(tmp_path, duration, message):
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(GOOD), json.dumps(dict(GOOD, duration=duration))])
    with pytest.raises(ManifestError, match=message) as info:
        read_manifest(path)
    assert f"{path}:2" in str(info.value)


def test_text_must_be_a_string(tmp_path):
    path = write_lines(tmp_path / "m.jsonl", [json.dumps(dict(GOOD, text=42))])
    with pytest.raises(ManifestError, match=f"{path}:1: text must be a string"):
        read_manifest(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "absent.jsonl")


def test_write_manifest_is_atomic_and_total_minutes(tmp_path):
    utts = [Utterance(str(tmp_path / f"{i}.wav"), "x", 30.0, "d", "s", "train") for i in range(3)]
    path = write_manifest(tmp_path / "m.jsonl", utts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]
    assert total_minutes(read_manifest(path)) == pytest.approx(1.5)


def test_manifest_path_is_the_corpus_layout_and_read_manifests_keeps_order(tmp_path):
    from asrlab.manifest import manifest_path, read_manifests

    assert manifest_path(tmp_path, "accent", "dev") == tmp_path / "accent" / "dev.jsonl"
    assert manifest_path(str(tmp_path), "source", "train") == tmp_path / "source" / "train.jsonl"
    (tmp_path / "d").mkdir()
    for split, text in (("train", "one"), ("dev", "two")):
        write_lines(manifest_path(tmp_path, "d", split), [json.dumps({**GOOD, "text": text, "split": split})])
    utts = read_manifests([manifest_path(tmp_path, "d", "dev"), manifest_path(tmp_path, "d", "train")])
    assert [u.text for u in utts] == ["two", "one"]
    assert read_manifests([]) == []

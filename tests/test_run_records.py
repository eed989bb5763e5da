"""Run records (asrlab.course.run_records): a run's result is reused while its settings match,
made again when any setting differs or the file cannot be read, and never kept without a folder."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import pytest

from asrlab.course import run_records as rr
from asrlab.manifest import Utterance

SETTINGS = {"lr": 1e-3, "seeds": (0, 1), "data": {"utterances": 8, "digest": "abc"}, "model": "tiny-0123"}


def counting(result: dict[str, Any]) -> tuple[Callable[[], dict[str, Any]], list[int]]:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return dict(result)

    return compute, calls


def test_a_record_is_reused_while_the_settings_are_equal(tmp_path: Path) -> None:
    compute, calls = counting({"wer": 0.25, "steps": 12})
    first = rr.cached(tmp_path, "scratch s0", SETTINGS, compute)
    again = rr.cached(tmp_path, "scratch s0", {**SETTINGS, "seeds": [0, 1]}, compute)   # a list equals the tuple
    assert first == again == {"wer": 0.25, "steps": 12}
    assert len(calls) == 1
    stored = json.loads(rr.record_path(tmp_path, "scratch s0").read_text())
    assert stored == {"settings": rr.round_trip(SETTINGS), "result": {"wer": 0.25, "steps": 12}}


@pytest.mark.parametrize("change", [{"lr": 2e-3}, {"seeds": (0,)}, {"data": {"utterances": 9, "digest": "abc"}},
                                    {"model": "tiny-4567"}, {"extra": True}])
def test_any_changed_setting_computes_again_and_overwrites(tmp_path: Path, change: dict[str, Any]) -> None:
    compute, calls = counting({"wer": 0.25})
    rr.cached(tmp_path, "run", SETTINGS, compute)
    compute2, calls2 = counting({"wer": 0.5})
    assert rr.cached(tmp_path, "run", {**SETTINGS, **change}, compute2) == {"wer": 0.5}
    assert len(calls) == len(calls2) == 1
    assert rr.cached(tmp_path, "run", {**SETTINGS, **change}, compute) == {"wer": 0.5}   # the new record
    assert len(calls) == 1


def test_no_folder_means_no_records(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    compute, calls = counting({"wer": 0.25})
    assert rr.cached(None, "run", SETTINGS, compute) == {"wer": 0.25}
    assert rr.cached(None, "run", SETTINGS, compute) == {"wer": 0.25}
    assert len(calls) == 2 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("content", ['{"settings": {"lr": 0.001}, "res', "", "[1, 2]", '{"result": {"wer": 0.1}}',
                                     '{"settings": {}, "result": 3}'])
def test_a_torn_or_foreign_file_is_made_again_with_a_warning(tmp_path: Path, content: str) -> None:
    path = rr.record_path(tmp_path, "run")
    path.write_text(content)
    compute, calls = counting({"wer": 0.25})
    with pytest.warns(rr.RecordWarning, match="made again"):
        assert rr.cached(tmp_path, "run", SETTINGS, compute) == {"wer": 0.25}
    assert len(calls) == 1
    assert json.loads(path.read_text())["result"] == {"wer": 0.25}                   # rewritten whole
    rr.cached(tmp_path, "run", SETTINGS, compute)
    assert len(calls) == 1


def test_recall_and_keep_under_a_chapters_own_key(tmp_path: Path) -> None:
    """Notebooks 04-05 store their results under "record", 07 under "run": the same reading rules."""
    path = tmp_path / "noise-20db" / "mmd-w10-l1-s0.json"
    assert rr.recall(path, SETTINGS, key="record") is None                               # no file yet
    kept = rr.keep(path, SETTINGS, {"target_wer": math.nan, "seed": 0}, key="record")
    assert kept == {"target_wer": None, "seed": 0}
    assert json.loads(path.read_text()) == {"settings": rr.round_trip(SETTINGS), "record": kept}
    assert rr.recall(path, {**SETTINGS, "seeds": [0, 1]}, key="record") == kept          # equal after JSON
    assert rr.recall(path, {**SETTINGS, "lr": 2e-3}, key="record") is None               # other settings
    with pytest.warns(rr.RecordWarning, match="no settings and run"):
        assert rr.recall(path, SETTINGS, key="run") is None                              # another chapter's key
    path.write_text('{"settings": {"lr": 0.001}, "rec')
    with pytest.warns(rr.RecordWarning, match="cannot be read"):
        assert rr.recall(path, SETTINGS, key="record") is None                           # torn: made again


def test_the_chapters_committed_records_still_read(tmp_path: Path) -> None:
    """Every record committed under results/runs/ reads back under its chapter's key."""
    keys = {"adapt": "record", "self-training": "run"}
    root = Path(__file__).resolve().parents[1] / "results" / "runs"
    for path in sorted(root.glob("*/**/*.json")):
        chapter = path.relative_to(root).parts[0].rsplit("-", 1)[0]
        stored = rr.read_record(path, keys.get(chapter, "result"))
        assert stored is not None, path


def test_a_failed_run_leaves_no_record(tmp_path: Path) -> None:
    def failing() -> dict[str, Any]:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        rr.cached(tmp_path, "run", SETTINGS, failing)
    assert not list(tmp_path.iterdir())


def test_the_result_reads_the_same_computed_or_reused(tmp_path: Path) -> None:
    result = {"wer": math.nan, "sizes": (1, 2), "ok": True}
    compute, _ = counting(result)
    first = rr.cached(tmp_path, "run", SETTINGS, compute)
    assert first == rr.cached(tmp_path, "run", SETTINGS, compute) == {"wer": None, "sizes": [1, 2], "ok": True}
    assert rr.cached(None, "run", SETTINGS, compute) == first


def test_settings_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="JSON values"):
        rr.cached(tmp_path, "run", {"path": tmp_path}, lambda: {"wer": 0.1})


def test_record_names_become_safe_file_names(tmp_path: Path) -> None:
    assert rr.record_path(tmp_path, "new head, shared rows copied-10min-s0").name == \
        "new-head-shared-rows-copied-10min-s0.json"
    assert rr.record_path(tmp_path, "accent-all+replay-s2").name == "accent-all+replay-s2.json"
    assert rr.record_path(tmp_path, "../../etc/passwd").parent == tmp_path
    with pytest.raises(ValueError, match="no letters"):
        rr.record_path(tmp_path, " / ")


def test_utterances_key_names_the_utterances_not_the_machine() -> None:
    here = [Utterance(f"/data/a/corpus/{i}.wav", f"text {i}", 1.5, "es", "s", "train") for i in range(3)]
    there = [Utterance(f"/home/b/corpus/{i}.wav", f"text {i}", 1.5, "es", "s", "train") for i in range(3)]
    key = rr.utterances_key(here)
    assert key == rr.utterances_key(there) and key["utterances"] == 3 and key["seconds"] == 4.5
    other_text = here[:2] + [Utterance("/data/a/corpus/2.wav", "text two", 1.5, "es", "s", "train")]
    assert rr.utterances_key(other_text)["digest"] != key["digest"]
    assert rr.utterances_key(here[:2])["digest"] != key["digest"]


def test_fingerprint_and_without() -> None:
    assert rr.fingerprint(["a", 1]) == rr.fingerprint(["a", 1]) != rr.fingerprint(["a", 2])
    assert len(rr.fingerprint([], length=8)) == 8
    assert rr.without({"lr": 1, "device": "cuda"}, ("device",)) == {"lr": 1}

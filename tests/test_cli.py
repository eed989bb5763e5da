"""The asrlab command end to end on a tiny corpus: build, train, eval (text and JSON), transcribe."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    corpus, run = root / "corpus", root / "run"
    assert main(["corpus", "build", "--out", str(corpus), "--domains", "source", "--quiet", "--workers", "2",
                 "--save", str(root / "corpus.json")]) == 0
    assert main(["train", "--corpus", str(corpus), "--out", str(run), "--preset", "smoke", "--epochs", "1",
                 "--quiet"]) == 0
    return corpus, run


def test_build_writes_manifests_and_a_summary(trained, capsys) -> None:
    corpus, _ = trained
    assert (corpus / "source" / "train.jsonl").is_file()
    assert main(["corpus", "stats", str(corpus)]) == 0
    assert "| source |" in capsys.readouterr().out


def test_eval_json_prints_one_object(trained, capsys) -> None:
    corpus, run = trained
    capsys.readouterr()
    assert main(["eval", "--model", str(run), "--manifest", str(corpus / "source" / "test.jsonl"), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    data = json.loads(out[0])
    assert {"wer", "cer", "utterances"} <= set(data) and data["utterances"] > 0


def test_eval_table_over_a_corpus(trained, capsys) -> None:
    corpus, run = trained
    assert main(["eval", "--model", str(run / "model.pt"), "--corpus", str(corpus), "--split", "dev"]) == 0
    out = capsys.readouterr().out
    assert "| source |" in out and "real-time factor" in out


def test_transcribe_prints_a_line_per_file(trained, capsys) -> None:
    corpus, run = trained
    wavs = sorted((corpus / "source" / "audio" / "test").glob("*.wav"))[:2]
    capsys.readouterr()
    assert main(["transcribe", "--model", str(run), *map(str, wavs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(w) for w in wavs]


def test_errors_are_reported_without_a_traceback(tmp_path: Path, capsys) -> None:
    assert main(["eval", "--model", str(tmp_path / "nope"), "--manifest", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "asrlab: error:" in err and "nope" in err

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


def _choices(*command: str) -> dict[str, tuple]:
    """``{option: choices}`` of one (sub)command of the parser."""
    import argparse

    from asrlab.cli import build_parser

    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {(a.option_strings or [a.dest])[-1]: tuple(a.choices) for a in parser._actions if a.choices is not None}


def test_each_commands_choices_are_the_librarys_constants() -> None:
    from asrlab.adapt.selection import RULES
    from asrlab.config import ALIGNMENT_METHODS
    from asrlab.corpus.domains import SIZE_NAMES
    from asrlab.finetune import REGIMES
    from asrlab.recipes import PRESETS
    from asrlab.utils import COURSE_SIZES

    assert _choices("finetune")["--regime"] == REGIMES
    adapt = _choices("adapt")
    assert adapt["--method"] == ALIGNMENT_METHODS and adapt["--select"] == tuple(RULES)
    assert adapt["--pooling"] == ("frames", "utterance")
    assert _choices("corpus", "build")["--size"] == SIZE_NAMES
    assert _choices("notebooks", "run")["--size"] == COURSE_SIZES      # a notebook runs at a corpus size
    assert _choices("train")["--preset"] == tuple(PRESETS)
    assert _choices("lm", "build")["--smoothing"] == ("kn", "wb")


def test_building_the_parser_imports_no_torch() -> None:
    import os
    import subprocess
    import sys

    code = ("import sys; from asrlab.cli import build_parser; build_parser(); "
            "assert not {'torch', 'scipy'} & set(sys.modules), 'asrlab --help would import torch or scipy'")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}   # this checkout's asrlab
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0

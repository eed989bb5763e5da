"""Outputs are checked before the work that fills them: every command that writes fails at once,
naming the path and the cause, when its output cannot be written (a file in the way, a read-only
folder, a full disk), instead of training to the end and dying at the final save. ``eval --save``
and ``pretrained table --save`` print their result first, then fail on the save."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from asrlab.cli import main


class WorkStarted(AssertionError):
    pass


def _forbid(*args, **kwargs):
    raise WorkStarted("the command started its work before checking that its output can be written")


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """An output path under a regular file: unwritable for every user, root included."""
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path / "afile" / "out"


#: (arguments with BLOCKED for the unwritable path, the first piece of work, which must not run)
COMMANDS = {
    "finetune": (["finetune", "--init", "m.pt", "--train", "t.jsonl", "--regime", "full", "--out", "BLOCKED"],
                 "asrlab.finetune.resolve_ctc_model"),
    "train": (["train", "--train", "t.jsonl", "--out", "BLOCKED"], "asrlab.recipes.make_dataset"),
    "pretrain-run-dir": (["pretrain", "--corpus", "c", "--run-dir", "BLOCKED", "--export", "OK/m.pt"],
                         "asrlab.source_training.run_data_parallel"),
    "pretrain-export": (["pretrain", "--corpus", "c", "--run-dir", "OK", "--export", "BLOCKED/m.pt"],
                        "asrlab.source_training.run_data_parallel"),
    "adapt": (["adapt", "--method", "mmd", "--init", "m.pt", "--source", "s.jsonl", "--target", "t.jsonl",
               "--out", "BLOCKED"], "asrlab.adapt.search.load_init"),
    "lm-build": (["lm", "build", "--text", "t.txt", "--out", "BLOCKED/lm.arpa"], "asrlab.lm.read_texts"),
    "corpus-build": (["corpus", "build", "--out", "BLOCKED"], "asrlab.corpus.build.build_corpus"),
    "corpus-build-save": (["corpus", "build", "--out", "OK", "--save", "BLOCKED/summary.json"],
                          "asrlab.corpus.build.build_corpus"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_fails_before_its_work_when_its_output_cannot_be_written(name: str, blocked: Path,
                                                                           tmp_path: Path, monkeypatch,
                                                                           capsys) -> None:
    argv, work = COMMANDS[name]
    monkeypatch.setattr(work, _forbid)
    argv = [a.replace("BLOCKED", str(blocked)).replace("OK", str(tmp_path / "ok")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "asrlab: error: cannot write" in err and str(tmp_path / "afile") in err, err
    assert "not a folder" in err


def test_finetune_on_a_full_disk_fails_before_training(tmp_path: Path, monkeypatch, capsys) -> None:
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr("asrlab.finetune.resolve_ctc_model", _forbid)
    assert main(["finetune", "--init", "m.pt", "--train", "t.jsonl", "--regime", "full",
                 "--out", str(tmp_path / "ft")]) == 2
    err = capsys.readouterr().err
    assert "no space left" in err and str(tmp_path / "ft") in err


def test_eval_save_prints_the_table_then_fails_on_the_save(tiny_pretrained, tiny_manifest: Path, blocked: Path,
                                                          tmp_path: Path, capsys) -> None:
    from asrlab.models import save_model

    init, _ = tiny_pretrained
    save_model(tmp_path / "m.pt", init.model, init.features, init.vocab, {"name": "tiny"})
    assert main(["eval", "--model", str(tmp_path / "m.pt"), "--manifest", str(tiny_manifest),
                 "--save", str(blocked / "eval.json")]) == 2
    captured = capsys.readouterr()
    assert "| test |" in captured.out and "all: WER" in captured.out   # the result is not lost
    assert "cannot write" in captured.err and str(blocked / "eval.json") in captured.err
    assert captured.err.index("warning") < captured.err.index("error")  # announced before the evaluation


def test_pretrained_table_save_prints_the_table_then_fails_on_the_save(blocked: Path, monkeypatch,
                                                                       capsys) -> None:
    table = {"models": {"tiny": {"source": {"wer": 0.5, "cer": 0.25}}}, "unavailable": {}, "split": "test",
             "limit": 60}
    monkeypatch.setattr("asrlab.recipes.domain_gap_table", lambda *args, **kwargs: dict(table))
    assert main(["pretrained", "table", "--corpus", "c", "--save", str(blocked / "table.json")]) == 2
    captured = capsys.readouterr()
    assert "| tiny | 50.0 (25.0) |" in captured.out
    assert "cannot write" in captured.err and str(blocked / "table.json") in captured.err


# --------------------------------------------------------------------------- the library: fit()
QUICK = dict(epochs=1, max_steps=2, lr=1e-3, warmup_steps=0, amp=False, device="cpu", specaugment=None)


def test_fit_checks_its_run_folder_before_the_first_step(tiny_pretrained, blocked: Path) -> None:
    import copy

    from asrlab.config import LoaderConfig, TrainConfig
    from asrlab.errors import OutputError
    from asrlab.train import fit

    init, data = tiny_pretrained
    steps: list[str] = []
    with pytest.raises(OutputError, match="not a folder"):
        fit(copy.deepcopy(init.model), data, TrainConfig(**QUICK), data=LoaderConfig(num_workers=0),
            out_dir=blocked, progress=False, callbacks=[lambda event, state: steps.append(event)])
    assert steps == []


def test_a_disk_that_fills_up_during_training_is_reported_with_the_checkpoint_path(tiny_pretrained, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    import copy

    import asrlab.train as train_mod
    from asrlab.config import LoaderConfig, TrainConfig
    from asrlab.errors import OutputError

    def full(state, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train_mod, "atomic_torch_save", full)
    init, data = tiny_pretrained
    with pytest.raises(OutputError, match="no space left") as caught:
        train_mod.fit(copy.deepcopy(init.model), data, TrainConfig(**QUICK), data=LoaderConfig(num_workers=0),
                      out_dir=tmp_path / "run", progress=False)
    assert str(tmp_path / "run" / "checkpoint.pt") in str(caught.value)

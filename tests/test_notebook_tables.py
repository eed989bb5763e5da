"""What learners read: tables in percent with readable headers, smoke tables beside the committed
full-size ones, and lesson assertions that stand down when a learner changes a knob."""
from __future__ import annotations

import json

import pytest

from asrlab.course import runner
from asrlab.course.runner import is_percent_column, lesson_check, markdown_table, readable_header, signed


def test_fractions_show_as_percent_under_readable_headers() -> None:
    rows = [{"regime": "full", "target_wer": 0.452, "target_cer": 0.123, "forgetting": 0.053, "seconds": 112.4},
            {"regime": "scratch", "target_wer": 1.0, "target_cer": 1.0, "forgetting": None, "seconds": 114.0}]
    lines = markdown_table(rows, floatfmt=".0f").splitlines()
    assert lines[0] == "| regime | target WER % | target CER % | forgetting (WER points) | seconds |"
    assert lines[2] == "| full | 45.2 | 12.3 | 5.3 | 112 |"
    assert lines[3] == "| scratch | 100.0 | 100.0 | n/a | 114 |"


@pytest.mark.parametrize("key, expected", [("target_wer", True), ("test WER", True), ("5-NN accuracy", True),
                                           ("OOV vs source train", False), ("oov_rate", True),
                                           ("target_wer_std", True), ("seconds", False), ("lm_weight", False)])
def test_percent_columns_are_chosen_by_name(key: str, expected: bool) -> None:
    assert is_percent_column(key) is expected


def test_booleans_read_yes_or_no() -> None:
    assert markdown_table([{"method": "dann", "uses_target_labels": False}]).splitlines()[2] == "| dann | no |"


def test_headers_and_explicit_columns() -> None:
    assert readable_header("dev_greedy_wer", percent=True) == "dev greedy WER %"
    assert readable_header("lm") == "LM"
    table = markdown_table([{"x": 0.5}], {"x": "share of frames"}, percent=("x",))
    assert table.splitlines()[0] == "| share of frames |" and table.splitlines()[2] == "| 50.0 |"


def test_show_table_adds_the_committed_full_size_rows_at_smoke_and_lab_size(tmp_path, monkeypatch, capsys) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    results = tmp_path / "results"
    results.mkdir()
    (results / "99_demo-full.json").write_text(json.dumps({"rows": [{"method": "full", "wer": 0.25}]}))
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)
    runner.show_table([{"method": "full", "wer": 0.9}], full_size=("99_demo", "rows"), size="smoke")
    assert "smoke size" in shown[-1] and "| full | 90.0 |" in shown[-1] and "| full | 25.0 |" in shown[-1]
    runner.show_table([{"method": "full", "wer": 0.9}], full_size=("99_demo", "rows"), size="lab")
    assert "lab size" in shown[-1] and "| full | 90.0 |" in shown[-1] and "| full | 25.0 |" in shown[-1]
    runner.show_table([{"method": "full", "wer": 0.9}], full_size=("99_demo", "rows"), size="full")
    assert "25.0" not in shown[-1]


def test_lesson_check_names_what_changed(capsys) -> None:
    defaults = {"TARGET": "accent", "MINUTES": 10.0}
    assert lesson_check(defaults, TARGET="accent", MINUTES=10.0)
    assert capsys.readouterr().out == ""
    assert not lesson_check(defaults, TARGET="noisy", MINUTES=10.0)
    assert "TARGET = 'noisy' (lesson: 'accent')" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no lesson default"):
        lesson_check(defaults, SPEED=2)


def test_markdown_table_writes_no_negative_zero() -> None:
    rows = [{"relative_reduction": -1e-16, "x": -0.001, "y": -0.5, "z": float("-inf")}]
    cells = markdown_table(rows, floatfmt=".2f").splitlines()[2].strip("| ").split(" | ")
    assert cells == ["0.0", "0.00", "-0.50", "-inf"]


def test_signed_numbers_keep_their_sign_but_zero_has_none() -> None:
    assert [signed(5.34), signed(-0.2), signed(-1e-14), signed(0.04), signed(-0.4, 0), signed(12.0, 0)] == \
        ["+5.3", "-0.2", "0.0", "0.0", "0", "+12"]

"""README sections are rewritten from results files, and only between their markers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.report import replace_section, save_json, update_readme


def test_replace_section_keeps_the_rest() -> None:
    text = "intro\n<!-- asrlab:x -->\nold\n<!-- /asrlab:x -->\noutro\n"
    assert replace_section(text, "x", "new\n") == "intro\n<!-- asrlab:x -->\nnew\n<!-- /asrlab:x -->\noutro\n"
    with pytest.raises(KeyError):
        replace_section(text, "y", "z")


def test_update_readme_renders_results(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# t\n<!-- asrlab:course-smoke -->\n?\n<!-- /asrlab:course-smoke -->\n"
                      "<!-- asrlab:bench -->\n?\n<!-- /asrlab:bench -->\n")
    save_json(tmp_path / "results" / "course-smoke.json", {
        "wer": 0.5, "cer": 0.25, "utterances": 3, "command": "asrlab eval ...",
        "domains": {"source": {"wer": 0.5, "cer": 0.25, "utterances": 3, "words": 10}}})
    written = update_readme(readme, tmp_path / "results")
    assert written == ["course-smoke"]
    text = readme.read_text()
    assert "| source | 50.0 | 25.0 | 3 |" in text
    assert "<!-- asrlab:bench -->\n?\n" in text  # no results file: left alone
    assert json.loads((tmp_path / "results" / "course-smoke.json").read_text())["wer"] == 0.5


def test_render_fine_tuning_tables():
    from asrlab.report import render_fine_tuning

    row = {"regime": "full", "target_wer": 0.25, "target_cer": 0.1, "source_wer": 0.2, "forgetting": 0.02,
           "trainable_parameters": 1000, "seconds": 12.0, "train_minutes": 1.0}
    text = render_fine_tuning({"target": "accent", "train_minutes": 10, "budget_seconds": 4000, "regimes": [row],
                               "learning_curve": [row, {**row, "train_minutes": 2.0, "target_wer": 0.2}],
                               "whisper": [{"model": "zero-shot", "wer": 0.05, "cer": 0.01}]})
    assert "| full | 25.0 | 10.0 | 20.0 | +2.0 | 1,000 | 12 |" in text
    assert "| full | 25.0 | 20.0 |" in text          # learning curve: 1 min then 2 min
    assert "| zero-shot | 5.0 | 1.0 |" in text


def test_render_decoding_table():
    from asrlab.report import render_decoding

    rows = [{"domain": "commands", "decoder": "greedy", "lm": "none", "wer": 0.5, "utterances_per_second": 30.0},
            {"domain": "commands", "decoder": "beam", "lm": "target", "wer": 0.2, "utterances_per_second": 20.0}]
    text = render_decoding({"rows": rows, "goal": {"reduction": {"commands": 0.6}, "met": True}, "beam_size": 32})
    assert "| commands | 50.0 (30/s) | 20.0 (20/s) |" in text and "beam + target LM" in text
    assert "commands 60%" in text and ": met." in text

"""The combined scoreboard of notebooks 04-05 and 07: rows joined by shift, what each read of
the target, cuts against each notebook's own source-only run."""
from __future__ import annotations

import math
from pathlib import Path

from asrlab.course.report import update_readme
from asrlab.course.scoreboard import (best_label_free_per_shift, combined_scoreboard, goal_line, label_free_goal,
                                      render_scoreboard)
from asrlab.files import save_json


def _summary(shift: str, method: str, wer: float, cut: float, labels: bool = False) -> dict:
    return {"shift": shift, "method": method, "seeds": 3, "target_wer": wer, "target_wer_std": 0.01,
            "source_wer": 0.3, "uses_target_labels": labels, "rel_reduction": cut}


def _board(level: str, method: str, uses: str, wer: float, cut: float) -> dict:
    return {"level": level, "method": method, "uses": uses, "seeds": 1, "test_wer": wer, "test_wer_sd": 0.0,
            "source_test_wer": 0.28, "relative_reduction": cut}


DANN = {"summary": [_summary("noise-20db", "source-only", 0.5, 0.0), _summary("noise-20db", "mmd", 0.45, 0.1),
                    _summary("noise-20db", "fine-tune on all target labels", 0.3, 0.4, labels=True),
                    _summary("accent", "source-only", 0.6, 0.0), _summary("accent", "dann", 0.59, 0.017)]}
SELF_TRAINING = {"scoreboard": [_board("noise-20db", "source-only", "nothing", 0.42, 0.0),
                                _board("noise-20db", "self-training", "audio only", 0.36, 0.143),
                                _board("noise-20db", "fine-tuning on labels", "labels", 0.3, 0.286),
                                _board("noise-10db", "test-time adaptation", "audio only (per utterance)", 0.8,
                                       0.05)]}


def test_rows_are_grouped_by_shift_then_by_what_they_read():
    rows = combined_scoreboard(DANN, SELF_TRAINING)
    assert [r["shift"] for r in rows] == ["noise-20db"] * 6 + ["accent"] * 2 + ["noise-10db"]
    twenty = rows[:6]
    assert [r["uses"] for r in twenty] == ["nothing", "nothing", "audio only", "audio only", "labels", "labels"]
    assert [r["notebook"] for r in twenty[:2]] == ["04-05", "07"]
    assert {r["method"] for r in twenty if r["uses"] == "labels"} == {"fine-tune on all target labels",
                                                                      "fine-tuning on labels"}


def test_best_label_free_never_picks_a_reference_or_the_baseline():
    best = best_label_free_per_shift(combined_scoreboard(DANN, SELF_TRAINING))
    assert best["noise-20db"]["method"] == "self-training"      # 14.3% beats MMD's 10%, not the labels' 40%
    assert best["accent"]["method"] == "dann"
    assert best["noise-10db"]["method"] == "test-time adaptation"


def test_either_chapter_alone_is_enough():
    assert {r["notebook"] for r in combined_scoreboard(DANN, None)} == {"04-05"}
    assert {r["notebook"] for r in combined_scoreboard(None, SELF_TRAINING)} == {"07"}
    assert combined_scoreboard(None, None) == []


def test_render_shows_spread_cut_and_summary():
    text = render_scoreboard({"dann": DANN, "self_training": SELF_TRAINING})
    assert "| noise-20db | mmd | 04-05 | audio only | 45.0 ± 1.0 | 3 | +10.0% | 30.0 |" in text
    assert "| noise-20db | source-only | 07 | nothing | 42.0 | 1 | - | 28.0 |" in text
    assert "noise-20db: self-training +14.3%" in text
    assert not any(math.isnan(r["relative_reduction"]) for r in combined_scoreboard(DANN, SELF_TRAINING))


def test_readme_section_is_written_from_either_results_file(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- asrlab:scoreboard-lab -->\n?\n<!-- /asrlab:scoreboard-lab -->\n"
                      "<!-- asrlab:scoreboard -->\n?\n<!-- /asrlab:scoreboard -->\n")
    save_json(tmp_path / "results" / "07_self_training-lab.json", SELF_TRAINING)
    assert update_readme(readme, tmp_path / "results") == ["scoreboard-lab"]
    text = readme.read_text()
    assert "self-training" in text and "<!-- asrlab:scoreboard -->\n?\n" in text


def test_severity_figure_plots_graded_levels_only():
    from asrlab.course.scoreboard import severity_figure

    fig = severity_figure(combined_scoreboard(DANN, SELF_TRAINING))
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert "mmd (04-05; audio only)" in labels and "self-training (07; audio only)" in labels
    assert not any("dann" in label for label in labels)          # accent only: not a graded level
    assert ax.xaxis_inverted()
    import pytest

    with pytest.raises(ValueError, match="graded"):
        severity_figure(combined_scoreboard({"summary": DANN["summary"][3:]}, None))


def _three_seeds(level: str, method: str, uses: str, cut: float) -> dict:
    return {**_board(level, method, uses, 0.5, cut), "seeds": 3, "test_wer_sd": 0.01}


def test_label_free_goal_needs_the_cut_on_enough_shifts_with_enough_seeds():
    rows = combined_scoreboard(None, {"scoreboard": [
        _three_seeds("noise-20db", "self-training", "audio only", 0.31),
        _three_seeds("noise-20db", "fine-tuning on labels", "labels", 0.6),          # a reference never counts
        _three_seeds("noise-10db", "self-training", "audio only", 0.29),
        _three_seeds("noise-10db", "fine-tuning on labels", "labels", 0.5),
        _board("noise-5db", "test-time adaptation", "audio only (per utterance)", 0.5, 0.9)]})  # one seed
    goal = label_free_goal(rows)
    assert goal["judged"] and goal["shifts_met"] == ["noise-20db"] and not goal["reached"]
    assert set(goal["best"]) == {"noise-20db", "noise-10db"}                        # the one-seed row is not judged
    line = goal_line(goal)
    assert "**not met**, on 1 of 2 shifts (noise-20db)" in line and "noise-10db self-training (07) +29.0%" in line
    assert label_free_goal(rows, min_relative=0.29)["reached"]
    assert "**met**" in goal_line(label_free_goal(rows, min_relative=0.29))


def test_label_free_goal_is_not_judged_on_one_seed():
    goal = label_free_goal(combined_scoreboard(None, SELF_TRAINING))
    assert not goal["judged"] and not goal["reached"]
    assert "judged at full size" in goal_line(goal)
    assert "judged at full size" in render_scoreboard({"self_training": SELF_TRAINING})

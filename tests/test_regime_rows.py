"""What the fine-tuning chapter reads off each regime run: empty transcripts, steps, forgetting
(n/a for scratch), the kept models, the collected blank-output warnings and the lesson's knobs."""
from __future__ import annotations

import math
import warnings

import pytest

from asrlab.config import TrainConfig
from asrlab.course import plots
from asrlab.errors import BlankOutputWarning
from asrlab.evaluate import evaluate
from asrlab.course.fine_tuning import (FINETUNE_DATA, LESSON_KNOBS, blank_output_messages, compare_regimes, rows_as_dicts,
                                rows_for_plot)


@pytest.fixture(scope="module")
def compared(tiny_pretrained):
    init, data = tiny_pretrained
    config = TrainConfig(lr=3e-3, warmup_steps=0, specaugment=None, seed=0, device="cpu")
    finetuned: dict = {}
    with blank_output_messages() as messages:
        rows = compare_regimes(init, ["scratch", "full"], data, None, data, data, config, budget_seconds=10.0,
                               finetuned=finetuned)
    return init, data, rows, finetuned, messages


def test_scratch_has_no_forgetting_and_the_others_do(compared):
    _, _, rows, _, _ = compared
    pretrained, scratch, full = rows
    assert scratch.regime == "scratch" and scratch.forgetting is None
    assert pretrained.forgetting == 0.0
    assert full.forgetting == pytest.approx(full.source_wer - pretrained.source_wer)


def test_rows_count_steps_and_empty_transcripts(compared):
    _, data, rows, finetuned, _ = compared
    assert rows[0].steps == 0 and all(r.steps == len(finetuned[r.regime].history.steps) > 0 for r in rows[1:])
    for row in rows[1:]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BlankOutputWarning)
            expected = evaluate(finetuned[row.regime].model, data, FINETUNE_DATA).empty_fraction
        assert row.target_empty_fraction == pytest.approx(expected)
        assert 0.0 <= row.target_empty_fraction <= 1.0


def test_compare_regimes_keeps_each_model_when_asked(compared):
    init, _, rows, finetuned, _ = compared
    assert set(finetuned) == {"scratch", "full"}
    assert all(finetuned[r.regime].trainable_parameters == r.trainable_parameters for r in rows[1:])
    assert finetuned["full"].model is not init.model


def test_blank_output_messages_keeps_the_warnings_of_a_blank_only_model(compared):
    _, _, rows, _, messages = compared
    blank_rows = [r for r in rows if r.target_empty_fraction >= 0.9]
    assert len(messages) >= len(blank_rows)  # one per blank-only evaluation (target, and source)
    assert all("transcripts are empty" in m and "blank-first plateau" in m for m in messages)


def test_blank_output_messages_passes_other_warnings_through():
    with pytest.warns(RuntimeWarning, match="something else"):
        with blank_output_messages() as messages:
            warnings.warn("only blanks", BlankOutputWarning)
            warnings.warn("something else", RuntimeWarning)
    assert messages == ["only blanks"]


def test_rows_for_plot_draws_scratch_without_a_forgetting_bar(compared):
    _, _, rows, _, _ = compared
    dicts = rows_as_dicts(rows)
    assert dicts[1]["forgetting"] is None
    plotted = rows_for_plot(dicts)
    assert math.isnan(plotted[1]["forgetting"]) and plotted[2]["forgetting"] == dicts[2]["forgetting"]
    assert dicts[1]["forgetting"] is None  # the table's rows are left as they were
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plots.regime_bars(plotted).axes


def test_lesson_knobs_name_the_same_knobs_at_both_sizes():
    assert set(LESSON_KNOBS) == {"smoke", "lab", "full"}
    assert LESSON_KNOBS["smoke"].keys() == LESSON_KNOBS["lab"].keys() == LESSON_KNOBS["full"].keys()
    assert LESSON_KNOBS["smoke"]["REGIMES"] == LESSON_KNOBS["lab"]["REGIMES"] == LESSON_KNOBS["full"]["REGIMES"]

"""Chapter 10's pure helpers (asrlab.course.whisper_finetuning): rows, means, the CTC comparison."""
from __future__ import annotations

import pytest

pytest.importorskip("whisper", reason="openai-whisper is not installed")

from asrlab.course import whisper_finetuning as wf  # noqa: E402


def test_every_size_has_the_same_knobs_and_known_regimes():
    names = {size: set(knobs) for size, knobs in wf.LESSON_KNOBS.items()}
    assert names["smoke"] == names["lab"] == names["full"]
    for knobs in wf.LESSON_KNOBS.values():
        assert set(knobs["REGIMES"]) <= set(wf.REGIME_SETTINGS) and knobs["TEMPERATURES"][0] == 0.0
    assert len(wf.LESSON_KNOBS["full"]["SEEDS"]) == 3


def test_tune_config_names_what_trains():
    assert wf.tune_config("decoder", 5, 2, 1e-4, 0).freezing == "decoder"
    replay = wf.tune_config("all+replay", 5, 2, 1e-4, 1)
    assert replay.freezing == "all" and replay.replay > 0 and replay.seed == 1
    assert wf.tune_config("all+l2sp", 5, 2, 1e-4, 0).l2sp_alpha > 0
    with pytest.raises(ValueError, match="unknown regime"):
        wf.tune_config("head", 5, 2, 1e-4, 0)


def test_score_uses_whispers_normaliser():
    assert wf.score(["it costs ten dollars"], ["It costs $10."])["wer"] == 0.0


def test_mean_rows_average_over_seeds():
    rows = [{"domain": "accent", "regime": "all", "uses": "labels", "target_wer": w, "source_wer": 0.3,
             "train_seconds": 1.0} for w in (0.2, 0.4)]
    (row,) = wf.mean_rows(rows)
    assert row["target_wer"] == pytest.approx(0.3) and row["seeds"] == 2 and row["target_wer_sd"] > 0


def test_ctc_rows_say_what_each_used():
    results = {"target": "accent", "train_minutes": 5.0, "regimes": [
        {"regime": "pretrained (no training)", "target_wer": 0.55, "source_wer": 0.3},
        {"regime": "head", "target_wer": 0.6, "source_wer": 0.4},
        {"regime": "full", "target_wer": 0.49, "source_wer": 0.35}],
        "whisper": [{"model": "encoder + CTC head, fine-tuned on 5.07 min", "wer": 1.0}]}
    rows = wf.ctc_rows(results)
    assert [r["uses"] for r in rows] == ["nothing", "target labels (5.0 min)", "target labels"]
    assert wf.ctc_rows(None) == []


def test_headline_names_zero_shot_and_the_best_regime():
    zero = [{"domain": "accent", "decoding": "model.decode, no safeguards", "wer": 0.9},
            {"domain": "accent", "decoding": "all safeguards", "wer": 0.85}]
    board = [{"domain": "accent", "regime": r, "uses": "target labels", "target_wer": w, "source_wer": 0.4}
             for r, w in (("decoder", 0.5), ("all", 0.3))]
    line = wf.headline(zero, board, "accent")
    assert "90.0%" in line and "85.0%" in line and "(all, target labels) 30.0%" in line

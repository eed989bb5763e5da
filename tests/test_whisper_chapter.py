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


# --------------------------------------------------------------------------- run records
def labelled(texts, seconds: float = 1.0):
    import numpy as np

    from asrlab.whisper_finetune import Labelled

    return Labelled([np.zeros(int(16_000 * seconds), dtype=np.float32) for _ in texts], list(texts))


@pytest.fixture
def fake_training(monkeypatch):
    """finetune_whisper and transcribe replaced: each run is counted, and decodes its references."""
    from types import SimpleNamespace

    import torch

    trained = []

    def finetune(model, train, config, source=None):
        trained.append((config.freezing, config.seed, config.steps, config.window, source is not None))
        return SimpleNamespace(model=model, losses=[3.0, 2.0, 1.0], seconds=2.0, audio_seconds=8.0,
                               trainable_parameters=5 if config.freezing == "decoder" else 9)

    texts = {}
    monkeypatch.setattr(wf, "finetune_whisper", finetune)
    monkeypatch.setattr(wf, "transcribe", lambda model, waves, **kw: texts[len(waves)])
    model = torch.nn.Linear(2, 2)
    return SimpleNamespace(trained=trained, texts=texts, model=model)


def test_run_regimes_reuse_each_runs_record_while_its_settings_match(fake_training, tmp_path) -> None:
    import torch

    train, test = labelled(["hot cold"] * 4), labelled(["red green", "blue gold"])
    source_test, source_train = labelled(["cats dogs"] * 3), labelled(["sun"] * 5)
    fake_training.texts.update({2: ["red green", "blue"], 3: ["cats dogs"] * 3})
    baseline = {"target_wer": 0.5, "source_wer": 0.1}

    def run(train=train, regimes=("decoder", "all+replay"), steps=4, seeds=(0, 1), baseline=baseline,
            cache_dir=tmp_path, report=None):
        return wf.run_regimes(fake_training.model, "accent", train, test, source_test, regimes, steps, 2, 1e-4, seeds,
                              source_train=source_train, baseline=baseline, cache_dir=cache_dir, report=report)

    rows = run()
    assert [(r["regime"], r["seed"]) for r in rows] == [("decoder", 0), ("decoder", 1), ("all+replay", 0),
                                                       ("all+replay", 1)]
    assert [t[4] for t in fake_training.trained] == [False, False, True, True]      # replay reads source labels
    assert rows[0]["target_wer"] == pytest.approx(0.25) and rows[0]["relative_reduction"] == pytest.approx(0.5)
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "accent-all+replay-s0.json"
    reported = []
    again = run(report=reported.append)
    assert again == rows == reported and len(fake_training.trained) == 4           # read back, reported all the same
    shifted = run(baseline={"target_wer": 1.0, "source_wer": 0.0})
    assert len(fake_training.trained) == 4                                          # the baseline is applied after
    assert shifted[0]["relative_reduction"] == pytest.approx(0.75) and shifted[0]["forgetting"] == pytest.approx(0.0)
    run(steps=5, seeds=(0,), regimes=("decoder",))
    assert fake_training.trained[4:] == [("decoder", 0, 5, False, False)]           # a new budget trains again
    run(train=labelled(["hot cold"] * 3), seeds=(0,), regimes=("decoder",))
    assert len(fake_training.trained) == 6                                          # other training utterances
    with torch.no_grad():
        fake_training.model.weight.add_(1.0)
    run(seeds=(1,), regimes=("decoder",))
    assert len(fake_training.trained) == 7                                          # other initial weights
    run(seeds=(1,), regimes=("decoder",), cache_dir=None)
    assert len(fake_training.trained) == 8                                          # no records: always trained


def test_input_rows_keep_records(fake_training, tmp_path) -> None:
    train, test = labelled(["hot cold"] * 4), labelled(["red green", "blue gold"])
    fake_training.texts.update({2: ["red green", "blue gold"]})
    rows = wf.input_rows(fake_training.model, "accent", train, test, ("variable", "window"), 3, 2, 1e-4,
                         cache_dir=tmp_path)
    assert [t[3] for t in fake_training.trained] == [False, True]
    assert [r["input"] for r in rows] == ["variable", "window"] and all(r["target_wer"] == 0.0 for r in rows)
    assert wf.input_rows(fake_training.model, "accent", train, test, ("variable", "window"), 3, 2, 1e-4,
                         cache_dir=tmp_path) == rows
    assert len(fake_training.trained) == 2
    assert wf.input_rows(fake_training.model, "accent", train, test, (), 3, 2, 1e-4, cache_dir=tmp_path) == []


def test_labelled_key_names_transcripts_and_lengths() -> None:
    key = wf.labelled_key(labelled(["a b", "c"]))
    assert key["utterances"] == 2 and key["seconds"] == 2.0
    assert wf.labelled_key(labelled(["a b", "c"]))["digest"] == key["digest"]
    assert wf.labelled_key(labelled(["a b", "d"]))["digest"] != key["digest"]
    assert wf.labelled_key(labelled(["a b", "c"], seconds=1.5))["digest"] != key["digest"]
    assert wf.labelled_key(None) is None


def _board_row(domain: str, regime: str, wer: float) -> dict:
    return {"domain": domain, "regime": regime, "uses": "target labels", "target_wer": wer, "target_wer_sd": 0.02,
            "seeds": 3}


def test_goal_check_reads_the_fixed_regime_and_says_why() -> None:
    ctc = [{"domain": "accent", "model": "asrlab-source CTC, full", "target_wer": 0.39}]
    zero = {"accent": 0.80, "real_telephone": 0.06}
    board = [_board_row("accent", "all", 0.30), _board_row("accent", "decoder", 0.10),   # decoder never chosen
             _board_row("real_telephone", "all", 0.05)]
    check = wf.goal_check(board, zero, ctc)
    assert check["weak"]["tuned_wer"] == 0.30 and abs(check["weak"]["relative_reduction"] - 0.625) < 1e-9
    assert check["weak"]["met"] and check["strong"]["met"] and check["met"]
    lines = wf.goal_lines(check)
    assert len(lines) == 2 and "62% fewer errors" in lines[0] and lines[1].endswith(": met")
    # 50% not reached, or behind the CTC model, or worse than zero-shot on the strong target: not met
    assert not wf.goal_check([_board_row("accent", "all", 0.45)] + board[2:], zero, ctc)["weak"]["met"]
    assert not wf.goal_check(board, {**zero, "accent": 0.9}, [{**ctc[0], "target_wer": 0.25}])["weak"]["met"]
    worse = wf.goal_check(board[:2] + [_board_row("real_telephone", "all", 0.07)], zero, ctc)
    assert not worse["strong"]["met"] and not worse["met"]
    missing = wf.goal_check(board[:1], zero, ctc)                 # the strong target did not run
    assert missing["strong"] is None and not missing["met"]

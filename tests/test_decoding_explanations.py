"""What notebook 06 measures to explain its results: how peaked CTC posteriors are, how many
transcripts a decoder changes, OOV rates against an LM's vocabulary, the per-domain LM effects
table, the exact mixture perplexity beside the written one, the decoders' confusions side by
side, and the lesson knobs its assertions were measured with."""
from __future__ import annotations

import math

import pytest
import torch

from asrlab.course import decoding as study
from asrlab.error_analysis import confusion_comparison
from asrlab.lm import build_lm, choose_weight


def test_posterior_peaks_by_hand() -> None:
    # Frame 1: blank 0.95 (sure, blank on top); frame 2: "a" 0.6 (unsure); frame 3: "b" 0.9 (sure).
    probs = torch.tensor([[0.95, 0.05, 0.0], [0.3, 0.6, 0.1], [0.05, 0.05, 0.9]]).clamp_min(1e-9)
    peaks = study.posterior_peaks([probs[:2].log(), probs[2:].log()])
    assert peaks["mean_top_probability"] == pytest.approx((0.95 + 0.6 + 0.9) / 3, abs=1e-6)
    assert peaks["unsure_frames"] == pytest.approx(1 / 3)
    assert peaks["blank_frames"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        study.posterior_peaks([])


def test_changed_share() -> None:
    assert study.changed_share(["a b", "c", "d"], ["a b", "x", "d"]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        study.changed_share(["a"], [])


def test_oov_rate_counts_running_words(tmp_path) -> None:
    path = build_lm(["set a timer", "stop the timer"], order=2).write_arpa(tmp_path / "lm.arpa")
    assert study.oov_rate(["set the alarm", "stop"], path) == pytest.approx(1 / 4)  # "alarm" of 4 words
    assert study.oov_rate([], path) == 0.0


@pytest.fixture
def domain_lms(tmp_path):
    source = ["the weather is nice today", "we walked to the park", "the park is green"] * 3
    target = ["set a timer for five minutes", "stop the timer", "set an alarm"] * 3
    return study.build_domain_lms(source, target, ["set a timer for ten minutes"], tmp_path, order=2, prefix="c_")


def test_build_domain_lms_keeps_the_exact_mixture_perplexity(domain_lms) -> None:
    from asrlab.lm import read_arpa

    source, target = (read_arpa(domain_lms.paths[k]) for k in ("source", "target"))
    weight, exact = choose_weight(target, source, ["set a timer for ten minutes"])
    assert domain_lms.weight == pytest.approx(weight, abs=1e-4)
    assert domain_lms.exact_mixture_perplexity == pytest.approx(exact, rel=1e-3)
    assert math.isfinite(domain_lms.perplexity["mixed"])


def test_lm_effects_rows(domain_lms) -> None:
    rows = [{"domain": "commands", "decoder": "greedy", "lm": "none", "wer": 0.5, "cer": 0.2},
            {"domain": "commands", "decoder": "beam", "lm": "none", "wer": 0.5, "cer": 0.2},
            {"domain": "commands", "decoder": "beam", "lm": "source", "wer": 0.6, "cer": 0.3},
            {"domain": "commands", "decoder": "beam", "lm": "target", "wer": 0.25, "cer": 0.1},
            {"domain": "commands", "decoder": "beam", "lm": "mixed", "wer": 0.3, "cer": 0.1}]
    (row,) = study.lm_effects(rows, {"commands": domain_lms}, {"commands": ["set a timer", "stop the music"]})
    assert row["domain"] == "commands" and row["best_lm"] == "target"
    assert row["target_lm_reduction"] == pytest.approx(0.5) and row["greedy_cer"] == 0.2
    assert row["source_lm_wer"] == 0.6 and row["target_lm_wer"] == 0.25
    assert row["target_lm_perplexity"] < row["source_lm_perplexity"]
    assert row["target_lm_oov"] == pytest.approx(1 / 6)  # "music"
    assert row["source_lm_oov"] == pytest.approx(5 / 6)  # all but "the"


def test_confusion_comparison_side_by_side() -> None:
    refs = ["set a timer", "play jazz", "the cat sat"]
    hyps = {"greedy": ["sit a timer", "play jazz now", "the cat"], "lm": ["set a timer", "play jazz", "the hat sat"]}
    rows = confusion_comparison(refs, hyps, ["commands", "commands", "source"], top=2)
    assert rows == [
        {"domain": "commands", "kind": "substitution", "greedy": "set→sit (1)", "lm": "none"},
        {"domain": "commands", "kind": "deletion", "greedy": "none", "lm": "none"},
        {"domain": "commands", "kind": "insertion", "greedy": "now (1)", "lm": "none"},
        {"domain": "source", "kind": "substitution", "greedy": "none", "lm": "cat→hat (1)"},
        {"domain": "source", "kind": "deletion", "greedy": "sat (1)", "lm": "none"},
        {"domain": "source", "kind": "insertion", "greedy": "none", "lm": "none"},
    ]
    with pytest.raises(ValueError):
        confusion_comparison(refs, {}, ["commands"] * 3)


def test_lesson_knobs_cover_the_same_knobs_in_both_sizes() -> None:
    smoke, full = study.LESSON_KNOBS["smoke"], study.LESSON_KNOBS["full"]
    assert set(smoke) == set(full)
    assert smoke["GOAL_DOMAIN"] in smoke["TARGETS"] and full["GOAL_DOMAIN"] in full["TARGETS"]
    assert set(smoke["TARGETS"]) <= set(full["TARGETS"]) and smoke["BEAM"] in smoke["SWEEP_BEAMS"]

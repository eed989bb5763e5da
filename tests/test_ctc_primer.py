"""The CTC primer's string view of decoding: best path, collapsing, transcript, errors."""
from __future__ import annotations

import pytest
import torch

from asrlab.config import FeatureConfig
from asrlab.course.ctc_primer import (best_path, collapse, error_counts, explain_utterance, frame_rates, merge_repeats,
                               min_frames, report, symbol_marks, transcript)
from asrlab.decoding.greedy import greedy_decode
from asrlab.text import CharVocabulary

VOCAB = CharVocabulary()


def one_hot_log_probs(path: str, vocab: CharVocabulary = VOCAB) -> torch.Tensor:
    """``(T, V)`` log-probabilities whose best symbol at each frame is ``path``'s character."""
    marks = symbol_marks(vocab)
    probs = torch.full((len(path), len(vocab)), 0.1 / (len(vocab) - 1))
    for t, ch in enumerate(path):
        probs[t, marks.index(ch)] = 0.9
    return probs.log()


def test_collapse_merges_repeats_then_drops_blanks():
    assert merge_repeats("aa_b__bb_") == "a_b_b_"
    assert collapse("aa_b__bb_") == "abb"
    assert collapse("") == "" and collapse("____") == ""


def test_a_doubled_letter_needs_a_blank_between():
    assert collapse("l_l") == "ll"
    assert collapse("ll") == "l"
    assert collapse("hhe_ll_lloo") == "hello"


def test_min_frames_counts_a_blank_between_equal_neighbours():
    assert min_frames("hello") == 6
    assert min_frames("abc") == 3
    assert min_frames("aaa") == 5


def test_best_path_shows_one_character_per_frame():
    log_probs = one_hot_log_probs("__hh_i␣␣t_")
    assert best_path(log_probs, VOCAB) == "__hh_i␣␣t_"
    assert collapse(best_path(log_probs, VOCAB)) == "hi␣t"
    assert transcript("␣hi␣␣t␣") == "hi t"


def test_best_path_rejects_a_batch_or_a_wrong_vocabulary():
    with pytest.raises(ValueError, match="one utterance"):
        best_path(torch.zeros(2, 5, len(VOCAB)), VOCAB)
    with pytest.raises(ValueError, match=f"\\(T, {len(VOCAB)}\\)"):
        best_path(torch.zeros(5, 10), VOCAB)


def test_symbols_that_would_be_ambiguous_are_refused():
    with pytest.raises(ValueError, match="cannot be shown"):
        symbol_marks(CharVocabulary(("<blank>", "a", "_")))
    with pytest.raises(ValueError, match="cannot be shown"):
        symbol_marks(CharVocabulary(("<blank>", "a", "ab")))


def test_collapsed_best_path_is_the_greedy_decoder_transcript():
    generator = torch.Generator().manual_seed(0)
    for length in (1, 7, 60):
        logits = torch.randn(length, len(VOCAB), generator=generator)
        logits[:, VOCAB.blank] += 1.5  # blanks between symbols, as a trained model has them
        logits[::5, 1] += 3.0           # and spaces, some at the ends
        expected = greedy_decode(logits[None], torch.tensor([length]), VOCAB)[0]
        assert transcript(collapse(best_path(logits.log_softmax(-1), VOCAB))) == expected


def test_error_counts_name_the_edit_operations():
    counts = error_counts("the cat sat", "the bat sat down")
    assert counts["wer"] == pytest.approx(2 / 3)
    assert (counts["hits"], counts["substitutions"], counts["deletions"], counts["insertions"]) == (2, 1, 0, 1)
    assert counts["words"] == 3 and counts["characters"] == 11
    assert counts["char_substitutions"] == 1 and counts["cer"] == pytest.approx(6 / 11)


def test_an_empty_transcript_deletes_every_word():
    counts = error_counts("the cat sat", "")
    assert counts["wer"] == 1.0 and counts["cer"] == 1.0 and counts["deletions"] == 3
    with pytest.raises(ValueError, match="reference is empty"):
        error_counts(" ", "x")


def test_explain_utterance_walks_every_step():
    out = explain_utterance(one_hot_log_probs("_cc_a_tt␣␣s_a_t__"), VOCAB, "cat sat")
    assert out["frames"] == 17 and out["path"] == "_cc_a_tt␣␣s_a_t__"
    assert out["merged"] == "_c_a_t␣s_a_t_" and out["collapsed"] == "cat␣sat" and out["transcript"] == "cat sat"
    assert out["wer"] == 0.0 and out["min_frames"] == 7
    assert out["blank_share"] == pytest.approx(7 / 17)
    assert out["top_char"] == "t" and out["top_char_share"] == pytest.approx(3 / 17)


def test_a_blank_only_model_explains_as_an_empty_transcript():
    out = explain_utterance(one_hot_log_probs("_" * 12), VOCAB, "cat sat")
    assert out["path"] == "_" * 12 and out["transcript"] == "" and out["blank_share"] == 1.0
    assert out["top_char"] is None and out["top_char_share"] == 0.0
    assert out["wer"] == 1.0 and out["deletions"] == 2


def test_frame_rates_follow_the_hop_and_the_subsampling():
    rates = frame_rates(FeatureConfig(hop_ms=10.0), subsampling=2)
    assert rates == {"input_fps": 100.0, "output_fps": 50.0, "ms_per_output_frame": 20.0}
    with pytest.raises(ValueError):
        frame_rates(FeatureConfig(), 0)


def test_report_shows_every_step_and_the_counts_behind_the_rates():
    out = explain_utterance(one_hot_log_probs("_cc_a_tt␣␣s_e_t__"), VOCAB, "cat sat")
    text = report(out, ms_per_frame=20)
    lines = text.splitlines()
    assert lines[0].startswith("best path        _cc_a_tt␣␣s_e_t__") and "17 frames, 20 ms each" in lines[0]
    assert "the blank wins 41%, the most frequent character" in lines[0]
    assert "the most frequent" not in report(explain_utterance(one_hot_log_probs("___"), VOCAB, "a"))
    assert lines[1].endswith("_c_a_t␣s_e_t_") and lines[2].endswith("cat␣set")
    assert "'cat set'" in lines[3] and "'cat sat'" in lines[4]
    assert "WER 50.0% = (1 substitutions + 0 deletions + 0 insertions) / 2 reference words" in text
    assert "CER 14.3% = (1 + 0 + 0) / 7 reference characters" in text

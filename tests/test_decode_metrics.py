"""CTC best-path decoding, WER/CER, per-domain tables and alignments."""
from __future__ import annotations

import pytest
import torch

from asrlab.decoding.greedy import collapse, greedy_decode
from asrlab.metrics import alignment, cer, error_rates, format_table, per_domain, wer
from asrlab.text import CharVocabulary

VOCAB = CharVocabulary()


def one_hot_log_probs(rows: list[list[int]], vocab_size: int = 29) -> torch.Tensor:
    """``(B, T, V)`` log-probs whose argmax follows ``rows`` (equal lengths)."""
    ids = torch.tensor(rows)
    return torch.nn.functional.one_hot(ids, vocab_size).float().mul(10).log_softmax(-1)


def ids(text: str) -> list[int]:
    return VOCAB.encode(text)


@pytest.mark.parametrize("path, expected", [
    ([1, 1, 2, 2, 2, 3], [1, 2, 3]),          # repeats merge
    ([1, 0, 1], [1, 1]),                      # a blank between repeats keeps both
    ([0, 0, 1, 0, 0, 2, 2, 0], [1, 2]),       # blanks dropped
    ([0, 0, 0], []),
    ([], []),
    ([3, 3, 0, 0, 3, 4, 0, 4, 4], [3, 3, 4, 4]),
])
def test_collapse(path, expected):
    assert collapse(path) == expected


def test_collapse_with_another_blank():
    assert collapse([5, 5, 1, 5], blank=5) == [1]


def test_greedy_decode_text():
    h, e, l, o, sp, w = ids("h") + ids("e") + ids("l") + ids("o") + [1] + ids("w")
    path = [0, h, h, e, 0, l, l, 0, l, o, sp, sp, 0, w, o]
    assert greedy_decode(one_hot_log_probs([path]), torch.tensor([len(path)]), VOCAB) == ["hello wo"]


def test_greedy_decode_respects_lengths():
    a, b = ids("a")[0], ids("b")[0]
    rows = [[a, a, 0, b, b, a, a, a], [b, 0, b, a, a, b, b, b]]
    lp = one_hot_log_probs(rows)
    assert greedy_decode(lp, torch.tensor([4, 3]), VOCAB) == ["ab", "bb"]
    assert greedy_decode(lp, torch.tensor([8, 8]), VOCAB) == ["aba", "bbab"]
    assert greedy_decode(lp, torch.tensor([0, 1]), VOCAB) == ["", "b"]


def test_greedy_decode_collapses_spaces():
    a, sp = ids("a")[0], 1
    lp = one_hot_log_probs([[sp, a, sp, 0, sp, a, sp]])
    assert greedy_decode(lp, torch.tensor([7]), VOCAB) == ["a a"]


# --------------------------------------------------------------------------- metrics
def test_wer_cer_known_values():
    # ref 4 words; hyp: 1 substitution (sat->sit), 1 deletion (mat) -> WER 2/4
    refs, hyps = ["the cat sat mat"], ["the cat sit"]
    assert wer(refs, hyps) == pytest.approx(2 / 4)
    # characters (spaces count): "the cat sat mat" (15) vs "the cat sit" -> 1 sub + 4 del = 5/15
    assert cer(refs, hyps) == pytest.approx(5 / 15)


def test_error_rates_are_corpus_totals_not_means():
    refs = ["a b c d", "e f"]
    hyps = ["a b c d", "x"]               # 0 errors / 4 words; 2 errors / 2 words
    rates = error_rates(refs, hyps)
    assert rates.wer == pytest.approx(2 / 6)          # not mean(0, 1) = 0.5
    assert rates.utterances == 2 and rates.words == 6
    assert rates.as_dict()["words"] == 6


def test_insertions_can_push_wer_above_one():
    assert wer(["a"], ["x y z"]) == pytest.approx(3.0)


def test_empty_hypothesis_counts_as_deletions():
    assert wer(["one two three"], [""]) == pytest.approx(1.0)


def test_per_domain_grouping():
    refs = ["a b", "c d", "e f", "g h"]
    hyps = ["a b", "c x", "e f", "x x"]
    doms = ["news", "chat", "news", "chat"]
    table = per_domain(refs, hyps, doms)
    assert list(table) == ["news", "chat"]            # order of first appearance
    assert table["news"].wer == 0.0 and table["news"].utterances == 2
    assert table["chat"].wer == pytest.approx(3 / 4)
    text = format_table(table)
    assert "| news | 0.0 |" in text and "| chat | 75.0 |" in text
    with pytest.raises(ValueError):
        per_domain(refs, hyps, doms[:3])


def test_metric_input_errors():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no utterances"):
        wer([], [])
    with pytest.raises(ValueError, match="empty"):
        cer(["a", "  "], ["a", "b"])


def test_alignment_substitution_and_insertion():
    assert alignment("the cat sat", "the bat sat down").splitlines() == [
        "REF: the cat sat ****",
        "HYP: the bat sat down",
        "         S       I",
    ]


def test_alignment_deletion():
    assert alignment("the cat sat down", "the sat").splitlines() == [
        "REF: the cat sat down",
        "HYP: the *** sat ****",
        "         D       D",
    ]


def test_alignment_correct_is_unmarked():
    lines = alignment("all good here", "all good here").splitlines()
    assert lines[:2] == ["REF: all good here", "HYP: all good here"]
    assert lines[2].strip() == ""

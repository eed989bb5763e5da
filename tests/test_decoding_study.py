"""Decoding studies (asrlab.course.decoding, asrlab.course.decoding_plots), error analysis and the error browser."""
from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from asrlab.course.decoding_plots import posteriors_figure, sweep_figure
from asrlab.decoding import make_decoder
from asrlab.course.decoding import (build_domain_lms, compare_decoders, decoding_sweep, domain_texts,
                                   relative_reduction, timed_decode)
from asrlab.course.widgets import UtteranceView, error_browser, utterance_html
from asrlab.error_analysis import AlignedPair, align_words, alignment_html, confusion_rows, count_confusions, edit_counts
from asrlab.text import CharVocabulary

VOCAB = CharVocabulary()


# ------------------------------------------------------------------ alignments and confusions
def test_align_words_marks_every_edit() -> None:
    pairs = align_words("the cat sat on the mat", "the bat sat the mat down")
    assert pairs == [AlignedPair("equal", "the", "the"), AlignedPair("substitute", "cat", "bat"),
                     AlignedPair("equal", "sat", "sat"), AlignedPair("delete", "on", ""),
                     AlignedPair("equal", "the", "the"), AlignedPair("equal", "mat", "mat"),
                     AlignedPair("insert", "", "down")]
    assert edit_counts(pairs) == {"S": 1, "D": 1, "I": 1, "N": 6}


def test_align_words_with_an_empty_side() -> None:
    assert align_words("a b", "") == [AlignedPair("delete", "a", ""), AlignedPair("delete", "b", "")]
    assert align_words("", "x") == [AlignedPair("insert", "", "x")]


def test_alignment_html_known_case() -> None:
    markup = alignment_html("please turn on the kitchen light now", "please turn the kitchen lights now off")
    assert markup == (
        '<div class="asr-alignment">please turn '
        '<span class="asr-delete" style="background:#fecaca;text-decoration:line-through" title="deletion">on</span> '
        'the kitchen <span class="asr-substitute" style="background:#fde68a" title="substitution">light&rarr;lights</span> now '
        '<span class="asr-insert" style="background:#bfdbfe" title="insertion">+off</span></div>')


def test_alignment_html_escapes() -> None:
    assert "&lt;b&gt;" in alignment_html("a", "<b>") and "<b>" not in alignment_html("a", "<b>")


def test_count_confusions_hand_computed() -> None:
    refs = ["set a timer", "set an alarm", "play music"]
    hyps = ["sit a timer", "sit an alarm please", "music"]
    c = count_confusions(refs, hyps)
    assert c.substitutions == Counter({("set", "sit"): 2})
    assert c.deletions == Counter({"play": 1})
    assert c.insertions == Counter({"please": 1})
    with pytest.raises(ValueError):
        count_confusions(["a"], [])


def test_confusion_rows_per_domain_sorted_and_cut() -> None:
    refs = ["a b c", "a b c", "x y", "x y"]
    hyps = ["a d c", "e d c", "x", "x y z"]
    rows = confusion_rows(refs, hyps, ["d1", "d1", "d2", "d2"], top=1)
    assert rows == [
        {"domain": "d1", "kind": "substitution", "reference": "b", "hypothesis": "d", "count": 2},
        {"domain": "d2", "kind": "deletion", "reference": "y", "hypothesis": "", "count": 1},
        {"domain": "d2", "kind": "insertion", "reference": "", "hypothesis": "z", "count": 1},
    ]


# ------------------------------------------------------------------ decoding studies
def random_posteriors(n: int = 4, frames: int = 30, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(frames + i, len(VOCAB), generator=gen).mul(3).log_softmax(-1) for i in range(n)]


def peaked(text: str) -> torch.Tensor:
    """Log-probabilities that spell ``text`` with a blank between characters."""
    ids = [i for ch in text for i in (VOCAB.symbols.index(ch), VOCAB.blank)]
    out = torch.full((len(ids), len(VOCAB)), -10.0)
    out[torch.arange(len(ids)), torch.tensor(ids)] = 0.0
    return out.log_softmax(-1)


def test_decoding_sweep_rows_on_random_posteriors(tmp_path) -> None:
    lms = build_domain_lms(["the cat sat", "a dog ran"], ["set a timer", "stop the timer"], ["set the timer"],
                           tmp_path, order=2)
    rows = decoding_sweep(random_posteriors(), ["the cat", "a dog", "set a timer", "stop"], beam_sizes=(1, 4),
                          lm_weights=(0.0, 0.5), lm_path=lms.paths["target"], backend="python")
    assert [(r["beam_size"], r["lm_weight"]) for r in rows] == [(1, 0.0), (1, 0.5), (4, 0.0), (4, 0.5)]
    for r in rows:
        assert r["wer"] >= 0 and r["cer"] >= 0 and r["seconds"] >= 0 and r["utterances_per_second"] > 0
        assert r["word_score"] == 0.0


def test_timed_decode_and_compare(tmp_path) -> None:
    texts = ["set a timer", "stop"]
    log_probs = [peaked(t) for t in texts]
    out = timed_decode(make_decoder("greedy"), log_probs, texts, acoustic_seconds=1.0)
    assert out["hypotheses"] == texts and out["wer"] == 0.0
    assert out["utterances_per_second"] <= 2.0 < out["decode_utterances_per_second"]
    rows, hyps = compare_decoders({"commands": log_probs}, {"commands": texts},
                                  {("greedy", "none"): make_decoder("greedy"),
                                   ("beam", "none"): make_decoder("beam", 4, backend="python")})
    assert [(r["domain"], r["decoder"], r["lm"]) for r in rows] == [("commands", "greedy", "none"),
                                                                    ("commands", "beam", "none")]
    assert {"wer", "cer", "utterances_per_second"} <= set(rows[0]) and hyps["commands", "beam", "none"] == texts
    with pytest.raises(ValueError):
        timed_decode(make_decoder("greedy"), log_probs, texts[:1])


def test_build_domain_lms_prefers_target_text(tmp_path) -> None:
    source = ["the weather is nice today", "we walked to the park"] * 3
    target = ["set a timer for five minutes", "stop the timer", "set an alarm"] * 3
    lms = build_domain_lms(source, target, ["set a timer for ten minutes"], tmp_path, prefix="c_")
    assert sorted(p.name for p in lms.paths.values()) == ["c_mixed.arpa", "c_source.arpa", "c_target.arpa"]
    assert all(p.is_file() for p in lms.paths.values())
    assert 0.5 < lms.weight <= 1.0
    assert lms.perplexity["target"] < lms.perplexity["source"]
    assert lms.perplexity["mixed"] < lms.perplexity["source"]


def test_domain_texts_refuses_dev_and_test(tmp_path) -> None:
    folder = tmp_path / "commands"
    folder.mkdir()
    for split in ("train", "unlabelled"):
        (folder / f"{split}.jsonl").write_text(json.dumps({"text": f"Hello {split}", "split": split}) + "\n")
    assert domain_texts(tmp_path, "commands") == ["hello train", "hello unlabelled"]
    with pytest.raises(ValueError, match="leak"):
        domain_texts(tmp_path, "commands", ("train", "test"))


def test_relative_reduction() -> None:
    assert relative_reduction(0.5, 0.35) == pytest.approx(0.3)
    assert relative_reduction(0.0, 0.1) == 0.0


# ------------------------------------------------------------------ figures and widgets
def test_figures_build() -> None:
    rows = [{"beam_size": b, "lm": lm, "wer": 0.3, "utterances_per_second": 10.0 / b}
            for b in (1, 4) for lm in ("none", "target")]
    assert len(sweep_figure(rows, "beam_size", group="lm").axes) == 2
    fig = posteriors_figure(torch.randn(60, 80), peaked("hi there"), VOCAB, subsampling=2, title="x")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        posteriors_figure(torch.randn(60, 80), torch.randn(30, 5), VOCAB)


def test_utterance_html_and_browser(tmp_path) -> None:
    import numpy as np
    import soundfile as sf

    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(1600, dtype=np.float32), 16_000)
    view = UtteranceView("u1", "commands", str(audio), "set a timer", {"greedy": "set timer", "beam+lm": "set a timer"})
    markup = utterance_html(view)
    assert "S=0 D=1 I=0 of N=3" in markup and "S=0 D=0 I=0 of N=3" in markup
    browser = error_browser([view, view])
    assert browser.children[0].value == 0
    browser.children[0].value = 1
    with pytest.raises(ValueError):
        error_browser([])

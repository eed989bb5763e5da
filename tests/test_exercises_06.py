"""The exercises of notebook 06 work: each hint's library call runs at tiny size, on synthetic CTC
log-probabilities and ARPA models built here, and changes the result against what the notebook
does by default. A last test checks that the hints name only things that exist: notebook
variables, and attributes of the modules the notebook imports.

1. Character LM: a character LM decodes without a lexicon, so it writes a word its text never held,
   which the notebook's word LM (whose vocabulary is the lexicon) cannot.
2. How much target text: less target text gives a target LM with another dev perplexity, and the
   rows the hint builds plot with ``sweep_figure(rows, "sentences")``.
3. Tune on test: ``grid_search`` on test data picks another point than on dev and reports a lower
   WER than the dev-tuned point scores on the same test data (the optimism the exercise is about).
4. Speed budget: ``decoding_sweep`` with the target LM at the tuned weight changes the WER against
   the sweep without an LM, and the beam size matters with an LM; a weight without an ``lm_path``
   is refused instead of silently decoding without an LM.
5. Python vs flashlight: the backend changes how the search runs, not what it should find, and
   its speed (the point of the exercise) is no thing to assert on a shared machine. The test
   checks that ``backend="python"`` builds the Python decoder, that it agrees with the default
   backend, and that ``timed_decode`` times both (the comparison needs flashlight-text; skipped
   without it).
"""
from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest
import torch

from asrlab.course import decoding as study

from asrlab.course.decoding_plots import sweep_figure
from asrlab.decoding import FlashlightDecoder, PrefixBeamDecoder, flashlight_available, make_decoder
from asrlab.decoding.tune import grid_search
from asrlab.error_analysis import confusion_comparison
from asrlab.lm import build_lm
from asrlab.text import CharVocabulary

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_decoding_and_errors.ipynb"
VOCAB = CharVocabulary()
TEXTS = ["we read a book", "they read a book", "we read the news", "the red car", "a red car is fast"] * 4


def posteriors(spelled: str, unsure: float = 0.45) -> torch.Tensor:
    """``(T, V)`` log-probabilities spelling ``spelled``: two frames per character (sure of it, then
    blank); a ``?`` is one frame where the blank has ``1 - unsure`` and ``a`` has ``unsure``."""
    rows: list[dict[int, float]] = []
    for ch in spelled:
        if ch == "?":
            rows.append({VOCAB.blank: 1.0 - unsure, VOCAB.symbols.index("a"): unsure})
        else:
            index = VOCAB.symbols.index(ch)
            rows += [{index: 0.97, VOCAB.blank: 0.03}, {VOCAB.blank: 0.97, index: 0.03}]
    probs = torch.full((len(rows), len(VOCAB)), 1e-6)
    for t, row in enumerate(rows):
        for index, value in row.items():
            probs[t, index] = value
    return (probs / probs.sum(-1, keepdim=True)).log()


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory) -> Path:
    return build_lm(TEXTS, order=3).write_arpa(tmp_path_factory.mktemp("lm") / "word.arpa")


def test_1_a_character_lm_writes_words_the_word_lm_cannot(tmp_path: Path, word_lm: Path) -> None:
    char_lm = build_lm(TEXTS, level="char").write_arpa(tmp_path / "char.arpa")  # the hint's call
    log_probs = [posteriors("we read a blog")]  # "blog" is in no training sentence
    reference = ["we read a blog"]
    with_char = study.timed_decode(make_decoder("beam", 8, char_lm, 0.3, vocab=VOCAB), log_probs, reference)
    with_word = study.timed_decode(make_decoder("beam", 8, word_lm, 0.5, vocab=VOCAB), log_probs, reference)
    assert with_char["hypotheses"] == reference
    assert "blog" not in with_word["hypotheses"][0].split() and with_word["wer"] > with_char["wer"]
    rows = confusion_comparison(reference, {"word LM": with_word["hypotheses"], "char LM": with_char["hypotheses"]},
                                ["commands"])
    assert any(r["char LM"] == "none" and r["word LM"] != "none" for r in rows)


def test_2_less_target_text_gives_another_lm_and_a_plot(tmp_path: Path) -> None:
    source = ["the weather is nice today", "we walked to the park", "the park is green"] * 3
    texts = ["set a timer for five minutes", "stop the timer", "set an alarm for seven",
             "play some music", "turn the lights off", "what is the weather today"] * 2
    dev = ["set a timer for seven minutes", "turn the music off"]
    rows, perplexity = [], {}
    for n in (len(texts) // 3, len(texts)):  # the hint's call, at two sizes
        lms = study.build_domain_lms(source, texts[:n], dev, tmp_path / "part", prefix=f"{n}_")
        assert lms.sentences["target"] == n
        perplexity[n] = lms.perplexity["target"]
        decoder = make_decoder("beam", 4, lms.paths["target"], 0.5, vocab=VOCAB)
        rows.append({"sentences": n, **study.timed_decode(decoder, [posteriors(d) for d in dev], dev)})
    assert perplexity[len(texts) // 3] != perplexity[len(texts)]
    assert len(sweep_figure(rows, "sentences").axes) == 2


def test_3_tuning_on_test_reports_an_optimistic_wer(word_lm: Path) -> None:
    log_probs = [posteriors("we re?d a book")]  # the acoustics lean to "red", the LM to "read"
    dev_refs, test_refs = ["we red a book"], ["we read a book"]  # same audio, two truths
    grid = {"lm_weights": (0.0, 1.0), "word_scores": (0.0,), "beam_size": 8, "vocab": VOCAB}
    on_dev = grid_search(log_probs, dev_refs, word_lm, **grid)
    on_test = grid_search(log_probs, test_refs, word_lm, **grid)  # the hint's call, on test data
    assert on_dev["best"]["lm_weight"] != on_test["best"]["lm_weight"]
    dev_point_on_test = next(p for p in on_test["grid"] if p["lm_weight"] == on_dev["best"]["lm_weight"]
                             and p["word_score"] == on_dev["best"]["word_score"])
    assert on_test["best"]["wer"] < dev_point_on_test["wer"]


def test_4_the_speed_budget_sweep_uses_the_lm(word_lm: Path) -> None:
    log_probs, refs = [posteriors("we re?d a book")], ["we read a book"]
    without = study.decoding_sweep(log_probs, refs, beam_sizes=(1, 8), vocab=VOCAB)  # the default: no LM
    with_lm = study.decoding_sweep(log_probs, refs, beam_sizes=(1, 8), lm_path=word_lm, lm_weights=(1.0,),
                                   word_score=0.0, vocab=VOCAB)  # the hint's call
    assert [r["beam_size"] for r in with_lm] == [1, 8] and all(r["utterances_per_second"] > 0 for r in with_lm)
    assert with_lm[-1]["wer"] < without[-1]["wer"]  # the LM changes the result
    assert with_lm[-1]["wer"] < with_lm[0]["wer"]  # and with an LM the beam size matters
    with pytest.raises(ValueError, match="lm_path"):
        study.decoding_sweep(log_probs, refs, beam_sizes=(1, 8), lm_weights=(1.0,), vocab=VOCAB)


@pytest.mark.skipif(not flashlight_available(), reason="flashlight-text is not installed: nothing to compare with")
def test_5_the_python_backend_is_the_same_search(word_lm: Path) -> None:
    log_probs, refs = [posteriors("we re?d a book"), posteriors("the red car")], ["we read a book", "the red car"]
    default = make_decoder("beam", 8, word_lm, 1.0, 0.0, vocab=VOCAB)
    python = make_decoder("beam", 8, word_lm, 1.0, 0.0, vocab=VOCAB, backend="python")  # the hint's call
    assert isinstance(default, FlashlightDecoder) and isinstance(python, PrefixBeamDecoder)
    fast, slow = study.timed_decode(default, log_probs, refs), study.timed_decode(python, log_probs, refs)
    assert slow["hypotheses"] == fast["hypotheses"] == refs
    assert slow["seconds"] > 0 and fast["seconds"] > 0


# ------------------------------------------------------------------ the hints name real things
#: Names a hint leaves to the learner (a loop variable, a value to choose).
LEARNERS_OWN = {"n", "d", "lm_weight", "decoder", "rows"}


def test_hints_name_only_notebook_variables_and_real_attributes() -> None:
    import asrlab.course.decoding as study_module

    nb = nbformat.read(NOTEBOOK, as_version=4)
    exercises = next(c.source for c in nb.cells if c.cell_type == "markdown" and "## Exercises" in c.source)
    exercises = exercises.split("## Exercises", 1)[1]
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not c.source.startswith("# NBVAL_SKIP"))
    tree = ast.parse(code)
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    modules = {"study": study_module}
    spans = []
    for span in re.findall(r"`([^`]+)`", exercises.replace("\n", " ")):
        if span.endswith(".py"):
            assert (ROOT / span).is_file(), f"the hint names {span}, which does not exist"
            continue
        try:
            spans.append((span, ast.parse(span.strip())))
        except SyntaxError:
            continue  # a phrase, not Python
    for _, tree in spans:  # what a hint itself assigns or imports (`texts = ...`, `from asrlab.lm import ...`)
        defined |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        defined |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    checked = len(spans)
    for span, tree in spans:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                known = node.id in defined or node.id in LEARNERS_OWN or hasattr(builtins, node.id)
                assert known, f"the hint {span!r} names {node.id!r}, which the notebook does not define"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                assert hasattr(modules[node.value.id], node.attr), f"the hint {span!r}: no {node.value.id}.{node.attr}"
            if isinstance(node, ast.ImportFrom):
                module = __import__(node.module, fromlist=[a.name for a in node.names])
                assert all(hasattr(module, a.name) for a in node.names), f"the hint {span!r} imports a missing name"
    assert checked >= 10, f"only {checked} code spans found in the exercises"

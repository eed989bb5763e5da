"""Notebook 07's chapter module: every method at every graded level on a tiny model, the run cache,
the scoreboard's arithmetic and the figures."""
from __future__ import annotations

import math

import pytest
import torch

from asrlab.adapt.tta import TTAConfig
from asrlab.config import FeatureConfig, ModelConfig
from asrlab.course import self_training as st
from asrlab.course.self_training_plots import ladder_figure, pseudo_label_figure
from asrlab.manifest import manifest_path, read_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary
from conftest import SENTENCES, synthesize_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")
KNOBS = st.Knobs(epochs=1, lr=1e-3, share=1.0, rounds=1, tta=TTAConfig(steps=1, lr=1e-3), beam=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ladder-corpus")
    voices = [("en-us", "m1"), ("en-gb", "f2")]
    synthesize_manifest(root / "source", SENTENCES[:6], voices, domain="source", split="unlabelled")
    synthesize_manifest(root / "source", SENTENCES[:3], voices, domain="source", split="dev")
    synthesize_manifest(root / "source", SENTENCES[3:6], voices, domain="source", split="test")
    synthesize_manifest(root / "source", SENTENCES, voices, domain="source", split="train")
    return root


@pytest.fixture(scope="module")
def loaded():
    torch.manual_seed(0)
    return LoadedModel(build_model(ModelConfig(hidden=16, num_layers=1, conv_channels=4)), FeatureConfig(),
                       CharVocabulary(), {"name": "tiny"})


def _run(level, method, seed, wer):
    return st.LadderRun(level, {"a": 20.0, "b": 10.0}[level], method, seed, wer, 0.3, 1.0, st.USES[method])


def test_scoreboard_means_over_seeds_and_measures_against_source_only():
    runs = [_run("a", st.SOURCE_ONLY, 0, 0.5), _run("a", st.REFERENCE, 0, 0.3), _run("a", st.REFERENCE, 1, 0.4),
            _run("b", st.SOURCE_ONLY, 0, 0.8), _run("b", st.SELF_TRAINING, 0, 0.9)]
    rows = {(r["level"], r["method"]): r for r in st.scoreboard(runs)}
    assert rows["a", st.REFERENCE]["test_wer"] == pytest.approx(0.35)
    assert rows["a", st.REFERENCE]["test_wer_sd"] == pytest.approx(math.sqrt(0.005))
    assert rows["a", st.REFERENCE]["relative_reduction"] == pytest.approx(0.3)
    assert rows["b", st.SELF_TRAINING]["relative_reduction"] == pytest.approx(-0.125)
    assert rows["a", st.SOURCE_ONLY]["relative_reduction"] == 0.0 and rows["a", st.REFERENCE]["uses"] == "labels"
    assert st.best_label_free(list(rows.values()), "b")["method"] == st.SELF_TRAINING
    fig = ladder_figure(list(rows.values()))
    assert len(fig.axes) == 2


def test_the_ladder_runs_every_method_at_every_level_and_reuses_finished_runs(corpus, loaded, tmp_path):
    levels = st.load_levels(corpus, (20.0, 5.0), loaded)
    assert [lv.domain for lv in levels] == ["noise-20db", "noise-5db"]
    source_test = st.corpus_split(corpus, "source", "test", loaded)
    lm = st.source_text_lm(corpus, tmp_path / "lm.arpa")
    seen = []
    source_train = read_manifest(manifest_path(corpus, "source", "train"))
    runs = st.run_ladder(loaded, levels[:1], source_test, KNOBS, seeds=(0, 1), lm_path=lm, cache_dir=tmp_path / "runs",
                         source_train=source_train, report=seen.append)
    assert [(r.method, r.seed) for r in runs] == [
        (st.SOURCE_ONLY, 0), (st.SELF_TRAINING, 0), (st.SELF_TRAINING, 1), (st.SELF_TRAINING_LM, 0),
        (st.SELF_TRAINING_LM, 1), (st.TEST_TIME, 0), (st.COMBINED, 0), (st.COMBINED, 1), (st.SIMULATED, 0),
        (st.SIMULATED, 1), (st.REFERENCE, 0), (st.REFERENCE, 1)]
    assert seen == runs
    by = {(r.method, r.seed): r for r in runs}
    # test-time adaptation resets the weights: the clean source test reads as before
    assert by[st.TEST_TIME, 0].source_test_wer == by[st.SOURCE_ONLY, 0].source_test_wer
    assert by[st.TEST_TIME, 0].details["seconds_per_audio_second"] > 0
    assert by[st.REFERENCE, 0].details["labelled_minutes"] > 0
    assert by[st.SELF_TRAINING, 1].details["rounds"][0]["kept"] >= 1
    assert by[st.COMBINED, 0].uses == "audio only" and by[st.COMBINED, 0].details["rounds"][0]["steps"] >= 1
    # the simulated method drew its noise from the target audio and its labels from the source
    simulated = by[st.SIMULATED, 0]
    assert "source labels" in simulated.uses and simulated.details["noise_seconds"] > 0
    assert simulated.details["source_minutes"] == pytest.approx(sum(u.duration for u in levels[0].unlabelled) / 60,
                                                                abs=0.01)
    assert (tmp_path / "runs" / "simulated" / "noise-20db-s0" / "audio").is_dir()
    cached = st.run_ladder(loaded, levels[:1], source_test, KNOBS, seeds=(0, 1), lm_path=lm,
                           source_train=source_train, cache_dir=tmp_path / "runs")
    assert [r.as_dict() for r in cached] == [r.as_dict() for r in runs]  # read back, seconds and all


def test_pseudo_label_curve_per_decoder_on_dev(corpus, loaded, tmp_path):
    (level,) = st.load_levels(corpus, (20.0,), loaded)
    lm = st.source_text_lm(corpus, tmp_path / "lm.arpa")
    rows = st.pseudo_label_curve(loaded, level, lm_path=lm, beam=2, shares=(1.0, 0.5))
    assert {r["decoder"] for r in rows} <= {"greedy", "source LM"} and rows
    assert all(r["level"] == "noise-20db" for r in rows)
    assert len(pseudo_label_figure(rows).axes) == 1


def test_unknown_method_and_missing_lm_are_refused(corpus, loaded):
    (level,) = st.load_levels(corpus, (20.0,), loaded)
    source_test = st.corpus_split(corpus, "source", "test", loaded)
    with pytest.raises(ValueError, match="unknown method"):
        st.run_method("magic", loaded, level, source_test, KNOBS)
    with pytest.raises(ValueError, match="lm_path"):
        st.run_method(st.SELF_TRAINING_LM, loaded, level, source_test, KNOBS)
    with pytest.raises(ValueError, match="source_train"):
        st.run_method(st.SIMULATED, loaded, level, source_test, KNOBS)

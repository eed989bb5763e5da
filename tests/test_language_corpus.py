"""The Spanish and German corpus domains: specs, on-demand building, manifests in the language."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.corpus import build as build_module
from asrlab.corpus.build import CorpusSummary, SplitSummary, _recipe, ensure_language_domain, plan_jobs
from asrlab.corpus.domains import DOMAINS, LANGUAGE_DOMAINS, SPLITS, get_domain, language_domain
from asrlab.corpus.espeak import ESPEAK_LANGUAGE_ACCENTS, ESPEAK_VARIANTS
from asrlab.course.report import render_corpus
from asrlab.manifest import read_manifest, total_minutes
from asrlab.text import CharVocabulary

ENGINES = {"espeak": True, "piper": False, "flite": False}


@pytest.mark.parametrize("name", list(LANGUAGE_DOMAINS))
def test_language_domains_are_valid_with_disjoint_speakers(name: str) -> None:
    spec = LANGUAGE_DOMAINS[name]
    assert spec.language != "en" and spec is get_domain(name) is language_domain(spec.language)
    train = set(spec.train_voices.speakers(piper_ok=True, flite_ok=True))
    evaluation = set(spec.eval_voices.speakers(piper_ok=True, flite_ok=True))
    assert train and evaluation and not train & evaluation
    for pool in (spec.train_voices, spec.eval_voices):
        assert set(pool.accents) <= set(ESPEAK_LANGUAGE_ACCENTS[spec.language])
        assert set(pool.variants) <= set(ESPEAK_VARIANTS) and not pool.piper and not pool.flite
    sizes = spec.sizes
    assert sizes["smoke"]["train"] <= 1.0 and sizes["smoke"]["test"] <= 0.5
    assert 8 <= sizes["lab"]["train"] <= 12 and sizes["lab"]["unlabelled"] <= 2
    assert sizes["full"]["train"] >= 32  # a learning curve of 1..30 minutes fits


def test_language_domains_stay_out_of_the_default_build() -> None:
    assert not set(LANGUAGE_DOMAINS) & set(DOMAINS)
    assert all(spec.language == "en" for spec in DOMAINS.values())
    with pytest.raises(ValueError, match="spanish"):
        get_domain("klingon")
    with pytest.raises(ValueError, match="es \\(spanish\\)"):
        language_domain("xx")


def test_english_recipes_and_jobs_have_no_language_fields() -> None:
    recipe = _recipe(DOMAINS["accent"], "test", "lab", 0, ENGINES)
    assert "language" not in recipe and recipe["engines"] == ENGINES
    jobs = plan_jobs(DOMAINS["accent"], "test", 0, 0, 5, set(), ENGINES, Path("/x"))
    assert all(job.label == "" and job.text == job.text.lower() for job in jobs)
    spanish = _recipe(LANGUAGE_DOMAINS["spanish"], "test", "lab", 0, ENGINES)
    assert spanish["language"] == "es" and spanish["engines"] == {"espeak": True}


def test_spanish_jobs_speak_raw_text_and_label_it_normalised() -> None:
    jobs = plan_jobs(LANGUAGE_DOMAINS["spanish"], "train", 0, 0, 30, set(), ENGINES, Path("/x"))
    vocab = CharVocabulary.for_language("es")
    assert all(job.label == vocab.normalize(job.text) and job.text != job.label for job in jobs)
    excluded = plan_jobs(LANGUAGE_DOMAINS["spanish"], "train", 0, 0, 30, {jobs[0].label}, ENGINES, Path("/x"))
    assert excluded[0].label != jobs[0].label  # held-out labels are never drawn again


@pytest.mark.slow
def test_a_smoke_spanish_domain_builds_on_demand(tmp_path: Path, monkeypatch) -> None:
    folder = ensure_language_domain(tmp_path, "es", "smoke", seed=1, workers=2, progress=False)
    assert folder == tmp_path / "spanish"
    vocab = CharVocabulary.for_language("es")
    spec = LANGUAGE_DOMAINS["spanish"]
    speakers = {}
    for split in SPLITS:
        utts = read_manifest(folder / f"{split}.jsonl")
        assert spec.sizes["smoke"][split] * 0.9 <= total_minutes(utts) <= spec.sizes["smoke"][split] * 1.6
        for utt in utts:
            vocab.encode(utt.text)
            assert utt.language == "es" and utt.extra["raw_text"][-1] in ".?!" and Path(utt.audio).is_file()
        speakers[split] = {u.speaker for u in utts}
    assert any(ch in vocab.letters for split in SPLITS for u in read_manifest(folder / f"{split}.jsonl")
               for ch in u.text)
    assert not (speakers["train"] | speakers["unlabelled"]) & (speakers["dev"] | speakers["test"])
    train = {u.text for u in read_manifest(folder / "train.jsonl")}
    assert not train & {u.text for u in read_manifest(folder / "test.jsonl")}
    summary = json.loads((tmp_path / "corpus.json").read_text())
    assert {s["language"] for s in summary["splits"]} == {"es"}
    assert "| spanish | es |" in render_corpus(summary)

    # a current domain is returned without building again
    monkeypatch.setattr(build_module.CorpusBuilder, "build", lambda *a, **k: pytest.fail("rebuilt"))
    assert ensure_language_domain(tmp_path, "spanish", "smoke", seed=1, progress=False) == folder


def test_summary_tables_show_the_language_only_when_there_is_another() -> None:
    english = CorpusSummary("c", "smoke", 0, [SplitSummary("source", "train", 3, 1.0, 2, 0.0, False)])
    assert "language" not in english.table()
    both = CorpusSummary("c", "smoke", 0, [*english.splits,
                                           SplitSummary("german", "train", 3, 1.0, 2, 0.0, False, "de")])
    assert "| domain | language |" in both.table() and "| german | de |" in both.table()
    assert "| source | en |" in both.table()
    old = {"splits": [{"domain": "source", "split": "train", "minutes": 1.0, "utterances": 3, "speakers": 2}]}
    assert "language" not in render_corpus(old)  # corpus.json files written before languages existed

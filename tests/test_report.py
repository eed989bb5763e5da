"""README sections are rewritten from results files, and only between their markers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.course.report import replace_section, update_readme
from asrlab.files import save_json


def test_replace_section_keeps_the_rest() -> None:
    text = "intro\n<!-- asrlab:x -->\nold\n<!-- /asrlab:x -->\noutro\n"
    assert replace_section(text, "x", "new\n") == "intro\n<!-- asrlab:x -->\nnew\n<!-- /asrlab:x -->\noutro\n"
    with pytest.raises(KeyError):
        replace_section(text, "y", "z")


def test_update_readme_renders_results(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# t\n<!-- asrlab:course-source-lab -->\n?\n<!-- /asrlab:course-source-lab -->\n"
                      "<!-- asrlab:bench -->\n?\n<!-- /asrlab:bench -->\n")
    save_json(tmp_path / "results" / "course-source-lab.json", {
        "wer": 0.5, "cer": 0.25, "utterances": 3, "command": "asrlab eval ...",
        "domains": {"source": {"wer": 0.5, "cer": 0.25, "utterances": 3, "words": 10}}})
    written = update_readme(readme, tmp_path / "results")
    assert written == ["course-source-lab"]
    text = readme.read_text()
    assert "| source | 50.0 | 25.0 | 3 |" in text
    assert "<!-- asrlab:bench -->\n?\n" in text  # no results file: left alone
    assert json.loads((tmp_path / "results" / "course-source-lab.json").read_text())["wer"] == 0.5


def test_render_fine_tuning_tables():
    from asrlab.course.report import render_fine_tuning

    row = {"regime": "full", "target_wer": 0.25, "target_cer": 0.1, "source_wer": 0.2, "forgetting": 0.02,
           "trainable_parameters": 1000, "seconds": 12.0, "train_minutes": 1.0}
    text = render_fine_tuning({"target": "accent", "train_minutes": 10, "budget_seconds": 4000, "regimes": [row],
                               "learning_curve": [row, {**row, "train_minutes": 2.0, "target_wer": 0.2}],
                               "whisper": [{"model": "zero-shot", "wer": 0.05, "cer": 0.01}]})
    assert "| full | 25.0 | 10.0 | 20.0 | +2.0 | 1,000 | 12 |" in text
    assert "| full | 25.0 | 20.0 |" in text          # learning curve: 1 min then 2 min
    assert "| zero-shot | 5.0 | 1.0 |" in text


def test_render_decoding_table():
    from asrlab.course.report import render_decoding

    rows = [{"domain": "commands", "decoder": "greedy", "lm": "none", "wer": 0.5, "utterances_per_second": 30.0},
            {"domain": "commands", "decoder": "beam", "lm": "target", "wer": 0.2, "utterances_per_second": 20.0}]
    text = render_decoding({"rows": rows, "goal": {"reduction": {"commands": 0.6}, "met": True}, "beam_size": 32})
    assert "| commands | 50.0 (30/s) | 20.0 (20/s) |" in text and "beam + target LM" in text
    assert "commands 60%" in text and ": met." in text


def test_render_feature_extraction_tables():
    from asrlab.course.report import render_feature_extraction

    text = render_feature_extraction({
        "domain": "accent",
        "heads_vs_finetuning": {"linear head": {"test_wer": 0.5, "test_cer": 0.2, "trainable_parameters": 1234,
                                                "training_seconds": 9.6}},
        "layer_probes_dev_cer": {"a": {"front end": 0.4, "layer 1": 0.3}, "b": {"front end": 0.9, "layer 1": 0.5,
                                                                              "layer 2": 0.45}},
        "weighted_sum": {"a": {"dev_cer": 0.31}, "b": {"dev_cer": 0.47}},
        "accent_id": {"chosen": ["a", "layer 1"], "test_accuracy": 0.8, "test_chance": 0.3,
                      "log_mel_statistics_dev_accuracy": 0.6}})
    assert "| linear head | 50.0 | 20.0 | 1,234 | 10 |" in text
    assert "| a | 40.0 | 30.0 | - | 31.0 |" in text          # a layer a shallower encoder lacks is a dash
    assert "| b | 90.0 | 50.0 | 45.0 | 47.0 |" in text
    assert "a, layer 1 (chosen on dev) scores 80.0% on test, chance 30.0%" in text


def test_render_adaptation_scoreboard():
    from asrlab.course.report import render_adaptation

    def row(method, target, source, labels=False, weight=None, layer=None):
        return {"shift": "noisy", "method": method, "seeds": 3, "target_wer": target, "target_wer_std": 0.01,
                "source_wer": source, "weight": weight, "layer": layer, "uses_target_labels": labels,
                "rel_reduction": 1 - target / 0.8, "source_change": source - 0.2}

    text = render_adaptation({
        "seeds": [0, 1, 2], "steps": 25, "rule": "source-dev",
        "summary": [row("source-only", 0.8, 0.2, weight=0.0, layer=-1), row("dann", 0.6, 0.205, weight=0.3, layer=-1),
                    row("fine-tune on all target labels", 0.3, 0.25, labels=True)],
        "goal": {"min_relative": 0.2, "max_source_rise": 0.01, "min_shifts": 2},
        "goal_check": {"mmd": {"shifts_met": [], "reached": False}, "dann": {"shifts_met": ["noisy"], "reached": False},
                       "reached": False}})
    assert "| noisy | source-only | no | 0, -1 | 80.0 ± 1.0 | - | 20.0 | - |" in text
    assert "| noisy | dann | no | 0.3, -1 | 60.0 ± 1.0 | -25.0% | 20.5 | +0.5 |" in text
    assert "| noisy | fine-tune on all target labels | yes | - | 30.0 ± 1.0 | -62.5% | 25.0 | +5.0 |" in text
    assert "over 3 seeds, 25 optimiser steps" in text and "mmd: no shift; dann: noisy; not reached" in text


def test_notebook_runs_are_logged_and_rendered(tmp_path: Path) -> None:
    from asrlab.course.report import render_notebook_runs
    from asrlab.course.runner import NotebookRun, record_runs

    log = tmp_path / "notebooks-full.json"
    record_runs([NotebookRun("01_data_prep", 120.0, tmp_path / "a.ipynb")], "full", path=log)
    record_runs([NotebookRun("02_fine_tuning", 600.0, tmp_path / "b.ipynb"),
                 NotebookRun("01_data_prep", 60.0, tmp_path / "a.ipynb")], "full", path=log)
    data = json.loads(log.read_text())
    assert list(data) == ["01_data_prep", "02_fine_tuning"] and data["01_data_prep"]["seconds"] == 60.0  # rerun replaces
    assert len(data["01_data_prep"]["source_model_sha256"]) == 64
    text = render_notebook_runs(data)
    assert "| 01_data_prep | 1.0 |" in text and "| 02_fine_tuning | 10.0 |" in text and "11 minutes in all" in text
    threads = data["01_data_prep"]["machine"]["torch_threads"]
    assert f"CPU cores, {threads} torch thread{'' if threads == 1 else 's'} |" in text  # how each run was timed


def test_lab_runs_carry_each_notebooks_headline_into_the_course_table(tmp_path: Path, monkeypatch) -> None:
    from asrlab.course import runner
    from asrlab.course.report import render_notebook_runs
    from asrlab.course.runner import NotebookRun, record_runs

    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)
    save_json(tmp_path / "results" / "02_fine_tuning-lab.json", {"headline": "accent WER 55% -> 47%"})
    log = record_runs([NotebookRun("01_data_prep", 30.0, tmp_path / "a.ipynb"),
                       NotebookRun("02_fine_tuning", 420.0, tmp_path / "b.ipynb")], "lab")
    assert log == tmp_path / "results" / "notebooks-lab.json"
    data = json.loads(log.read_text())
    assert data["02_fine_tuning"]["headline"] == "accent WER 55% -> 47%" and data["01_data_prep"]["headline"] is None
    text = render_notebook_runs(data, "lab")
    assert "| 02_fine_tuning | 7.0 |" in text and text.splitlines()[2].endswith("| - |")
    assert "accent WER 55% -> 47% |" in text and "`asrlab notebooks run --size lab`" in text


def test_an_empty_generated_section_is_filled_and_refilled() -> None:
    text = "# t\n<!-- asrlab:x -->\n<!-- /asrlab:x -->\nafter\n"
    once = replace_section(text, "x", "| a |\n")
    assert once == "# t\n<!-- asrlab:x -->\n| a |\n<!-- /asrlab:x -->\nafter\n"
    assert replace_section(once, "x", "| b |") == "# t\n<!-- asrlab:x -->\n| b |\n<!-- /asrlab:x -->\nafter\n"
    with pytest.raises(KeyError, match="'y'"):
        replace_section(text, "y", "z")


def _adapters_results(adapter_wer: float, int8_rtf: float) -> dict:
    def regime(name: str, wer: float, share: float) -> dict:
        return {"regime": name, "target_wer": wer, "target_cer": wer / 3, "source_wer": 0.25, "forgetting": 0.01,
                "trainable_parameters": int(share * 1000), "trainable_share": share, "stored_bytes": 4000 * share,
                "seconds": 10.0}

    def variant(name: str, size: float, rtf: float, wer: float) -> dict:
        return {"variant": name, "size_mb": size, "rtf_1_thread": rtf, "peak_mb": 600.0, "source_wer": wer,
                "accent_wer": wer}

    return {"target": "accent", "train_minutes": 10, "budget_seconds": 4000,
            "regimes": [regime("full", 0.40, 1.0), regime("adapter", adapter_wer, 0.03)],
            "switched_off_difference": {"adapter": 0.0}, "switch_seconds": 0.0005,
            "bank": [{"adapter": "accent", "accent WER": 0.4, "telephone WER": 0.6}],
            "deployment": [variant("onnx", 9.0, 0.010, 0.300), variant("onnx int8", 2.5, int8_rtf, 0.305)],
            "chunks": [{"chunk_s": 1.0, "context_s": 0.5, "wer": 0.35, "latency_s": 1.5}],
            "machine": {"device": "cpu", "threads": 2}}


def test_render_adapters_checks_the_goals_on_the_numbers():
    from asrlab.course.report import render_adapters

    text = render_adapters(_adapters_results(adapter_wer=0.42, int8_rtf=0.008))
    assert "| adapter | 42.0 | 14.0 | 25.0 | +1.0 | 30 | 3.0 | 0 kB | 10 |" in text
    assert "| accent | 40.0 | 60.0 |" in text and "| 1.0 | 0.5 | 35.0 | 1.50 |" in text
    assert text.count("**met**") == 2                      # adapter 1.05 x full; int8 3.6x smaller, faster
    worse = render_adapters(_adapters_results(adapter_wer=0.48, int8_rtf=0.012))
    assert worse.count("**not met**") == 2                 # 1.20 x full; int8 slower than float


def test_render_whisper_board_and_goals():
    from asrlab.course.report import render_whisper

    zero = [{"domain": "accent", "decoding": "all safeguards", "wer": 0.8, "insertions": 0.2, "repeating": 0.0,
             "runaway": 0.25}]
    board = [{"domain": "accent", "regime": "all", "uses": "target labels (10 min)", "target_wer": 0.3,
              "target_wer_sd": 0.02, "seeds": 3, "relative_reduction": 0.625, "source_wer": 0.2, "forgetting": -0.01,
              "train_seconds": 300.0}]
    goal = {"regime": "all", "met": False, "strong": None,
            "weak": {"domain": "accent", "zero_shot_wer": 0.8, "tuned_wer": 0.3, "tuned_wer_sd": 0.02, "seeds": 3,
                     "relative_reduction": 0.625, "ctc_full_wer": 0.39, "met": True}}
    text = render_whisper({"zero_shot": zero, "board": board, "goal": goal, "ctc": [], "inputs": [],
                           "knobs": {"steps": 60, "batch": 8, "seeds": [0, 1, 2], "test_utts": 100}})
    assert "| accent | all safeguards | 80.0 | 20.0 | 0.0 | 25.0 |" in text
    assert "| accent | all | target labels (10 min) | 30.0 ± 2.0 | -62% | 20.0 | -1.0 | 300 |" in text
    assert "62% fewer errors" in text and "first 100 test utterances" in text and "over 3 seeds" in text


def test_corpus_table_takes_the_language_domains_built_on_demand(tmp_path: Path) -> None:
    def split(domain: str, name: str, language: str = "en") -> dict:
        return {"domain": domain, "split": name, "utterances": 10, "minutes": 1.0, "speakers": 2,
                "language": language}

    readme = tmp_path / "README.md"
    readme.write_text("<!-- asrlab:corpus -->\n?\n<!-- /asrlab:corpus -->\n")
    save_json(tmp_path / "results" / "corpus-full.json", {"splits": [split("source", "train")], "engines": {"espeak": True}})
    assert update_readme(readme, tmp_path / "results") == ["corpus"]
    assert "language" not in readme.read_text()                    # English only: no language column
    save_json(tmp_path / "results" / "corpus-full-languages.json",
              {"splits": [split("spanish", "train", "es"), split("german", "test", "de")]})
    update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert "| source | en | 1.0 |" in text and "| spanish | es | 1.0 |" in text and "| german | de | - |" in text
    assert "--domains german spanish" in text


def test_render_cross_lingual_tables():
    from asrlab.course.report import render_cross_lingual

    run = {"variant": "head, then everything", "regime": "head-then-full", "shared_rows": True, "train_minutes": 10.0,
           "epochs": 10, "steps": 300, "target_wer": 0.36, "target_cer": 0.08, "target_empty_fraction": 0.0,
           "best_dev_wer": 0.35, "trainable_parameters": 2000, "total_parameters": 2000, "seconds": 500.0,
           "first_dev_cer": 0.2}
    transfer = [run, {**run, "target_wer": 0.40, "target_cer": 0.10, "seconds": 520.0}]
    probes = [{"encoder": "English", "layer": "layer 1", "dev_cer": 0.2, "dev_wer": 0.7},
              {"encoder": "untrained", "layer": "layer 1", "dev_cer": 0.8, "dev_wer": 1.0}]
    plain = {"method": "CTC only", "mu": 0.0, "aux_dev_accuracy": None, "target_wer": 0.5, "target_cer": 0.15,
             "source_wer": 0.3, "forgetting": 0.06, "seconds": 30.0}
    replay = {**plain, "method": "source replay (rho 0.5)", "forgetting": 0.04}
    data = {"language": "es", "train_minutes": 10.0, "budget_seconds": 6000,
            "english_model": {"wer": 1.01, "cer": 0.52}, "transfer": transfer,
            "learning_curve": [run, {**run, "variant": "scratch", "target_wer": 0.95}, {**run, "train_minutes": 30.0}],
            "layer_probes": probes, "multitask": [plain], "forgetting": [plain, replay],
            "multitask_setup": {"target": "accent", "train_minutes": 10.0, "budget_seconds": 3000},
            "machine": {"device": "cpu", "threads": 2}}
    text = render_cross_lingual(data)
    assert "mean ± sd over 2 seeds" in text                                   # summarised from the per-seed rows
    assert "| head, then everything | 10 min of Spanish labels | 2,000 | 38.0 ± 2.8 | 9.0 ± 1.4 |" in text
    assert "| the English model as it is | nothing | 0 | 101.0 | 52.0 |" in text
    assert "| 10 | 36.0 | 95.0 |" in text and "| 30 | 36.0 | - |" in text   # the curve: a missing point is "-"
    assert "| layer 1 | 20.0 | 80.0 |" in text
    assert text.count("| CTC only |") == 1                                    # the shared row once
    assert "| source replay (rho 0.5) | labels, with labelled source speech |" in text and "`accent`, 10 labelled minutes, 3000 audio-seconds per run" in text

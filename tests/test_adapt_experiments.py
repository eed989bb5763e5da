"""The adaptation chapter's comparisons: the toy shift, run records, label-free choice vs the
oracle, summaries over seeds, the goal check, and a tiny end-to-end comparison with its cache."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asrlab.adapt import toy
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.course import adaptation as ax
from asrlab.course import adaptation_plots as aplot
from asrlab.manifest import read_manifest, write_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4)
QUICK = TrainConfig(epochs=100, max_steps=2, lr=3e-3, warmup_steps=0, amp=False, device="cpu", seed=0,
                    specaugment=None)
BATCH = LoaderConfig(num_workers=0, max_batch_size=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- the toy
def test_toy_mmd_grows_with_shift_and_the_unbiased_estimate_is_near_zero_without_one() -> None:
    rows = toy.mmd_versus_shift((0.0, 1.0, 2.0), n=60, repeats=8)
    assert [r["shift"] for r in rows] == [0.0, 1.0, 2.0]
    assert abs(rows[0]["unbiased"]) < 0.01 < rows[0]["biased"]
    for key in ("biased", "unbiased"):
        assert rows[0][key] < rows[1][key] < rows[2][key]


def test_toy_alignment_recovers_target_accuracy_and_dann_fools_its_discriminator() -> None:
    source_only = toy.train_toy(0, "source-only")
    dann = toy.train_toy(0, "dann")
    mmd = toy.train_toy(0, "mmd")
    assert source_only.target_accuracy < 0.9 < min(dann.target_accuracy, mmd.target_accuracy)
    assert len(dann.disc_acc) == 120 and sum(dann.disc_acc[-10:]) < sum(source_only.disc_acc[-10:])
    assert source_only.grid_p.shape == source_only.grid_x.shape == (60, 60)
    with pytest.raises(ValueError, match="unknown toy method"):
        toy.train_toy(0, "nope")


# --------------------------------------------------------------------------- choosing and summarising
def record(method: str, weight: float, target: float, source: float, dev: float, seed: int = 0,
           shift: str = "accent") -> ax.RunRecord:
    return ax.RunRecord(shift, method, seed, weight, -1, target, source,
                        {"source_dev_wer": dev, "target_entropy": 1.0 - weight / 100, "iw_risk": math.nan})


def test_choose_uses_the_label_free_score_and_the_oracle_the_test_wer() -> None:
    runs = [record("mmd", 1.0, 0.50, 0.20, 0.21), record("mmd", 10.0, 0.40, 0.25, 0.26)]
    assert ax.choose(runs, "source-dev").weight == 1.0
    assert ax.choose(runs, "entropy").weight == 10.0
    assert ax.choose(runs, "oracle").weight == 10.0
    rows = {r["rule"]: r for r in ax.selection_rows(runs)}
    assert "iw" not in rows                                      # no finite score: left out, not guessed
    assert rows["source-dev"]["gap_to_oracle"] == pytest.approx(0.10)
    assert rows["oracle"]["uses_target_labels"] and not rows["source-dev"]["uses_target_labels"]
    with pytest.raises(ValueError):
        ax.choose([], "source-dev")


def test_summarize_averages_seeds_and_compares_with_source_only() -> None:
    rows = [{"shift": "accent", "method": m, "seed": s, "target_wer": t, "source_wer": w}
            for m, s, t, w in [("source-only", 0, 0.5, 0.2), ("source-only", 1, 0.7, 0.2),
                               ("mmd", 0, 0.4, 0.205), ("mmd", 1, 0.4, 0.215)]]
    table = {r["method"]: r for r in ax.summarize(rows)}
    assert table["source-only"]["target_wer"] == pytest.approx(0.6)
    assert table["source-only"]["target_wer_std"] == pytest.approx(0.1)
    assert table["mmd"]["rel_reduction"] == pytest.approx(1 - 0.4 / 0.6)
    assert table["mmd"]["source_change"] == pytest.approx(0.01)
    assert table["mmd"]["seeds"] == 2
    goal = ax.goal_check(list(table.values()), ("mmd",), min_shifts=1, min_spreads=1.5)
    assert goal["mmd"]["shifts_met"] == ["accent"] and goal["reached"]
    assert not ax.goal_check(list(table.values()), ("mmd",), min_spreads=1.5, max_source_rise=0.005)["reached"]
    # the cut (0.2 points) is not more than twice source-only's spread over seeds (0.1)
    assert not ax.goal_check(list(table.values()), ("mmd",))["reached"]


def test_alignment_config_of_source_only_is_lambda_zero() -> None:
    assert ax.alignment_config("source-only", 5.0, -2).weight == 0.0
    assert ax.alignment_config("dann", 0.3, -1).method == "dann"
    with pytest.raises(ValueError, match="unknown method"):
        ax.alignment_config("adabn", 1.0, -1)


# --------------------------------------------------------------------------- end to end, tiny
@pytest.fixture(scope="module")
def tiny_corpus(tiny_manifest: Path, tmp_path_factory) -> Path:
    """source/{train,dev,test} and target/{train,dev,test,unlabelled} from the tiny utterances."""
    root = tmp_path_factory.mktemp("corpus")
    utts = read_manifest(tiny_manifest)
    for split in ("train", "dev", "test"):
        write_manifest(root / "source" / f"{split}.jsonl", utts)
        write_manifest(root / "target" / f"{split}.jsonl", [replace(u, domain="target") for u in utts])
    write_manifest(root / "target" / "unlabelled.jsonl", [replace(u, domain="target", split="unlabelled") for u in utts])
    return root


def test_compare_methods_end_to_end_with_cache(tiny_corpus: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    loaded = LoadedModel(build_model(TINY), FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    data = ax.load_shift(tiny_corpus, "target", loaded, max_eval=4, max_score=4)
    assert len(data.target_test) == 4 and not data.target_unlabelled.labelled
    base = ax.AlignmentConfig(disc_hidden=8, max_frames=64)
    grids = {"mmd": ((1.0, 10.0), (-1,)), "dann": ((0.5,), (-1,))}
    seen: list[ax.RunRecord] = []
    result = ax.compare_methods(loaded.model, [data], ["source-only", "mmd", "dann"], grids, QUICK, seeds=(0, 1),
                                base=base, batch=BATCH, cache_dir=tmp_path, report=seen.append)
    assert len(result.rows) == 3 * 2 and len(result.grid) == 1 + 2 + 1 and len(seen) == 4 + 3
    assert all(math.isfinite(r["target_wer"]) for r in result.rows)
    assert all(len(r.history["ctc"]) == 2 for r in result.grid)
    assert [len(r.history.get("grl_coef", [])) for r in result.grid] == [0, 0, 0, 2]
    assert {r["rule"] for r in result.selections} >= {"source-dev", "oracle"}
    # a second call reads every run from the cache: same numbers, no training
    again = ax.compare_methods(loaded.model, [data], ["source-only", "mmd", "dann"], grids, QUICK, seeds=(0, 1),
                               base=base, batch=BATCH, cache_dir=tmp_path)
    assert again.rows == result.rows and again.seconds < result.seconds
    # other settings miss the cache
    other = ax.run_one(loaded.model, data, "mmd", 1.0, -1, replace(QUICK, lr=1e-3), base=base, batch=BATCH,
                       cache_dir=tmp_path)
    assert other.scores != result.grid[1].scores or other.history != result.grid[1].history
    with pytest.raises(ValueError, match="oracle"):
        ax.compare_methods(loaded.model, [data], ["mmd"], grids, QUICK, rule="oracle")
    table = ax.summarize(result.rows)
    aplot.method_bars(table)
    aplot.lambda_sweep([r for r in result.grid_rows() if r["method"] == "mmd"])
    aplot.step_curves({r.method: r.history["disc_acc"] for r in result.grid}, "disc_acc", chance=0.5)


def test_reference_rows_keep_run_records_and_a_second_call_trains_nothing(tiny_corpus: Path, tmp_path: Path,
                                                                          monkeypatch) -> None:
    torch.manual_seed(0)
    loaded = LoadedModel(build_model(TINY), FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    data = ax.load_shift(tiny_corpus, "target", loaded, max_eval=4, max_score=4)
    kwargs = {"minutes": 0.05, "budget_seconds": 4, "seeds": (0,), "cache_dir": tmp_path}
    rows = ax.reference_rows(loaded, data, QUICK, **kwargs)
    assert [r["method"] for r in rows] == [ax.FT_FEW.format(minutes=0.05), ax.FT_ALL]
    assert all(r["uses_target_labels"] and math.isfinite(r["target_wer"]) for r in rows)
    assert len(list((tmp_path / "target").glob("reference-*.json"))) == 2

    def no_training(*args, **kwargs):
        raise AssertionError("a kept reference was trained again")

    monkeypatch.setattr(ax, "run_regime", no_training)
    assert ax.reference_rows(loaded, data, QUICK, **kwargs) == rows
    with pytest.raises(AssertionError, match="trained again"):  # another budget is another run
        ax.reference_rows(loaded, data, QUICK, **{**kwargs, "budget_seconds": 5})


def test_load_shift_names_a_missing_unlabelled_split(tmp_path: Path) -> None:
    loaded = LoadedModel(build_model(TINY), FeatureConfig(), CharVocabulary(), {})
    with pytest.raises(ValueError, match="unlabelled"):
        ax.load_shift(tmp_path, "accent", loaded)


def test_gain_lines_name_the_best_label_free_method_and_each_reference() -> None:
    summary = [
        {"shift": "noisy", "method": "source-only", "target_wer": 0.89, "rel_reduction": 0.0, "source_change": 0.0,
         "uses_target_labels": False},
        {"shift": "noisy", "method": "mmd", "target_wer": 0.87, "rel_reduction": 0.023, "source_change": -0.003,
         "uses_target_labels": False},
        {"shift": "noisy", "method": "dann", "target_wer": 0.88, "rel_reduction": 0.010, "source_change": 0.002,
         "uses_target_labels": False},
        {"shift": "noisy", "method": "fine-tune", "target_wer": 0.77, "rel_reduction": 0.137, "source_change": 0.064,
         "uses_target_labels": True},
        {"shift": "accent", "method": "mmd", "target_wer": 0.5, "rel_reduction": 0.0, "source_change": 0.0,
         "uses_target_labels": False},  # no source-only row: left out
    ]
    lines = ax.gain_lines(summary)
    assert lines[0] == "noisy: source-only has 89.0% target WER; relative to it:"
    assert "best without target labels, mmd: target WER 2.3% lower, source WER -0.3 points" in lines[1]
    assert any("fine-tune: target WER 13.7% lower, source WER +6.4 points" in line for line in lines[2:])
    assert not any(line.startswith("accent") for line in lines)


def test_disc_acc_rows_and_readable_rows() -> None:
    from asrlab.adapt.diagnostics import final_mean

    runs = [ax.RunRecord("noisy", "dann", 0, 1.0, -1, 0.8, 0.3, history={"disc_acc": [0.5] * 10 + [0.9] * 10}),
            ax.RunRecord("noisy", "mmd", 0, 1.0, -1, 0.8, 0.3, history={"ctc": [1.0]})]  # no discriminator: left out
    rows = ax.disc_acc_rows(runs, steps=10)
    assert len(rows) == 1 and rows[0]["discriminator"] == "adversary"
    assert rows[0]["first_disc_accuracy"] == pytest.approx(0.5) and rows[0]["final_disc_accuracy"] == pytest.approx(0.9)
    assert final_mean([1.0, 2.0, 3.0], steps=2) == pytest.approx(2.5) and math.isnan(final_mean([], steps=2))
    with pytest.raises(ValueError):
        final_mean([1.0], steps=0)
    assert ax.readable_rows([{"method": "dann", "uses_target_labels": False}])[0]["uses_target_labels"] == "no"


def test_asrlab_adapt_and_compare_methods_run_the_one_search(tiny_corpus: Path, tmp_path: Path, monkeypatch) -> None:
    """Both callers train through asrlab.adapt.search's trial step and, on the same data, grid and
    seed, score the same candidates alike and choose the same one."""
    import asrlab.adapt.search as search
    from asrlab.course.fine_tuning import FINETUNE_DATA

    trained: list[tuple[str, float, int]] = []
    adapt_model = search.adapt_model

    def spy(init, source, target, config, *args, **kwargs):
        trained.append((config.method, config.weight, config.layer))
        return adapt_model(init, source, target, config, *args, **kwargs)

    monkeypatch.setattr(search, "adapt_model", spy)
    torch.manual_seed(0)
    loaded = LoadedModel(build_model(TINY), FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    base = ax.AlignmentConfig(disc_hidden=8, max_frames=64)
    config = replace(QUICK, max_steps=1)
    cli = search.adapt_search(loaded, [tiny_corpus / "source" / "train.jsonl"],
                              [tiny_corpus / "target" / "unlabelled.jsonl"], "mmd", tmp_path / "cli",
                              weights=[1.0, 10.0], layers=[-1], rule="entropy",
                              source_dev=[tiny_corpus / "source" / "dev.jsonl"], train_config=config,
                              base=base, data=FINETUNE_DATA)
    data = ax.load_shift(tiny_corpus, "target", loaded)
    course = ax.compare_methods(loaded.model, [data], ["mmd"], {"mmd": ((1.0, 10.0), (-1,))}, config,
                                rule="entropy", base=base, batch=FINETUNE_DATA)
    assert trained == [("mmd", 1.0, -1), ("mmd", 10.0, -1)] * 2
    for candidate, record in zip(cli.candidates, course.grid, strict=True):
        assert candidate.name == record.name
        assert candidate.scores["target_entropy"] == pytest.approx(record.scores["target_entropy"])
    assert cli.chosen.params == {"weight": course.rows[0]["weight"], "layer": course.rows[0]["layer"]}

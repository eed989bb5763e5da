"""The fine-tuning comparisons: subsets by minutes, audio budgets, regime runs and plots."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asrlab.config import FeatureConfig, ModelConfig, RegimeConfig, TrainConfig
from asrlab.course import plots
from asrlab.course.fine_tuning import (compare_regimes, epochs_for_budget, learning_curve, rows_for_plot, subset_dataset,
                                take_minutes)
from asrlab.manifest import Utterance, read_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.recipes import make_dataset
from asrlab.text import CharVocabulary


def utts(n: int, seconds: float = 6.0) -> list[Utterance]:
    return [Utterance(f"a{i}.wav", "x", seconds, "d", "s", "train") for i in range(n)]


def test_take_minutes_is_seeded_nested_and_close_to_the_amount():
    pool = utts(100)
    one, two = take_minutes(pool, 1.0, seed=3), take_minutes(pool, 2.0, seed=3)
    assert sum(u.duration for u in one) == pytest.approx(60.0)
    assert sum(u.duration for u in two) == pytest.approx(120.0)
    assert two[:len(one)] == one                      # nested: the bigger subset extends the smaller
    assert take_minutes(pool, 1.0, seed=4) != one     # another seed, another draw
    assert take_minutes(pool, 0.01)                   # never empty


def test_take_minutes_refuses_more_than_exists():
    with pytest.raises(ValueError, match="hold 1.0 min"):
        take_minutes(utts(10), 5.0)


def test_epochs_for_budget():
    assert epochs_for_budget(60.0, 600.0) == 10
    assert epochs_for_budget(60.0, 90.0) == 2        # rounds up: at least the budget
    assert epochs_for_budget(1000.0, 10.0) == 1
    assert epochs_for_budget(1.0, 1e9, max_epochs=50) == 50
    with pytest.raises(ValueError):
        epochs_for_budget(0.0, 10.0)


@pytest.mark.slow
def test_compare_regimes_and_learning_curve_on_a_tiny_model(tiny_manifest):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0))
    init = LoadedModel(model, FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    data = make_dataset([tiny_manifest], init.features, init.vocab)
    config = TrainConfig(lr=3e-3, warmup_steps=0, specaugment=None, seed=0, device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = compare_regimes(init, ["scratch", "head", "full", "l2sp"], data, None, data, data, config,
                           budget_seconds=10.0, l2sp_alpha=1.0)
    assert [r.regime for r in rows] == ["pretrained (no training)", "scratch", "head", "full", "l2sp"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # init untouched
    head = rows[2]
    assert head.trainable_parameters < head.total_parameters
    assert all(r.epochs >= 1 and 0 <= r.target_wer and r.seconds >= 0 for r in rows[1:])
    assert rows[0].forgetting == 0.0
    assert rows[1].regime == "scratch" and rows[1].forgetting is None  # it never knew the source domain
    assert all(r.forgetting == pytest.approx(r.source_wer - rows[0].source_wer) for r in rows[2:])
    minutes = sum(u.duration for u in data.utterances) / 60
    curve = learning_curve(init, ["full"], data, [minutes / 2, minutes], None, data, data, config, budget_seconds=5.0)
    assert [round(r.train_minutes, 2) for r in curve] == sorted(round(r.train_minutes, 2) for r in curve)
    assert len(subset_dataset(data, data.utterances[:3])) == 3
    dicts = [r.as_dict() for r in rows]
    assert plots.regime_bars(rows_for_plot(dicts)).axes and plots.learning_curves([r.as_dict() for r in curve]).axes


def test_learning_curve_ticks_are_the_measured_minutes():
    rows = [{"regime": "transfer", "train_minutes": m, "target_wer": 0.5} for m in (2.02, 10.01)]
    fig = plots.learning_curves(rows + [{"regime": "scratch", "train_minutes": 10.01, "target_wer": 1.0}])
    ax = fig.axes[0]
    fig.canvas.draw()
    assert list(ax.get_xticks()) == [2.02, 10.01]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2.02", "10.01"] and not ax.get_xticks(minor=True).size


def test_regime_bars_leave_room_for_every_value_written_beside_its_bar():
    rows = [{"regime": "head", "target_wer": 0.52, "forgetting": 0.092}, {"regime": "lora", "target_wer": 0.41,
             "forgetting": -0.02}, {"regime": "scratch", "target_wer": 1.0, "forgetting": float("nan")}]
    left, right = plots.regime_bars(rows).axes[:2]
    assert left.get_xlim()[1] > 100 * 1.1 and right.get_xlim()[1] > 9.2 * 1.1 and right.get_xlim()[0] < -2.0
    assert all(np.isfinite(right.get_xlim()))                  # a NaN (no bar) does not spoil the limits


def test_plots_refuse_empty_rows():
    with pytest.raises(ValueError):
        plots.regime_bars([])
    with pytest.raises(ValueError):
        plots.learning_curves([])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")
def test_learning_curve_and_compare_regimes_honour_regime_settings(tiny_pretrained):
    """A RegimeConfig (or the settings as keywords) reaches every run; learning_curve used to drop them."""
    init, data = tiny_pretrained
    config = TrainConfig(lr=3e-3, warmup_steps=0, specaugment=None, seed=0, device="cpu")
    minutes = [sum(u.duration for u in data.utterances) / 60]
    head = sum(p.numel() for p in init.model.head.parameters())
    top1 = head + sum(p.numel() for p in init.model.encoder.blocks[-1].parameters())
    curve = learning_curve(init, [RegimeConfig("top-k", top_k=0), RegimeConfig("top-k", top_k=1)], data, minutes,
                           None, data, data, config, budget_seconds=2.0)
    assert [r.regime for r in curve] == ["top-k", "top-k"]
    assert [r.trainable_parameters for r in curve] == [head, top1]
    by_keyword = learning_curve(init, ["top-k"], data, minutes, None, data, data, config, budget_seconds=2.0, k=0)
    assert by_keyword[0].trainable_parameters == head
    rows = compare_regimes(init, [RegimeConfig("top-k", top_k=1)], data, None, data, data, config,
                           budget_seconds=2.0)
    assert rows[1].regime == "top-k" and rows[1].trainable_parameters == top1
    rows = compare_regimes(init, [RegimeConfig("top-k", top_k=1)], data, None, data, data, config,
                           budget_seconds=2.0, k=0)                 # a keyword replaces the config's setting
    assert rows[1].trainable_parameters == head

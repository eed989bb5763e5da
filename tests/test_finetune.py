"""Fine-tuning regimes: what trains, what stays put, L2-SP, and the command line."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asrlab.cli import main
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, RegimeConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.finetune import finetune, l2sp_penalty, prepare
from asrlab.manifest import read_manifest
from asrlab.models import build_model, save_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary
from asrlab.train import ParameterPenalty

CONFIG = TrainConfig(epochs=2, lr=5e-3, warmup_steps=0, specaugment=None, seed=0)
DATA = LoaderConfig(num_workers=0, max_batch_size=4)


@pytest.fixture(scope="module")
def setup(tiny_manifest: Path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=32, num_layers=2, conv_channels=4, dropout=0.0))
    init = LoadedModel(model, FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    data = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())
    return init, data


def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before: dict, model) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}


def test_head_regime_trains_a_new_head_only(setup) -> None:
    init, data = setup
    before = snapshot(init.model)
    result = finetune(init, data, "head", CONFIG, data=DATA)
    moved = changed(before, result.model)
    assert moved and all(k.startswith("head.") for k in moved)
    assert result.trainable_parameters == sum(p.numel() for p in result.model.head.parameters())
    assert all(torch.equal(v, init.model.state_dict()[k]) for k, v in before.items())  # init untouched


def test_top_k_trains_the_top_blocks_and_the_head(setup) -> None:
    init, data = setup
    result = finetune(init, data, "top-k", CONFIG, data=DATA, k=1)
    moved = changed(snapshot(init.model), result.model)
    assert any(k.startswith("encoder.rnns.1.") for k in moved) and any(k.startswith("head.") for k in moved)
    assert not any(k.startswith(("encoder.rnns.0.", "encoder.frontend.")) for k in moved)


def test_scratch_starts_from_fresh_weights(setup) -> None:
    init, _ = setup
    model, groups, reg = prepare(init.model, "scratch", seed=3)
    assert groups is None and reg is None
    assert not torch.equal(model.head.weight, init.model.head.weight)


def test_layerwise_learning_rates_shrink_with_depth(setup) -> None:
    init, _ = setup
    _, groups, _ = prepare(init.model, "layerwise", lr=1e-3, layer_decay=0.5)
    lrs = [g["lr"] for g in groups]
    assert lrs[0] == 1e-3 and lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(1e-3 * 0.5 ** 3)


def test_l2sp_penalty_is_zero_at_the_anchor_and_grows_with_distance(setup) -> None:
    init, _ = setup
    model, _, _ = prepare(init.model, "full")
    penalty = l2sp_penalty(model, alpha=1.0)
    assert float(penalty(model).detach()) == pytest.approx(0.0)
    with torch.no_grad():
        model.encoder.rnns[0].forward_gru.weight_hh_l0.add_(0.1)
    expected = 0.5 * (0.1 ** 2) * model.encoder.rnns[0].forward_gru.weight_hh_l0.numel()
    assert float(penalty(model).detach()) == pytest.approx(expected, rel=1e-4)


def test_l2sp_keeps_the_encoder_closer_to_its_start_than_plain_fine_tuning(setup) -> None:
    init, data = setup

    def drift(result) -> float:
        start = dict(init.model.encoder.named_parameters())
        return sum(float((p.detach() - start[n].detach()).pow(2).sum()) for n, p in result.model.encoder.named_parameters())

    plain = finetune(init, data, "full", CONFIG, data=DATA)
    anchored = finetune(init, data, "l2sp", CONFIG, data=DATA, l2sp_alpha=50.0)
    assert drift(anchored) < 0.7 * drift(plain)
    assert "reg" in anchored.history.steps[-1]


def test_a_regime_config_carries_the_settings_the_keywords_gave(setup) -> None:
    init, _ = setup
    trainable = lambda model: {n for n, p in model.named_parameters() if p.requires_grad}  # noqa: E731
    by_config, _, _ = prepare(init.model, RegimeConfig("top-k", top_k=1))
    by_keyword, _, _ = prepare(init.model, "top-k", k=1)
    assert trainable(by_config) == trainable(by_keyword) != trainable(prepare(init.model, "top-k")[0])
    _, groups, _ = prepare(init.model, RegimeConfig("layerwise", layer_decay=0.25), lr=1.0)
    assert [g["lr"] for g in groups][:3] == [1.0, 0.25, 0.0625]
    model, groups, penalty = prepare(init.model, RegimeConfig("l2sp", l2sp_alpha=3.0))
    assert groups is None and isinstance(penalty, ParameterPenalty) and penalty.model is model


def test_unknown_regime_is_rejected(setup) -> None:
    with pytest.raises(ValueError, match="layerwise"):
        prepare(setup[0].model, "everything")  # type: ignore[arg-type]


def test_finetune_command_writes_a_model_that_eval_accepts(setup, tiny_manifest: Path, tmp_path: Path, capsys) -> None:
    init, _ = setup
    save_model(tmp_path / "init.pt", init.model, init.features, init.vocab, {"name": "tiny"})
    out = tmp_path / "ft"
    assert main(["finetune", "--init", str(tmp_path / "init.pt"), "--train", str(tiny_manifest), "--regime", "top-k",
                 "--k", "1", "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    assert "of" in capsys.readouterr().out
    assert main(["eval", "--model", str(out), "--manifest", str(tiny_manifest), "--json"]) == 0

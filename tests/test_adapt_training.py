"""Adaptation runs on a tiny model: fit's hook, unlabelled target data, the saved model, the CLI."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import asrlab.datasets as datasets_mod
from asrlab.adapt.diagnostics import pooled_features, proxy_a_distance
from asrlab.adapt.search import DEFAULT_WEIGHTS, adapt_search
from asrlab.adapt.training import AlignmentConfig, adapt, adapt_model
from asrlab.cli import main
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.errors import CheckpointError
from asrlab.manifest import read_manifest, write_manifest
from asrlab.models import build_model, load_model, save_model
from asrlab.text import CharVocabulary

TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4)
QUICK = TrainConfig(epochs=1, max_steps=3, lr=3e-3, warmup_steps=0, amp=False, device="cpu", seed=0, specaugment=None)
DATA = LoaderConfig(num_workers=0, max_batch_size=3)
#: Text no vocabulary holds; reading it anywhere would raise.
FORBIDDEN = "§ 42 ünïcødé ¿"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def init_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("init") / "init.pt"
    save_model(path, build_model(TINY), FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    return path


@pytest.fixture(scope="module")
def target_manifest(tiny_manifest: Path, tmp_path_factory) -> Path:
    """The tiny utterances as a 'target' whose transcripts are unusable: out of vocabulary or empty."""
    utts = [replace(u, text=FORBIDDEN if i % 2 else "", domain="target")
            for i, u in enumerate(read_manifest(tiny_manifest))]
    return write_manifest(tmp_path_factory.mktemp("target") / "target.jsonl", utts)


@pytest.fixture()
def text_guard(monkeypatch):
    """Fail if anything normalises or checks a target transcript."""
    normalize, check = CharVocabulary.normalize, datasets_mod.check_utterance

    def guarded_normalize(vocab: CharVocabulary, text: str) -> str:
        assert text not in (FORBIDDEN, ""), "a target transcript was read"
        return normalize(vocab, text)

    def guarded_check(utt, *args, **kwargs):
        assert utt.domain != "target", "a target transcript was checked"
        return check(utt, *args, **kwargs)

    monkeypatch.setattr(CharVocabulary, "normalize", guarded_normalize)   # datasets normalise with their vocabulary
    monkeypatch.setattr(datasets_mod, "check_utterance", guarded_check)


@pytest.mark.parametrize("method,extra", [("mmd", {}), ("coral", {"pooling": "utterance"}), ("dann", {"layer": 0})])
def test_adapt_runs_logs_and_writes_a_loadable_model(method: str, extra: dict, init_model: Path, tiny_manifest: Path,
                                                     target_manifest: Path, tmp_path: Path, text_guard) -> None:
    config = AlignmentConfig(method=method, weight=0.5, disc_hidden=16, **extra)
    result = adapt(init_model, [tiny_manifest], [target_manifest], config, QUICK, tmp_path / "run", data=DATA)
    history = result.history
    assert len(history.steps) == 3
    for key in ("loss", "ctc", "align", "disc_acc", "disc_loss"):
        values = history.column(key)
        assert len(values) == 3 and all(math.isfinite(v) for v in values), key
    assert all(0.0 <= v <= 1.0 for v in history.column("disc_acc"))
    for row in history.steps:
        monitor = 0.0 if method == "dann" else row["disc_loss"]
        assert row["loss"] == pytest.approx(row["ctc"] + 0.5 * row["align"] + monitor, rel=1e-4)
    if method == "dann":
        coefs = history.column("grl_coef")
        assert coefs[0] == 0.0 and coefs == sorted(coefs)
    loaded = load_model(tmp_path / "run")
    assert loaded.meta["adaptation"]["method"] == method
    state = result.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())
    assert not all(torch.equal(v, load_model(init_model).model.state_dict()[k]) for k, v in state.items())


def test_pooled_features_come_back_in_dataset_order(init_model: Path, target_manifest: Path) -> None:
    loaded = load_model(init_model)
    utts = read_manifest(target_manifest)
    forward = pooled_features(loaded.model, SpeechDataset(utts, loaded.vocab, loaded.features, labelled=False))
    backward = pooled_features(loaded.model, SpeechDataset(utts[::-1], loaded.vocab, loaded.features, labelled=False))
    assert forward.shape == (len(utts), 2 * TINY.hidden)
    assert np.allclose(forward, backward[::-1], atol=1e-5)
    assert proxy_a_distance(forward, forward + 0.0) < 0.5


def test_labelled_target_data_is_refused(init_model: Path, tiny_manifest: Path) -> None:
    loaded = load_model(init_model)
    data = SpeechDataset(read_manifest(tiny_manifest), loaded.vocab, loaded.features)
    with pytest.raises(ValueError, match="unlabelled"):
        adapt_model(loaded.model, data, data, AlignmentConfig(), QUICK, data=DATA)


def test_a_run_folder_is_not_resumed_with_other_alignment_settings(init_model: Path, tiny_manifest: Path,
                                                                   target_manifest: Path, tmp_path: Path) -> None:
    one_step = replace(QUICK, max_steps=1)
    adapt(init_model, [tiny_manifest], [target_manifest], AlignmentConfig(weight=0.5, disc_hidden=8), one_step,
          tmp_path, data=DATA)
    adapt(init_model, [tiny_manifest], [target_manifest], AlignmentConfig(weight=0.5, disc_hidden=8), one_step,
          tmp_path, data=DATA)                                              # same settings: resumes
    with pytest.raises(CheckpointError, match="other alignment settings"):
        adapt(init_model, [tiny_manifest], [target_manifest], AlignmentConfig(weight=1.0, disc_hidden=8), one_step,
              tmp_path, data=DATA)


def test_adapt_command_with_fixed_settings_writes_a_model_eval_accepts(init_model: Path, tiny_manifest: Path,
                                                                       target_manifest: Path, tmp_path: Path,
                                                                       capsys) -> None:
    out = tmp_path / "adapted"
    assert main(["adapt", "--method", "coral", "--init", str(init_model), "--source", str(tiny_manifest),
                 "--target", str(target_manifest), "--out", str(out), "--lambda", "2", "--layer", "-1",
                 "--epochs", "1", "--quiet"]) == 0
    assert "chosen by source-dev" in capsys.readouterr().out
    record = json.loads((out / "adapt.json").read_text())
    assert record["uses_target_labels"] is False and record["method"] == "coral"
    assert [c["params"] for c in record["candidates"]] == [{"weight": 2.0, "layer": -1}]
    assert record["chosen"]["path"] == str(out / "model.pt")
    assert main(["eval", "--model", str(out), "--manifest", str(tiny_manifest), "--json"]) == 0


def test_adapt_search_tries_a_grid_and_selects_without_target_labels(init_model: Path, tiny_manifest: Path,
                                                                      target_manifest: Path, tmp_path: Path,
                                                                      text_guard) -> None:
    result = adapt_search(init_model, [tiny_manifest], [target_manifest], "mmd", tmp_path / "grid", layers=[-1, 0],
                          rule="iw", train_config=replace(QUICK, max_steps=1), data=DATA,
                          base=AlignmentConfig(disc_hidden=8))
    grid = [{"weight": w, "layer": l} for w in DEFAULT_WEIGHTS["mmd"] for l in (-1, -2)]
    assert [c.params for c in result.candidates] == grid
    for c in result.candidates:
        assert {"source_dev_wer", "target_entropy", "iw_risk"} <= set(c.scores)
        assert math.isfinite(c.scores["iw_risk"]) and c.scores["target_entropy"] > 0
    assert result.chosen.scores["iw_risk"] == min(c.scores["iw_risk"] for c in result.candidates)
    record = json.loads((tmp_path / "grid" / "adapt.json").read_text())
    assert record["rule"] == "iw" and record["chosen"]["name"] == result.chosen.name
    assert "held out" in record["source_dev"] and record["reference"]["name"] == "init"
    chosen = torch.load(result.chosen.path, weights_only=True)["state_dict"]
    copied = load_model(tmp_path / "grid").model.state_dict()
    assert all(torch.equal(chosen[k], v) for k, v in copied.items())

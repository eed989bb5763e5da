"""Notebook 09's chapter module on a tiny model: the bytes each regime stores per domain, an adapter
switched off is the base exactly, the adapter bank's matrix, and the regime rows with their costs."""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asrlab.config import FeatureConfig, ModelConfig, RegimeConfig, TrainConfig
from asrlab.course import adapters as ad
from asrlab.course import fine_tuning
from asrlab.datasets import SpeechDataset
from asrlab.finetune import adapter_spec, finetune, prepare
from asrlab.inference import run_model
from asrlab.manifest import read_manifest
from asrlab.models import build_model
from asrlab.models.adapter_checkpoint import AdapterWeights
from asrlab.models.adapters import is_adapter_key
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")]

EN = CharVocabulary()
FEATS = FeatureConfig()
CONFIG = TrainConfig(epochs=1, lr=5e-3, warmup_steps=0, specaugment=None, seed=0, amp=False, device="cpu")
ADAPTER, LORA = RegimeConfig("adapter", bottleneck=4), RegimeConfig("lora", rank=2)


def tiny(meta: dict | None = None) -> LoadedModel:
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0))
    return LoadedModel(model, FEATS, EN, meta or {"name": "tiny"})


@pytest.fixture(scope="module")
def init() -> LoadedModel:
    return tiny()


@pytest.fixture(scope="module")
def data(tiny_manifest: Path) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), EN, FEATS)


@pytest.fixture(scope="module")
def short(data: SpeechDataset) -> SpeechDataset:
    return SpeechDataset(data.utterances[:2], EN, FEATS)


def nbytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params)


def adapted(init: LoadedModel, settings: RegimeConfig, seed: int, scale: float = 0.5) -> torch.nn.Module:
    """``init`` with ``settings``' adapter added and its weights moved off zero (so that it changes the outputs)."""
    model, _, _ = prepare(init.model, settings)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_adapter_key(name):
                p.add_(scale * torch.randn(p.shape, generator=generator))
    return model.eval()


def largest_difference(a: torch.nn.Module, b: torch.nn.Module, dataset: SpeechDataset) -> float:
    with torch.no_grad():
        return max(float((x.log_probs - y.log_probs).abs().max())
                   for x, y in zip(run_model(a, dataset, fine_tuning.FINETUNE_DATA),
                                   run_model(b, dataset, fine_tuning.FINETUNE_DATA)))


# --------------------------------------------------------------------------- bytes per domain
def test_stored_bytes_per_regime(init: LoadedModel, short: SpeechDataset) -> None:
    whole = nbytes(init.model.parameters())
    head = nbytes(init.model.head.parameters())
    runs = {s.name if not s.train_head else "adapter+head": (s, finetune(init, short, s, CONFIG))
            for s in (RegimeConfig("head"), RegimeConfig("full"), ADAPTER, LORA, replace(ADAPTER, train_head=True))}
    stored = {name: ad.stored_bytes(result, s) for name, (s, result) in runs.items()}
    assert stored["head"] == head == len(EN) * (init.model.head.in_features + 1) * 4
    assert stored["full"] == whole
    for name in ("adapter", "lora"):
        settings, result = runs[name]
        added = [p for n, p in result.model.named_parameters() if is_adapter_key(n)]
        assert stored[name] == AdapterWeights.from_model(result.model, adapter_spec(settings)).num_bytes
        assert stored[name] == nbytes(added) > 0                # the tensors it adds, and no head
        assert stored[name] < whole / 4
    assert stored["adapter+head"] == stored["adapter"] + head     # a head that trained is stored too


def test_stored_bytes_counts_a_head_that_trained_because_the_base_had_none(short: SpeechDataset) -> None:
    """finetune trains the head of a base whose head is untrained even when the regime does not ask."""
    untrained = tiny({"name": "tiny", "head": "untrained"})
    result = finetune(untrained, short, ADAPTER, CONFIG)
    assert all(p.requires_grad for p in result.model.head.parameters())
    added = [p for n, p in result.model.named_parameters() if is_adapter_key(n)]
    assert ad.stored_bytes(result, ADAPTER) == nbytes(added) + nbytes(result.model.head.parameters())


# --------------------------------------------------------------------------- switched off is the base
@pytest.mark.parametrize("settings", [ADAPTER, LORA], ids=["adapter", "lora"])
def test_an_adapter_switched_off_is_the_base_exactly(init: LoadedModel, data: SpeechDataset,
                                                     settings: RegimeConfig) -> None:
    model = adapted(init, settings, seed=1)
    flags = [p.requires_grad for p in model.parameters()]
    base_flags = [p.requires_grad for p in init.model.parameters()]
    assert largest_difference(model, init.model, data) > 1e-3    # on, the adapter changes the outputs
    assert ad.switched_off_difference(model, init.model, data) == 0.0
    assert largest_difference(model, init.model, data) > 1e-3    # ...and is switched back on afterwards
    assert [p.requires_grad for p in model.parameters()] == flags and any(flags) and not all(flags)
    assert [p.requires_grad for p in init.model.parameters()] == base_flags
    other = copy.deepcopy(init.model)
    with torch.no_grad():
        other.head.bias[3] += 0.25
    assert ad.switched_off_difference(model, other, data) == pytest.approx(0.25, abs=0.05)


# --------------------------------------------------------------------------- the adapter bank
def test_bank_matrix_serves_each_domain_from_one_base(data: SpeechDataset, monkeypatch) -> None:
    base = tiny()
    with torch.no_grad():
        base.model.head.bias[base.vocab.blank] -= 5.0            # an untrained model that writes letters, not blanks
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    spec = adapter_spec(ADAPTER)
    models = {"north": adapted(base, ADAPTER, seed=1, scale=2.0), "south": adapted(base, ADAPTER, seed=2, scale=2.0)}
    adapters = {name: AdapterWeights.from_model(m, spec, head=False) for name, m in models.items()}
    tests = {"north": SpeechDataset(data.utterances[:4], EN, FEATS),
             "south": SpeechDataset(data.utterances[4:], EN, FEATS)}
    scored = []
    real = ad.evaluate
    monkeypatch.setattr(ad, "evaluate", lambda *a, **k: scored.append(real(*a, **k)) or scored[-1])
    rows, switch = ad.bank_matrix(base, adapters, tests, repeats=5)
    assert [r["adapter"] for r in rows] == ["none (the base)", "north", "south"]
    assert all(list(r) == ["adapter", "north WER", "south WER"] for r in rows)
    direct = [real(m, t, fine_tuning.FINETUNE_DATA) for m in (base.model, models["north"], models["south"])
              for t in tests.values()]
    assert [r.hypotheses for r in scored] == [r.hypotheses for r in direct]   # each row ran with its own adapter
    assert len({tuple(r.hypotheses) for r in direct[::2]}) == 3             # ...and the adapters write differently
    assert [[r[f"{d} WER"] for d in tests] for r in rows] == [[r.rates.wer for r in direct[i:i + 2]]
                                                               for i in (0, 2, 4)]
    assert 0.0 <= switch < 0.05
    assert all(torch.equal(before[k], v) for k, v in base.model.state_dict().items())   # the bank works on a copy


# --------------------------------------------------------------------------- the regime rows
def test_peft_rows_add_the_trainable_share_and_the_stored_bytes(init: LoadedModel, data: SpeechDataset,
                                                                short: SpeechDataset) -> None:
    regimes = ad.peft_regimes(bottleneck=4, rank=2)
    assert [(r.name, r.bottleneck, r.rank) for r in regimes] == [
        ("head", 64, 8), ("full", 64, 8), ("adapter", 4, 8), ("lora", 64, 2)]
    seconds = sum(u.duration for u in short.utterances)
    finetuned: dict = {}
    rows = ad.peft_rows(init, regimes, short, None, short, short, CONFIG, budget_seconds=seconds,
                        lrs={"adapter": 1e-2}, finetuned=finetuned)
    assert [r["regime"] for r in rows] == ["pretrained (no training)", "head", "full", "adapter", "lora"]
    assert set(finetuned) == {"head", "full", "adapter", "lora"}
    untouched, *trained = rows
    assert untouched["trainable_share"] == 0.0 and untouched["stored_bytes"] == 0
    for row, settings in zip(trained, regimes):
        assert row["trainable_share"] == pytest.approx(row["trainable_parameters"] / row["total_parameters"])
        assert row["stored_bytes"] == ad.stored_bytes(finetuned[row["regime"]], settings)
        assert row["epochs"] == 1
    by = {r["regime"]: r for r in rows}
    assert by["full"]["trainable_share"] == 1.0 and by["full"]["stored_bytes"] == nbytes(init.model.parameters())
    assert 0 < by["adapter"]["trainable_share"] < 0.25 and 0 < by["lora"]["trainable_share"] < 0.25
    assert by["adapter"]["stored_bytes"] < by["full"]["stored_bytes"] / 4
    assert by["head"]["stored_bytes"] == nbytes(init.model.head.parameters())


def test_model_bytes_counts_parameters_and_buffers() -> None:
    layer = torch.nn.BatchNorm1d(8)
    assert ad.model_bytes(layer) == (8 + 8) * 4 + (8 + 8) * 4 + 8   # weight, bias; running mean, var; count (int64)

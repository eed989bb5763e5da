"""Parameter-efficient fine-tuning: bottleneck adapters, LoRA (asrlab's GRU LoRA and peft's on linear
layers), adapter files that name and check their base, the adapter bank, and the command line."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from asrlab.cli import main
from asrlab.config import FeatureConfig, LoaderConfig, ModelConfig, RegimeConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.errors import CheckpointError
from asrlab.finetune import finetune, prepare
from asrlab.manifest import read_manifest
from asrlab.models import build_model, count_parameters, load_model, save_model, trainable_share
from asrlab.models.adapter_bank import AdapterBank
from asrlab.models.adapter_checkpoint import AdapterSpec, AdapterWeights, base_sha256, read_adapter
from asrlab.models.resolve import resolve_ctc_model
from asrlab.models.adapters import (BottleneckAdapter, adapter_state, add_adapters, load_adapter_state,
                                    set_adapters_enabled, train_adapters)
from asrlab.models.checkpoint import ADAPTER_FORMAT, LoadedModel, read_checkpoint
from asrlab.models.lora import LoRAGRU, add_lora, lora_targets, merge_lora
from asrlab.text import CharVocabulary

TINY = ModelConfig(n_mels=20, hidden=16, num_layers=2, conv_channels=4, dropout=0.0)
CONFIG = TrainConfig(epochs=2, lr=5e-3, warmup_steps=0, specaugment=None, seed=0)
DATA = LoaderConfig(num_workers=0, max_batch_size=4)


@pytest.fixture()
def base() -> nn.Module:
    torch.manual_seed(0)
    return build_model(TINY).eval()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    return torch.randn(3, 30, 20), torch.tensor([30, 21, 9])


@torch.no_grad()
def log_probs(model: nn.Module, seed: int = 1) -> torch.Tensor:
    return model.eval()(*batch(seed))[0]


def frozen(model: nn.Module) -> nn.Module:
    """A frozen copy: torch's CPU kernels round differently when no weight requires gradients, so an
    exact comparison needs the same requires_grad flags on both sides."""
    return copy.deepcopy(model).requires_grad_(False)


def perturb(model: nn.Module, std: float = 0.2) -> nn.Module:
    """Random values for every adapter and LoRA weight (as if trained)."""
    torch.manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".adapter." in name or "lora_" in name:
                p.normal_(0.0, std)
    return model


# --------------------------------------------------------------------------- bottleneck adapters
@pytest.mark.parametrize("where", ["layers", "all", [0, 2]])
def test_a_new_adapter_is_the_identity_and_switched_off_is_the_base_exactly(base, where) -> None:
    reference = log_probs(base)
    model = add_adapters(copy.deepcopy(base), bottleneck=8, where=where)
    assert torch.equal(log_probs(model), reference)                # up-projection starts at zero
    perturb(model)
    assert not torch.allclose(log_probs(model), reference, atol=1e-3)
    set_adapters_enabled(model, False)
    assert torch.equal(log_probs(model), reference)
    set_adapters_enabled(model, True)
    assert not torch.allclose(log_probs(model), reference, atol=1e-3)
    assert list(base.state_dict()) == [k for k in model.state_dict() if ".adapter." not in k]  # base names kept


def test_adapters_keep_padding_zero_and_batches_consistent(base) -> None:
    model = perturb(add_adapters(copy.deepcopy(base), bottleneck=8, where="all")).eval()
    feats, lengths = batch()
    with torch.no_grad():
        out = model.encoder(feats, lengths, return_layers=True)
        alone = model.encoder(feats[2:, :9], lengths[2:]).hidden
    for layer in out.layers:
        assert float(layer[2, 5:].abs().max()) == 0.0             # 9 frames -> 5 after subsampling
    assert torch.allclose(out.hidden[2:, :5], alone, atol=1e-5)


def test_adapters_in_a_conformer_run_after_each_layer() -> None:
    torch.manual_seed(0)
    base = build_model(ModelConfig(arch="conformer", n_mels=20, hidden=16, num_layers=2, num_heads=2, ffn_dim=32,
                                   kernel_size=3, conv_channels=4, dropout=0.0)).eval()
    reference = log_probs(base)
    model = add_adapters(copy.deepcopy(base), bottleneck=4)
    assert torch.equal(log_probs(model), reference)
    assert not torch.allclose(log_probs(perturb(model)), reference, atol=1e-3)


def test_only_adapters_train_and_their_share_is_small(base) -> None:
    model = train_adapters(add_adapters(copy.deepcopy(base), bottleneck=4))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".adapter." in n for n in trainable)
    adapters = sum(p.numel() for m in model.modules() if isinstance(m, BottleneckAdapter) for p in m.parameters())
    assert count_parameters(model, trainable_only=True) == adapters
    assert trainable_share(model) == pytest.approx(adapters / count_parameters(model)) and trainable_share(model) < 0.1
    train_adapters(model, head=True, norms=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"head.weight", "encoder.frontend.norm.weight"} <= trainable
    assert set(adapter_state(model)) == {k for k in model.state_dict() if ".adapter." in k or k.startswith("head.")}


def test_adapter_state_round_trips_and_checks_its_shape(base) -> None:
    trained = perturb(add_adapters(copy.deepcopy(base), bottleneck=8))
    state = adapter_state(trained, head=False)
    fresh = load_adapter_state(add_adapters(copy.deepcopy(base), bottleneck=8), state)
    assert torch.equal(log_probs(fresh), log_probs(trained))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_adapter_state(add_adapters(copy.deepcopy(base), bottleneck=4), state)
    with pytest.raises(ValueError, match="already has an adapter"):
        add_adapters(trained, bottleneck=8)


def test_adapters_need_a_stacked_encoder() -> None:
    with pytest.raises(ValueError, match="LoRA"):
        add_adapters(nn.Linear(3, 3))


# --------------------------------------------------------------------------- LoRA
def test_lora_starts_at_the_base_and_merges_into_plain_layers(base) -> None:
    reference = log_probs(base)
    model = add_lora(copy.deepcopy(base), rank=4, alpha=8.0)
    assert lora_targets(base) == ["encoder.frontend.proj", "encoder.rnns.0.forward_gru", "encoder.rnns.0.backward_gru",
                                  "encoder.rnns.1.forward_gru", "encoder.rnns.1.backward_gru"]
    assert isinstance(model.encoder.rnns[0].forward_gru, LoRAGRU)
    assert torch.allclose(log_probs(model), reference, atol=1e-6)   # B starts at zero
    train_adapters(model)
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    perturb(model, std=0.05)
    unmerged = log_probs(model)
    assert not torch.allclose(unmerged, reference, atol=1e-3)
    set_adapters_enabled(model, False)
    assert torch.equal(log_probs(model), log_probs(frozen(base)))
    assert all("lora_" not in n or p.requires_grad for n, p in model.named_parameters())  # flags untouched
    set_adapters_enabled(model, True)
    merged = merge_lora(model)
    assert type(merged.encoder.rnns[0].forward_gru) is nn.GRU and type(merged.encoder.frontend.proj) is nn.Linear
    assert list(merged.state_dict()) == list(base.state_dict())
    assert torch.allclose(log_probs(merged), unmerged, atol=1e-5)


def test_lora_gru_gradients_reach_only_the_low_rank_matrices(base) -> None:
    model = train_adapters(add_lora(copy.deepcopy(base), rank=2, targets=["encoder.rnns.0.forward_gru"]))
    gru = model.encoder.rnns[0].forward_gru
    perturb(model, std=0.05)
    feats, lengths = batch()
    model.train()(feats, lengths)[0].mean().backward()
    assert gru.weight_ih_l0.grad is None and gru.lora_A["weight_ih_l0"].grad is not None
    assert gru.lora_B["weight_hh_l0"].grad.abs().sum() > 0


def test_lora_rejects_what_it_cannot_adapt(base) -> None:
    with pytest.raises(ValueError, match="nn.Linear .* nn.GRU"):
        add_lora(copy.deepcopy(base), targets=["encoder.frontend.conv1"])
    with pytest.raises(ValueError, match="not a module"):
        add_lora(copy.deepcopy(base), targets=["encoder.nothing"])
    model = add_lora(copy.deepcopy(base), targets=["head"])
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model, targets=["head"])


def test_peft_lora_on_a_whisper_encoder_ctc_model() -> None:
    pytest.importorskip("whisper", reason="openai-whisper is not installed")
    pytest.importorskip("peft", reason="peft is not installed")
    dims = dict(n_mels=80, n_audio_ctx=50, n_audio_state=32, n_audio_head=2, n_audio_layer=2, n_vocab=100,
                n_text_ctx=8, n_text_state=32, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    base = build_model(ModelConfig(arch="whisper", n_mels=80, dropout=0.0, options={"dims": dims})).eval()
    feats, lengths = torch.randn(2, 60, 80), torch.tensor([60, 41])
    with torch.no_grad():
        reference = base(feats, lengths)[0]
    model = train_adapters(add_lora(copy.deepcopy(base), rank=2, alpha=4.0))
    targets = [n for n, m in model.named_modules() if hasattr(m, "lora_A")]
    assert "encoder.layers.0.attn.query" in targets and "encoder.layers.1.mlp.2" in targets
    assert 0 < trainable_share(model) < 0.1
    with torch.no_grad():
        assert torch.allclose(model.eval()(feats, lengths)[0], reference, atol=1e-6)
        perturb(model, std=0.05)
        unmerged = model(feats, lengths)[0]
        assert not torch.allclose(unmerged, reference, atol=1e-3)
        assert torch.allclose(merge_lora(model)(feats, lengths)[0], unmerged, atol=1e-5)
    assert list(model.state_dict()) == list(base.state_dict())


# --------------------------------------------------------------------------- regimes and files
@pytest.fixture(scope="module")
def setup(tiny_manifest: Path, tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=32, num_layers=2, conv_channels=4, dropout=0.0))
    init = LoadedModel(model, FeatureConfig(), CharVocabulary(), {"name": "tiny"})
    path = save_model(tmp_path_factory.mktemp("base") / "init.pt", model, init.features, init.vocab, {"name": "tiny"})
    data = SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())
    return init, data, path


@pytest.mark.parametrize("regime", ["adapter", "lora"])
def test_adapter_regimes_save_only_what_they_add_and_load_back(setup, tmp_path, regime) -> None:
    init, data, path = setup
    before = {k: v.clone() for k, v in init.model.state_dict().items()}
    result = finetune(init, data, RegimeConfig(regime, bottleneck=8, rank=2), CONFIG, data=DATA, out_dir=tmp_path,
                      base=path)
    assert all(torch.equal(v, init.model.state_dict()[k]) for k, v in before.items())   # init untouched
    assert result.trainable_parameters < 0.1 * result.total_parameters
    payload = read_checkpoint(tmp_path, formats=(ADAPTER_FORMAT,))
    assert payload["base"] == {"source": str(path.resolve()), "sha256": base_sha256(init.model, head=False),
                               "hashed": "model"}
    assert not any(k.startswith("head.") for k in payload["state_dict"])
    assert (tmp_path / "model.pt").stat().st_size < 0.5 * path.stat().st_size
    loaded = resolve_ctc_model(tmp_path)
    with pytest.raises(CheckpointError, match="resolve_model"):
        load_model(tmp_path)
    assert loaded.meta["base"] == str(path.resolve()) and loaded.meta["regime"] == regime
    assert torch.equal(log_probs_of(loaded.model, data), log_probs_of(result.model, data))
    moved = {k for k, v in result.model.state_dict().items() if k in before and not torch.equal(v, before[k])}
    assert not moved                                                                     # the base stayed frozen


def log_probs_of(model: nn.Module, data: SpeechDataset) -> torch.Tensor:
    item = data[0]
    with torch.no_grad():
        return model.eval()(item.feats[None], torch.tensor([item.feats.shape[0]]))[0]


def test_an_adapter_refuses_a_changed_base_naming_both_digests(setup, tmp_path) -> None:
    init, data, _ = setup
    base_file = save_model(tmp_path / "base.pt", init.model, init.features, init.vocab, {"name": "tiny"})
    finetune(init, data, RegimeConfig("adapter", bottleneck=4, train_head=True), replace_epochs(1), data=DATA,
             out_dir=tmp_path / "run", base=base_file)
    weights, payload = read_adapter(tmp_path / "run")
    assert weights.head and payload["base"]["hashed"] == "encoder"
    assert torch.equal(resolve_ctc_model(tmp_path / "run").model.head.weight, weights.state["head.weight"])
    changed = copy.deepcopy(init.model)
    with torch.no_grad():
        changed.encoder.rnns[0].forward_gru.weight_hh_l0.add_(0.01)
    save_model(base_file, changed, init.features, init.vocab, {"name": "tiny"})
    expected, found = payload["base"]["sha256"], base_sha256(changed, head=True)
    with pytest.raises(CheckpointError, match=f"{expected}.*{found}.*train the adapter again"):
        resolve_ctc_model(tmp_path / "run")
    base_file.unlink()
    with pytest.raises(CheckpointError, match="cannot be loaded here"):
        resolve_ctc_model(tmp_path / "run")


def replace_epochs(epochs: int) -> TrainConfig:
    from dataclasses import replace

    return replace(CONFIG, epochs=epochs)


def test_adapter_regime_needs_a_base_it_can_name(setup, tmp_path) -> None:
    init, data, _ = setup
    with pytest.raises(ValueError, match="pass base="):
        finetune(init, data, "adapter", CONFIG, data=DATA, out_dir=tmp_path)
    model, groups, extra = prepare(init.model, "lora", rank=3)
    assert groups is None and extra is None
    assert model.encoder.rnns[0].forward_gru.lora_A["weight_ih_l0"].shape[0] == 3
    with pytest.raises(ValueError, match="already has adapters"):
        prepare(model, "adapter")


def test_finetune_command_with_adapters_writes_a_small_model_that_eval_accepts(setup, tiny_manifest, tmp_path,
                                                                               capsys) -> None:
    _, _, path = setup
    out = tmp_path / "ft"
    assert main(["finetune", "--init", str(path), "--train", str(tiny_manifest), "--regime", "adapter",
                 "--bottleneck", "4", "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("adapter: ") and "kB)" in printed
    assert read_checkpoint(out, formats=(ADAPTER_FORMAT,))["spec"]["bottleneck"] == 4
    assert main(["eval", "--model", str(out), "--manifest", str(tiny_manifest), "--json"]) == 0
    assert main(["finetune", "--init", str(path), "--train", str(tiny_manifest), "--regime", "lora", "--rank", "2",
                 "--out", str(tmp_path / "lora"), "--epochs", "1", "--quiet"]) == 0
    assert read_checkpoint(tmp_path / "lora", formats=(ADAPTER_FORMAT,))["spec"]["rank"] == 2


# --------------------------------------------------------------------------- one base, many domains
def test_the_bank_switches_domains_exactly(base) -> None:
    spec = AdapterSpec("adapter", bottleneck=8)
    domains = {}
    for seed, name in ((1, "a"), (2, "b")):
        model = spec.apply(copy.deepcopy(base))
        torch.manual_seed(seed)
        with torch.no_grad():
            for key, p in model.named_parameters():
                if ".adapter." in key or (name == "b" and key.startswith("head.")):
                    p.normal_(0.0, 0.2)
        domains[name] = (AdapterWeights.from_model(model, spec, head=name == "b",
                                                   base_sha256=base_sha256(base, head=name == "b")),
                         log_probs(model))
    loaded = LoadedModel(base, FeatureConfig(n_mels=20), CharVocabulary(), {"name": "tiny"})
    bank = AdapterBank(loaded)
    reference = log_probs(base)
    for name, (weights, _) in domains.items():
        bank.add(name, weights)
    assert bank.names == ["a", "b"] and bank.active is None
    assert torch.equal(log_probs(bank.model), reference)
    seconds = [bank.use("a"), bank.use("b"), bank.use("a")]
    assert all(0 <= s < 1 for s in seconds)
    assert torch.equal(log_probs(bank.model), domains["a"][1])
    bank.use("b")
    assert torch.equal(log_probs(bank.model), domains["b"][1])
    bank.use(None)                                                      # b's head is put back too
    assert torch.equal(log_probs(bank.model), reference)
    assert list(base.state_dict()) == list(copy.deepcopy(base).state_dict())   # the caller's model is left alone
    with pytest.raises(ValueError, match="one kind and size"):
        bank.add("c", AdapterWeights(AdapterSpec("adapter", bottleneck=4), {}, None))
    with pytest.raises(CheckpointError, match="sha256"):
        bank.add("d", AdapterWeights(spec, domains["a"][0].state, "0" * 64))
    with pytest.raises(KeyError, match="no domain"):
        bank.use("e")

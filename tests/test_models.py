"""CTC models (DS2, Conformer) and model checkpoints."""
from __future__ import annotations

import pytest
import torch

from asrlab.config import FeatureConfig, ModelConfig
from asrlab.errors import CheckpointError
from asrlab.models import build_model, count_parameters, load_model, save_model
from asrlab.models.checkpoint import load_state, read_checkpoint
from asrlab.text import CharVocabulary

CONFIGS = {
    "ds2": ModelConfig(arch="ds2", n_mels=40, hidden=24, num_layers=2, conv_channels=4, dropout=0.0),
    "conformer": ModelConfig(arch="conformer", n_mels=40, hidden=32, num_layers=2, conv_channels=4,
                             dropout=0.0, num_heads=2, ffn_dim=48, kernel_size=7),
}


def make(arch: str, seed: int = 0, **changes) -> torch.nn.Module:
    from dataclasses import replace

    torch.manual_seed(seed)
    return build_model(replace(CONFIGS[arch], **changes)).eval()


def inputs(lengths=(37, 50, 20), n_mels: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor(lengths)
    feats = torch.randn(len(lengths), int(lengths.max()), n_mels, generator=torch.Generator().manual_seed(0))
    return feats * (torch.arange(feats.shape[1])[None, :, None] < lengths[:, None, None]), lengths


@pytest.mark.parametrize("arch", ["ds2", "conformer"])
def test_output_shapes_and_lengths(arch):
    model = make(arch)
    feats, lengths = inputs()
    log_probs, out_lens = model(feats, lengths)
    assert log_probs.shape == (3, 25, 29)                        # ceil(50 / 2) frames
    assert out_lens.tolist() == [19, 25, 10]                     # ceil(T / 2)
    assert model.subsampling == 2
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 25), atol=1e-5)
    assert model.encoder.output_lengths(torch.tensor([1, 2, 3, 101])).tolist() == [1, 1, 2, 51]


@pytest.mark.parametrize("arch", ["ds2", "conformer"])
def test_return_encoder_gives_every_layer_zero_past_lengths(arch):
    model = make(arch)
    feats, lengths = inputs()
    log_probs, out_lens, enc = model(feats, lengths, return_encoder=True)
    cfg = CONFIGS[arch]
    assert len(enc.layers) == cfg.num_layers + 1
    assert torch.equal(enc.lengths, out_lens)
    assert torch.equal(enc.layers[-1], enc.hidden)
    assert enc.hidden.shape == (3, 25, model.encoder.output_dim)
    for layer in enc.layers:
        assert layer.shape[:2] == (3, 25)
        for i, n in enumerate(out_lens.tolist()):
            assert torch.all(layer[i, n:] == 0)
            assert layer[i, :n].abs().sum() > 0
    plain, _ = model(feats, lengths)
    assert torch.equal(plain, log_probs)
    assert model(feats, lengths)[0].shape == log_probs.shape
    assert model.encoder(feats, lengths).layers == []          # not asked for: empty


@pytest.mark.parametrize("arch", ["ds2", "conformer"])
def test_blocks_cover_the_encoder_in_order(arch):
    model = make(arch)
    blocks = model.encoder.blocks
    assert len(blocks) == CONFIGS[arch].num_layers + 1
    assert blocks[0] is model.encoder.frontend
    in_blocks = {id(p) for b in blocks for p in b.parameters()}
    assert in_blocks == {id(p) for p in model.encoder.parameters()}


def test_build_model_rejects_unknown_arch_and_counts():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(ModelConfig(arch="lstm"))  # type: ignore[arg-type]
    model = make("ds2")
    total = count_parameters(model)
    for p in model.head.parameters():
        p.requires_grad_(False)
    head = sum(p.numel() for p in model.head.parameters())
    assert count_parameters(model, trainable_only=True) == total - head


# --------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("arch", ["ds2", "conformer"])
def test_save_load_round_trip(tmp_path, arch):
    model = make(arch, seed=3)
    features = FeatureConfig(n_mels=40)
    path = save_model(tmp_path / "m" / "model.pt", model, features, CharVocabulary(), {"note": "hi"})
    loaded = load_model(tmp_path / "m")                      # a folder finds model.pt
    assert loaded.features == features and loaded.vocab == CharVocabulary()
    assert loaded.meta == {"note": "hi"}
    assert loaded.model.config == model.config
    feats, lengths = inputs()
    loaded.model.eval()
    assert torch.equal(loaded.model(feats, lengths)[0], model(feats, lengths)[0])
    payload = torch.load(path, weights_only=True)            # no pickled classes
    assert payload["format"] == "asrlab-ctc"
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]   # no temp file


def test_load_with_expected_config(tmp_path):
    model = make("ds2")
    save_model(tmp_path / "model.pt", model, FeatureConfig(n_mels=40), CharVocabulary())
    assert load_model(tmp_path / "model.pt", config=CONFIGS["ds2"]).model.config == model.config
    other = ModelConfig(arch="ds2", n_mels=40, hidden=48, num_layers=2, conv_channels=4, dropout=0.0)
    with pytest.raises(CheckpointError, match="another model config") as info:
        load_model(tmp_path / "model.pt", config=other)
    assert "hidden" in str(info.value) and "(48, 24)" in str(info.value)
    assert str(tmp_path / "model.pt") in str(info.value)


def test_load_state_into_a_differently_sized_model(tmp_path):
    small = make("ds2")
    save_model(tmp_path / "model.pt", small, FeatureConfig(n_mels=40), CharVocabulary())
    state = read_checkpoint(tmp_path / "model.pt")["state_dict"]
    bigger = make("ds2", hidden=48)
    with pytest.raises(CheckpointError, match="does not fit this model") as info:
        load_state(bigger, state, source="small.pt")
    assert "small.pt" in str(info.value) and "shape mismatches" in str(info.value)
    deeper = make("ds2", num_layers=3)
    with pytest.raises(CheckpointError, match=r"missing \['encoder.rnns.2"):
        load_state(deeper, state, source="small.pt")
    conformer = make("conformer")
    with pytest.raises(CheckpointError, match="unexpected"):
        load_state(conformer, state, source="small.pt")


def test_garbage_and_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="cannot load") as info:
        load_model(garbage)
    assert str(garbage) in str(info.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an asrlab model file"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "absent.pt")


# --------------------------------------------------------------------------- resolving a model by name
def test_resolve_model_loads_files_passes_loaded_models_and_names_what_it_accepts(tmp_path) -> None:
    from asrlab.models.resolve import resolve_ctc_model, resolve_model

    path = save_model(tmp_path / "run" / "model.pt", build_model(ModelConfig().smoke()), FeatureConfig(),
                      CharVocabulary())
    loaded = resolve_model(tmp_path / "run")
    assert resolve_model(loaded) is loaded and resolve_ctc_model(loaded) is loaded
    assert resolve_ctc_model(str(path)).vocab.symbols == loaded.vocab.symbols
    with pytest.raises(FileNotFoundError, match="asrlab-source"):
        resolve_model(tmp_path / "missing")


def test_a_model_with_its_own_decoder_is_refused_where_ctc_is_needed() -> None:
    from asrlab.models.resolve import own_decoder_error, resolve_ctc_model
    from asrlab.models.zoo import ZeroShotModel

    whisper = ZeroShotModel("whisper-tiny.en", model=None, meta={})
    with pytest.raises(ValueError, match="whisper-tiny.en decodes with its own decoder; fine-tune its CTC"):
        resolve_ctc_model(whisper, "fine-tune its CTC variant")
    assert "use its CTC variant" in str(own_decoder_error("whisper-tiny.en"))

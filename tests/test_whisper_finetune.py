"""Whisper fine-tuned end to end (asrlab.models.whisper_seq2seq, asrlab.models.whisper_tuned,
asrlab.whisper_finetune), on a tiny random Whisper built here: no network, seconds."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed")

from asrlab.errors import CheckpointError  # noqa: E402
from asrlab.hallucination import hallucination_stats, repeated_ngram  # noqa: E402
from asrlab.models.whisper_seq2seq import (  # noqa: E402
    IGNORE, NO_SAFEGUARDS, Safeguards, apply_freezing, decoder_logits, encode, greedy_decode, log_mel_batch,
    seq2seq_loss, text_targets, token_cap, whisper_tokenizer, window_decode,
)
from asrlab.models.whisper_tuned import is_tuned_whisper, load_tuned_whisper, save_tuned_whisper  # noqa: E402
from asrlab.whisper_finetune import Labelled, WhisperTuneConfig, finetune_whisper, transcribe  # noqa: E402

TINY_DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=2,
                 n_vocab=51864, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=2)


@pytest.fixture(scope="module")
def tiny() -> "whisper.model.Whisper":
    torch.manual_seed(0)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**TINY_DIMS))
    with torch.no_grad():   # openai-whisper leaves the decoder's positional embedding uninitialised (torch.empty)
        model.decoder.positional_embedding.normal_(0.0, 0.02)
    return model.eval()


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return whisper_tokenizer(tiny)


def _tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(16_000 * seconds)) / 16_000
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --------------------------------------------------------------------------- targets
def test_targets_hold_the_prompt_the_text_and_the_end(tokenizer):
    out = text_targets(tokenizer, ["hello world", "hi"])
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    text = tokenizer.encode(" hello world")
    assert out.inputs[0].tolist() == prompt + text                      # the model reads the prompt, then the text
    assert out.targets[0].tolist() == [IGNORE] * (len(prompt) - 1) + text + [tokenizer.eot]  # ... and predicts text, eot
    short = len(prompt) + len(tokenizer.encode(" hi"))
    assert out.lengths.tolist() == [len(prompt) + len(text), short]
    assert (out.targets[1, short:] == IGNORE).all() and (out.inputs[1, short:] == tokenizer.eot).all()  # padding
    assert out.targets[1, short - 1] == tokenizer.eot


@pytest.mark.parametrize("texts, message", [([], "no transcripts"), (["ok", " "], "transcript 1 is empty")])
def test_targets_refuse_empty_input(tokenizer, texts, message):
    with pytest.raises(ValueError, match=message):
        text_targets(tokenizer, texts)


def test_targets_refuse_text_longer_than_the_decoder(tokenizer):
    with pytest.raises(ValueError, match="split the utterance"):
        text_targets(tokenizer, ["word " * 50], max_tokens=20)


# --------------------------------------------------------------------------- model
def test_masked_decoder_is_whispers_decoder_without_padding(tiny):
    feats, lengths = log_mel_batch([_tone(1.0, 300.0)])
    audio, audio_lengths = encode(tiny, feats, lengths)
    tokens = torch.tensor([[50257, 50362, 464, 3797]])
    with torch.no_grad():
        torch.testing.assert_close(decoder_logits(tiny, tokens, audio, audio_lengths), tiny.decoder(tokens, audio),
                                   atol=1e-4, rtol=1e-4)


def test_padding_does_not_change_an_utterance(tiny):
    short, long = _tone(0.5, 300.0), _tone(1.5, 500.0)
    tokens = torch.tensor([[50257, 50362, 464]])
    with torch.no_grad():
        alone = decoder_logits(tiny, tokens, *encode(tiny, *log_mel_batch([short])))
        audio, audio_lengths = encode(tiny, *log_mel_batch([short, long]))
        batched = decoder_logits(tiny, tokens.repeat(2, 1), audio, audio_lengths)
    torch.testing.assert_close(batched[:1], alone, atol=1e-4, rtol=1e-4)


def test_log_mel_batch_refuses_bad_waves():
    with pytest.raises(ValueError, match="non-empty"):
        log_mel_batch([np.zeros(0, dtype=np.float32)])
    with pytest.raises(ValueError, match="longer than Whisper's 30 s window"):
        log_mel_batch([np.zeros(31 * 16_000, dtype=np.float32)])
    feats, lengths = log_mel_batch([_tone(0.5, 300.0)], window=True)
    assert feats.shape == (1, 3000, 80) and lengths.tolist() == [3000]


@pytest.mark.parametrize("freezing, trains", [
    ("decoder", ("decoder.",)), ("top-encoder", ("decoder.", "encoder.blocks.1.", "encoder.ln_post.")),
    ("all", ("",))])
def test_freezing_trains_what_it_says(tiny, freezing, trains):
    import copy

    model = apply_freezing(copy.deepcopy(tiny), freezing, top_layers=1)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {n for n, _ in model.named_parameters() if n.startswith(trains)}
    assert trained == expected and trained
    with pytest.raises(ValueError, match="top_layers"):
        apply_freezing(copy.deepcopy(tiny), "top-encoder", top_layers=3)
    with pytest.raises(ValueError, match="unknown freezing"):
        apply_freezing(copy.deepcopy(tiny), "head")


def test_token_cap():
    assert token_cap(2.0, 6.0) == 16 and token_cap(0.1, 6.0, slack=0) == 1
    with pytest.raises(ValueError):
        token_cap(0.0, 6.0)


# --------------------------------------------------------------------------- training and decoding
TEXTS = ["the cat sat", "a red boat sails"]


@pytest.fixture(scope="module")
def overfit(tiny):
    train = Labelled([_tone(0.8, 300.0), _tone(1.2, 700.0)], TEXTS)
    config = WhisperTuneConfig(freezing="all", lr=3e-3, steps=40, batch_size=2, warmup_steps=2)
    return finetune_whisper(tiny, train, config), train


def test_loss_falls_and_the_model_learns_two_utterances(overfit, tokenizer):
    result, train = overfit
    assert np.mean(result.losses[-5:]) < 0.2 * result.losses[0], result.losses
    texts = transcribe(result.model, train.waves, tokens_per_second=10.0)
    assert texts == TEXTS


def test_finetune_leaves_the_base_untouched(tiny):
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    train = Labelled([_tone(0.8, 300.0)], ["the cat sat"])
    tuned = finetune_whisper(tiny, train, WhisperTuneConfig(steps=2, batch_size=1, lr=1e-3)).model
    assert not torch.equal(tuned.decoder.token_embedding.weight, tiny.decoder.token_embedding.weight)
    for name, value in tiny.state_dict().items():
        assert torch.equal(value, before[name]), name                  # the base is as it was
    assert all(p.requires_grad for p in tiny.parameters())


def test_greedy_decode_stops_at_the_cap(tiny, tokenizer):
    feats, lengths = log_mel_batch([_tone(1.0, 300.0), _tone(1.0, 500.0)])
    texts = greedy_decode(tiny, feats, lengths, tokenizer, [3, 1])   # an untrained model never says eot
    assert [len(tokenizer.encode(" " + t)) <= c + 1 for t, c in zip(texts, [3, 1])] == [True, True]
    with pytest.raises(ValueError, match="token caps"):
        greedy_decode(tiny, feats, lengths, tokenizer, [3])


def test_window_decode_caps_length(tiny):
    waves = [_tone(0.5, 300.0)]
    plain = window_decode(tiny, waves, NO_SAFEGUARDS)
    capped = window_decode(tiny, waves, Safeguards(tokens_per_second=2.0, temperatures=(0.0,)))
    assert len(capped) == 1 and len(capped[0]) <= len(plain[0])


def test_l2sp_keeps_weights_closer(tiny):
    train = Labelled([_tone(0.8, 300.0)], ["the cat sat"])
    common = dict(freezing="decoder", lr=3e-3, steps=8, batch_size=1, warmup_steps=1)
    free = finetune_whisper(tiny, train, WhisperTuneConfig(**common)).model
    held = finetune_whisper(tiny, train, WhisperTuneConfig(**common, l2sp_alpha=50.0)).model

    def drift(model):
        return sum((p - q).pow(2).sum() for p, q in zip(model.decoder.parameters(), tiny.decoder.parameters()))
    assert drift(held) < drift(free)


def test_replay_needs_source(tiny):
    train = Labelled([_tone(0.8, 300.0)], ["a"])
    with pytest.raises(ValueError, match="needs labelled source"):
        finetune_whisper(tiny, train, WhisperTuneConfig(replay=2, steps=1))
    with pytest.raises(ValueError, match="unknown freezing"):
        WhisperTuneConfig(freezing="head")
    with pytest.raises(ValueError, match="waves but"):
        Labelled([_tone(0.8, 300.0)], [])


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_stores_only_what_changed_and_round_trips(tiny, tmp_path):
    train = Labelled([_tone(0.8, 300.0)], ["the cat sat"])
    tuned = finetune_whisper(tiny, train, WhisperTuneConfig(freezing="decoder", steps=2, batch_size=1)).model
    path = save_tuned_whisper(tmp_path, tuned, "tiny-test", tiny, meta={"input": "variable"})
    assert path.name == "model.pt" and is_tuned_whisper(tmp_path) and not is_tuned_whisper(tmp_path / "nope")
    payload = torch.load(path, weights_only=True)
    assert payload["base"] == "tiny-test" and payload["changed"]
    assert all(name.startswith("decoder.") for name in payload["changed"])   # the frozen encoder is not stored
    loaded, meta = load_tuned_whisper(path, load_base=lambda name: tiny)
    assert meta == {"input": "variable", "base": "tiny-test"}
    for (name, a), b in zip(tuned.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


def test_checkpoint_refuses_other_files(tiny, tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"format": "asrlab-ctc"}, other)
    with pytest.raises(CheckpointError, match="not a fine-tuned Whisper file"):
        load_tuned_whisper(other, load_base=lambda name: tiny)
    wrong = tmp_path / "wrong.pt"
    torch.save({"format": "asrlab-whisper-tuned", "base": "x", "dims": {**asdict(tiny.dims), "n_text_layer": 9},
                "changed": {}, "meta": {}}, wrong)
    with pytest.raises(CheckpointError, match="dimensions"):
        load_tuned_whisper(wrong, load_base=lambda name: tiny)


# --------------------------------------------------------------------------- hallucination measures
def test_hallucination_stats():
    stats = hallucination_stats(["a b c", "d e"], ["a b c x y z x y z", "d e"])
    assert stats["insertions"] == pytest.approx(6 / 5) and stats["length_ratio"] == pytest.approx(11 / 5)
    assert stats["repeating"] == 0.5 and stats["runaway"] == 0.5
    assert repeated_ngram("go go go go", 2) and not repeated_ngram("a b c d", 2)


def test_decoder_cache_gives_the_full_decoders_logits(tiny):
    from asrlab.models.whisper_seq2seq import DecoderCache

    audio, audio_lengths = encode(tiny, *log_mel_batch([_tone(0.5, 300.0), _tone(1.5, 500.0)]))
    tokens = torch.tensor([[50257, 50362, 464, 3797], [50257, 50362, 1110, 13]])
    with torch.no_grad():
        full = decoder_logits(tiny, tokens, audio, audio_lengths)
        cache = DecoderCache(tiny, audio, audio_lengths)
        steps = torch.stack([cache.step(tokens[:, i]) for i in range(tokens.shape[1])], 1)
    torch.testing.assert_close(steps, full, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- command line
@pytest.fixture()
def tiny_zoo(tiny, monkeypatch):
    """``load_pretrained("whisper-tiny.en")`` gives the tiny random Whisper (no weights needed)."""
    from asrlab.models import zoo

    monkeypatch.setattr(zoo, "load_pretrained", lambda name: zoo.ZeroShotModel(name, tiny, {"name": name}))
    return tiny


def _manifest(tmp_path, items, name="train.jsonl"):
    import json

    from asrlab.audio import save_audio

    lines = []
    for i, (wave, text) in enumerate(items):
        path = tmp_path / f"{name}-{i}.wav"
        save_audio(path, wave)
        lines.append(json.dumps({"audio": path.name, "text": text, "duration": len(wave) / 16_000,
                                 "domain": "accent", "speaker": "s", "split": "train"}))
    manifest = tmp_path / name
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_cli_finetunes_whisper_end_to_end_then_evaluates_and_transcribes(tiny_zoo, tmp_path, capsys):
    from asrlab.cli import main

    manifest = _manifest(tmp_path, [(_tone(0.8, 300.0), "the cat sat"), (_tone(1.2, 700.0), "a red boat")])
    out = tmp_path / "run"
    assert main(["finetune", "--init", "whisper-tiny.en", "--train", str(manifest), "--regime", "head",
                 "--steps", "2", "--batch-size", "2", "--out", str(out), "--quiet"]) == 0
    assert "whisper-tiny.en head" in capsys.readouterr().out
    payload = torch.load(out / "model.pt", weights_only=True)
    assert payload["base"] == "whisper-tiny.en" and payload["meta"]["input"] == "variable"
    assert payload["changed"] and all(k.startswith("decoder.") for k in payload["changed"])  # head: the decoder
    assert main(["eval", "--model", str(out), "--manifest", str(manifest), "--json"]) == 0
    assert '"wer"' in capsys.readouterr().out
    assert main(["transcribe", "--model", str(out), str(tmp_path / "train.jsonl-0.wav")]) == 0
    assert "train.jsonl-0.wav\t" in capsys.readouterr().out


def test_cli_refuses_what_whisper_cannot_train_on(tiny_zoo, tmp_path, capsys):
    from asrlab.cli import main

    manifest = _manifest(tmp_path, [(_tone(0.8, 300.0), "the cat sat")])
    args = ["finetune", "--init", "whisper-tiny.en", "--train", str(manifest), "--steps", "1", "--quiet"]
    assert main(args + ["--regime", "scratch", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "'scratch' does not apply to Whisper" in err and "head (the decoder" in err
    long = _manifest(tmp_path, [(_tone(0.8, 300.0), "ok"), (np.zeros(31 * 16_000, np.float32), "too long")], "long.jsonl")
    assert main(["finetune", "--init", "whisper-tiny.en", "--train", str(long), "--regime", "full", "--quiet",
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "long.jsonl, line 2" in err and "longer than Whisper's 30 s window; split it or remove the line" in err
    empty = _manifest(tmp_path, [(_tone(0.8, 300.0), " ")], "empty.jsonl")
    assert main(["finetune", "--init", "whisper-tiny.en", "--train", str(empty), "--regime", "full", "--quiet",
                 "--out", str(tmp_path / "c")]) == 2
    assert "empty.jsonl, line 1: empty transcript" in capsys.readouterr().err


def test_regime_config_maps_the_cli_regimes():
    from asrlab.whisper_finetune import regime_config

    assert regime_config("head").freezing == "decoder"
    assert (regime_config("top-k", k=3).freezing, regime_config("top-k", k=3).top_layers) == ("top-encoder", 3)
    assert regime_config("l2sp", l2sp_alpha=0.5).l2sp_alpha == 0.5 and regime_config("full").l2sp_alpha == 0.0
    with pytest.raises(ValueError, match="does not apply to Whisper"):
        regime_config("layerwise")


def test_window_loss_is_whispers_own_cross_entropy(tiny, tokenizer):
    import torch.nn.functional as F

    waves = [_tone(0.5, 300.0), _tone(0.9, 500.0)]
    feats, lengths = log_mel_batch(waves, window=True)
    targets = text_targets(tokenizer, ["the cat sat", "a"])
    with torch.no_grad():
        loss = seq2seq_loss(tiny, feats, lengths, targets, window=True)
        logits = tiny(feats.transpose(1, 2), targets.inputs)           # openai-whisper's own forward
        expected = F.cross_entropy(logits.transpose(1, 2), targets.targets, ignore_index=IGNORE)
    torch.testing.assert_close(loss, expected, atol=1e-4, rtol=1e-4)

"""SpeechDataset checks, length-bucketed batching, collation, and padding invariance."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from asrlab.audio import save_audio
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig
from asrlab.datasets import (Batch, BucketBatchSampler, SpeechDataset, collate, make_loader, min_ctc_frames,
                             pack_batches)
from asrlab.decoding.greedy import greedy_decode
from asrlab.errors import AudioError, TranscriptError
from asrlab.features import FeatureCache, log_mel
from asrlab.manifest import read_manifest
from asrlab.models import build_model
from asrlab.text import CharVocabulary

VOCAB = CharVocabulary()
FEATS = FeatureConfig()


def tone_file(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 16_000)) / 16_000
    save_audio(path, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return path


def manifest(tmp_path: Path, rows: list[tuple[str, float, str]]) -> Path:
    """Rows of (audio name, seconds or 0 for no file, text) -> a manifest; returns its path."""
    lines = []
    for name, seconds, text in rows:
        if seconds:
            tone_file(tmp_path / name, seconds)
        lines.append(json.dumps({"audio": name, "text": text, "duration": seconds or 1.0,
                                 "domain": "d", "speaker": "s", "split": "train"}))
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def dataset(path: Path, **kwargs) -> SpeechDataset:
    return SpeechDataset(read_manifest(path), VOCAB, FEATS, **kwargs)


# --------------------------------------------------------------------------- SpeechDataset
def test_dataset_on_tiny_manifest(tiny_manifest, tmp_path):
    utts = read_manifest(tiny_manifest)
    ds = SpeechDataset(utts, VOCAB, FEATS, cache=FeatureCache(tmp_path, FEATS))
    assert len(ds) == 8 and ds.skipped == []
    ex = ds[2]
    assert ex.text == "seven green apples" and ex.id == "test-train-002" and ex.domain == "test"
    assert VOCAB.decode(ex.tokens.tolist()) == ex.text
    assert ex.feats.shape[1] == 80
    assert ex.feats.shape[0] == round(utts[2].duration * 16_000) // 160 + 1
    lengths = ds.frame_lengths()
    assert all(abs(n - len(ds[i].feats)) <= 1 for i, n in enumerate(lengths))


def test_characters_outside_the_vocabulary(tmp_path):
    path = manifest(tmp_path, [("a.wav", 1.0, "hello"), ("b.wav", 1.0, "Room 101")])
    with pytest.raises(TranscriptError) as info:
        dataset(path)
    message = str(info.value)
    assert f"{path}:2" in message and "'0'" in message and "'1'" in message


def test_empty_transcript(tmp_path):
    path = manifest(tmp_path, [("a.wav", 1.0, " ?! ")])       # empty once normalised
    with pytest.raises(TranscriptError, match="empty transcript") as info:
        dataset(path)
    assert f"{path}:1" in str(info.value)


def test_transcript_too_long_for_the_audio(tmp_path):
    text = "this sentence is far too long to be spoken in three tenths of a second"
    path = manifest(tmp_path, [("a.wav", 1.0, "fine"), ("short.wav", 0.3, text)])
    with pytest.raises(TranscriptError, match="CTC frames") as info:
        dataset(path)
    assert f"{path}:2" in str(info.value) and "short.wav" in str(info.value)


def test_min_ctc_frames_counts_repeats():
    assert min_ctc_frames(VOCAB.encode("abc")) == 3
    assert min_ctc_frames(VOCAB.encode("hello")) == 6          # "ll" needs a blank between
    assert min_ctc_frames(VOCAB.encode("aaa")) == 5


def test_missing_audio_names_the_file(tmp_path):
    path = manifest(tmp_path, [("a.wav", 1.0, "hello"), ("gone.wav", 0, "hello")])
    with pytest.raises(AudioError) as info:
        dataset(path)
    assert str(tmp_path / "gone.wav") in str(info.value)
    assert len(SpeechDataset(read_manifest(path), VOCAB, FEATS, on_bad="skip")) == 1
    with pytest.raises(AudioError):
        SpeechDataset(read_manifest(path), VOCAB, FEATS, labelled=False)


def test_on_bad_skip_counts_skips(tmp_path):
    path = manifest(tmp_path, [
        ("a.wav", 1.0, "hello"), ("b.wav", 1.0, "room 101"), ("c.wav", 1.0, ""),
        ("d.wav", 0.3, "a very long transcript that cannot fit at all"), ("e.wav", 0, "missing"),
        ("f.wav", 1.0, "world"),
    ])
    ds = dataset(path, on_bad="skip")
    assert len(ds) == 2 and [u.id for u in ds.utterances] == ["a", "f"]
    assert len(ds.skipped) == 4
    assert [Path(audio).name for audio, _ in ds.skipped] == ["b.wav", "c.wav", "d.wav", "e.wav"]
    assert "outside the vocabulary" in ds.skipped[0][1]
    assert [VOCAB.decode(t) for t in ds.tokens] == ["hello", "world"]


def test_all_bad_is_an_error(tmp_path):
    path = manifest(tmp_path, [("b.wav", 1.0, "room 101")])
    with pytest.raises(ValueError, match="no usable utterances"):
        dataset(path, on_bad="skip")


def test_unlabelled_dataset_ignores_text(tmp_path):
    path = manifest(tmp_path, [("a.wav", 1.0, "room 101 !!"), ("b.wav", 0.5, "")])
    ds = dataset(path, labelled=False)
    assert len(ds) == 2
    ex = ds[0]
    assert ex.text == "" and ex.tokens.shape == (0,)
    batch = collate([ds[0], ds[1]])
    assert batch.token_lens.tolist() == [0, 0] and batch.tokens.shape == (2, 1)


# --------------------------------------------------------------------------- collate
def test_collate_pads_and_keeps_lengths(tmp_path):
    path = manifest(tmp_path, [("a.wav", 1.0, "hi"), ("b.wav", 0.5, "hello there"), ("c.wav", 0.75, "x")])
    ds = dataset(path)
    examples = [ds[i] for i in range(3)]
    batch = collate(examples)
    assert isinstance(batch, Batch) and batch.size == 3
    assert batch.feat_lens.tolist() == [101, 51, 76]
    assert batch.feats.shape == (3, 101, 80)
    assert batch.token_lens.tolist() == [2, 11, 1] and batch.tokens.shape == (3, 11)
    for i, ex in enumerate(examples):
        n, u = len(ex.feats), len(ex.tokens)
        assert torch.equal(batch.feats[i, :n], ex.feats) and torch.all(batch.feats[i, n:] == 0)
        assert torch.equal(batch.tokens[i, :u], ex.tokens) and torch.all(batch.tokens[i, u:] == 0)
    assert batch.texts == ["hi", "hello there", "x"] and batch.ids == ["a", "b", "c"]
    assert batch.domains == ["d", "d", "d"]
    moved = batch.to(torch.device("cpu"))
    assert moved.ids == batch.ids and moved.domains == batch.domains


def test_make_loader_yields_batches(tiny_manifest, tmp_path):
    ds = SpeechDataset(read_manifest(tiny_manifest), VOCAB, FEATS, cache=FeatureCache(tmp_path, FEATS))
    loader = make_loader(ds, LoaderConfig(num_workers=0, max_batch_size=3), shuffle=False)
    batches = list(loader)
    assert sum(b.size for b in batches) == 8
    assert sorted(i for b in batches for i in b.ids) == sorted(u.id for u in ds.utterances)
    lengths = [int(n) for b in batches for n in b.feat_lens]
    assert lengths == sorted(lengths)                           # evaluation order: by length


# --------------------------------------------------------------------------- bucketing
LENGTHS = np.random.default_rng(0).integers(50, 800, size=101).tolist()


def epoch_batches(sampler: BucketBatchSampler, epoch: int, start: int = 0) -> list[list[int]]:
    sampler.set_epoch(epoch, start)
    return list(sampler)


@pytest.mark.parametrize("num_buckets", [1, 5, 20])
def test_every_index_once_and_budget_respected(num_buckets):
    sampler = BucketBatchSampler(LENGTHS, max_frames=3000, max_batch_size=8, num_buckets=num_buckets, seed=1)
    for epoch in range(3):
        batches = epoch_batches(sampler, epoch)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(LENGTHS)))
        for b in batches:
            assert len(b) <= 8
            assert len(b) == 1 or max(LENGTHS[i] for i in b) * len(b) <= 3000
        assert len(sampler) == len(batches)


def test_an_utterance_over_budget_gets_its_own_batch():
    sampler = BucketBatchSampler([100, 5000, 100], max_frames=1000, shuffle=False)
    assert list(sampler) == [[0, 2], [1]]


def test_bucketing_groups_similar_lengths():
    sampler = BucketBatchSampler(LENGTHS, max_frames=100_000, max_batch_size=10, num_buckets=10, seed=0)
    bucketed = np.mean([np.ptp([LENGTHS[i] for i in b]) for b in epoch_batches(sampler, 0)])
    plain = BucketBatchSampler(LENGTHS, max_frames=100_000, max_batch_size=10, num_buckets=1, seed=0)
    shuffled = np.mean([np.ptp([LENGTHS[i] for i in b]) for b in epoch_batches(plain, 0)])
    assert bucketed < shuffled / 3


def test_order_is_deterministic_per_seed_and_epoch():
    def make(seed):
        return BucketBatchSampler(LENGTHS, max_frames=3000, max_batch_size=8, num_buckets=5, seed=seed)

    assert epoch_batches(make(0), 0) == epoch_batches(make(0), 0)
    assert epoch_batches(make(0), 3) == epoch_batches(make(0), 3)
    assert epoch_batches(make(0), 0) != epoch_batches(make(0), 1)
    assert epoch_batches(make(0), 0) != epoch_batches(make(1), 0)


def test_no_shuffle_is_length_sorted_and_fixed():
    sampler = BucketBatchSampler(LENGTHS, max_frames=3000, max_batch_size=8, shuffle=False, seed=0)
    flat = [i for b in epoch_batches(sampler, 0) for i in b]
    assert [LENGTHS[i] for i in flat] == sorted(LENGTHS)
    assert epoch_batches(sampler, 0) == epoch_batches(sampler, 5)


def test_set_epoch_start_batch_skips():
    sampler = BucketBatchSampler(LENGTHS, max_frames=3000, max_batch_size=8, num_buckets=5, seed=0)
    full = epoch_batches(sampler, 2)
    assert epoch_batches(sampler, 2, start=3) == full[3:]
    assert len(sampler) == len(full) - 3
    assert epoch_batches(sampler, 2, start=len(full)) == [] and len(sampler) == 0


def test_world_size_two_splits_into_disjoint_equal_shares():
    kwargs = dict(max_frames=3000, max_batch_size=8, num_buckets=5, seed=0)
    full = epoch_batches(BucketBatchSampler(LENGTHS, **kwargs), 1)
    shares = [epoch_batches(BucketBatchSampler(LENGTHS, rank=r, world_size=2, **kwargs), 1) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == len(full) // 2
    seen = [set(i for b in share for i in b) for share in shares]
    assert not seen[0] & seen[1]
    usable = 2 * (len(full) // 2)
    assert shares[0] == full[0:usable:2] and shares[1] == full[1:usable:2]


def test_order_is_pinned():
    """The exact batches of a few settings, recorded before the packing became :func:`pack_batches`:
    a change here changes every training run's batch order."""
    small = [5, 3, 9, 1, 7, 3, 8, 2, 6, 4, 10, 2]
    expected = {(3, True): [[1, 3, 11], [4, 2], [7, 9, 8], [0, 5], [6, 10]],
                (1, True): [[6, 9], [0, 7, 1], [5], [11, 3], [10, 4], [8, 2]],
                (3, False): [[3, 7, 11], [1, 5, 9], [0, 8], [4, 6], [2, 10]]}
    for (num_buckets, shuffle), batches in expected.items():
        sampler = BucketBatchSampler(small, max_frames=20, max_batch_size=3, num_buckets=num_buckets,
                                     shuffle=shuffle, seed=0)
        assert epoch_batches(sampler, 1) == batches
    orders = {f"{num_buckets}-{shuffle}-{epoch}": epoch_batches(
        BucketBatchSampler(LENGTHS, max_frames=3000, max_batch_size=8, num_buckets=num_buckets, shuffle=shuffle,
                           seed=3), epoch)
        for num_buckets in (1, 5, 20) for shuffle in (True, False) for epoch in (0, 2)}
    digest = hashlib.sha1(json.dumps(orders).encode()).hexdigest()
    assert digest == "62a3957c1cb2a366c8d94324039fa8df9014dde1"


def test_pack_batches_keeps_the_order_under_both_budgets():
    order = [3, 0, 1, 2, 4]
    lengths = [10, 30, 20, 5, 40]
    assert pack_batches(order, lengths, max_frames=40, max_batch_size=8) == [[3, 0], [1], [2], [4]]
    assert pack_batches(order, lengths, max_frames=1000, max_batch_size=2) == [[3, 0], [1, 2], [4]]
    assert pack_batches(order, lengths, max_frames=1, max_batch_size=8) == [[3], [0], [1], [2], [4]]
    assert pack_batches([], lengths, max_frames=60, max_batch_size=8) == []
    with pytest.raises(ValueError, match="positive"):
        pack_batches(order, lengths, max_frames=0, max_batch_size=8)


def test_sampler_rejects_bad_budgets():
    with pytest.raises(ValueError):
        BucketBatchSampler([10], max_frames=0)
    with pytest.raises(ValueError):
        BucketBatchSampler([10], max_frames=10, max_batch_size=0)


# --------------------------------------------------------------------------- padding invariance
MODELS = {
    "ds2": ModelConfig(arch="ds2", hidden=32, num_layers=2, conv_channels=8, dropout=0.1),
    "conformer": ModelConfig(arch="conformer", hidden=32, num_layers=2, conv_channels=8, dropout=0.1,
                             num_heads=4, ffn_dim=64, kernel_size=15),
}


@pytest.mark.parametrize("arch", ["ds2", "conformer"])
def test_padding_never_changes_output(arch, tiny_manifest, tmp_path):
    """The shortest utterance decodes identically alone and inside a padded batch."""
    ds = SpeechDataset(read_manifest(tiny_manifest), VOCAB, FEATS, cache=FeatureCache(tmp_path, FEATS))
    order = np.argsort([len(ds[i].feats) for i in range(len(ds))])
    short, longer = int(order[0]), [int(i) for i in order[-2:]]
    torch.manual_seed(0)
    model = build_model(MODELS[arch])
    with torch.no_grad():                        # give BatchNorm non-trivial running statistics
        model.train()
        warm = collate([ds[i] for i in range(len(ds))])
        model(warm.feats, warm.feat_lens)
    model.eval()
    alone = collate([ds[short]])
    batched = collate([ds[longer[0]], ds[short], ds[longer[1]]])
    assert batched.feats.shape[1] > alone.feats.shape[1] + 20      # real padding
    with torch.no_grad():
        lp_alone, len_alone = model(alone.feats, alone.feat_lens)
        lp_batch, len_batch = model(batched.feats, batched.feat_lens)
    n = int(len_alone[0])
    assert int(len_batch[1]) == n
    assert torch.allclose(lp_batch[1, :n], lp_alone[0, :n], atol=1e-5, rtol=0)
    assert greedy_decode(lp_batch, len_batch, VOCAB)[1] == greedy_decode(lp_alone, len_alone, VOCAB)[0]
    # the long utterances agree with their own single runs too
    with torch.no_grad():
        single = collate([ds[longer[0]]])
        lp_long, len_long = model(single.feats, single.feat_lens)
    m = int(len_long[0])
    assert torch.allclose(lp_batch[0, :m], lp_long[0, :m], atol=1e-5, rtol=0)


def test_features_match_log_mel(tiny_manifest):
    from asrlab.audio import load_audio

    utt = read_manifest(tiny_manifest)[0]
    ds = SpeechDataset([utt], VOCAB, FEATS)
    assert torch.equal(ds[0].feats, log_mel(load_audio(utt.audio)))


# --------------------------------------------------------------------------- datasets from manifests
def test_make_dataset_and_model_dataset_share_the_feature_cache(tiny_manifest, tmp_path, monkeypatch):
    from asrlab.datasets import feature_cache, make_dataset, model_dataset
    from asrlab.models.checkpoint import LoadedModel

    monkeypatch.setenv("ASRLAB_DATA", str(tmp_path / "data"))
    assert feature_cache(FeatureConfig(kind="waveform")) is None
    assert feature_cache(FEATS).root == feature_cache(FEATS).root  # one folder per settings
    plain = make_dataset([tiny_manifest, tiny_manifest], FEATS)
    assert len(plain) == 16 and plain.cache is not None and plain.cache.root == feature_cache(FEATS).root
    assert make_dataset([tiny_manifest], FEATS, cache=False).cache is None
    loaded = LoadedModel(build_model(ModelConfig().smoke()), FEATS, VOCAB, {})
    fed = model_dataset(read_manifest(tiny_manifest), loaded, labelled=False)
    assert len(fed) == 8 and not fed.labelled and fed.cache.root == plain.cache.root

"""Probes on frozen encoders: layer extraction and its cache, CTC heads, pooling, classification."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asrlab.config import FeatureConfig, ModelConfig, ProbeConfig
from asrlab.course.feature_extraction import (accent_of, classify, encode_targets, evaluate_probe, pad_layers,
                                              probe_batches, train_probe)
from asrlab.features import features_of_file
from asrlab.layers import LayerCache, extract_layers, layer_names, model_key, pool_layers, stack_layers
from asrlab.manifest import read_manifest
from asrlab.models import build_model, heads
from asrlab.models.base import EncoderOutput
from asrlab.utils import masked_mean

FEATURES = FeatureConfig()


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4)).eval()


@pytest.fixture(scope="module")
def utterances(tiny_manifest: Path):
    return read_manifest(tiny_manifest)


def extract(model, utterances, cache=None, max_frames=100_000):
    cache = cache or LayerCache(None, model_key(model, FEATURES, "tiny"))
    return extract_layers(model, utterances, FEATURES, cache, max_frames=max_frames)


def test_extracted_layers_are_unpadded_and_stacked(model, utterances) -> None:
    out = extract(model, utterances[:3])
    assert out.num_layers == 3 and out.dim == 32 and out.computed == 3  # front end + 2 BiGRU layers
    for utt, x in zip(utterances[:3], out.layers):
        frames = int(FEATURES.frames_per_second * utt.duration) + 1
        assert x.dtype == torch.float16 and x.shape[0] == 3 and abs(x.shape[1] - (frames + 1) // 2) <= 1
    assert [x.shape for x in out.select(1)] == [(1, x.shape[1], 32) for x in out.layers]
    assert [x.shape for x in out.select([0, 2])] == [(2, x.shape[1], 32) for x in out.layers]
    with pytest.raises(ValueError, match="out of range"):
        out.select(3)


@pytest.mark.parametrize("max_frames", [1, 100_000])
def test_extracted_layers_are_the_encoders_own(model, utterances, max_frames: int) -> None:
    """Every layer is the encoder's ``return_layers=True`` output, unchanged: the reference pads a
    batch by hand and calls the encoder directly, as extract_layers did before it ran the model
    through asrlab.inference.run_model."""
    out = extract(model, utterances, max_frames=max_frames)
    inputs = [features_of_file(u.audio, FEATURES) for u in utterances]
    order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[0])
    groups = [[i] for i in order] if max_frames == 1 else [order]
    for group in groups:
        lengths = torch.tensor([inputs[i].shape[0] for i in group])
        feats = torch.zeros(len(group), int(lengths.max()), inputs[0].shape[1])
        for row, i in enumerate(group):
            feats[row, : lengths[row]] = inputs[i]
        with torch.no_grad():
            enc = model.encoder(feats, lengths, return_layers=True)
        for row, i in enumerate(group):
            expected = torch.stack([x[row, : enc.lengths[row]] for x in enc.layers]).half()
            assert torch.equal(out.layers[i], expected)


def test_stack_layers_masks_padding_and_refuses_what_cannot_stack() -> None:
    layers = [torch.ones(2, 4, 3), 2 * torch.ones(2, 4, 3)]
    stacked = stack_layers(EncoderOutput(layers[-1], torch.tensor([4, 1]), layers))
    assert stacked.shape == (2, 2, 4, 3)
    assert torch.equal(stacked[0, 1], layers[1][0]) and stacked[1, :, 1:].abs().sum() == 0
    with pytest.raises(ValueError, match="cannot be stacked"):
        stack_layers(EncoderOutput(layers[0], torch.tensor([4, 1]), [layers[0], torch.ones(2, 4, 5)]))
    with pytest.raises(ValueError, match="no per-layer"):
        stack_layers(EncoderOutput(layers[0], torch.tensor([4, 1]), []))


def test_masked_mean_ignores_padding() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 10, 4)
    lengths = torch.tensor([10, 4, 1])
    padded = x.clone()
    padded[1, 4:] = 1e6  # garbage past the length must not count
    padded[2, 1:] = -7.0
    means = masked_mean(padded, lengths)
    expected = torch.stack([x[i, : int(n)].mean(dim=0) for i, n in enumerate(lengths)])
    assert torch.allclose(means, expected, atol=1e-5)
    with pytest.raises(ValueError):
        masked_mean(x, torch.tensor([3, 0, 2]))


def test_padding_does_not_change_pooled_features(model, utterances) -> None:
    alone = extract(model, utterances, max_frames=1)           # one utterance per batch: no padding
    together = extract(model, utterances, max_frames=100_000)  # one padded batch
    assert alone.computed == together.computed == len(utterances)
    for a, b in zip(alone.layers, together.layers):
        assert a.shape == b.shape
    pooled_alone, pooled_together = pool_layers(alone.layers), pool_layers(together.layers)
    assert pooled_alone.shape == (len(utterances), 3, 32)
    np.testing.assert_allclose(pooled_alone, pooled_together, atol=2e-3)


@pytest.mark.parametrize("on_disk", [True, False])
def test_cache_returns_identical_tensors(model, utterances, tmp_path: Path, on_disk: bool) -> None:
    cache = LayerCache(tmp_path if on_disk else None, model_key(model, FEATURES, "tiny"))
    first = extract(model, utterances[:4], cache)
    again = extract(model, utterances[:4], cache)
    assert first.computed == 4 and again.computed == 0
    assert all(torch.equal(a, b) for a, b in zip(first.layers, again.layers))
    assert again.encoder_seconds == pytest.approx(first.encoder_seconds)  # recorded when computed
    more = extract(model, utterances[:6], cache)
    assert more.computed == 2 and all(torch.equal(a, b) for a, b in zip(first.layers, more.layers))
    if on_disk:
        assert len(list((tmp_path / cache.key).rglob("*.npz"))) == 6


def test_model_key_follows_the_weights_and_features(model) -> None:
    key = model_key(model, FEATURES, "tiny")
    assert key.startswith("tiny-") and key == model_key(model, FEATURES, "tiny")
    assert model_key(model, FeatureConfig(normalize="none"), "tiny") != key
    other = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4))
    assert model_key(other, FEATURES, "tiny") != key


def test_a_linear_probe_overfits_a_few_utterances(model, utterances) -> None:
    chosen = utterances[:2]
    layers = extract(model, chosen)
    targets = encode_targets(chosen)
    before = evaluate_probe(heads.make_probe("linear", 32, 29), layers.select(-1), chosen)
    probe = heads.make_probe("linear", 32, 29)
    history = train_probe(probe, layers.select(-1), targets, ProbeConfig(epochs=200, lr=5e-2))
    score = evaluate_probe(probe, layers.select(-1), chosen)
    assert history.steps == 200 and history.losses[-1] < 0.1 * history.losses[0]
    assert before.rates.cer > 0.9 and score.rates.cer < 0.1, score.hypotheses


def test_weighted_layer_sum_weights_are_a_convex_combination() -> None:
    mix = heads.WeightedLayerSum(3)
    assert torch.allclose(mix.weights, torch.full((3,), 1 / 3))
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([2.0, -1.0, 0.5]))
    weights = mix.weights
    assert float(weights.sum()) == pytest.approx(1.0) and bool((weights > 0).all())
    x = torch.randn(2, 3, 5, 4)
    assert torch.allclose(mix(x), (weights[None, :, None, None] * x).sum(dim=1), atol=1e-6)


def test_the_weighted_sum_probe_learns_and_keeps_its_weights_summing_to_one(model, utterances) -> None:
    chosen = utterances[:3]
    layers = extract(model, chosen)
    probe = heads.make_probe("linear", 32, 29, num_layers=3)
    history = train_probe(probe, layers.select([0, 1, 2]), encode_targets(chosen),
                                 ProbeConfig(epochs=30, lr=1e-2))
    assert history.losses[-1] < history.losses[0]
    assert probe.mix is not None and not torch.equal(probe.mix.weights, torch.full((3,), 1 / 3))
    assert float(probe.mix.weights.sum()) == pytest.approx(1.0)


def test_heads_give_log_probs_and_ignore_padding() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 9, 8)
    lengths = torch.tensor([9, 5])
    x[1, :, 5:] = 0.0
    for kind in ("linear", "bilstm"):
        probe = heads.make_probe(kind, 8, 29, hidden=6).eval()
        log_probs = probe(x, lengths)
        assert log_probs.shape == (2, 9, 29)
        assert torch.allclose(log_probs.exp().sum(dim=-1), torch.ones(2, 9), atol=1e-5)
        alone = probe(x[1:, :, :5], lengths[1:])
        assert torch.allclose(alone, log_probs[1:, :5], atol=1e-5)
    assert torch.equal(heads.make_probe("linear", 8, 29, seed=1).head.linear.weight,
                       heads.make_probe("linear", 8, 29, seed=1).head.linear.weight)
    with pytest.raises(ValueError, match="head kind"):
        heads.make_probe("transformer", 8, 29)  # type: ignore[arg-type]


def test_a_copied_head_reproduces_the_model(model, utterances) -> None:
    layers = extract(model, utterances[:2])
    probe = heads.CTCProbe(heads.LinearCTCHead.from_linear(model.head), normalize=False)
    feats, lengths = pad_layers(layers.select(-1))
    with torch.no_grad():
        expected = model.head(feats[:, 0]).log_softmax(dim=-1)
    assert torch.allclose(probe(feats, lengths), expected, atol=1e-5)


def test_probe_batches_cover_everything_under_the_budget() -> None:
    lengths = [5, 50, 7, 20, 21, 3, 49]
    batches = probe_batches(lengths, max_frames=60, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(max(lengths[i] for i in b) * len(b) <= 60 for b in batches)
    assert probe_batches(lengths, max_frames=60) == [[5, 0, 2], [3, 4], [6], [1]]  # length-sorted, for evaluation
    shuffled = [probe_batches(lengths, max_frames=60, seed=0, epoch=epoch) for epoch in range(4)]
    assert all(sorted(b) == sorted(probe_batches(lengths, max_frames=60)) for b in shuffled)  # packed alike
    assert len({str(b) for b in shuffled}) > 1  # in another order per epoch


def test_classify_separable_classes() -> None:
    rng = np.random.default_rng(0)
    centres = {"a": 0.0, "b": 5.0, "c": -5.0}
    labels = [c for c in centres for _ in range(20)]
    x = np.stack([rng.normal(centres[c], 1.0, size=4) for c in labels])
    test_labels = ["a"] * 6 + ["b"] * 3 + ["c"] * 3
    test_x = np.stack([rng.normal(centres[c], 1.0, size=4) for c in test_labels])
    result = classify(x, labels, test_x, test_labels)
    assert result.accuracy == 1.0 and result.chance == 0.5 and result.classes == ["a", "b", "c"]
    assert np.array_equal(result.confusion, np.diag([6, 3, 3]))
    with pytest.raises(ValueError, match="two classes"):
        classify(x, ["a"] * len(labels), test_x, test_labels)


def test_accent_of_speaker_labels() -> None:
    assert accent_of("espeak:en-gb-scotland+m5") == "en-gb-scotland"
    assert accent_of("espeak:en-029+klatt2") == "en-029"
    assert layer_names(3) == ["front end", "layer 1", "layer 2"]


def test_probe_figures() -> None:
    from matplotlib.figure import Figure

    from asrlab.course import plots

    names = layer_names(4)
    profile = plots.layer_profile({"a": [0.5, 0.3, 0.2], "b": [0.9, 0.4, 0.3, 0.35]}, "CER",
                                 references={"a": 0.25, "chance": 0.6}, reference_label="weighted sum", xlabels=names)
    bars = plots.layer_weights({"a": [0.2, 0.3, 0.5], "b": [0.1, 0.2, 0.3, 0.4]}, names)
    matrix = plots.confusion_matrix(np.array([[3, 1], [0, 4]]), ["x", "y"], "accents")
    assert all(isinstance(f, Figure) for f in (profile, bars, matrix))
    assert [line.get_label() for line in profile.axes[0].get_lines()][-2:] == ["a: weighted sum", "chance"]
    with pytest.raises(ValueError):
        plots.layer_profile({"a": [0.1, 0.2]}, "CER", xlabels=["front end"])
    with pytest.raises(ValueError):
        plots.confusion_matrix(np.zeros((2, 3)), ["x", "y"])

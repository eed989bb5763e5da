"""Domain adaptation pieces: gradient reversal, discriminator masking, MMD, CORAL, the DANN loss,
diagnostics, label-free selection, the alignment hook, and a 2-D toy shift they must undo."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from asrlab.adapt import (Candidate, DomainDiscriminator, coral, dann_coefficient, dann_loss,
                          domain_accuracy, domain_bce, gaussian_mmd, importance_weighted_risk, importance_weights,
                          masked_mean, median_bandwidth, proxy_a_distance, reverse_gradient, select,
                          squared_distances, valid_frames)
from asrlab.adapt.discriminator import domain_inputs, encoder_layer
from asrlab.adapt.selection import frame_entropy, utterance_ctc_losses
from asrlab.adapt.search import holdout_split, resolve_layers
from asrlab.adapt.training import AlignmentConfig, build_alignment, subsample_rows
from asrlab.models.base import EncoderOutput
from asrlab.train import StepInfo


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def padded(lengths: list[int], dim: int = 6, seed: int = 0, pad_value: float | None = None) -> torch.Tensor:
    """``(B, max(lengths), dim)`` random frames; padding random too, or ``pad_value``."""
    x = torch.randn(len(lengths), max(lengths), dim, generator=gen(seed))
    if pad_value is not None:
        for i, n in enumerate(lengths):
            x[i, n:] = pad_value
    return x


# --------------------------------------------------------------------------- gradient reversal
def test_reversal_is_identity_forward_and_flips_and_scales_the_gradient() -> None:
    x = torch.randn(3, 4, 5, generator=gen(0), requires_grad=True)
    upstream = torch.randn(3, 4, 5, generator=gen(1))
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    assert torch.allclose(x.grad, -0.5 * upstream)
    with pytest.raises(ValueError, match="coefficient"):
        reverse_gradient(x, -1.0)


def test_dann_schedule_starts_at_zero_rises_and_tends_to_one() -> None:
    assert dann_coefficient(0.0) == 0.0
    values = [dann_coefficient(p / 10) for p in range(11)]
    assert values == sorted(values) and len(set(values)) == 11
    assert dann_coefficient(1.0) == pytest.approx(1.0, abs=1e-3)
    assert dann_coefficient(0.3, gamma=10.0) == pytest.approx(2 / (1 + math.exp(-3.0)) - 1)
    assert dann_coefficient(0.5, gamma=1.0) < dann_coefficient(0.5, gamma=10.0)
    assert dann_coefficient(0.5) == dann_coefficient(0.5)  # pure
    with pytest.raises(ValueError, match="progress"):
        dann_coefficient(1.5)


# --------------------------------------------------------------------------- masking and the discriminator
def test_masked_mean_and_valid_frames_ignore_padding() -> None:
    lengths = torch.tensor([4, 1, 3])
    x = padded([4, 1, 3], seed=2)
    pooled = masked_mean(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(pooled[i], x[i, :n].mean(0))
    frames = valid_frames(x, lengths)
    assert frames.shape == (8, 6)
    assert torch.equal(frames[4], x[1, 0])
    with pytest.raises(ValueError, match="lengths"):
        masked_mean(x, torch.tensor([4, 1]))


@pytest.mark.parametrize("pooling", ["frames", "utterance"])
def test_discriminator_output_does_not_depend_on_padding(pooling: str) -> None:
    torch.manual_seed(0)
    disc = DomainDiscriminator(6, hidden=8, num_layers=2, dropout=0.0, pooling=pooling).eval()
    lengths = torch.tensor([5, 2, 3])
    zeros = padded([5, 2, 3], seed=3, pad_value=0.0)
    garbage = padded([5, 2, 3], seed=3, pad_value=1e4)
    out = disc(zeros, lengths)
    assert out.shape == ((10,) if pooling == "frames" else (3,))
    assert torch.equal(out, disc(garbage, lengths))
    longer = torch.cat([zeros, torch.full((3, 4, 6), -7.0)], dim=1)   # more padding, same valid frames
    assert torch.allclose(out, disc(longer, lengths))
    with pytest.raises(ValueError, match="lengths"):
        disc(zeros)


def test_encoder_layer_picks_layers_and_names_bad_indices() -> None:
    layers = [torch.full((1, 2, 3), float(i)) for i in range(3)]
    out = EncoderOutput(layers[-1], torch.tensor([2]), layers)
    assert encoder_layer(out, -1) is layers[2] and encoder_layer(out, 0) is layers[0]
    with pytest.raises(ValueError, match="indices -3..2"):
        encoder_layer(out, 3)
    assert encoder_layer(EncoderOutput(layers[0], torch.tensor([2]), []), -1) is layers[0]
    assert resolve_layers([-1, 2, 0, -3], 3) == [-1, -3]


# --------------------------------------------------------------------------- MMD
def test_squared_distances_match_cdist_and_have_finite_gradients_at_zero() -> None:
    a = torch.randn(5, 3, generator=gen(4), dtype=torch.float64)
    b = torch.randn(7, 3, generator=gen(5), dtype=torch.float64)
    assert torch.allclose(squared_distances(a, b), torch.cdist(a, b) ** 2)
    same = a.clone().requires_grad_(True)
    squared_distances(same, same).sum().backward()
    assert torch.isfinite(same.grad).all()


def test_median_heuristic_is_the_median_squared_distance_of_distinct_pairs() -> None:
    source, target = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0]])   # squared distances 1, 9, 4
    assert float(median_bandwidth(source, target)) == pytest.approx(4.0)
    torch.manual_seed(0)
    x = torch.randn(40, 3)
    assert float(median_bandwidth(x[:25], x[25:])) == pytest.approx(float(median_bandwidth(x[:25], x[25:])))
    assert float(median_bandwidth(2 * x[:25], 2 * x[25:])) == pytest.approx(4 * float(median_bandwidth(x[:25], x[25:])))


def test_mmd_with_given_bandwidths_matches_the_formula() -> None:
    s, t = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0]])
    k = lambda d2: (math.exp(-d2 / 2.0) + math.exp(-d2 / 8.0)) / 2     # sigma^2 = 1 and 4
    biased = (2 * k(0) + 2 * k(1)) / 4 + k(0) - 2 * (k(9) + k(4)) / 2
    assert float(gaussian_mmd(s, t, bandwidths=[1.0, 4.0])) == pytest.approx(biased, rel=1e-5)
    s2, t2 = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0], [5.0]])
    unbiased = 2 * k(1) / 2 + 2 * k(4) / 2 - 2 * (k(9) + k(25) + k(4) + k(16)) / 4
    assert float(gaussian_mmd(s2, t2, bandwidths=[1.0, 4.0], unbiased=True)) == pytest.approx(unbiased, rel=1e-5)
    with pytest.raises(ValueError, match="positive"):
        gaussian_mmd(s, t, bandwidths=[0.0])


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_shift_for_unequal_sizes() -> None:
    g = gen(6)
    source = torch.randn(60, 4, generator=g)
    same = torch.randn(90, 4, generator=g)
    values = []
    for shift in (0.0, 0.5, 1.0, 2.0):
        values.append(float(gaussian_mmd(source, same + shift, unbiased=True)))
    assert abs(values[0]) < 0.02
    assert values == sorted(values) and values[-1] > 10 * max(abs(values[0]), 0.01)


def test_biased_mmd_is_nonnegative_and_the_unbiased_one_averages_to_zero() -> None:
    g = gen(7)
    biased, unbiased = [], []
    for _ in range(30):
        s, t = torch.randn(12, 3, generator=g), torch.randn(17, 3, generator=g)
        biased.append(float(gaussian_mmd(s, t)))
        unbiased.append(float(gaussian_mmd(s, t, unbiased=True)))
    assert min(biased) >= -1e-6
    assert min(unbiased) < 0 < max(unbiased)              # a U-statistic scatters around 0
    assert abs(np.mean(unbiased)) < 0.25 * np.mean(biased)   # the V-statistic is biased upwards
    with pytest.raises(ValueError, match="at least 2 rows"):
        gaussian_mmd(s[:1], t, unbiased=True)


def test_mmd_gradient_pulls_the_target_towards_the_source() -> None:
    g = gen(8)
    source = torch.randn(50, 2, generator=g)
    target = (torch.randn(40, 2, generator=g) + 2.0).requires_grad_(True)
    gaussian_mmd(source, target).backward()
    assert float(target.grad.mean(0).sum()) > 0   # descending moves the target mean down, towards 0


# --------------------------------------------------------------------------- CORAL
def test_coral_is_zero_for_equal_covariances_and_positive_otherwise() -> None:
    g = gen(9)
    source = torch.randn(30, 5, generator=g, dtype=torch.float64)
    assert float(coral(source, source + 3.0)) == pytest.approx(0.0, abs=1e-12)   # means do not count
    target = torch.randn(45, 5, generator=g, dtype=torch.float64)
    assert float(coral(source, target * 3.0)) > float(coral(source, target)) > 0


def test_coral_matches_the_deep_coral_formula() -> None:
    source = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])   # covariance (4/3) I
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])               # covariance [[1, 1], [1, 1]]
    expected = ((4 / 3 - 1) ** 2 * 2 + 1 + 1) / (4 * 2 ** 2)
    assert float(coral(source, target)) == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------- DANN loss and diagnostics
def test_domain_bce_labels_source_zero_and_target_one_and_weighs_domains_equally() -> None:
    good = domain_bce(torch.full((3,), -20.0), torch.full((50,), 20.0))
    bad = domain_bce(torch.full((3,), 20.0), torch.full((50,), -20.0))
    assert float(good) < 1e-6 and float(bad) > 10
    half_wrong = domain_bce(torch.full((3,), 20.0), torch.full((50,), 20.0))
    assert float(half_wrong) == pytest.approx(10.0, rel=1e-3)    # (20 + 0) / 2 whatever the counts
    assert domain_accuracy(torch.tensor([-1.0, -2.0]), torch.tensor([3.0])) == 1.0
    assert domain_accuracy(torch.tensor([-1.0, 2.0]), torch.tensor([3.0, -1.0, 1.0, 1.0])) == pytest.approx(0.625)


def test_dann_loss_trains_the_discriminator_and_reverses_the_encoder_gradient() -> None:
    torch.manual_seed(1)
    disc = DomainDiscriminator(6, hidden=8, num_layers=1, dropout=0.0)
    lengths_s, lengths_t = torch.tensor([4, 2]), torch.tensor([3, 3, 1])
    xs = padded([4, 2], seed=10).requires_grad_(True)
    xt = padded([3, 3, 1], seed=11).requires_grad_(True)
    out = dann_loss(disc, xs, lengths_s, xt, lengths_t, coefficient=0.3)
    out.loss.backward()
    reversed_grad, disc_grad = xs.grad.clone(), disc.net[0].weight.grad.clone()
    xs.grad, disc.net[0].weight.grad = None, None
    plain = domain_bce(disc(xs, lengths_s), disc(xt, lengths_t))
    plain.backward()
    assert torch.allclose(out.loss, plain)
    assert torch.allclose(reversed_grad, -0.3 * xs.grad, atol=1e-7)
    assert torch.allclose(disc_grad, disc.net[0].weight.grad)     # the discriminator descends as usual
    assert torch.equal(reversed_grad[1, 2:], torch.zeros(2, 6))      # padding gets no gradient
    assert out.source_logits.shape == (6,) and out.target_logits.shape == (7,)


def test_proxy_a_distance_is_near_zero_for_one_distribution_and_near_two_when_separated() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(200, 5))
    assert proxy_a_distance(source, rng.normal(size=(150, 5))) < 0.4
    assert proxy_a_distance(torch.tensor(source), torch.tensor(rng.normal(size=(150, 5)) + 4.0)) > 1.9
    with pytest.raises(ValueError, match="features per row"):
        proxy_a_distance(source, rng.normal(size=(10, 4)))


# --------------------------------------------------------------------------- label-free selection
def test_frame_entropy_is_masked_and_log_v_for_uniform_posteriors() -> None:
    log_probs = torch.full((2, 4, 5), -math.log(5.0))
    log_probs[1, :, :] = torch.log_softmax(torch.tensor([10.0, 0, 0, 0, 0]), -1)
    entropy = frame_entropy(log_probs, torch.tensor([4, 2]))
    assert torch.allclose(entropy[0], torch.full((4,), math.log(5.0)))
    assert torch.equal(entropy[1, 2:], torch.zeros(2)) and float(entropy[1, 0]) < 0.01


def test_utterance_ctc_losses_are_per_token() -> None:
    log_probs = torch.log_softmax(torch.randn(2, 6, 4, generator=gen(12)), -1)
    tokens, token_lens, out_lens = torch.tensor([[1, 2, 3], [2, 0, 0]]), torch.tensor([3, 1]), torch.tensor([6, 4])
    losses = utterance_ctc_losses(log_probs, out_lens, tokens, token_lens)
    total = F.ctc_loss(log_probs.transpose(0, 1), tokens, out_lens, token_lens, reduction="none")
    assert torch.allclose(losses, total / torch.tensor([3.0, 1.0]))


def test_importance_weights_are_flat_without_shift_and_favour_target_like_rows() -> None:
    rng = np.random.default_rng(1)
    source = rng.normal(size=(120, 3))
    flat = importance_weights(source, rng.normal(size=(100, 3)))
    assert flat.shape == (120,) and flat.mean() == pytest.approx(1.0) and flat.std() < 0.5
    shifted = importance_weights(source, rng.normal(size=(100, 3)) + [1.5, 0, 0])
    near, far = source[:, 0] > 0.5, source[:, 0] < -0.5
    assert shifted[near].mean() > 3 * shifted[far].mean()
    assert importance_weighted_risk([1.0, 3.0], [3.0, 1.0]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="one weight per loss"):
        importance_weighted_risk([1.0], [1.0, 2.0])


def test_select_picks_the_lowest_score_of_the_rule() -> None:
    candidates = [Candidate("a", scores={"source_dev_wer": 0.3, "target_entropy": 0.9, "iw_risk": float("nan")}),
                  Candidate("b", scores={"source_dev_wer": 0.4, "target_entropy": 0.5, "iw_risk": 2.0}),
                  Candidate("c", scores={"source_dev_wer": 0.3, "target_entropy": 0.7, "iw_risk": 1.0})]
    assert select(candidates, "source-dev").name == "a"     # ties: the first
    assert select(candidates, "entropy").name == "b"
    assert select(candidates, "iw").name == "c"             # NaN never wins
    with pytest.raises(ValueError, match="target-wer"):
        select(candidates, "target-wer")
    with pytest.raises(ValueError, match="finite"):
        select(candidates[:1], "iw")


def test_holdout_keeps_at_least_two_dev_utterances() -> None:
    train, dev = holdout_split(list(range(25)))
    assert dev == [9, 19] and len(train) == 23
    assert holdout_split(list(range(5)))[1] == [3, 4]


# --------------------------------------------------------------------------- the alignment hook
def encoder_output(lengths: list[int], seed: int, shift: float = 0.0, pad_value: float | None = None) -> EncoderOutput:
    layers = [padded(lengths, dim=6, seed=seed + k, pad_value=pad_value) + shift for k in range(2)]
    return EncoderOutput(layers[-1], torch.tensor(lengths), layers)


@pytest.mark.parametrize("method", ["mmd", "coral", "dann"])
def test_alignment_loss_is_weighted_logged_and_blind_to_padding(method: str) -> None:
    config = AlignmentConfig(method=method, weight=0.5, disc_hidden=8, disc_dropout=0.0)
    torch.manual_seed(0)
    loss_fn, modules = build_alignment(config, feature_dim=6)
    assert isinstance(modules, DomainDiscriminator)
    info = StepInfo(epoch=0, step=3, total_steps=10)
    source = encoder_output([5, 3], seed=20, pad_value=0.0)
    target = encoder_output([4, 4, 2], seed=30, shift=1.0, pad_value=0.0)
    loss, logs = loss_fn(source, target, info)
    assert {"align", "disc_acc", "disc_loss"} <= set(logs) and all(math.isfinite(v) for v in logs.values())
    extra = 0.0 if method == "dann" else logs["disc_loss"]
    assert float(loss.detach()) == pytest.approx(0.5 * logs["align"] + extra, rel=1e-5)
    if method == "dann":
        assert logs["grl_coef"] == pytest.approx(dann_coefficient(0.3))
    noisy_target = encoder_output([4, 4, 2], seed=30, shift=1.0, pad_value=99.0)   # same frames, other padding
    assert float(loss_fn(source, noisy_target, info)[0].detach()) == pytest.approx(float(loss.detach()), rel=1e-5)
    with pytest.raises(ValueError, match="extra_data"):
        loss_fn(source, None, info)


def test_alignment_loss_aligns_the_chosen_layer() -> None:
    config = AlignmentConfig(method="coral", weight=1.0, layer=0, monitor=False)
    loss_fn, modules = build_alignment(config, feature_dim=6)
    assert modules is None
    source = encoder_output([5, 3], seed=40)
    target = EncoderOutput(source.hidden * 5, source.lengths, [source.layers[0], source.layers[1] * 5])
    loss, logs = loss_fn(source, target, StepInfo(0, 0, 1))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)      # layer 0 is the same in both
    assert set(logs) == {"align"}


def test_alignment_config_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="method"):
        AlignmentConfig(method="optimal-transport")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight"):
        AlignmentConfig(weight=-1.0)
    assert AlignmentConfig(schedule="constant").coefficient(0.0) == 1.0
    assert subsample_rows(torch.zeros(10, 2), 4).shape == (4, 2)


# --------------------------------------------------------------------------- a 2-D toy shift
def shifted_blobs(seed: int, n: int = 200) -> tuple[torch.Tensor, ...]:
    """Two Gaussian classes at x = -1 and x = +1; the target is the same, moved by (1.2, 2)."""
    g = gen(seed)

    def blobs() -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(2, (n,), generator=g)
        centres = torch.stack([2.0 * y - 1.0, torch.zeros(n)], dim=1)
        return torch.randn(n, 2, generator=g) * 0.4 + centres, y

    (xs, ys), (xt, yt) = blobs(), blobs()
    return xs, ys, xt + torch.tensor([1.2, 2.0]), yt


def train_toy(seed: int, method: str, steps: int = 120, batch: int = 64) -> float:
    """A small MLP on labelled source rows (+ alignment with target rows); its target accuracy."""
    xs, ys, xt, yt = shifted_blobs(seed)
    torch.manual_seed(seed)
    g = gen(seed)
    features = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
    classifier = nn.Linear(16, 2)
    disc = DomainDiscriminator(16, hidden=16, num_layers=1, dropout=0.0)
    params = [*features.parameters(), *classifier.parameters(), *disc.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    for _ in range(steps):
        i, j = torch.randint(len(xs), (batch,), generator=g), torch.randint(len(xt), (batch,), generator=g)
        hs, ht = features(xs[i]), features(xt[j])
        loss = F.cross_entropy(classifier(hs), ys[i])
        if method == "dann":
            loss = loss + dann_loss(disc, hs, None, ht, None, coefficient=1.0).loss
        elif method == "mmd":
            loss = loss + gaussian_mmd(hs, ht)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((classifier(features(xt)).argmax(1) == yt).float().mean())


def test_dann_and_mmd_recover_most_of_the_accuracy_a_shift_takes_away() -> None:
    for seed in range(3):
        source_only = train_toy(seed, "source")
        for method in ("dann", "mmd"):
            adapted = train_toy(seed, method)
            assert adapted > 0.9, (seed, method, source_only, adapted)
            assert adapted - source_only > 0.5 * (1.0 - source_only), (seed, method, source_only, adapted)
        assert source_only < 0.9, (seed, source_only)

"""Pseudo-label self-training and test-time entropy minimisation, on a tiny model and espeak audio."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from asrlab.adapt.pseudo_labels import (PseudoLabel, confidence_curve, ctc_confidence, keep_confident,
                                        pseudo_label, self_train)
from asrlab.adapt.tta import TTAConfig, adapt_and_transcribe, adapted_parameters, entropy_objective
from asrlab.config import FeatureConfig, LoaderConfig, ModelConfig, TrainConfig
from asrlab.datasets import model_dataset
from asrlab.decoding.greedy import greedy_decode
from asrlab.manifest import Utterance, read_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4)


@pytest.fixture()
def loaded() -> LoadedModel:
    torch.manual_seed(0)
    return LoadedModel(build_model(TINY), FeatureConfig(), CharVocabulary(), {"name": "tiny"})


def _label(text: str, confidence: float, truth: str = "the cat") -> PseudoLabel:
    return PseudoLabel(Utterance("/x.wav", truth, 1.0, "d", "s", "unlabelled"), text, confidence)


# --------------------------------------------------------------------------- confidence and filtering
def test_confidence_is_the_mean_posterior_of_the_frames_that_write_the_transcript():
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.5, 0.0]])
    log_probs = probs.clamp_min(1e-9).log()
    # frame 0 is blank; frames 1 and 2 emit (0.7 and 0.8); frame 3 lies past the length
    assert ctc_confidence(log_probs, 3, blank=0) == pytest.approx(0.75, abs=1e-5)
    assert ctc_confidence(log_probs[:1], 1, blank=0) == 0.0


def test_keep_confident_drops_empty_transcripts_and_keeps_the_surest_share():
    labels = [_label("a", 0.2), _label("", 0.99), _label("b", 0.9), _label("c", 0.5), _label("d", 0.7)]
    assert [p.text for p in keep_confident(labels, 0.5)] == ["b", "d"]
    assert [p.text for p in keep_confident(labels, 1.0)] == ["b", "d", "c", "a"]
    assert [p.text for p in keep_confident(labels, 0.01)] == ["b"]
    assert keep_confident([_label("", 0.9)], 0.5) == []
    with pytest.raises(ValueError, match="share"):
        keep_confident(labels, 0.0)


def test_confidence_curve_scores_the_kept_labels_against_the_true_texts():
    labels = [_label("the cat", 0.9), _label("the hat", 0.6), _label("a dog", 0.3)]
    rows = confidence_curve(labels, shares=(1.0, 0.34))
    assert [r["kept"] for r in rows] == [3, 1]
    assert rows[1]["wer"] == 0.0 and rows[1]["threshold"] == 0.9
    assert rows[0]["wer"] == pytest.approx((0 + 1 + 2) / 6)


def test_as_utterance_carries_the_pseudo_label_as_text():
    utt = _label("a guess", 0.8).as_utterance()
    assert utt.text == "a guess" and utt.extra["pseudo_label"] is True and utt.extra["confidence"] == 0.8


# --------------------------------------------------------------------------- labelling and self-training
def test_pseudo_label_matches_greedy_decoding_in_dataset_order(loaded, tiny_manifest):
    dataset = model_dataset(read_manifest(tiny_manifest), loaded, labelled=False)
    labels = pseudo_label(loaded.model, dataset, data=LoaderConfig(max_seconds=3.0, num_workers=0))
    assert [p.utterance.id for p in labels] == [u.id for u in dataset.utterances]
    for i, p in enumerate(labels):
        feats = dataset[i].feats[None]
        with torch.no_grad():
            log_probs, lens = loaded.model.eval()(feats, torch.tensor([feats.shape[1]]))
        assert p.text == greedy_decode(log_probs, lens, dataset.vocab)[0]
        assert 0.0 <= p.confidence <= 1.0


def test_self_training_trains_a_copy_on_the_kept_labels_without_reading_target_texts(loaded, tiny_manifest):
    utts = read_manifest(tiny_manifest)
    # a model that has learnt a little writes some characters to pseudo-label with
    warm = LoadedModel(loaded.model, loaded.features, loaded.vocab, {})
    from asrlab.finetune import finetune
    config = replace(TrainConfig(), epochs=3, lr=3e-3, warmup_steps=0, checkpoint_every=0, seed=0)
    warm = replace(warm, model=finetune(warm, model_dataset(utts, warm), "full", config).model)
    hidden = [replace(u, text="") for u in utts]  # the target's texts are not there to read
    before = {k: v.clone() for k, v in warm.model.state_dict().items()}
    result = self_train(warm, hidden, replace(config, epochs=1), rounds=2, share=1.0, source=utts[:2])
    assert [r.round for r in result.rounds] == [1, 2] and all(r.source == 2 for r in result.rounds)
    assert all(r.kept >= 1 and r.steps >= 1 and 0 < r.mean_confidence <= 1 for r in result.rounds)
    assert all(torch.equal(before[k], v) for k, v in warm.model.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in result.model.state_dict().items())


def test_self_training_refuses_a_model_that_writes_nothing(loaded, tiny_manifest):
    with torch.no_grad():
        loaded.model.head.bias.fill_(-50.0)
        loaded.model.head.bias[loaded.vocab.blank] = 50.0
    with pytest.raises(ValueError, match="every pseudo-label is empty"):
        self_train(loaded, read_manifest(tiny_manifest), TrainConfig(epochs=1), rounds=1)


# --------------------------------------------------------------------------- test-time adaptation
def test_entropy_objective_is_low_for_confident_frames_and_ignores_padding():
    sure = torch.log_softmax(torch.tensor([[[0.0, 9.0, 0.0], [0.0, 0.0, 9.0]]]), -1)
    unsure = torch.zeros(1, 2, 3).log_softmax(-1)
    config = TTAConfig(exclude_blank=False)
    assert float(entropy_objective(sure, torch.tensor([2]), config, 0)) < 0.01
    assert float(entropy_objective(unsure, torch.tensor([2]), config, 0)) == pytest.approx(math.log(3), abs=1e-5)
    padded = torch.cat([sure, unsure], dim=1)
    assert float(entropy_objective(padded, torch.tensor([2]), config, 0)) < 0.01
    with_mcc = entropy_objective(unsure, torch.tensor([2]), replace(config, mcc_weight=1.0), 0)
    assert float(with_mcc) > math.log(3)


def test_adapted_parameters_choose_norms_front_end_or_head(loaded):
    model = loaded.model
    assert {id(p) for p in adapted_parameters(model, "head")} == {id(p) for p in model.head.parameters()}
    assert adapted_parameters(model, "norm") and adapted_parameters(model, "frontend")
    with pytest.raises(ValueError, match="unknown parameters"):
        adapted_parameters(model, "everything")
    with pytest.raises(ValueError, match="unknown parameters"):
        TTAConfig(parameters="everything")  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["norm", "frontend", "head"])
def test_test_time_adaptation_changes_outputs_but_leaves_the_model_as_it_was(loaded, tiny_manifest, which):
    dataset = model_dataset(read_manifest(tiny_manifest), loaded, labelled=False)
    state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    flags = {k: p.requires_grad for k, p in loaded.model.named_parameters()}
    loaded.model.train()
    unchanged = adapt_and_transcribe(loaded.model, dataset, TTAConfig(steps=0, parameters=which))
    adapted = adapt_and_transcribe(loaded.model, dataset, TTAConfig(steps=3, lr=1e-2, parameters=which,
                                                                    exclude_blank=False))
    assert loaded.model.training
    assert all(torch.equal(state[k], v) for k, v in loaded.model.state_dict().items())
    assert flags == {k: p.requires_grad for k, p in loaded.model.named_parameters()}
    assert len(adapted.hypotheses) == len(dataset) and adapted.mean_objective_drop > 0
    assert unchanged.mean_objective_drop == 0 and adapted.audio_seconds == pytest.approx(unchanged.audio_seconds)
    assert adapted.real_time_factor > 0


def test_self_training_with_alignment_trains_through_adapt_model(loaded, tiny_manifest, monkeypatch):
    """The combined method: every round aligns the pseudo-labelled batches with the target audio."""
    from asrlab.adapt import training
    from asrlab.config import AlignmentConfig

    calls = []
    real = training.adapt_model

    def spy(init, source, target, config, train_config, **kwargs):
        calls.append((len(source), target.labelled, config.method))
        return real(init, source, target, config, train_config, **kwargs)

    monkeypatch.setattr(training, "adapt_model", spy)
    utts = read_manifest(tiny_manifest)
    config = replace(TrainConfig(), epochs=2, lr=3e-3, warmup_steps=0, checkpoint_every=0, seed=0)
    from asrlab.finetune import finetune
    warm = replace(loaded, model=finetune(loaded, model_dataset(utts, loaded), "full", config).model)
    result = self_train(warm, [replace(u, text="") for u in utts], replace(config, epochs=1), rounds=1, share=1.0,
                        alignment=AlignmentConfig(method="mmd", weight=1.0))
    assert calls and calls[0][1] is False and calls[0][2] == "mmd"
    assert result.rounds[0].steps >= 1


"""Blank-only output: a CTC model whose transcripts are all (or nearly all) empty is reported with
a BlankOutputWarning, once per evaluation, and its share of empty transcripts is on the result."""
from __future__ import annotations

import warnings

import pytest
import torch

from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.decoding.greedy import greedy_decode
from asrlab.errors import BlankOutputWarning
from asrlab.evaluate import NEARLY_BLANK, blank_output_message, evaluate, warn_if_blank_output
from asrlab.manifest import read_manifest
from asrlab.metrics import empty_fraction
from asrlab.models import build_model
from asrlab.text import CharVocabulary
from asrlab.train import fit

VOCAB = CharVocabulary()
FEATS = FeatureConfig()
TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4, dropout=0.0)
#: two utterances a batch: the eight test utterances take four batches
SMALL_BATCHES = LoaderConfig(num_workers=0, max_batch_size=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tiny_manifest) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), VOCAB, FEATS)


def model_that_always_says(index: int):
    """A tiny CTC model whose head ignores the encoder: symbol ``index`` wins every frame."""
    torch.manual_seed(0)
    model = build_model(TINY)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[index] = 10.0
    return model


def blank_warnings(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, BlankOutputWarning)]


# --------------------------------------------------------------------------- pure functions
def test_empty_fraction():
    assert empty_fraction(["the cat", "", "  ", "sat"]) == 0.5
    assert empty_fraction(["", ""]) == 1.0
    assert empty_fraction(["a"]) == 0.0
    assert empty_fraction([]) == 0.0


def test_message_for_all_empty_names_causes_and_remedies():
    message = blank_output_message(["", "", " "])
    assert message is not None and message.startswith("all 3 transcripts are empty (WER 100%)")
    for words in ("blank-first plateau", "too few optimisation steps", "learning rate", "collapse",
                  "from scratch", "pretrained model", "vocabulary"):
        assert words in message, words


def test_message_for_nearly_all_empty():
    message = blank_output_message([""] * 9 + ["a"])
    assert message is not None and message.startswith("9 of 10 transcripts (90%) are empty")
    assert "pretrained model" in message


@pytest.mark.parametrize("hypotheses", [[""] * 8 + ["a", "b"], ["a", "b c"], []])
def test_no_message_when_enough_transcripts_have_text(hypotheses):
    assert NEARLY_BLANK == 0.9
    assert blank_output_message(hypotheses) is None


def test_threshold_is_adjustable():
    assert blank_output_message(["", "a"], threshold=0.5) is not None
    assert blank_output_message(["", "a"], threshold=0.6) is None


def test_blank_log_probs_warn_and_character_log_probs_do_not():
    frames, a = 12, VOCAB.encode("a")[0]
    lengths = torch.tensor([frames, frames])
    blank = torch.full((2, frames, len(VOCAB)), -10.0)
    blank[..., VOCAB.blank] = 0.0
    with pytest.warns(BlankOutputWarning, match="all 2 transcripts are empty"):
        warn_if_blank_output(greedy_decode(blank, lengths, VOCAB))
    speaking = blank.clone()
    speaking[:, ::3, a] = 5.0
    texts = greedy_decode(speaking, lengths, VOCAB)
    assert texts == ["aaaa", "aaaa"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlankOutputWarning)
        warn_if_blank_output(texts)


# --------------------------------------------------------------------------- evaluate
def test_blank_only_model_warns_once_per_evaluation(dataset):
    model = model_that_always_says(VOCAB.blank)
    with pytest.warns(BlankOutputWarning, match=r"all 8 transcripts are empty \(WER 100%\)") as caught:
        result = evaluate(model, dataset, SMALL_BATCHES)
    assert len(blank_warnings(caught.list)) == 1                    # four batches, one warning
    assert caught.list[0].filename == __file__                      # points at the caller of evaluate
    assert result.empty_fraction == 1.0 and result.as_dict()["empty_fraction"] == 1.0
    assert result.rates.wer == 1.0 and result.hypotheses == [""] * 8


def test_model_that_emits_characters_does_not_warn(dataset):
    model = model_that_always_says(VOCAB.encode("a")[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate(model, dataset, SMALL_BATCHES)
    assert blank_warnings(caught) == []
    assert result.empty_fraction == 0.0 and result.hypotheses == ["a"] * 8


def test_dev_evaluations_during_training_do_not_warn(dataset):
    """Blank-only output early in training is CTC's normal plateau: fit's dev evaluations stay quiet."""
    model = model_that_always_says(VOCAB.blank)
    config = TrainConfig(epochs=1, max_steps=1, lr=1e-6, warmup_steps=1, specaugment=None, amp=False,
                         device="cpu", eval_every=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, dataset, config, data=SMALL_BATCHES, dev=dataset, progress=False)
    assert history.column("dev_wer", evals=True) == [1.0]
    assert blank_warnings(caught) == []

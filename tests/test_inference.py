"""run_model: the one loop that runs a model over a dataset (eval mode, no gradients, dataset order)."""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import torch

from asrlab.config import FeatureConfig, LoaderConfig, ModelConfig
from asrlab.datasets import SpeechDataset
from asrlab.inference import ModelOutput, run_model
from asrlab.manifest import read_manifest
from asrlab.models import build_model
from asrlab.text import CharVocabulary

SMALL_BATCHES = LoaderConfig(max_seconds=4.0, num_workers=0)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4))


@pytest.fixture(scope="module")
def dataset(tiny_manifest: Path) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), CharVocabulary(), FeatureConfig())


def test_every_item_once_with_the_outputs_of_a_plain_forward_pass(model, dataset) -> None:
    model.train()
    outputs = list(run_model(model, dataset, SMALL_BATCHES, return_encoder=True))
    assert len(outputs) > 1 and model.training  # several batches; the mode came back
    assert sorted(i for out in outputs for i in out.indices) == list(range(len(dataset)))
    model.eval()
    for out in outputs:
        assert isinstance(out, ModelOutput) and out.seconds > 0 and not out.log_probs.requires_grad
        assert out.batch.ids == [dataset.utterances[i].id for i in out.indices]
        assert out.encoder is not None and len(out.encoder.layers) == 3
        for row, i in enumerate(out.indices):
            feats = dataset[i].feats
            with torch.no_grad():
                alone, lengths = model(feats[None], torch.tensor([feats.shape[0]]))
            frames = int(out.out_lens[row])
            assert frames == int(lengths[0])
            torch.testing.assert_close(out.log_probs[row, :frames], alone[0], atol=1e-4, rtol=1e-4)


def test_batches_are_length_sorted_and_the_encoder_only_when_asked(model, dataset) -> None:
    outputs = list(run_model(model, dataset, SMALL_BATCHES))
    flat = [i for out in outputs for i in out.indices]
    lengths = dataset.frame_lengths()
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert all(out.encoder is None for out in outputs)


class Failing(torch.nn.Module):
    """A model whose forward pass fails on its second batch."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, feats, lengths, return_encoder=False):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("boom")
        return self.inner(feats, lengths, return_encoder=return_encoder)


def test_training_mode_comes_back_after_an_exception(model, dataset) -> None:
    failing = Failing(model).train()
    with pytest.raises(RuntimeError, match="boom"):
        for _ in run_model(failing, dataset, SMALL_BATCHES):
            assert not failing.training and not model.training
    assert failing.training and model.training
    model.train()
    with pytest.raises(ValueError, match="caller"):  # an error in the caller's loop, iterator closed
        with closing(run_model(model, dataset, SMALL_BATCHES)) as outputs:
            for _ in outputs:
                raise ValueError("the caller failed")
    assert model.training
    model.eval()
    list(run_model(model, dataset, SMALL_BATCHES))
    assert not model.training

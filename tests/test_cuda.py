"""The CUDA and mixed-precision paths that Colab classrooms use. Skipped without a GPU (CI has
none); `.ci/gpu-check` runs them on a machine that has one. `ASRLAB_TEST_DEVICE=cpu` runs the same
checks on the CPU (AMP is then off), to check the tests themselves."""
from __future__ import annotations

import math
import os

import pytest
import torch

from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
from asrlab.datasets import SpeechDataset, make_loader
from asrlab.decoding.greedy import greedy_decode
from asrlab.evaluate import evaluate
from asrlab.manifest import read_manifest
from asrlab.models import build_model
from asrlab.text import CharVocabulary
from asrlab.train import fit

DEVICE = os.environ.get("ASRLAB_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="no CUDA device here"),
              pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")]  # a barely trained model

VOCAB = CharVocabulary()
TINY = ModelConfig(hidden=32, num_layers=2, conv_channels=8, dropout=0.0)
DATA = LoaderConfig(num_workers=0, max_batch_size=4)


@pytest.fixture(scope="module")
def dataset(tiny_manifest) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), VOCAB, FeatureConfig())


def test_a_model_gives_the_same_outputs_on_cuda_as_on_the_cpu(dataset) -> None:
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    batch = next(iter(make_loader(dataset, DATA, shuffle=False)))
    with torch.no_grad():
        cpu, cpu_lens = model(batch.feats, batch.feat_lens)
        gpu, gpu_lens = model.to(DEVICE)(batch.feats.to(DEVICE), batch.feat_lens.to(DEVICE))
    assert torch.equal(cpu_lens, gpu_lens.cpu())
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)
    assert greedy_decode(cpu, cpu_lens, VOCAB) == greedy_decode(gpu.cpu(), gpu_lens.cpu(), VOCAB)


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
def test_training_on_cuda_lowers_the_loss_with_and_without_amp(dataset, amp: bool) -> None:
    torch.manual_seed(0)
    model = build_model(TINY)
    config = TrainConfig(epochs=30, lr=3e-3, warmup_steps=5, amp=amp, device=DEVICE, seed=0, specaugment=None,
                         checkpoint_every=0, early_stop_patience=0)
    history = fit(model, dataset, config, data=DATA, progress=False)
    losses = history.column("loss")
    assert all(math.isfinite(x) for x in losses)
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert next(model.parameters()).device.type == DEVICE
    result = evaluate(model, dataset, DATA, device=DEVICE)
    assert 0.0 <= result.rates.cer <= 1.0

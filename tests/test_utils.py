"""asrlab.utils: the one masked mean (shared by probes and adaptation) and the machine description."""
from __future__ import annotations

import pytest
import torch

from asrlab.utils import machine_description, masked_mean


def test_masked_mean_is_the_one_shared_by_probes_and_adaptation() -> None:
    from asrlab import adapt, layers

    assert layers.masked_mean is masked_mean and adapt.masked_mean is masked_mean


def test_masked_mean_ignores_padding_even_nan() -> None:
    x = torch.randn(2, 5, 3)
    padded = x.clone()
    padded[1, 2:] = float("nan")
    means = masked_mean(padded, torch.tensor([5, 2]))
    assert torch.allclose(means, torch.stack([x[0].mean(0), x[1, :2].mean(0)]))


def test_masked_mean_refuses_zero_lengths_and_names_them() -> None:
    x = torch.randn(3, 4, 2)
    with pytest.raises(ValueError, match=r"sequences \[1\] have no valid frames"):
        masked_mean(x, torch.tensor([4, 0, 2]))
    with pytest.raises(ValueError, match="no valid frames"):
        masked_mean(torch.zeros(1, 0, 2), torch.tensor([0]))  # no frames at all


def test_masked_mean_checks_shapes_and_bounds() -> None:
    x = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="lengths"):
        masked_mean(x, torch.tensor([4]))
    with pytest.raises(ValueError, match=r"\[1, 4\]"):
        masked_mean(x, torch.tensor([5, 1]))
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        masked_mean(x[0], torch.tensor([4, 4]))
    assert masked_mean(torch.zeros(0, 4, 3), torch.zeros(0, dtype=torch.long)).shape == (0, 3)


def test_machine_description_names_cores_and_versions() -> None:
    machine = machine_description()
    assert {"cpus", "torch_threads", "gpu", "processor", "torch", "python"} == set(machine)
    assert machine["torch"] == torch.__version__

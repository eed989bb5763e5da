"""Data-parallel training in spawned CPU processes (asrlab.parallel)."""
from __future__ import annotations

import os

import pytest
import torch

from asrlab.bench import fit_rate
from asrlab.config import ModelConfig
from asrlab.manifest import read_manifest
from asrlab.parallel import free_port, run_data_parallel


def test_one_process_runs_here():
    assert run_data_parallel(os.getpid, processes=1) == os.getpid()


def test_workers_see_the_torchrun_environment():
    # rank 0's answer comes back; every worker is told the world size and one thread
    assert run_data_parallel(os.getenv, ("WORLD_SIZE",), processes=2) == "2"
    assert run_data_parallel(os.getenv, ("OMP_NUM_THREADS",), processes=2) == "1"
    assert run_data_parallel(os.getenv, ("RANK",), processes=2) == "0"


def test_a_failing_worker_raises_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"worker \d of 2 failed:(.|\n)*ValueError"):
        run_data_parallel(int, ("not a number",), processes=2)


def test_bad_process_count():
    with pytest.raises(ValueError, match="at least 1"):
        run_data_parallel(os.getpid, processes=0)


def test_free_port_is_a_port():
    assert 1024 <= free_port() <= 65535


@pytest.mark.slow
def test_fit_runs_data_parallel(tiny_manifest, tmp_path):
    utts = read_manifest(tiny_manifest)
    config = ModelConfig(hidden=16, num_layers=1, conv_channels=4)
    rate = run_data_parallel(fit_rate, (utts, tmp_path / "cache", config, 2, 4.0), processes=2)
    assert isinstance(rate, float) and rate > 0
    assert torch.get_num_threads() >= 1   # the parent's threads are untouched


def test_run_in_subprocess_sets_the_environment_only_there():
    from asrlab.parallel import run_in_subprocess

    assert run_in_subprocess(os.getenv, ("ASRLAB_TEST_FLAG",), env={"ASRLAB_TEST_FLAG": "yes"}) == "yes"
    assert os.getenv("ASRLAB_TEST_FLAG") is None
    assert run_in_subprocess(os.getpid) != os.getpid()
    with pytest.raises(RuntimeError, match="ValueError"):
        run_in_subprocess(int, ("x",))

"""The command-line runs are reproducible and resumable: ``asrlab train --seed N`` gives the same
weights twice, and a killed ``asrlab train`` or ``asrlab finetune`` (even one shorter than
``checkpoint_every``) resumes from its last epoch and ends with an uninterrupted run's weights."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import asrlab.train as train_mod
from asrlab.finetune import finetune_manifests
from asrlab.models import load_model, save_model
from asrlab.recipes import train_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Killed(Exception):
    pass


def kill_before_step(monkeypatch, step: int) -> None:
    """Make the run die (like a kill) when it is about to take optimiser step ``step + 1``."""
    original = train_mod.optimizer_step

    def dying(state, world_size=1):
        if state.step == step:
            raise Killed(f"killed before step {step + 1}")
        original(state, world_size)

    monkeypatch.setattr(train_mod, "optimizer_step", dying)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_model(run / "model.pt").model.state_dict()


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ: {different[:5]}"


def train(manifest: Path, out: Path, epochs: int = 1):
    return train_recipe(out_dir=out, train=[manifest], preset="smoke", epochs=epochs, seed=3, progress=False)


def test_train_with_a_seed_gives_the_same_weights_twice(tiny_manifest: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)           # the global RNG differs between the runs: only --seed may decide
    train(tiny_manifest, tmp_path / "a")
    torch.manual_seed(2)
    train(tiny_manifest, tmp_path / "b")
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))


def test_a_killed_train_resumes_and_ends_where_an_uninterrupted_run_does(tiny_manifest: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    full, _ = train(tiny_manifest, tmp_path / "full", epochs=3)
    steps = len(full.steps)
    per_epoch = steps // 3
    with monkeypatch.context() as patch:
        kill_before_step(patch, per_epoch)                           # in the second epoch, before its first step
        with pytest.raises(Killed):
            train(tiny_manifest, tmp_path / "run", epochs=3)
    resumed, _ = train(tiny_manifest, tmp_path / "run", epochs=3)
    assert resumed.resumed_from_step == per_epoch
    assert_same_weights(weights(tmp_path / "run"), weights(tmp_path / "full"))


def test_a_killed_finetune_shorter_than_checkpoint_every_resumes(tiny_pretrained, tiny_manifest: Path,
                                                                 tmp_path: Path, monkeypatch) -> None:
    init, _ = tiny_pretrained
    save_model(tmp_path / "init.pt", init.model, init.features, init.vocab, {"name": "tiny"})

    def finetune(out: Path):
        return finetune_manifests(tmp_path / "init.pt", [tiny_manifest], "full", out, epochs=3, seed=1,
                                  progress=False)

    full = finetune(tmp_path / "full")
    per_epoch = len(full.history.steps) // 3
    assert len(full.history.steps) < 50                              # shorter than its checkpoint_every
    with monkeypatch.context() as patch:
        kill_before_step(patch, per_epoch)
        with pytest.raises(Killed):
            finetune(tmp_path / "run")
    resumed = finetune(tmp_path / "run")
    assert resumed.history.resumed_from_step == per_epoch
    assert_same_weights(weights(tmp_path / "run"), weights(tmp_path / "full"))

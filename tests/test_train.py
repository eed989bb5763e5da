"""The training engine: overfitting, determinism, resume (also from checkpoints in the format of
earlier versions), the training state, accumulation, clipping, early stopping, freezing, NaN
guards, the extra-loss hook (and weight penalties through it), the data-parallel setup and
DistributedDataParallel on the CPU."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import asrlab.train as train_mod
from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, SpecAugmentConfig, TrainConfig
from asrlab.datasets import BucketBatchSampler, SpeechDataset
from asrlab.errors import CheckpointError
from asrlab.evaluate import evaluate
from asrlab.features import FeatureCache
from asrlab.manifest import read_manifest
from asrlab.models import build_model, load_model
from asrlab.text import CharVocabulary
from asrlab.parallel import Distributed
from asrlab.train import (CHECKPOINT_FILE, History, ParameterPenalty, StepInfo, TrainState, _lr_lambda, fit,
                          layerwise_param_groups, train_top_k)

REPO = Path(__file__).resolve().parent.parent
VOCAB = CharVocabulary()
FEATS = FeatureConfig()
TINY = ModelConfig(hidden=16, num_layers=1, conv_channels=4, dropout=0.1)
QUICK = TrainConfig(epochs=1, lr=3e-3, warmup_steps=2, amp=False, device="cpu", seed=0,
                    specaugment=SpecAugmentConfig(freq_width=8, time_width=10))
DATA = LoaderConfig(num_workers=0, max_batch_size=2)


# One intra-op thread: tiny models gain nothing from two, and a busy 2-core machine makes OpenMP
# threads wait on each other (GRU steps get ~100x slower).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> FeatureCache:
    return FeatureCache(tmp_path_factory.mktemp("features"), FEATS)


@pytest.fixture(scope="module")
def train_ds(tiny_manifest, cache) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), VOCAB, FEATS, cache=cache)


def tiny_model(seed: int = 0, config: ModelConfig = TINY):
    torch.manual_seed(seed)
    return build_model(config)


def state_of(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ: {different[:5]}"


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging forever (SIGALRM, main thread on Unix)."""
    def handler(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s: fit() is probably looping forever")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def capture_grads(model):
    """Record every parameter's gradient at each optimiser step."""
    seen: list[dict[str, torch.Tensor]] = []

    def hook(optimizer, args, kwargs):
        seen.append({n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None})

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


# --------------------------------------------------------------------------- overfitting
@pytest.mark.slow
def test_overfits_a_handful_of_utterances(train_ds):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=128, num_layers=1, dropout=0.0, conv_channels=16))
    config = TrainConfig(epochs=150, lr=1e-2, warmup_steps=20, specaugment=None, amp=False, device="cpu")
    history = fit(model, train_ds, config, data=LoaderConfig(num_workers=0, max_batch_size=4), progress=False)
    losses = history.column("loss")
    assert len(losses) == 300
    assert sum(losses[-10:]) / 10 < 0.1 * sum(losses[:10]) / 10
    result = evaluate(model, train_ds)
    assert result.rates.wer < 0.05, list(zip(result.references, result.hypotheses))
    assert history.audio_seconds == pytest.approx(150 * sum(u.duration for u in train_ds.utterances), rel=0.02)


# --------------------------------------------------------------------------- determinism, resume
def test_seeded_runs_are_deterministic_on_cpu(train_ds):
    config = replace(QUICK, max_steps=3)
    runs = []
    for seed in (0, 0, 1):
        model = tiny_model()
        history = fit(model, train_ds, replace(config, seed=seed), data=DATA, progress=False)
        assert len(history.steps) == 3
        runs.append((state_of(model), history.column("loss")))
    assert_same_state(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert any(not torch.equal(runs[0][0][k], runs[2][0][k]) for k in runs[0][0])


class Killed(Exception):
    pass


def kill_at(step: int):
    def callback(event, state):
        if event == "step" and state["row"]["step"] == step:
            raise Killed(f"killed at step {step}")
    return callback


def test_resume_after_a_crash_matches_an_uninterrupted_run(train_ds, tmp_path):
    config = replace(QUICK, epochs=3, checkpoint_every=1, seed=5)       # 4 batches/epoch, 12 steps
    full_model = tiny_model()
    full = fit(full_model, train_ds, config, data=DATA, out_dir=tmp_path / "full", progress=False)
    assert len(full.steps) == 12 and full.resumed_from_step is None

    with pytest.raises(Killed):
        fit(tiny_model(), train_ds, config, data=DATA, out_dir=tmp_path / "run", progress=False,
            callbacks=[kill_at(6)])                                     # mid-way through epoch 1
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)
    assert ckpt["step"] == 5 and ckpt["epoch"] == 1
    assert not (tmp_path / "run" / "model.pt").exists()

    resumed_model = tiny_model(seed=123)                                # weights come from the checkpoint
    resumed = fit(resumed_model, train_ds, config, data=DATA, out_dir=tmp_path / "run", progress=False)
    assert resumed.resumed_from_step == 5
    assert resumed.column("loss") == full.column("loss")
    assert_same_state(state_of(resumed_model), state_of(full_model))
    assert_same_state(load_model(tmp_path / "run").model.state_dict(), state_of(full_model))

    with pytest.raises(CheckpointError, match="other training settings"):
        fit(tiny_model(), train_ds, replace(config, lr=1e-3), data=DATA, out_dir=tmp_path / "run",
            progress=False)


def test_a_run_shorter_than_checkpoint_every_resumes_from_its_last_epoch(train_ds, tmp_path):
    # asrlab finetune checkpoints every 50 steps: a 12-step run killed in its second epoch used to restart at 0
    config = replace(QUICK, epochs=3, checkpoint_every=50, checkpoint_seconds=3600, seed=5)  # 4 batches/epoch
    full_model = tiny_model()
    fit(full_model, train_ds, config, data=DATA, out_dir=tmp_path / "full", progress=False)

    with pytest.raises(Killed):
        fit(tiny_model(), train_ds, config, data=DATA, out_dir=tmp_path / "run", progress=False,
            callbacks=[kill_at(6)])                                     # in epoch 1: loses at most that epoch
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)
    assert ckpt["step"] == 4 and ckpt["epoch"] == 1 and ckpt["batch_in_epoch"] == 0

    resumed_model = tiny_model(seed=123)
    resumed = fit(resumed_model, train_ds, config, data=DATA, out_dir=tmp_path / "run", progress=False)
    assert resumed.resumed_from_step == 4
    assert_same_state(state_of(resumed_model), state_of(full_model))


def test_checkpoints_are_also_written_by_time(train_ds, tmp_path, monkeypatch):
    # a long epoch loses at most checkpoint_seconds of work: the clock says a minute passes per step
    clock = iter(range(0, 10_000, 61))
    monkeypatch.setattr(train_mod, "_clock", lambda: float(next(clock)))
    config = replace(QUICK, epochs=1, checkpoint_every=50, checkpoint_seconds=60, seed=5)
    with pytest.raises(Killed):
        fit(tiny_model(), train_ds, config, data=DATA, out_dir=tmp_path / "run", progress=False,
            callbacks=[kill_at(3)])
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT_FILE, weights_only=True)
    assert ckpt["step"] == 2 and ckpt["epoch"] == 0


#: The keys of the checkpoint dict that fit() wrote by hand before TrainState (asrlab up to 72ed495).
OLD_CHECKPOINT_KEYS = {"train_config", "model", "extra_modules", "optimizer", "scheduler", "scaler", "rng", "aug_rng",
                       "epoch", "batch_in_epoch", "step", "extra_epoch", "extra_batch", "patience_left", "best_model",
                       "history"}


def test_a_checkpoint_in_the_format_of_earlier_versions_resumes(train_ds, tmp_path):
    config = replace(QUICK, epochs=2, checkpoint_every=1, seed=3, early_stop_patience=5)
    full_model = tiny_model()
    full = fit(full_model, train_ds, config, data=DATA, dev=train_ds, progress=False)
    with pytest.raises(Killed):
        fit(tiny_model(), train_ds, config, data=DATA, dev=train_ds, out_dir=tmp_path, progress=False,
            callbacks=[kill_at(6)])
    written = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert set(written) == OLD_CHECKPOINT_KEYS                        # the format is the old one
    # the dict as the old fit() built it, key by key, from plain values; saved with plain torch.save
    old = {
        "train_config": {"epochs": 2, "lr": 3e-3, "weight_decay": 1e-2, "warmup_steps": 2, "scheduler": "cosine",
                         "grad_accum": 1, "grad_clip": 5.0, "amp": False, "seed": 3, "eval_every": 0,
                         "checkpoint_every": 1, "early_stop_patience": 5, "max_steps": 0,
                         "specaugment": {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 10,
                                         "max_time_fraction": 0.2, "freq_warp": 0.0},
                         "device": "cpu"},
        "model": dict(written["model"]), "extra_modules": {}, "optimizer": written["optimizer"],
        "scheduler": written["scheduler"], "scaler": written["scaler"], "rng": written["rng"],
        "aug_rng": written["aug_rng"], "epoch": 1, "batch_in_epoch": 1, "step": 5, "extra_epoch": 0,
        "extra_batch": 0, "patience_left": written["patience_left"], "best_model": written["best_model"],
        "history": {"steps": written["history"]["steps"], "evals": written["history"]["evals"],
                    "best_dev_wer": written["history"]["best_dev_wer"], "best_step": 4, "stopped_early": False,
                    "seconds": 1.0, "audio_seconds": written["history"]["audio_seconds"],
                    "resumed_from_step": None},
    }
    assert {k: v for k, v in written.items() if not isinstance(v, (dict, torch.Tensor))} == \
        {k: v for k, v in old.items() if not isinstance(v, (dict, torch.Tensor))}
    torch.save(old, tmp_path / CHECKPOINT_FILE)
    resumed_model = tiny_model(seed=9)
    resumed = fit(resumed_model, train_ds, config, data=DATA, dev=train_ds, out_dir=tmp_path, progress=False)
    assert resumed.resumed_from_step == 5
    assert resumed.steps == full.steps and resumed.evals == full.evals
    assert_same_state(state_of(resumed_model), state_of(full_model))


def test_train_state_round_trips_through_its_state_dict(train_ds, tmp_path):
    config = replace(QUICK, max_steps=3, checkpoint_every=1)
    fit(tiny_model(), train_ds, config, data=DATA, out_dir=tmp_path, progress=False)
    saved = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    model = tiny_model(seed=4)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    state = TrainState(config, model, optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=False),
                       torch.Generator())
    state.load_state_dict(saved, "saved")
    assert (state.step, state.epoch, len(state.history.steps)) == (3, 0, 3)
    assert_same_state(state_of(model), saved["model"])
    again = state.state_dict()
    assert set(again) == OLD_CHECKPOINT_KEYS
    assert again["history"] == saved["history"] and torch.equal(again["aug_rng"], saved["aug_rng"])
    with pytest.raises(CheckpointError, match="saved was written by a run with other training settings"):
        replace(state, config=replace(config, lr=1.0)).load_state_dict(saved, "saved")


def test_checkpoint_and_model_files_load_with_weights_only(train_ds, tmp_path):
    config = replace(QUICK, epochs=2, early_stop_patience=3)
    history = fit(tiny_model(), train_ds, config, data=DATA, dev=train_ds, out_dir=tmp_path,
                  progress=False, meta={"purpose": "test"})
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert state["step"] == 8 and state["epoch"] == 2
    assert History.from_dict(state["history"]).steps == history.steps
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert payload["meta"]["purpose"] == "test" and payload["meta"]["steps"] == 8
    loaded = load_model(tmp_path / "model.pt", config=TINY)
    assert loaded.features == FEATS and loaded.vocab == VOCAB
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE, "model.pt"]   # no temp files


# --------------------------------------------------------------------------- epochs and steps
def test_epochs_whose_batch_count_varies_all_run(train_ds):
    """Batch counts per epoch vary with the shuffle: no hang, no epoch cut short."""
    lengths = train_ds.frame_lengths()
    for seed in range(200):
        counts = []
        for epoch in range(3):
            sampler = BucketBatchSampler(lengths, 300, 8, num_buckets=1, seed=seed)
            sampler.set_epoch(epoch)
            counts.append(len(sampler))
        if min(counts[1:]) < counts[0]:          # a later epoch is shorter than the first
            break
    else:
        pytest.fail("no seed gives varying batch counts: adjust max_seconds")
    config = replace(QUICK, epochs=3, seed=seed, specaugment=None)
    with time_limit(30):
        history = fit(tiny_model(), train_ds, config, data=LoaderConfig(num_workers=0, max_seconds=3.0,
                                                                       max_batch_size=8, num_buckets=1),
                      progress=False)
    assert [sum(1 for r in history.steps if r["epoch"] == e) for e in range(3)] == counts


def test_max_steps_stops_early(train_ds):
    history = fit(tiny_model(), train_ds, replace(QUICK, epochs=5, max_steps=3), data=DATA, progress=False)
    assert [r["step"] for r in history.steps] == [1, 2, 3]


def test_lr_schedule_warms_up_then_decays():
    scale = _lr_lambda(TrainConfig(warmup_steps=4), total_steps=104)
    assert [scale(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert scale(4) == pytest.approx(1.0) and scale(54) == pytest.approx(0.525)
    assert scale(104) == pytest.approx(0.05) and scale(500) == pytest.approx(0.05)
    constant = _lr_lambda(TrainConfig(warmup_steps=0, scheduler="constant"), total_steps=10)
    assert constant(0) == constant(9) == 1.0
    assert StepInfo(0, 5, 10).progress == 0.5 and StepInfo(0, 50, 10).progress == 1.0


# --------------------------------------------------------------------------- accumulation, clipping
def test_grad_accumulation_sums_micro_batches(tiny_manifest, cache):
    two = SpeechDataset(read_manifest(tiny_manifest)[:2], VOCAB, FEATS, cache=cache)
    config = replace(QUICK, specaugment=None, grad_clip=0.0)
    model_cfg = replace(TINY, dropout=0.0)
    grads = []
    for batch_size, accum in ((2, 1), (1, 2)):
        model = tiny_model(config=model_cfg)
        with capture_grads(model) as seen:
            history = fit(model, two, replace(config, grad_accum=accum),
                          data=LoaderConfig(num_workers=0, max_batch_size=batch_size), progress=False)
        assert len(history.steps) == 1 and len(seen) == 1
        grads.append(seen[0])
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():          # equal up to float summation order
        assert torch.allclose(g, grads[1][name], rtol=1e-3, atol=1e-3 * float(g.abs().max())), name


def test_grad_accumulation_flushes_at_epoch_end(train_ds):
    data = LoaderConfig(num_workers=0, max_batch_size=3)               # batches of 3, 3, 2
    history = fit(tiny_model(), train_ds, replace(QUICK, epochs=2, grad_accum=2), data=data, progress=False)
    assert [r["epoch"] for r in history.steps] == [0, 0, 1, 1]


def test_gradient_clipping(train_ds):
    norms = {}
    for clip in (0.0, 0.01):
        model = tiny_model()
        with capture_grads(model) as seen:
            fit(model, train_ds, replace(QUICK, max_steps=2, grad_clip=clip), data=DATA, progress=False)
        norms[clip] = [torch.linalg.vector_norm(torch.stack([g.norm() for g in s.values()])).item() for s in seen]
    assert all(n > 0.05 for n in norms[0.0])
    assert all(n <= 0.01 * (1 + 1e-4) for n in norms[0.01])


# --------------------------------------------------------------------------- dev, early stopping
def test_early_stopping_with_patience(train_ds):
    config = replace(QUICK, epochs=10, lr=0.0, early_stop_patience=2)   # dev WER never improves
    history = fit(tiny_model(), train_ds, config, data=LoaderConfig(num_workers=0, max_batch_size=4),
                  dev=train_ds, progress=False)
    assert history.stopped_early
    assert len(history.evals) == 3 and history.best_step == 2
    assert len(history.steps) == 6 and history.steps[-1]["epoch"] == 2

    finished = fit(tiny_model(), train_ds, replace(config, epochs=2, early_stop_patience=1),
                   data=LoaderConfig(num_workers=0, max_batch_size=4), dev=train_ds, progress=False)
    assert len(finished.evals) == 2 and not finished.stopped_early   # patience ran out at the end


def test_best_dev_model_is_loaded_back(train_ds, tmp_path, monkeypatch):
    wers = iter([0.9, 0.3, 0.6, 0.7])

    def fake_evaluate(model, dev, data, device):
        w = next(wers)
        return SimpleNamespace(rates=SimpleNamespace(wer=w, cer=w / 2), loss=1.0)

    monkeypatch.setattr(train_mod, "evaluate", fake_evaluate)
    model = tiny_model()
    at_eval = []
    callback = lambda event, state: at_eval.append(state_of(model)) if event == "eval" else None  # noqa: E731
    history = fit(model, train_ds, replace(QUICK, epochs=4), data=DATA, dev=train_ds, out_dir=tmp_path,
                  callbacks=[callback], progress=False)
    assert len(at_eval) == 4 and history.column("dev_wer", evals=True) == [0.9, 0.3, 0.6, 0.7]
    assert history.best_dev_wer == 0.3 and history.best_step == 8 and not history.stopped_early
    assert any(not torch.equal(at_eval[1][k], at_eval[3][k]) for k in at_eval[1])
    assert_same_state(state_of(model), at_eval[1])
    assert_same_state(load_model(tmp_path).model.state_dict(), at_eval[1])
    assert torch.load(tmp_path / "model.pt", weights_only=True)["meta"]["best_dev_wer"] == 0.3


# --------------------------------------------------------------------------- freezing
def test_train_top_k_zero_trains_only_the_head(train_ds):
    model = train_top_k(tiny_model(), 0)
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"head"}
    before = state_of(model)
    fit(model, train_ds, replace(QUICK, max_steps=3), data=DATA, progress=False)
    after = state_of(model)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        assert changed == name.startswith("head."), name


def test_train_top_k_choice_of_blocks():
    model = tiny_model(config=replace(TINY, num_layers=2))
    train_top_k(model, 1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("encoder.rnns.1.") for n in trainable)
    assert not any(n.startswith(("encoder.rnns.0.", "encoder.frontend.")) for n in trainable)
    train_top_k(model, 3)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="k must be in"):
        train_top_k(model, 4)


def test_layerwise_param_groups_decay_per_block(train_ds):
    model = tiny_model(config=replace(TINY, num_layers=2))
    groups = layerwise_param_groups(model, lr=1.0, decay=0.5)
    assert [g["name"] for g in groups] == ["head", "block-1", "block-2", "block-3"]
    assert [g["lr"] for g in groups] == [1.0, 0.5, 0.25, 0.125]
    assert {id(p) for g in groups for p in g["params"]} == {id(p) for p in model.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.encoder.rnns[1].parameters()}
    assert [g["name"] for g in layerwise_param_groups(train_top_k(model, 1), 1.0, 0.5)] == ["head", "block-1"]

    model = tiny_model()                     # decay 0: only the head moves, so fit honours the groups
    before = state_of(model)
    fit(model, train_ds, replace(QUICK, max_steps=2), data=DATA, progress=False,
        param_groups=layerwise_param_groups(model, lr=3e-3, decay=0.0))
    after = state_of(model)
    assert all(torch.equal(before[k], after[k]) == (not k.startswith("head.")) for k in before)


# --------------------------------------------------------------------------- NaN guards, hooks
def test_nan_extra_loss_stops_training_naming_utterances(train_ds):
    def nan_loss(source, target, info):
        return torch.tensor(float("nan")), {}

    with pytest.raises(FloatingPointError, match="total loss is nan") as info:
        fit(tiny_model(), train_ds, QUICK, data=DATA, extra_loss=nan_loss, progress=False)
    assert any(u.id in str(info.value) for u in train_ds.utterances)


def test_infinite_ctc_loss_stops_training(tiny_manifest, cache):
    utts = read_manifest(tiny_manifest)
    lying = replace(utts[2], text="this transcript is much too long for a second of speech " * 2,
                    duration=30.0)                         # the manifest lies about the duration
    ds = SpeechDataset([lying], VOCAB, FEATS, cache=cache, check_audio=False)
    with pytest.raises(FloatingPointError, match="CTC loss is inf") as info:
        fit(tiny_model(), ds, QUICK, data=DATA, progress=False)
    assert lying.id in str(info.value)


def test_extra_loss_hook_gets_source_and_target(train_ds, tiny_manifest, cache):
    target_ds = SpeechDataset(read_manifest(tiny_manifest)[:5], VOCAB, FEATS, cache=cache, labelled=False)
    calls = []

    def hook(source, target, info):
        for out in (source, target):
            assert out.hidden.shape[0] == out.lengths.shape[0]
            assert len(out.layers) == TINY.num_layers + 1
            for i, n in enumerate(out.lengths.tolist()):
                assert torch.all(out.hidden[i, n:] == 0)
        calls.append((source.hidden.shape[0], target.hidden.shape[0], info.step))
        return torch.tensor(2.0), {"my_log": 1.5}

    history = fit(tiny_model(), train_ds, replace(QUICK, epochs=2), data=LoaderConfig(num_workers=0, max_batch_size=3),
                  extra_loss=hook, extra_data=target_ds, progress=False)
    assert [c[2] for c in calls] == list(range(6))
    assert sum(c[0] for c in calls[:3]) == 8                   # every labelled utterance once per epoch
    assert sum(c[1] for c in calls[:2]) == 5                   # the target data cycles on its own
    assert all(1 <= c[0] <= 3 and 1 <= c[1] <= 3 for c in calls)
    assert history.column("my_log") == [1.5] * 6
    assert all(r["loss"] == pytest.approx(r["ctc"] + 2.0) for r in history.steps)


def test_extra_loss_without_extra_data_gets_no_target(train_ds):
    seen = []

    def hook(source, target, info):
        seen.append(target)
        return source.hidden.pow(2).mean() * 0.0, {}

    fit(tiny_model(), train_ds, replace(QUICK, max_steps=2), data=DATA, extra_loss=hook, progress=False)
    assert seen == [None, None]


def test_a_weight_penalty_goes_through_the_same_hook(train_ds):
    model = tiny_model()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}

    def pull_back(m):
        return sum((p - start[n]).pow(2).sum() for n, p in m.named_parameters())

    history = fit(model, train_ds, replace(QUICK, max_steps=3), data=DATA, progress=False,
                  extra_loss=ParameterPenalty(pull_back, model, name="pull"))
    assert history.column("pull")[0] == 0.0 and history.column("pull")[-1] > 0.0
    assert all(r["loss"] == pytest.approx(r["ctc"] + r["pull"]) for r in history.steps)


def test_distributed_setup_is_read_from_the_environment_only_when_not_given(train_ds, monkeypatch):
    assert Distributed.from_env({}) == Distributed() and not Distributed().enabled
    job = Distributed.from_env({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"})
    assert (job.rank, job.world_size, job.local_rank, job.enabled) == (2, 4, 0, True)
    with pytest.raises(ValueError, match="rank 2 of world size 2"):
        Distributed(rank=2, world_size=2)
    assert Distributed().start() == Distributed()
    monkeypatch.setenv("WORLD_SIZE", "2")            # a stale torchrun environment, and no group to join
    history = fit(tiny_model(), train_ds, replace(QUICK, max_steps=2), data=DATA, progress=False,
                  distributed=Distributed())
    assert len(history.steps) == 2


def test_nothing_to_train_is_an_error(train_ds):
    model = tiny_model()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        fit(model, train_ds, QUICK, data=DATA, progress=False)


# --------------------------------------------------------------------------- DDP on the CPU
DDP_SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    import torch.distributed as dist
    from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, TrainConfig
    from asrlab.datasets import SpeechDataset
    from asrlab.manifest import read_manifest
    from asrlab.models import build_model
    from asrlab.text import CharVocabulary
    from asrlab.train import fit

    manifest, out = sys.argv[1], sys.argv[2]
    rank = int(os.environ["RANK"])
    torch.manual_seed(rank)          # different initial weights: DDP must broadcast rank 0's
    model = build_model(ModelConfig(hidden=16, num_layers=1, conv_channels=4, dropout=0.1))
    ds = SpeechDataset(read_manifest(manifest), CharVocabulary(), FeatureConfig())
    history = fit(model, ds, TrainConfig(epochs=2, lr=3e-3, warmup_steps=1, amp=False, device="cpu"),
                  data=LoaderConfig(num_workers=0, max_batch_size=2), out_dir=out + "/run", progress=False)
    torch.save({"state": model.state_dict(), "steps": len(history.steps), "world": dist.get_world_size()},
               f"{out}/rank{rank}.pt")
    dist.destroy_process_group()
""")


@pytest.mark.slow
def test_ddp_two_ranks_on_cpu(tiny_manifest, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           str(script), str(tiny_manifest), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 4             # 4 batches/epoch, 2 per rank, 2 epochs
    assert_same_state(ranks[0]["state"], ranks[1]["state"])
    loaded = load_model(tmp_path / "run")
    assert_same_state(loaded.model.state_dict(), ranks[0]["state"])

"""Notebook 02's exercises work: each hint's library call runs at tiny size and changes the result.

Every exercise changes a knob of the notebook; here the same change goes into the library call
that the knob feeds (:func:`asrlab.course.fine_tuning.run_regime`), on a tiny model and eight espeak
utterances, and the test checks that the call runs and that its result differs from the one
with the lesson's value. A tiny model learns no words in a few steps, so the checks look at what
the knob acts on (how far the weights move, what trains, how many steps run), not at WER.

Exercise 3 (``TARGET = "noisy"`` or ``"telephone"``) changes the data, not a call: it needs the
built corpus of notebook 01, which a unit test does not have, so only the names are checked
here (they must be target domains of the corpus); the notebook's own smoke run covers loading a
domain.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from asrlab.config import SpecAugmentConfig, TrainConfig
from asrlab.corpus.domains import TARGET_DOMAINS
from asrlab.course.fine_tuning import LESSON_KNOBS, run_regime
from asrlab.models.checkpoint import LoadedModel

CONFIG = TrainConfig(lr=5e-3, warmup_steps=0, specaugment=None, seed=0, device="cpu")
BUDGET_S = 40.0  # audio seconds: a few epochs over the eight utterances
# a tiny model trained for a few steps outputs only blanks, and every evaluation says so: expected here
pytestmark = pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")


@pytest.fixture(scope="module")
def setup(tiny_pretrained):
    return tiny_pretrained


def run(setup, regime: str, config: TrainConfig = CONFIG, budget: float = BUDGET_S, **kwargs):
    init, data = setup
    return run_regime(init, regime, data, None, data, data, config, budget_seconds=budget,
                      source_wer_before=1.0, **kwargs)


@torch.no_grad()
def encoder_distance(init: LoadedModel, model) -> float:
    start = dict(init.model.encoder.named_parameters())
    return sum(float((p - start[name]).pow(2).sum()) for name, p in model.encoder.named_parameters()) ** 0.5


def test_exercise_1_l2sp_alpha_sets_how_far_the_encoder_moves(setup):
    init, _ = setup
    lesson = LESSON_KNOBS["smoke"]["L2SP_ALPHA"]
    distance = {alpha: encoder_distance(init, run(setup, "l2sp", l2sp_alpha=alpha)[1].model)
                for alpha in (0.1, lesson, 10.0)}
    assert distance[10.0] < distance[lesson] < distance[0.1]  # a stronger pull stays nearer the start


def test_exercise_2_top_k_sets_what_trains(setup):
    init, _ = setup
    blocks = len(init.model.encoder.blocks)
    trainable = {k: run(setup, "top-k", k=k)[0].trainable_parameters for k in (0, 1, blocks)}
    head = sum(p.numel() for p in init.model.head.parameters())
    assert trainable[0] == head < trainable[1] < trainable[blocks]
    assert trainable[blocks] == sum(p.numel() for p in init.model.parameters())


def test_exercise_2_top_k_zero_keeps_the_pretrained_head_where_head_replaces_it(setup):
    init, _ = setup
    kept, new = run(setup, "top-k", k=0, budget=1.0)[1].model, run(setup, "head", budget=1.0)[1].model
    start = init.model.head.weight
    assert torch.dist(kept.head.weight, start) < 0.5 * torch.dist(new.head.weight, start)


def test_exercise_3_names_real_target_domains():
    assert {"noisy", "telephone"} <= set(TARGET_DOMAINS)
    assert LESSON_KNOBS["smoke"]["TARGET"] in TARGET_DOMAINS


def test_exercise_4_a_larger_budget_trains_for_more_steps(setup):
    one, two = run(setup, "full")[0], run(setup, "full", budget=2 * BUDGET_S)[0]
    assert two.epochs >= 2 * one.epochs - 1 and two.steps > one.steps


def test_exercise_5_specaugment_changes_what_is_learned(setup):
    plain = run(setup, "full")[1].model
    masked = run(setup, "full", config=replace(CONFIG, specaugment=SpecAugmentConfig()))[1].model
    assert any(not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), masked.state_dict().values()))

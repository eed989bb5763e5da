"""Multi-task fine-tuning (an utterance classifier on the shared encoder) and source replay:
labels from manifests, padding-blind pooling, mu = 0 is plain fine-tuning, the classifier learns
an easy task, replay keeps the source loss down, the CLI flags."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from asrlab.audio import save_audio
from asrlab.cli import main
from asrlab.config import AuxiliaryConfig, FeatureConfig, LoaderConfig, ModelConfig, ReplayConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import evaluate
from asrlab.finetune import finetune
from asrlab.manifest import Utterance, read_manifest, write_manifest
from asrlab.models import build_model, save_model
from asrlab.models.base import EncoderOutput
from asrlab.models.checkpoint import LoadedModel
from asrlab.multitask import (AuxiliaryHead, AuxiliaryLoss, UtteranceClasses, auxiliary_accuracy, chance_accuracy,
                              utterance_field)
from asrlab.replay import SourceReplay
from asrlab.text import CharVocabulary
from asrlab.train import ExtraLosses, StepInfo, combine_extra_losses

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB = CharVocabulary()
FEATS = FeatureConfig()
CONFIG = TrainConfig(epochs=2, lr=5e-3, warmup_steps=0, specaugment=None, seed=0, amp=False, device="cpu")
DATA = LoaderConfig(num_workers=0, max_batch_size=4)


def toy_manifest(folder: Path, split: str, n: int) -> Path:
    """``n`` one-second tones (domain ``tone``) and ``n`` noises (domain ``noise``), with fake transcripts."""
    rng = np.random.default_rng(len(split))
    t = np.arange(16000) / 16000
    utts = []
    for i in range(n):
        for kind in ("tone", "noise"):
            wave = 0.3 * np.sin(2 * np.pi * (300 + 70 * i) * t) if kind == "tone" else 0.1 * rng.standard_normal(16000)
            path = folder / "audio" / f"{kind}-{split}-{i}.wav"
            save_audio(path, wave.astype(np.float32))
            utts.append(Utterance(str(path), "ab" if kind == "tone" else "ba", 1.0, kind, f"s{i % 2}", split))
    return write_manifest(folder / f"{split}.jsonl", utts)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[SpeechDataset, SpeechDataset, Path]:
    folder = tmp_path_factory.mktemp("toy")
    train, dev = toy_manifest(folder, "train", 4), toy_manifest(folder, "dev", 3)
    return (SpeechDataset(read_manifest(train), VOCAB, FEATS), SpeechDataset(read_manifest(dev), VOCAB, FEATS), train)


@pytest.fixture(scope="module")
def init() -> LoadedModel:
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=1, conv_channels=4, dropout=0.1))
    return LoadedModel(model, FEATS, VOCAB, {"name": "tiny"})


def same_weights(a, b) -> bool:
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


# --------------------------------------------------------------------------- labels
def test_labels_come_from_the_manifest_fields() -> None:
    utt = Utterance("/x/a.wav", "hi", 1.0, "accent", "espeak:en-gb-scotland+m3", "train",
                    {"voice": {"accent": "en-gb-x-rp"}, "style": "read", "_where": "m.jsonl:4"})
    assert utterance_field(utt, "speaker") == "espeak:en-gb-scotland+m3"
    assert utterance_field(utt, "domain") == "accent" and utterance_field(utt, "style") == "read"
    assert utterance_field(utt, "accent") == "en-gb-x-rp"                          # the voice's accent first
    bare = replace(utt, extra={"_where": "m.jsonl:5"})
    assert utterance_field(bare, "accent") == "en-gb-scotland"                     # else the speaker label's
    with pytest.raises(ValueError, match="m.jsonl:5.*no field 'gender'"):
        utterance_field(bare, "gender")
    classes = UtteranceClasses.from_utterances([utt, replace(utt, domain="noisy", audio="/x/b.wav")], "domain")
    assert classes.classes == ("accent", "noisy") and classes.targets([utt]) == {"a": 0}
    with pytest.raises(ValueError, match="at least two classes"):
        UtteranceClasses.from_utterances([utt], "domain")


def test_the_head_pools_valid_frames_only() -> None:
    head = AuxiliaryHead(4, 3)
    x = torch.randn(2, 6, 4)
    lengths = torch.tensor([6, 3])
    padded = x.clone()
    padded[1, 3:] = 1e6
    assert torch.allclose(head(x, lengths), head(padded, lengths))
    assert torch.allclose(head(x, lengths)[1], head(x[1:, :3], torch.tensor([3]))[0])


def test_the_loss_reads_each_rows_class_by_utterance_id() -> None:
    head = AuxiliaryHead(4, 2)
    loss = AuxiliaryLoss(head, {"u1": 0, "u2": 1}, weight=0.5)
    out = EncoderOutput(torch.randn(2, 5, 4), torch.tensor([5, 4]), [])
    value, logs = loss(out, None, StepInfo(0, 0, 1, ("u2", "u1")))
    logits = head(out.hidden, out.lengths)
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0]))
    assert float(value.detach()) == pytest.approx(0.5 * float(expected.detach()))
    assert logs["aux_ce"] == pytest.approx(float(expected.detach()))
    with pytest.raises(ValueError, match="utterance ids"):
        loss(out, None, StepInfo(0, 0, 1))
    with pytest.raises(ValueError, match="no class"):
        loss(out, None, StepInfo(0, 0, 1, ("u1", "u9")))


# --------------------------------------------------------------------------- multi-task fine-tuning
def test_mu_zero_is_plain_fine_tuning_exactly(init, toy) -> None:
    train, dev, _ = toy
    plain = finetune(init, train, "full", CONFIG, data=DATA, dev=dev)
    zero = finetune(init, train, "full", CONFIG, data=DATA, dev=dev, auxiliary=AuxiliaryConfig("domain", 0.0))
    assert same_weights(plain.model, zero.model)
    assert zero.history.column("ctc") == plain.history.column("ctc") and "aux_ce" in zero.history.steps[-1]
    some = finetune(init, train, "full", CONFIG, data=DATA, dev=dev, auxiliary=AuxiliaryConfig("domain", 1.0))
    assert not same_weights(plain.model, some.model)                  # mu > 0 reaches the shared encoder


def test_the_auxiliary_head_learns_an_easy_task(init, toy) -> None:
    train, dev, _ = toy
    result = finetune(init, train, "head", replace(CONFIG, epochs=8, lr=2e-2), data=DATA, dev=dev,
                      auxiliary=AuxiliaryConfig("domain", 1.0))
    assert result.aux_classes is not None and result.aux_classes.classes == ("noise", "tone")
    assert chance_accuracy(dev, result.aux_classes) == 0.5
    assert result.aux_dev_accuracy is not None and result.aux_dev_accuracy >= 0.8
    assert result.aux_dev_accuracy == auxiliary_accuracy(result.model, result.aux_head, dev, result.aux_classes)
    assert result.history.column("aux_acc")[-1] == 1.0


# --------------------------------------------------------------------------- source replay
def test_replay_batches_cycle_in_a_fixed_order(init, tiny_pretrained) -> None:
    _, source = tiny_pretrained
    replay = SourceReplay(init.model, source, 1.0, batch_size=3, seed=0)
    drawn = [i for position in range(8) for i in replay.batch_indices(position)]     # 24 = three passes of 8
    assert all(sorted(drawn[p * 8:(p + 1) * 8]) == list(range(8)) for p in range(3))
    assert drawn[:8] != drawn[8:16]                                                  # each pass its own order
    again = SourceReplay(init.model, source, 1.0, batch_size=3, seed=0)               # e.g. after a resume
    assert [again.batch_indices(p) for p in range(8)] == [replay.batch_indices(p) for p in range(8)]
    two = SourceReplay(init.model, source, 1.0, batch_size=3, per_step=2)
    assert [two._position(StepInfo(0, s, 9)) for s in (0, 0, 1, 1, 2)] == [0, 1, 2, 3, 4]


@pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")   # a few steps from random weights
def test_replay_keeps_the_source_loss_lower_than_fine_tuning_alone(init, toy, tiny_pretrained) -> None:
    train, _, _ = toy
    _, source = tiny_pretrained
    config = replace(CONFIG, epochs=6, lr=1e-2)
    alone = finetune(init, train, "full", config, data=DATA)
    replayed = finetune(init, train, "full", config, data=DATA, replay_data=source,
                        replay=ReplayConfig(weight=1.0, batch_size=4))
    assert "replay_ctc" in replayed.history.steps[-1]
    assert all(r["loss"] == pytest.approx(r["ctc"] + r["replay_ctc"]) for r in replayed.history.steps)
    data = LoaderConfig(num_workers=0)
    assert evaluate(replayed.model, source, data).loss < 0.9 * evaluate(alone.model, source, data).loss


def test_extra_losses_add_up_and_refuse_clashing_logs() -> None:
    out = EncoderOutput(torch.zeros(1, 2, 3), torch.tensor([2]), [])
    a = lambda s, t, i: (torch.tensor(1.0), {"a": 1.0})  # noqa: E731
    b = lambda s, t, i: (torch.tensor(2.0), {"b": 2.0})  # noqa: E731
    assert combine_extra_losses([None, a]) is a and combine_extra_losses([None]) is None
    value, logs = combine_extra_losses([a, b])(out, None, StepInfo(0, 0, 1))  # type: ignore[misc]
    assert float(value) == 3.0 and logs == {"a": 1.0, "b": 2.0}
    with pytest.raises(ValueError, match="log"):
        ExtraLosses([a, a])(out, None, StepInfo(0, 0, 1))


def test_the_finetune_command_runs_multi_task_with_replay(init, toy, tiny_manifest: Path, tmp_path: Path,
                                                         capsys) -> None:
    _, _, train_manifest = toy
    save_model(tmp_path / "init.pt", init.model, init.features, init.vocab, {"name": "tiny"})
    assert main(["finetune", "--init", str(tmp_path / "init.pt"), "--train", str(train_manifest), "--dev",
                 str(train_manifest), "--regime", "full", "--aux-label", "domain", "--aux-weight", "0.5",
                 "--replay", str(tiny_manifest), "--replay-weight", "0.3", "--replay-per-batch", "2",
                 "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet"]) == 0
    assert "domain accuracy on dev" in capsys.readouterr().out


def test_the_auxiliary_heads_own_learning_rate_reaches_its_optimiser_group() -> None:
    from torch import nn as _nn

    from asrlab.config import AuxiliaryConfig, TrainConfig
    from asrlab.train import new_state

    model, head = _nn.Linear(3, 2), _nn.Linear(3, 4)
    state = new_state(model, TrainConfig(lr=1e-3, warmup_steps=0), extra_modules=head, total_steps=10, extra_lr=2e-2)
    groups = {g.get("name", "model"): g for g in state.optimizer.param_groups}
    assert groups["extra"]["lr"] / groups["model"]["lr"] == pytest.approx(20.0)
    default = new_state(model, TrainConfig(lr=1e-3, warmup_steps=0), extra_modules=head, total_steps=10)
    assert {g["lr"] for g in default.optimizer.param_groups} == {default.optimizer.param_groups[0]["lr"]}
    with pytest.raises(ValueError, match="lr of the auxiliary head"):
        AuxiliaryConfig("accent", 0.3, lr=0.0)

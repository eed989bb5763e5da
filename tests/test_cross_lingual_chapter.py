"""Notebook 08's chapter module on a tiny model: the language's splits, what the English model hears,
the transfer variants and their learning curve, the layer probes, multi-task and forgetting rows."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asrlab.config import FeatureConfig, ModelConfig, ProbeConfig, TrainConfig
from asrlab.course import cross_lingual as xl
from asrlab.datasets import SpeechDataset
from asrlab.evaluate import evaluate
from asrlab.layers import layer_names
from asrlab.manifest import Utterance, read_manifest, write_manifest
from asrlab.models import build_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.text import CharVocabulary

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")]

EN = CharVocabulary()
ES = CharVocabulary.for_language("es")
FEATS = FeatureConfig()
CONFIG = TrainConfig(lr=5e-3, warmup_steps=0, specaugment=None, seed=0, amp=False, device="cpu")
#: Spanish texts laid over the English test audio (they need only fit its length).
SPANISH = ["el niño come pan", "mañana iré a la montaña", "el pingüino está aquí", "qué día más bonito",
           "la canción de él", "un árbol pequeño", "sí señor", "ábreme la puerta"]
FOLDED = ["el nino come pan", "manana ire a la montana", "el pinguino esta aqui", "que dia mas bonito",
          "la cancion de el", "un arbol pequeno", "si senor", "abreme la puerta"]


def spanish_utterances(tiny_manifest: Path, split: str) -> list[Utterance]:
    return [Utterance(u.audio, text, u.duration, "spanish", u.speaker, split, {"language": "es"})
            for u, text in zip(read_manifest(tiny_manifest), SPANISH)]


@pytest.fixture(scope="module")
def init() -> LoadedModel:
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0))
    return LoadedModel(model, FEATS, EN, {"name": "tiny"})


@pytest.fixture(scope="module")
def spanish(tiny_manifest: Path) -> SpeechDataset:
    return SpeechDataset(spanish_utterances(tiny_manifest, "train"), ES, FEATS)


@pytest.fixture(scope="module")
def english(tiny_manifest: Path) -> SpeechDataset:
    return SpeechDataset(read_manifest(tiny_manifest), EN, FEATS)


def head_row(model: torch.nn.Module, vocab: CharVocabulary, symbol: str) -> torch.Tensor:
    i = vocab.symbols.index(symbol)
    return torch.cat([model.head.weight[i], model.head.bias[i:i + 1]]).detach()


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --------------------------------------------------------------------------- the language's splits
def test_language_splits_read_the_built_domain_in_its_own_alphabet(tiny_manifest: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    folder = tmp_path / "corpus" / "spanish"
    for split in ("train", "dev", "test"):
        utts = spanish_utterances(tiny_manifest, split)
        write_manifest(folder / f"{split}.jsonl", utts[:{"train": 8, "dev": 3, "test": 5}[split]])
    calls = []

    def built(corpus, language, size, *, seed, progress):
        calls.append((Path(corpus), language, size, seed, progress))
        return folder

    monkeypatch.setattr(xl, "ensure_language_domain", built)
    features = replace(FEATS, n_mels=40)
    splits = xl.language_splits(tmp_path / "corpus", "es", "smoke", features, seed=3)
    assert calls == [(tmp_path / "corpus", "es", "smoke", 3, False)]
    assert list(splits) == ["train", "dev", "test"]
    assert [len(d) for d in splits.values()] == [8, 3, 5]
    assert all(d.vocab == ES and d.features == features for d in splits.values())
    assert splits["train"].vocab.decode(splits["train"].tokens[1]) == "mañana iré a la montaña"   # ñ stays a letter


# --------------------------------------------------------------------------- what the English model hears
def test_english_reads_scores_against_references_folded_to_english(init: LoadedModel, spanish: SpeechDataset) -> None:
    tokens = [list(t) for t in spanish.tokens]
    result = xl.english_reads(init, spanish)
    assert result.references == FOLDED                           # "año" is scored as "ano"
    assert all(set(h) <= set(EN.symbols) for h in result.hypotheses)
    direct = evaluate(init.model, SpeechDataset(spanish.utterances, EN, FEATS))
    assert result.rates == direct.rates and result.hypotheses == direct.hypotheses
    assert spanish.tokens == tokens and spanish.vocab == ES       # the target set itself is left alone


# --------------------------------------------------------------------------- transfer variants
@pytest.mark.slow
def test_compare_transfer_runs_every_variant_with_its_settings(init: LoadedModel, spanish: SpeechDataset,
                                                              monkeypatch) -> None:
    seen = []
    real = xl.finetune

    def recording(init_, train, regime, config, **kw):
        seen.append((regime, kw["copy_shared"], config.lr, config.epochs, kw["head_share"], kw["vocab"]))
        return real(init_, train, regime, config, **kw)

    monkeypatch.setattr(xl, "finetune", recording)
    before = state(init.model)
    train_seconds = sum(u.duration for u in spanish.utterances)
    rows = xl.compare_transfer(init, xl.TRANSFER_VARIANTS, spanish, None, spanish, CONFIG,
                               budget_seconds=train_seconds / 2, lrs={"scratch": 1e-2, "head": 2e-2}, head_share=0.5)
    assert unchanged(init.model, before)
    assert [(r.variant, r.regime) for r in rows] == [(v, r) for v, r, _ in xl.TRANSFER_VARIANTS]
    assert [r.shared_rows for r in rows] == [False, False, True, True, True, True]
    assert [s[1] for s in seen] == [s for _, _, s in xl.TRANSFER_VARIANTS]        # copy_shared reaches finetune
    assert [s[2] for s in seen] == [1e-2, 2e-2, 2e-2, CONFIG.lr, CONFIG.lr, CONFIG.lr]   # lrs per regime
    assert [s[3] for s in seen] == [1, 1, 1, 2, 1, 1]              # half a pass; head-then-full needs two epochs
    assert all(s[4] == 0.5 and s[5] == ES for s in seen)
    total = sum(p.numel() for p in build_model(replace(ModelConfig(hidden=16, num_layers=2, conv_channels=4),
                                                       vocab_size=len(ES))).parameters())
    head = len(ES) * (init.model.head.in_features + 1)
    assert [r.trainable_parameters for r in rows] == [total, head, head, total, total, total]
    assert all(r.total_parameters == total for r in rows)
    minutes = round(train_seconds / 60, 2)
    for r in rows:
        assert r.train_minutes == minutes and r.steps >= 1 and r.best_dev_wer is None
        assert 0 <= r.target_cer and 0 <= r.target_wer and 0 <= r.target_empty_fraction <= 1
        assert set(r.as_dict()) >= {"variant", "target_wer", "trainable_parameters"}


def test_run_transfer_copies_the_shared_rows_only_when_asked(init: LoadedModel, spanish: SpeechDataset) -> None:
    """With a learning rate too small to move anything, the trained heads show how they started."""
    still = replace(CONFIG, lr=1e-12, weight_decay=0.0)
    short = SpeechDataset(spanish.utterances[:2], ES, FEATS)
    (copied, copied_result), (fresh, fresh_result) = (
        xl.run_transfer(init, label, "head", shared, short, None, short, still, budget_seconds=1.0)
        for label, shared in (("copied", True), ("fresh", False)))
    assert copied.shared_rows and not fresh.shared_rows and copied.epochs == 1
    for symbol in EN.symbols:
        assert torch.allclose(head_row(copied_result.model, ES, symbol), head_row(init.model, EN, symbol), atol=1e-6)
    assert not torch.allclose(head_row(fresh_result.model, ES, "a"), head_row(init.model, EN, "a"), atol=1e-3)
    assert copied_result.model.head.out_features == len(ES)
    scratch, _ = xl.run_transfer(init, "scratch", "scratch", True, short, None, short, still, budget_seconds=1.0)
    assert scratch.shared_rows is False                           # scratch has no English rows to copy


# --------------------------------------------------------------------------- the learning curve
def test_transfer_curve_reuses_finished_runs_and_nests_subsets(init: LoadedModel, spanish: SpeechDataset,
                                                             monkeypatch) -> None:
    calls = []

    def fake(init_, variant, regime, shared, train, dev, test, config, *, budget_seconds, head_share=None, data=None):
        calls.append((variant, [u.id for u in train.utterances], config.lr, budget_seconds, head_share))
        minutes = round(sum(u.duration for u in train.utterances) / 60, 2)
        return xl.TransferRun(variant, regime, shared, minutes, 1, 1, 0.5, 0.5, 0.0, None, 1, 2, 0.0), None

    monkeypatch.setattr(xl, "run_transfer", fake)
    pool_minutes = sum(u.duration for u in spanish.utterances) / 60
    variants = (xl.TRANSFER_VARIANTS[0], xl.TRANSFER_VARIANTS[3])
    full = round(pool_minutes, 2)
    done = [xl.TransferRun(variants[1][0], "head-then-full", True, full, 3, 9, 0.1, 0.1, 0.0, 0.2, 5, 9, 1.0),
            xl.TransferRun(variants[0][0], "scratch", False, full + 1, 3, 9, 0.9, 0.9, 1.0, 0.9, 9, 9, 1.0)]
    rows = xl.transfer_curve(init, variants, spanish, [pool_minutes / 2, pool_minutes], None, spanish, CONFIG,
                             budget_seconds=7.0, lrs={"scratch": 1e-2}, head_share=0.3, seed=0, done=done)
    assert [(r.variant, r.train_minutes < full) for r in rows] == [
        (variants[0][0], True), (variants[1][0], True), (variants[0][0], False), (variants[1][0], False)]
    assert rows[3] is done[0]                                     # the regime comparison's run, not trained again
    assert len(calls) == 3 and [c[0] for c in calls] == [variants[0][0], variants[1][0], variants[0][0]]
    assert calls[2][1][:len(calls[0][1])] == calls[0][1] and len(calls[2][1]) == len(spanish)   # nested subsets
    assert [c[2] for c in calls] == [1e-2, CONFIG.lr, 1e-2]
    assert all(c[3] == 7.0 and c[4] == 0.3 for c in calls)


def test_transfer_curve_shows_a_reuse_only_variant_only_where_it_was_run(init: LoadedModel, spanish: SpeechDataset,
                                                                         monkeypatch) -> None:
    trained = []

    def fake(init_, variant, regime, shared, train, dev, test, config, *, budget_seconds, head_share=None, data=None):
        trained.append(variant)
        minutes = round(sum(u.duration for u in train.utterances) / 60, 2)
        return xl.TransferRun(variant, regime, shared, minutes, 1, 1, 0.5, 0.5, 0.0, None, 1, 2, 0.0), None

    monkeypatch.setattr(xl, "run_transfer", fake)
    pool_minutes = sum(u.duration for u in spanish.utterances) / 60
    variants = (xl.TRANSFER_VARIANTS[0], xl.TRANSFER_VARIANTS[3])
    scratch_all = xl.TransferRun(variants[0][0], "scratch", False, round(pool_minutes, 2), 3, 9, 1.0, 1.0, 1.0, 1.0,
                                 9, 9, 1.0)
    rows = xl.transfer_curve(init, variants, spanish, [pool_minutes / 2, pool_minutes], None, spanish, CONFIG,
                             budget_seconds=7.0, done=[scratch_all], reuse_only=(variants[0][0],))
    assert trained == [variants[1][0], variants[1][0]]             # scratch is never trained here
    assert [r.variant for r in rows] == [variants[1][0], variants[0][0], variants[1][0]]
    assert rows[1] is scratch_all


# --------------------------------------------------------------------------- layer probes
def test_untrained_like_is_the_same_architecture_with_fresh_seeded_weights(init: LoadedModel) -> None:
    rng = torch.get_rng_state()
    a, b, c = xl.untrained_like(init, 1), xl.untrained_like(init, 1), xl.untrained_like(init, 2)
    assert torch.equal(torch.get_rng_state(), rng)               # the global generator is left alone
    ours = init.model.state_dict()
    assert {k: v.shape for k, v in a.model.state_dict().items()} == {k: v.shape for k, v in ours.items()}
    assert a.model.config == init.model.config and a.features == init.features and a.vocab == init.vocab
    assert not a.model.training and a.meta["name"] == "untrained"
    assert all(torch.equal(a.model.state_dict()[k], b.model.state_dict()[k]) for k in ours)   # seeded
    random = ["head.weight", "encoder.frontend.conv1.weight"]     # randomly initialised (norms start at one)
    assert not any(torch.equal(a.model.state_dict()[k], ours[k]) for k in random)
    assert not any(torch.equal(a.model.state_dict()[k], c.model.state_dict()[k]) for k in random)


def test_layer_transfer_gives_one_row_per_encoder_and_layer(init: LoadedModel, spanish: SpeechDataset,
                                                            tmp_path: Path) -> None:
    encoders = {"english": init, "untrained": xl.untrained_like(init, 0)}
    dev = SpeechDataset(spanish.utterances[:4], ES, FEATS)
    probe = ProbeConfig(epochs=1, max_frames=1500, seed=0)
    rows = xl.layer_transfer(encoders, {"train": spanish, "dev": dev}, probe, tmp_path / "layers")
    names = layer_names(3)                                       # the front end and two recurrent layers
    assert [(r["encoder"], r["layer"]) for r in rows] == [(e, n) for e in encoders for n in names]
    assert all(0.0 <= r["dev_cer"] <= 2.0 and 0.0 <= r["dev_wer"] for r in rows)
    cached = sorted(p.name for p in (tmp_path / "layers").iterdir())
    assert len(cached) == 2 and cached[0].startswith("english-") and cached[1].startswith("untrained-")
    again = xl.layer_transfer(encoders, {"train": spanish, "dev": dev}, probe, tmp_path / "layers")
    assert again == rows                                         # from the cache, the same probes


# --------------------------------------------------------------------------- multi-task and forgetting
@pytest.mark.slow
def test_multitask_and_forgetting_rows(init: LoadedModel, english: SpeechDataset, monkeypatch) -> None:
    config = replace(CONFIG, epochs=1)
    before = state(init.model)
    source_wer = evaluate(init.model, english).rates.wer
    rows = xl.multitask_rows(init, english, english, english, english, config, mus=(0.0, 0.5), label="speaker")
    assert unchanged(init.model, before)
    assert [(r.method, r.mu) for r in rows] == [("CTC only", 0.0), ("CTC + 0.5 x speaker CE", 0.5)]
    assert rows[0].aux_dev_accuracy is None and 0.0 <= rows[1].aux_dev_accuracy <= 1.0
    for r in rows:
        assert r.forgetting == pytest.approx(r.source_wer - source_wer)
        assert r.trainable_parameters == sum(p.numel() for p in init.model.parameters())
    shifted = xl.multitask_rows(init, english, english, english, english, config, mus=(0.0,), source_wer=0.25)
    assert shifted[0].forgetting == pytest.approx(shifted[0].source_wer - 0.25)

    made = []
    real = xl._multitask_run
    monkeypatch.setattr(xl, "_multitask_run", lambda *a, **k: made.append((a[1], a[2], k)) or real(*a, **k))
    forgetting = xl.forgetting_rows(init, english, english, english, english, english, config, l2sp_alpha=1.0,
                                    rho=0.5, source_wer=source_wer, plain=rows[0])
    assert forgetting[0] is rows[0]                               # the plain run is reused, not trained again
    assert [m for m, _, _ in made] == ["L2-SP (alpha 1)", "source replay (rho 0.5)"]
    assert made[0][1] == "l2sp" and made[0][2]["l2sp_alpha"] == 1.0
    assert made[1][1] == "full" and made[1][2]["replay_data"] is english and made[1][2]["rho"] == 0.5
    assert [r.method for r in forgetting] == ["CTC only", "L2-SP (alpha 1)", "source replay (rho 0.5)"]
    assert all(r.aux_dev_accuracy is None and r.mu == 0.0 for r in forgetting)
    assert all(r.forgetting == pytest.approx(r.source_wer - source_wer) for r in forgetting)
    made.clear()
    assert [r.method for r in xl.forgetting_rows(init, english, english, english, english, english, config,
                                                 l2sp_alpha=2.0, rho=0.25, source_wer=source_wer)][0] == "CTC only"
    assert len(made) == 3                                         # without plain=, it trains its own
    assert unchanged(init.model, before)


# --------------------------------------------------------------------------- run records and seeds
def fake_transfer(calls: list) -> object:
    """A stand-in for run_transfer: records its calls, scores by seed and learning rate."""
    def fake(init_, variant, regime, shared, train, dev, test, config, *, budget_seconds, head_share=None, data=None):
        calls.append((variant, config.seed, budget_seconds))
        minutes = round(sum(u.duration for u in train.utterances) / 60, 2)
        wer = 0.5 + 0.1 * config.seed
        return xl.TransferRun(variant, regime, shared, minutes, 1, 3, wer, wer / 2, 0.0, None, 10, 20, 1.5,
                              first_dev_cer=0.4 + 0.1 * config.seed, seed=config.seed), None
    return fake


def test_compare_transfer_runs_every_seed_and_reuses_its_records(init: LoadedModel, spanish: SpeechDataset,
                                                                 tmp_path: Path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(xl, "run_transfer", fake_transfer(calls))
    variants = xl.TRANSFER_VARIANTS[:2]
    runs = tmp_path / "runs"

    def compare(model: LoadedModel = init, train: SpeechDataset = spanish, **changes) -> list[xl.TransferRun]:
        settings = {"budget_seconds": 7.0, "lrs": {"head": 2e-2}, "head_share": 0.5, "seeds": (0, 1, 2),
                    "cache_dir": runs, **changes}
        return xl.compare_transfer(model, variants, train, None, spanish, CONFIG, **settings)

    first = compare()
    assert [(r.variant, r.seed) for r in first] == [(v[0], s) for s in (0, 1, 2) for v in variants]   # seed by seed
    assert [c[1] for c in calls] == [0, 0, 1, 1, 2, 2]
    assert len(list(runs.glob("*.json"))) == 6
    again = compare()
    assert again == first and len(calls) == 6                    # every run read back, none trained
    compare(head_share=0.8)                                      # acts on head-then-full only: not in these variants
    assert len(calls) == 6
    compare(budget_seconds=9.0)
    assert len(calls) == 12                                      # a new budget trains every run again
    compare(budget_seconds=9.0, seeds=(0,), train=SpeechDataset(spanish.utterances[:6], ES, FEATS))
    assert len(calls) == 14                                      # other utterances, other minutes: trained
    other = LoadedModel(xl.untrained_like(init, 5).model, FEATS, EN, {"name": "tiny"})
    compare(budget_seconds=9.0, seeds=(0,), model=other)
    assert len(calls) == 16                                      # other initial weights: trained
    compare(budget_seconds=9.0, seeds=(0,), cache_dir=None)
    assert len(calls) == 18                                      # no records: always trained


def test_transfer_summary_gives_the_mean_and_spread_over_seeds() -> None:
    runs = [xl.TransferRun("head", "head", True, 10.0, 2, 8, wer, wer / 2, 0.0, None, 10, 20, s, 0.3, seed=s)
            for s, wer in enumerate((0.4, 0.5, 0.6))]
    runs.append(xl.TransferRun("scratch", "scratch", False, 10.0, 2, 8, 1.0, 1.0, 1.0, None, 20, 20, 4.0, None))
    head, scratch = xl.transfer_summary(runs)
    assert head["variant"] == "head" and head["seeds"] == 3 and head["trainable_parameters"] == 10
    assert head["target_wer"] == pytest.approx(0.5) and head["target_wer_sd"] == pytest.approx(0.1)
    assert head["target_cer"] == pytest.approx(0.25) and head["first_dev_cer_sd"] == pytest.approx(0.0)
    assert head["seconds"] == pytest.approx(1.0) and head["best_dev_wer"] is None
    assert scratch["seeds"] == 1 and scratch["target_wer"] == 1.0 and scratch["target_wer_sd"] is None
    assert scratch["first_dev_cer"] is None and scratch["first_dev_cer_sd"] is None
    assert head["epochs"] == 2 and isinstance(head["epochs"], int) and head["steps"] == 8   # shared, not averaged
    assert xl.transfer_summary([r.as_dict() for r in runs]) == [head, scratch]
    uneven = [replace(runs[0], steps=8), replace(runs[1], steps=9)]
    assert xl.transfer_summary(uneven)[0]["steps"] == pytest.approx(8.5)


def test_transfer_bars_draw_the_spread_when_there_is_one() -> None:
    from matplotlib.container import ErrorbarContainer

    from asrlab.course.cross_lingual_plots import transfer_bars

    def has_error_bars(ax) -> bool:
        return any(isinstance(c, ErrorbarContainer) for c in ax.containers)

    rows = [{"variant": "a", "target_wer": 0.5, "target_cer": 0.2, "target_wer_sd": 0.05, "target_cer_sd": 0.01},
            {"variant": "b", "target_wer": 0.7, "target_cer": 0.3, "target_wer_sd": 0.02, "target_cer_sd": 0.03}]
    left, right = transfer_bars(rows, "t").axes
    assert [t.get_text() for t in left.texts] == ["50.0 ± 5.0", "70.0 ± 2.0"] and has_error_bars(left)
    assert left.get_xlabel() == "target test WER (%)"
    single = transfer_bars([{**r, "target_wer_sd": None, "target_cer_sd": None} for r in rows], "t")
    assert [t.get_text() for t in single.axes[0].texts] == ["50.0", "70.0"] and not has_error_bars(single.axes[0])


def curve_subset(dataset: SpeechDataset, minutes: float) -> SpeechDataset:
    from asrlab.course.fine_tuning import subset_dataset, take_minutes

    return subset_dataset(dataset, take_minutes(dataset.utterances, minutes, 0))


def test_transfer_curve_reads_the_comparisons_records_and_its_seeds_runs_only(init: LoadedModel,
                                                                              spanish: SpeechDataset,
                                                                              tmp_path: Path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(xl, "run_transfer", fake_transfer(calls))
    variants = (xl.TRANSFER_VARIANTS[0], xl.TRANSFER_VARIANTS[3])
    pool_minutes = sum(u.duration for u in spanish.utterances) / 60
    everything = curve_subset(spanish, pool_minutes)   # as the curve draws it
    made = xl.compare_transfer(init, variants, everything, None, spanish, CONFIG, budget_seconds=7.0,
                               seeds=(1, 0), cache_dir=tmp_path)
    calls.clear()
    curve = xl.transfer_curve(init, variants, spanish, [pool_minutes / 2, pool_minutes], None, spanish, CONFIG,
                              budget_seconds=7.0, done=made[:2], cache_dir=tmp_path)    # seed 1's runs: not reused
    assert [c[1] for c in calls] == [0, 0] and all(r.seed == 0 for r in curve)   # the half-size points only
    assert curve[2:] == made[2:]                                 # seed 0's full-size runs, from their records
    calls.clear()
    assert xl.transfer_curve(init, variants, spanish, [pool_minutes / 2, pool_minutes], None, spanish, CONFIG,
                             budget_seconds=7.0, cache_dir=tmp_path) == curve
    assert calls == []


def test_multitask_and_forgetting_rows_keep_records(init: LoadedModel, english: SpeechDataset, tmp_path: Path,
                                                    monkeypatch) -> None:
    from types import SimpleNamespace

    trained = []

    def fake_finetune(init_, train, regime, config, **kw):
        trained.append((regime, kw["auxiliary"].weight if kw["auxiliary"] else 0.0, kw["l2sp_alpha"],
                        kw["replay_data"] is not None))
        return SimpleNamespace(model=init_.model, aux_dev_accuracy=0.9 if kw["auxiliary"] else None,
                               trainable_parameters=7, seconds=2.0)

    scores = iter(0.1 * i for i in range(1, 1000))
    monkeypatch.setattr(xl, "finetune", fake_finetune)
    monkeypatch.setattr(xl, "evaluate", lambda *a, **k: SimpleNamespace(rates=SimpleNamespace(wer=next(scores),
                                                                                            cer=0.05)))
    config = replace(CONFIG, epochs=1)
    rows = xl.multitask_rows(init, english, english, english, english, config, mus=(0.0, 0.5), source_wer=0.2,
                             cache_dir=tmp_path)
    assert len(trained) == 2
    assert xl.multitask_rows(init, english, english, english, english, config, mus=(0.0, 0.5), source_wer=0.2,
                             cache_dir=tmp_path) == rows
    assert len(trained) == 2                                     # read back
    forgetting = xl.forgetting_rows(init, english, english, english, english, english, config, l2sp_alpha=1.0,
                                    rho=0.5, source_wer=0.3, cache_dir=tmp_path)
    assert [t[0] for t in trained[2:]] == ["l2sp", "full"] and trained[3][3]   # plain: the multi-task table's record
    assert forgetting[0].source_wer == rows[0].source_wer
    assert all(r.forgetting == pytest.approx(r.source_wer - 0.3) for r in forgetting)   # from this baseline
    xl.multitask_rows(init, english, english, english, english, replace(config, epochs=2), mus=(0.0,),
                      source_wer=0.2, cache_dir=tmp_path)
    assert len(trained) == 5                                     # another budget trains again
    xl.forgetting_rows(init, english, english, english, english, english, config, l2sp_alpha=2.0, rho=0.5,
                       source_wer=0.3, plain=rows[0], cache_dir=tmp_path)
    assert trained[5:] == [("l2sp", 0.0, 2.0, False)]            # only the run whose setting changed

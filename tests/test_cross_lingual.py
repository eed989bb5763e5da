"""Cross-lingual transfer: a new output layer for a new alphabet, vocabulary files, the regimes
with a new vocabulary (head-then-full too), checkpoints and the command line in the new alphabet."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asrlab.cli import main
from asrlab.config import FeatureConfig, LoaderConfig, ModelConfig, RegimeConfig, TrainConfig
from asrlab.datasets import SpeechDataset
from asrlab.errors import VocabularyError
from asrlab.evaluate import evaluate_manifests
from asrlab.finetune import HEAD_STAGE_DIR, finetune, prepare, stage_configs
from asrlab.manifest import Utterance, read_manifest, write_manifest
from asrlab.models import build_model, load_model, save_model
from asrlab.models.checkpoint import LoadedModel
from asrlab.models.vocabulary import base_letter, replace_vocabulary, shared_symbols
from asrlab.text import BLANK, CharVocabulary, read_vocabulary, vocabulary_from_spec, write_vocabulary

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EN = CharVocabulary()
ES = CharVocabulary.for_language("es")
CONFIG = TrainConfig(epochs=2, lr=5e-3, warmup_steps=0, specaugment=None, seed=0, amp=False, device="cpu")
DATA = LoaderConfig(num_workers=0, max_batch_size=4)
#: Spanish texts for the English test audio (the words need not match the sound, only fit its length).
SPANISH = ["el niño come pan", "mañana iré a la montaña", "el pingüino está aquí", "qué día más bonito",
           "la canción de él", "un árbol pequeño", "sí señor", "ábreme la puerta"]


@pytest.fixture(scope="module")
def spanish_manifest(tiny_manifest: Path, tmp_path_factory) -> Path:
    utts = [Utterance(u.audio, text, u.duration, "spanish", u.speaker, u.split)
            for u, text in zip(read_manifest(tiny_manifest), SPANISH)]
    return write_manifest(tmp_path_factory.mktemp("spanish") / "train.jsonl", utts)


@pytest.fixture(scope="module")
def init() -> LoadedModel:
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16, num_layers=2, conv_channels=4, dropout=0.0))
    return LoadedModel(model, FeatureConfig(), EN, {"name": "tiny"})


@pytest.fixture(scope="module")
def spanish(spanish_manifest: Path) -> SpeechDataset:
    return SpeechDataset(read_manifest(spanish_manifest), ES, FeatureConfig())


def rows(model, vocab: CharVocabulary, symbol: str) -> torch.Tensor:
    i = vocab.symbols.index(symbol)
    return torch.cat([model.head.weight[i], model.head.bias[i:i + 1]]).detach()


# --------------------------------------------------------------------------- the new output layer
def test_base_letters() -> None:
    assert [base_letter(s) for s in "ñüáéß"] == list("nuaes")
    assert base_letter("a") is None and base_letter(" ") is None and base_letter(BLANK) is None


def test_shared_rows_are_copied_exactly_and_new_rows_start_fresh(init: LoadedModel) -> None:
    before = {k: v.clone() for k, v in init.model.state_dict().items()}
    rng_state = torch.get_rng_state()
    new = replace_vocabulary(init.model, EN, ES, seed=1)
    assert torch.equal(torch.get_rng_state(), rng_state)                     # the global RNG is left alone
    assert new.head.out_features == len(ES) == 36 and new.config["vocab_size"] == 36
    assert shared_symbols(EN, ES) == list(EN.symbols)
    for symbol in EN.symbols:                                                # blank, space, a-z, '
        assert torch.equal(rows(new, ES, symbol), rows(init.model, EN, symbol))
    for letter in ES.letters:
        assert not torch.equal(rows(new, ES, letter), rows(init.model, EN, base_letter(letter)))
    assert all(torch.equal(v, before[k]) for k, v in init.model.state_dict().items())   # the original is untouched
    enc_new, enc_old = dict(new.encoder.named_parameters()), dict(init.model.encoder.named_parameters())
    assert all(torch.equal(p, enc_old[n]) for n, p in enc_new.items())
    feats = torch.randn(2, 50, 80)
    log_probs, _ = new.eval()(feats, torch.tensor([50, 40]))
    assert log_probs.shape[-1] == 36
    assert torch.equal(replace_vocabulary(init.model, EN, ES, seed=1).head.weight, new.head.weight)  # seeded


def test_new_letters_can_start_from_their_base_letter_and_shared_rows_can_start_fresh(init: LoadedModel) -> None:
    based = replace_vocabulary(init.model, EN, ES, init_new="base_letter")
    for letter, base in (("ñ", "n"), ("ü", "u"), ("á", "a")):
        assert torch.equal(rows(based, ES, letter), rows(init.model, EN, base))
    fresh = replace_vocabulary(init.model, EN, ES, copy_shared=False)
    assert not any(torch.equal(rows(fresh, ES, s), rows(init.model, EN, s)) for s in EN.symbols)
    with pytest.raises(ValueError, match="old_vocab"):
        replace_vocabulary(init.model, ES, EN)
    with pytest.raises(ValueError, match="init_new"):
        replace_vocabulary(init.model, EN, ES, init_new="copy")  # type: ignore[arg-type]


def test_a_checkpoint_with_a_spanish_vocabulary_round_trips(init: LoadedModel, tmp_path: Path) -> None:
    model = replace_vocabulary(init.model, EN, ES)
    save_model(tmp_path / "es.pt", model, init.features, ES, {"name": "es"})
    loaded = load_model(tmp_path / "es.pt")
    assert loaded.vocab == ES and loaded.model.head.out_features == 36
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.model.state_dict().items())


# --------------------------------------------------------------------------- vocabulary files
def test_a_vocabulary_file_adds_the_blank_and_reads_the_space(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("# my alphabet\n<space>\na\nb\nñ\n\n", encoding="utf-8")
    assert read_vocabulary(path).symbols == (BLANK, " ", "a", "b", "ñ")
    path.write_text(f"{BLANK}\n \na\n", encoding="utf-8")                 # a line holding one space works too
    assert read_vocabulary(path).symbols == (BLANK, " ", "a")
    assert read_vocabulary(write_vocabulary(tmp_path / "es.txt", ES)) == ES
    assert vocabulary_from_spec("es") == ES and vocabulary_from_spec(str(path)).symbols == (BLANK, " ", "a")


@pytest.mark.parametrize("text, line, match", [
    ("a\nab\n", 2, "not one character"),
    ("a\nB\n", 2, "upper case"),
    ("a\nb\na\n", 3, "already listed on line 1"),
    (f"a\n{BLANK}\n", 2, "must be the first"),
])
def test_a_bad_vocabulary_file_is_named_with_its_line(tmp_path: Path, text: str, line: int, match: str) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VocabularyError, match=match) as info:
        read_vocabulary(path)
    assert f"{path}:{line}" in str(info.value)


def test_an_unknown_vocabulary_name_lists_the_languages() -> None:
    with pytest.raises(VocabularyError, match="neither a file nor a language code.*es"):
        vocabulary_from_spec("klingon")


# --------------------------------------------------------------------------- regimes with a new vocabulary
def trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_every_regime_starts_from_the_new_output_layer(init: LoadedModel) -> None:
    for name in ("scratch", "head", "top-k", "full", "layerwise", "l2sp", "head-then-full"):
        model, _, _ = prepare(init.model, RegimeConfig(name, top_k=1), vocab=ES, init_vocab=EN)
        assert model.head.out_features == 36 and model.config["vocab_size"] == 36, name
        if name != "scratch":
            assert torch.equal(rows(model, ES, "e"), rows(init.model, EN, "e")), name
    head, _, _ = prepare(init.model, "head", vocab=ES, init_vocab=EN, copy_shared=False)
    assert trainable(head) == {"head.weight", "head.bias"}
    assert not torch.equal(rows(head, ES, "e"), rows(init.model, EN, "e"))
    same, _, _ = prepare(init.model, "full", vocab=EN, init_vocab=EN)        # the model's own vocabulary: no change
    assert torch.equal(same.head.weight, init.model.head.weight)


@pytest.mark.filterwarnings("ignore::asrlab.errors.BlankOutputWarning")   # two epochs from random weights
def test_finetuning_into_spanish_writes_a_model_that_eval_decodes_in_spanish(init, spanish, spanish_manifest,
                                                                             tmp_path: Path) -> None:
    result = finetune(init, spanish, "full", CONFIG, data=DATA, vocab=ES, out_dir=tmp_path / "run")
    assert result.vocab == ES and result.model.head.out_features == 36
    loaded = load_model(tmp_path / "run")
    assert loaded.vocab == ES and loaded.meta["init_vocab"] == list(EN.symbols)
    scored = evaluate_manifests(tmp_path / "run", [spanish_manifest])
    assert "mañana iré a la montaña" in scored.references                   # references keep the Spanish letters
    with pytest.raises(ValueError, match="another vocabulary"):
        finetune(init, spanish, "full", CONFIG, data=DATA)                   # a Spanish set into the English model


def test_head_then_full_trains_the_head_alone_then_everything(init, spanish, tmp_path: Path) -> None:
    result = finetune(init, spanish, RegimeConfig("head-then-full", head_share=0.5), CONFIG, data=DATA, vocab=ES,
                      out_dir=tmp_path / "run")
    first = load_model(tmp_path / "run" / HEAD_STAGE_DIR).model
    start = dict(init.model.encoder.named_parameters())
    assert all(torch.equal(p, start[n]) for n, p in first.encoder.named_parameters())   # stage 1: encoder frozen
    assert not torch.equal(first.head.weight[:29], init.model.head.weight)               # ... the head trained
    assert not all(torch.equal(p, start[n]) for n, p in result.model.encoder.named_parameters())  # stage 2: all
    assert result.trainable_parameters == result.total_parameters
    stages = result.history.column("stage")
    assert stages[0] == 1 and stages[-1] == 2 and stages == sorted(stages)
    steps = result.history.column("step")
    assert steps == list(range(1, len(steps) + 1))


def test_stage_configs_split_the_epochs() -> None:
    head, full = stage_configs(replace(CONFIG, epochs=8), 0.25)
    assert (head.epochs, full.epochs) == (2, 6)
    head, full = stage_configs(replace(CONFIG, epochs=2, max_steps=10), 0.9)
    assert (head.epochs, full.epochs, head.max_steps, full.max_steps) == (1, 1, 9, 1)
    with pytest.raises(ValueError, match="at least 2 epochs"):
        stage_configs(replace(CONFIG, epochs=1), 0.5)
    with pytest.raises(ValueError, match="head_share"):
        RegimeConfig("head-then-full", head_share=1.0)


# --------------------------------------------------------------------------- the command line
def test_the_finetune_command_takes_a_language_or_a_vocabulary_file(init, spanish_manifest: Path, tmp_path: Path,
                                                                    capsys) -> None:
    save_model(tmp_path / "init.pt", init.model, init.features, init.vocab, {"name": "tiny"})
    common = ["finetune", "--init", str(tmp_path / "init.pt"), "--train", str(spanish_manifest), "--epochs", "1",
              "--quiet"]
    assert main([*common, "--regime", "head", "--vocab", "es", "--out", str(tmp_path / "es")]) == 0
    assert "36 output symbols" in capsys.readouterr().out
    assert load_model(tmp_path / "es").vocab == ES
    assert main(["eval", "--model", str(tmp_path / "es"), "--manifest", str(spanish_manifest), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["utterances"] == len(SPANISH)
    audio = read_manifest(spanish_manifest)[0].audio
    assert main(["transcribe", "--model", str(tmp_path / "es"), audio]) == 0
    assert main(["transcribe", "--model", str(tmp_path / "es"), "--decoder", "beam", "--backend", "python", audio]) == 0

    vocab_file = write_vocabulary(tmp_path / "vocab.txt", ES)
    assert main([*common, "--regime", "full", "--vocab", str(vocab_file), "--no-keep-shared-rows",
                 "--new-rows", "base_letter", "--out", str(tmp_path / "file")]) == 0
    assert load_model(tmp_path / "file").vocab == ES

    vocab_file.write_text("a\nb\nab\n", encoding="utf-8")
    capsys.readouterr()
    assert main([*common, "--regime", "full", "--vocab", str(vocab_file), "--out", str(tmp_path / "bad")]) == 2
    assert f"{vocab_file}:3" in capsys.readouterr().err

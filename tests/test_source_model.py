"""The shipped source model: its file matches its card, it loads safely, and it still decodes
a freshly built source test set as well as its card says."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from asrlab.corpus.build import build_corpus
from asrlab.files import sha256_of
from asrlab.models.zoo import SOURCE_MODEL_FILE, load_pretrained
from asrlab.recipes import evaluate_manifests

CARD = SOURCE_MODEL_FILE.with_suffix(".json")
#: WER points the rebuilt smoke test set may differ from the card (float differences only, if
#: the same engines built it; the corpus itself is reproducible byte for byte).
SAME_ENGINES_TOLERANCE = 0.005
#: ...and when this machine lacks an engine the card's corpus had (other voices in the set).
OTHER_ENGINES_TOLERANCE = 0.10


@pytest.fixture(scope="module")
def card() -> dict:
    assert SOURCE_MODEL_FILE.is_file(), f"{SOURCE_MODEL_FILE} is missing: the source model ships in the repository"
    return json.loads(CARD.read_text())


def test_file_is_small_and_matches_its_card(card: dict) -> None:
    assert SOURCE_MODEL_FILE.stat().st_size <= 25 * 1024 * 1024
    assert sha256_of(SOURCE_MODEL_FILE) == card["sha256"]
    assert card["test"]["source"]["wer"] < card["test"]["real_telephone"]["wer"]  # the card shows the domain gap


def test_loads_with_weights_only(card: dict) -> None:
    payload = torch.load(SOURCE_MODEL_FILE, map_location="cpu", weights_only=True)
    assert payload["format"] == "asrlab-ctc"
    loaded = load_pretrained("asrlab-source")
    assert sum(p.numel() for p in loaded.model.parameters()) == card["parameters"]


def test_decodes_a_rebuilt_smoke_test_set_as_its_card_says(card: dict, tmp_path: Path) -> None:
    expected = card["smoke_test"]
    summary = build_corpus(tmp_path, "smoke", ["source"], seed=expected["seed"], workers=2, progress=False)
    result = evaluate_manifests("asrlab-source", [tmp_path / "source" / "test.jsonl"])
    same = summary.engines == expected["engines"]
    tolerance = SAME_ENGINES_TOLERANCE if same else OTHER_ENGINES_TOLERANCE
    assert abs(result.rates.wer - expected["wer"]) <= tolerance, (result.rates.wer, expected, summary.engines)
    assert abs(result.rates.cer - expected["cer"]) <= tolerance

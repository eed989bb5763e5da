"""Tests for asrlab.corpus.asterisk: a fake Debian tree, plus the real packages when installed."""
from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asrlab.audio import load_audio
from asrlab.corpus import asterisk
from asrlab.corpus.asterisk import (
    REASON_AMBIGUOUS_NUMBER,
    REASON_NO_AUDIO,
    REASON_NO_TRANSCRIPT,
    REASON_NON_SPEECH,
    RealPrompt,
    clean_prompt_text,
    find_asterisk_files,
    load_asterisk_prompts,
    read_asterisk_transcripts,
    scan_asterisk_prompts,
    spell_number,
)
from asrlab.errors import MissingDependencyError, TranscriptError
from asrlab.text import CharVocabulary

RATE = 8000

#: name -> (transcript or None for "no entry", seconds of audio or None for "no WAV")
FAKE = {
    "hello-world": ("Hello world.", 0.5),
    "agent-pass": ("Please enter your password followed by the pound key.", 1.25),
    "beep": ("[this is a simple beep tone]", 0.2),
    "confbridge-join": ("<beep ascending>", 0.3),
    "silence/1": ("(1 second of silence)", 1.0),
    "digits/7": ("seven", 0.4),
    "letters/at": ("at [@]", 0.3),
    "dictate/both_help": ("press * to toggle pause, press # to enter a new dictation filename", 2.0),
    "vm-Cust1": ("folder 5", 0.6),
    "spy-iax2": ('IAX (note: does not say "2")', 0.4),
    "demo-instruct": ("To execute an echo test dial 600.", 1.5),
    "spy-h323": ("H.323", 0.5),
    "pls-try-call-later": ("Please try your call again later.", None),
    "orphan": (None, 0.5),
}
KEPT_TEXT = {
    "agent-pass": "please enter your password followed by the pound key",
    "dictate/both_help": "press star to toggle pause press pound to enter a new dictation filename",
    "digits/7": "seven",
    "hello-world": "hello world",
    "letters/at": "at",
    "spy-iax2": "iax",
    "vm-Cust1": "folder five",
}


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(round(seconds * RATE))) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture()
def fake_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A sounds folder and a gzipped transcript laid out like the Debian packages."""
    sounds = tmp_path / "usr/share/asterisk/sounds/en_US_f_Allison"
    doc = tmp_path / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    lines = ["; Core Asterisk Sounds in English", ""]
    for name, (text, seconds) in FAKE.items():
        if seconds is not None:
            wav = sounds / f"{name}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(wav), _tone(seconds), RATE, subtype="PCM_16")
        if text is not None:
            lines.append(f"{name}: {text}")
    transcript = doc / "core-sounds-en.txt.gz"
    with gzip.open(transcript, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return sounds, transcript


def test_spell_number() -> None:
    assert [spell_number(n) for n in (0, 7, 13, 20, 42, 99)] == [
        "zero", "seven", "thirteen", "twenty", "forty two", "ninety nine"]
    with pytest.raises(ValueError, match="0-99"):
        spell_number(100)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Press 1 or * to exit [beep]", ("press one or star to exit", None)),
    ("3D audio enabled", ("three d audio enabled", None)),
    ("[ascending tones]", (None, REASON_NON_SPEECH)),
    ("(10 seconds of silence)", (None, REASON_NON_SPEECH)),
    ("...", (None, REASON_NON_SPEECH)),
    ("a 28.8 kilobit modem", (None, REASON_AMBIGUOUS_NUMBER)),
    ("dial 8500", (None, REASON_AMBIGUOUS_NUMBER)),
])
def test_clean_prompt_text(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert clean_prompt_text(raw) == expected


def test_clean_prompt_text_rejects_out_of_vocabulary() -> None:
    text, reason = clean_prompt_text("caf\u00e9 \u00fcber \u4e2d")
    assert text is None and reason == asterisk.REASON_OUT_OF_VOCABULARY


def test_load_keeps_speech_with_clean_text(fake_tree: tuple[Path, Path]) -> None:
    sounds, transcript = fake_tree
    prompts = load_asterisk_prompts(sounds, transcript)
    assert all(isinstance(p, RealPrompt) for p in prompts)
    assert {p.name: p.text for p in prompts} == KEPT_TEXT
    assert [p.name for p in prompts] == sorted(KEPT_TEXT)
    vocab = CharVocabulary()
    for prompt in prompts:
        assert prompt.wav.is_file() and prompt.wav.is_absolute()
        assert prompt.duration == pytest.approx(FAKE[prompt.name][1], abs=1e-3)
        vocab.encode(prompt.text)  # raises if not vocabulary-safe


def test_scan_reports_left_out_with_reasons(fake_tree: tuple[Path, Path]) -> None:
    kept, left_out = scan_asterisk_prompts(*fake_tree)
    reasons = {item.name: item.reason for item in left_out}
    assert reasons == {
        "beep": REASON_NON_SPEECH,
        "confbridge-join": REASON_NON_SPEECH,
        "silence/1": REASON_NON_SPEECH,
        "demo-instruct": REASON_AMBIGUOUS_NUMBER,
        "spy-h323": REASON_AMBIGUOUS_NUMBER,
        "pls-try-call-later": REASON_NO_AUDIO,
        "orphan": REASON_NO_TRANSCRIPT,
    }
    assert len(kept) + len(left_out) == len(FAKE)
    assert asterisk.summarize_left_out(left_out)[REASON_NON_SPEECH] == 3


def test_load_logs_left_out_counts(fake_tree: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="asrlab.corpus.asterisk"):
        load_asterisk_prompts(*fake_tree)
    message = caplog.records[-1].getMessage()
    assert "kept 7" in message and "left out 7" in message
    assert f"3 {REASON_NON_SPEECH}" in message


def test_audio_loads_at_16k(fake_tree: tuple[Path, Path]) -> None:
    prompt = next(p for p in load_asterisk_prompts(*fake_tree) if p.name == "hello-world")
    wave = load_audio(prompt.wav)
    assert wave.shape == (16000 * 0.5,)


def test_find_explicit_paths(fake_tree: tuple[Path, Path]) -> None:
    sounds, transcript = fake_tree
    assert find_asterisk_files(sounds, transcript) == (sounds.resolve(), transcript.resolve())


def test_find_searches_candidates(fake_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sounds, transcript = fake_tree
    monkeypatch.setattr(asterisk, "SOUNDS_DIR_CANDIDATES", (sounds.parent / "nope", sounds))
    monkeypatch.setattr(asterisk, "TRANSCRIPT_CANDIDATES", (transcript,))
    assert find_asterisk_files() == (sounds.resolve(), transcript.resolve())


def test_find_transcript_in_sounds_dir(fake_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sounds, transcript = fake_tree
    plain = sounds / "core-sounds-en.txt"
    plain.write_text(gzip.decompress(transcript.read_bytes()).decode("utf-8"), encoding="utf-8")
    monkeypatch.setattr(asterisk, "TRANSCRIPT_CANDIDATES", ())
    assert find_asterisk_files(sounds) == (sounds.resolve(), plain.resolve())
    assert len(load_asterisk_prompts(sounds)) == len(KEPT_TEXT)


def test_missing_packages_name_the_apt_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asterisk, "SOUNDS_DIR_CANDIDATES", (tmp_path / "none",))
    apt = "apt-get install -y asterisk-core-sounds-en-wav asterisk-core-sounds-en"
    with pytest.raises(MissingDependencyError, match=apt):
        find_asterisk_files()
    with pytest.raises(MissingDependencyError, match="does not exist or holds no .wav"):
        find_asterisk_files(tmp_path)


def test_missing_transcript(fake_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sounds, transcript = fake_tree
    monkeypatch.setattr(asterisk, "TRANSCRIPT_CANDIDATES", ())
    with pytest.raises(MissingDependencyError, match="core-sounds-en.txt.gz"):
        find_asterisk_files(sounds)
    with pytest.raises(MissingDependencyError, match="does not exist"):
        find_asterisk_files(sounds, transcript.with_name("missing.txt.gz"))


def test_malformed_transcript_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "core-sounds-en.txt"
    bad.write_text("; header\nhello: Hello.\nthis line has no name\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"core-sounds-en.txt:3"):
        read_asterisk_transcripts(bad)
    bad.write_text("hello: Hello.\nhello: Hi.\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match=r":2: prompt 'hello' already has a transcript on line 1"):
        read_asterisk_transcripts(bad)


def _real_files() -> tuple[Path, Path] | None:
    try:
        return find_asterisk_files()
    except MissingDependencyError:
        return None


@pytest.mark.skipif(_real_files() is None, reason="Debian packages asterisk-core-sounds-en-wav "
                    "and asterisk-core-sounds-en are not installed")
def test_real_debian_prompts() -> None:
    prompts = load_asterisk_prompts()
    assert len(prompts) >= 500
    assert 20.0 <= sum(p.duration for p in prompts) / 60.0 <= 30.0
    vocab = CharVocabulary()
    for prompt in prompts:
        vocab.encode(prompt.text, source=prompt.name)
    names = {p.name for p in prompts}
    assert "hello-world" in names and "beep" not in names and "silence/1" not in names

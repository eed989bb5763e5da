"""Real telephone speech: the Asterisk core prompts that Debian and Ubuntu package.

``asterisk-core-sounds-en-wav`` holds 568 prompts recorded by one professional US English
speaker (Allison Smith) as 8 kHz mono 16-bit WAV, licensed CC-BY-SA-3.0; the transcripts are in
``core-sounds-en.txt.gz``, in the documentation folder of ``asterisk-core-sounds-en``. Install
both with::

    apt-get install -y asterisk-core-sounds-en-wav asterisk-core-sounds-en

The transcript file holds ``name: text`` lines, where ``name`` is the WAV's path relative to the
sounds folder without its extension (``hello-world``, ``digits/1``, ``letters/a``), and ``;``
starts a comment. Some entries are not speech (``beep: [this is a simple beep tone]``,
``silence/1: (1 second of silence)``) and some carry notes (``letters/at: at [@]``,
``spy-iax2: IAX (note: does not say "2")``).

:func:`load_asterisk_prompts` turns the transcripts into vocabulary-safe text and leaves out
what cannot be trained or scored on; :func:`scan_asterisk_prompts` also returns what was left out
and why.
"""
from __future__ import annotations

import gzip
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from asrlab.audio import audio_duration
from asrlab.corpus import textgen
from asrlab.errors import MissingDependencyError, TranscriptError
from asrlab.text import CharVocabulary, normalize_text

logger = logging.getLogger(__name__)

APT_PACKAGES = ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")
APT_COMMAND = "sudo apt-get update && sudo apt-get install -y " + " ".join(APT_PACKAGES)

#: Where the WAV prompts live, most specific first. Debian installs the real folder under the
#: voice's name and points ``en``/``en_US`` at it through update-alternatives; an Asterisk built
#: from source uses ``/var/lib/asterisk/sounds/en``.
SOUNDS_DIR_CANDIDATES = (
    Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
    Path("/usr/share/asterisk/sounds/en"),
    Path("/usr/share/asterisk/sounds/en_US"),
    Path("/var/lib/asterisk/sounds/en"),
)
#: Where the transcript file lives: the Debian doc folder, or (source tarballs) the sounds folder.
TRANSCRIPT_CANDIDATES = (
    Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"),
    Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt"),
)
TRANSCRIPT_NAMES = ("core-sounds-en.txt", "core-sounds-en.txt.gz")

#: Folders whose prompts are never speech, whatever their transcript says.
NON_SPEECH_FOLDERS = frozenset({"silence"})

#: Reasons a prompt is left out (the keys of the summary that is logged).
REASON_NON_SPEECH = "non-speech (silence, beep, tone or sound effect)"
REASON_NO_AUDIO = "transcript entry without a WAV file"
REASON_NO_TRANSCRIPT = "WAV file without a transcript entry"
REASON_AMBIGUOUS_NUMBER = "number of 3+ digits or with a decimal point (its reading is ambiguous)"
REASON_OUT_OF_VOCABULARY = "characters outside the vocabulary remain after normalisation"

_ANNOTATION = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")
_AMBIGUOUS_NUMBER = re.compile(r"\d+[.,]\d|\d{3,}")
_NUMBER = re.compile(r"\d+")
#: Keypad and other symbols as the speaker reads them on a telephone prompt.
_SYMBOL_WORDS = {"*": "star", "#": "pound", "&": "and", "%": "percent", "@": "at", "+": "plus",
                 "=": "equals"}


@dataclass(frozen=True)
class RealPrompt:
    """One recorded prompt with a vocabulary-safe transcript.

    Attributes:
        wav: absolute path of the 8 kHz WAV file (``load_audio`` resamples it to 16 kHz).
        text: the transcript, normalised and valid for :class:`~asrlab.text.CharVocabulary`.
        name: the prompt's name in the transcript file, e.g. ``"digits/1"``.
        duration: length in seconds, from the WAV header.
    """

    wav: Path
    text: str
    name: str
    duration: float


@dataclass(frozen=True)
class LeftOutPrompt:
    """A prompt that :func:`scan_asterisk_prompts` left out.

    Attributes:
        name: the prompt's name, e.g. ``"beep"``.
        reason: one of the ``REASON_*`` constants of this module.
        detail: the transcript as written (or the file), to show what was wrong.
    """

    name: str
    reason: str
    detail: str


def spell_number(number: int) -> str:
    """Spell an integer from 0 to 99 as English words (:func:`asrlab.corpus.textgen.spell_number`,
    limited to the numbers a prompt reads one way only).

    >>> spell_number(42)
    'forty two'

    Raises:
        ValueError: ``number`` is outside 0-99 (longer numbers are read in several ways:
            "five hundred", "five oh oh", so asrlab does not guess).
    """
    if not 0 <= number <= 99:
        raise ValueError(f"spell_number handles 0-99 only, got {number}")
    return textgen.spell_number(number)


def strip_annotations(text: str) -> str:
    """Remove bracketed notes: ``[...]``, ``<...>`` and ``(...)``.

    >>> strip_annotations('IAX (note: does not say "2") [beep]').split()
    ['IAX']
    """
    return _ANNOTATION.sub(" ", text)


def clean_prompt_text(raw: str) -> tuple[str | None, str | None]:
    """Turn one raw transcript into vocabulary-safe text.

    Steps: drop bracketed notes, read keypad symbols as words (``*`` -> "star", ``#`` ->
    "pound"), spell numbers of one or two digits, :func:`~asrlab.text.normalize_text`, and check
    the result against :class:`~asrlab.text.CharVocabulary`.

    Args:
        raw: the text after ``name:`` in the transcript file.

    Returns:
        ``(text, None)`` when the prompt is usable, else ``(None, reason)`` with one of the
        ``REASON_*`` constants.

    >>> clean_prompt_text("Press 1 or * to exit [beep]")
    ('press one or star to exit', None)
    """
    text = strip_annotations(raw)
    if not any(ch.isalnum() for ch in text):
        return None, REASON_NON_SPEECH
    if _AMBIGUOUS_NUMBER.search(text):
        return None, REASON_AMBIGUOUS_NUMBER
    for symbol, word in _SYMBOL_WORDS.items():
        text = text.replace(symbol, f" {word} ")
    text = _NUMBER.sub(lambda match: f" {spell_number(int(match.group()))} ", text)
    text = normalize_text(text)
    if not text or CharVocabulary().unknown_characters(text):
        return None, REASON_OUT_OF_VOCABULARY
    return text, None


def _has_wavs(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.wav"))


def _missing(what: str, detail: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"{what} {detail}. Install the Asterisk prompts (Debian/Ubuntu): `{APT_COMMAND}`, "
        "or pass the paths explicitly: "
        "load_asterisk_prompts(sounds_dir=..., transcripts=...)."
    )


def find_asterisk_files(
    sounds_dir: str | os.PathLike | None = None,
    transcripts: str | os.PathLike | None = None,
) -> tuple[Path, Path]:
    """Locate the Asterisk prompt WAVs and their transcript file.

    Args:
        sounds_dir: the folder holding the ``*.wav`` prompts; ``None`` searches
            :data:`SOUNDS_DIR_CANDIDATES`.
        transcripts: ``core-sounds-en.txt`` or ``core-sounds-en.txt.gz``; ``None`` searches
            :data:`TRANSCRIPT_CANDIDATES` and then ``sounds_dir``.

    Returns:
        ``(sounds_dir, transcript_file)``, both resolved.

    Raises:
        MissingDependencyError: a given path does not exist (or holds no WAVs), or nothing was
            found in the standard places; the message holds the apt-get command.
    """
    if sounds_dir is not None:
        found_dir = Path(sounds_dir)
        if not _has_wavs(found_dir):
            raise _missing("the Asterisk sounds folder", f"{found_dir} does not exist or holds no .wav files")
    else:
        hits = [d for d in SOUNDS_DIR_CANDIDATES if _has_wavs(d)]
        if not hits:
            places = ", ".join(str(d) for d in SOUNDS_DIR_CANDIDATES)
            raise _missing("no Asterisk WAV prompts found", f"(looked in {places}; the GSM-only "
                           "package asterisk-core-sounds-en-gsm is not enough)")
        found_dir = hits[0]

    if transcripts is not None:
        found_text = Path(transcripts)
        if not found_text.is_file():
            raise _missing("the Asterisk transcript file", f"{found_text} does not exist")
    else:
        candidates = [*TRANSCRIPT_CANDIDATES, *(found_dir / name for name in TRANSCRIPT_NAMES)]
        hits = [f for f in candidates if f.is_file()]
        if not hits:
            places = ", ".join(str(f) for f in candidates)
            raise _missing(
                "no Asterisk transcript file (core-sounds-en.txt.gz) found",
                f"(looked in {places}). If asterisk-core-sounds-en is installed but the file is "
                "missing, your system drops /usr/share/doc at install time (see "
                "/etc/dpkg/dpkg.cfg.d/); extract it with `apt-get download asterisk-core-sounds-en "
                "&& dpkg-deb -x asterisk-core-sounds-en_*.deb pkg/` and pass "
                "transcripts='pkg/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz'",
            )
        found_text = hits[0]
    return found_dir.resolve(), found_text.resolve()


def read_asterisk_transcripts(path: str | os.PathLike) -> dict[str, str]:
    """Read ``name: text`` lines (plain or gzipped) into a dict, in file order.

    Blank lines and lines starting with ``;`` are skipped.

    Raises:
        TranscriptError: a line has no ``name:`` prefix, or a name appears twice; the message
            names the file and line.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    entries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            name, sep, text = line.partition(":")
            name = name.strip()
            if not sep or not name or " " in name:
                raise TranscriptError(
                    f"{path}:{number}: expected 'name: text', got {line!r}; fix or delete the line"
                )
            if name in entries:
                raise TranscriptError(
                    f"{path}:{number}: prompt {name!r} already has a transcript on line "
                    f"{first_line[name]}; keep one of the two lines"
                )
            entries[name] = text.strip()
            first_line[name] = number
    return entries


def scan_asterisk_prompts(
    sounds_dir: str | os.PathLike | None = None,
    transcripts: str | os.PathLike | None = None,
) -> tuple[list[RealPrompt], list[LeftOutPrompt]]:
    """Pair every WAV with its transcript and sort the prompts into kept and left out.

    Args:
        sounds_dir: see :func:`find_asterisk_files`.
        transcripts: see :func:`find_asterisk_files`.

    Returns:
        ``(kept, left_out)``: the usable prompts sorted by name, and every other transcript
        entry or WAV file with the reason it was left out.

    Raises:
        MissingDependencyError: the files are not installed.
        TranscriptError: the transcript file is malformed.
        AudioError: a WAV header cannot be read (reinstall the package).
    """
    root, transcript_file = find_asterisk_files(sounds_dir, transcripts)
    entries = read_asterisk_transcripts(transcript_file)
    wavs = {p.relative_to(root).with_suffix("").as_posix(): p for p in root.rglob("*.wav")}

    kept: list[RealPrompt] = []
    left_out: list[LeftOutPrompt] = []
    for name in sorted(set(entries) | set(wavs)):
        if name not in wavs:
            left_out.append(LeftOutPrompt(name, REASON_NO_AUDIO, entries[name]))
            continue
        if name not in entries:
            left_out.append(LeftOutPrompt(name, REASON_NO_TRANSCRIPT, str(wavs[name])))
            continue
        if name.split("/")[0] in NON_SPEECH_FOLDERS:
            left_out.append(LeftOutPrompt(name, REASON_NON_SPEECH, entries[name]))
            continue
        text, reason = clean_prompt_text(entries[name])
        if text is None:
            left_out.append(LeftOutPrompt(name, str(reason), entries[name]))
            continue
        kept.append(RealPrompt(wav=wavs[name], text=text, name=name,
                               duration=audio_duration(wavs[name])))
    return kept, left_out


def summarize_left_out(left_out: list[LeftOutPrompt]) -> dict[str, int]:
    """Count left-out prompts per reason."""
    return dict(Counter(item.reason for item in left_out))


def load_asterisk_prompts(
    sounds_dir: str | os.PathLike | None = None,
    transcripts: str | os.PathLike | None = None,
) -> list[RealPrompt]:
    """Load the Asterisk prompts that are speech with a vocabulary-safe transcript.

    Left out, and counted per reason in an INFO log message (call
    :func:`scan_asterisk_prompts` for the list): non-speech prompts (the ``silence/`` folder,
    and entries with no words once ``[...]``, ``<...>`` and ``(...)`` notes are dropped: beeps,
    tones, monkeys), transcript entries without a WAV and WAVs without an entry, prompts with a
    number of three or more digits or a decimal (``dial 500``, ``H.323``, ``28.8``: read as
    "five hundred" or "five oh oh"? asrlab does not guess), and any text still holding
    characters outside :class:`~asrlab.text.CharVocabulary`. Numbers of one or two digits are
    spelled out (``press 1`` -> "press one") and ``*``/``#`` read as "star"/"pound".

    On the Debian package 1.6.1 (568 WAVs, 25.5 minutes) this keeps 549 prompts, 23.0 minutes:
    17 non-speech, 2 with ambiguous numbers and 1 transcript entry without a WAV are left out.

    Args:
        sounds_dir: the folder of WAV prompts, or ``None`` to search the Debian locations.
        transcripts: the ``core-sounds-en.txt(.gz)`` file, or ``None`` to search for it.

    Returns:
        The kept prompts, sorted by name.

    Raises:
        MissingDependencyError: the packages are not installed (the message holds the apt-get
            command).
    """
    kept, left_out = scan_asterisk_prompts(sounds_dir, transcripts)
    summary = summarize_left_out(left_out)
    logger.info(
        "Asterisk prompts: kept %d (%.1f min), left out %d: %s",
        len(kept), sum(p.duration for p in kept) / 60.0, len(left_out),
        "; ".join(f"{count} {reason}" for reason, count in sorted(summary.items())) or "none",
    )
    return kept

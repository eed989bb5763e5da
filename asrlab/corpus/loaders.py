"""Convert real corpora that users download themselves into asrlab manifests.

asrlab downloads nothing. Fetch a corpus, extract it, and point one of these functions at it:

* :func:`prepare_librispeech`: LibriSpeech (https://www.openslr.org/12), one manifest per subset.
* :func:`prepare_librilight_limited`: the Libri-light limited-resource fine-tuning sets
  (10 min, 1 h, 10 h; https://dl.fbaipublicfiles.com/librilight/data/librispeech_finetuning.tgz).
* :func:`prepare_cmu_arctic`: CMU ARCTIC (http://festvox.org/cmu_arctic/), seven speakers with
  US, Canadian, Scottish and Indian English accents.
* :func:`prepare_mls`: Multilingual LibriSpeech (https://www.openslr.org/94), one language at a
  time (``mls_spanish``, ``mls_german``...), transcripts kept in the language's own alphabet.

Every loader normalises transcripts with :func:`~asrlab.text.normalize_text` and then checks them
against :class:`~asrlab.text.CharVocabulary` (MLS: ``CharVocabulary.for_language``, so ``ñ``
stays). Numbers are **not** spelled out: these corpora spell every number as words already, so a
digit or symbol means an edited or foreign copy, and a guess ("1905": "nineteen oh five" or "one
thousand nine hundred and five"?) would put wrong labels in the data. Such transcripts are
rejected with a :class:`~asrlab.errors.TranscriptError` that lists every offending ``file:line``
before any audio is read (or, with ``on_invalid_text="skip"``, left out and counted in a warning).

Durations come from the audio headers (:func:`~asrlab.audio.audio_duration`); audio paths in the
manifests point at the original files, which :func:`~asrlab.audio.load_audio` reads (FLAC and
WAV, through soundfile) and resamples to 16 kHz.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from asrlab.audio import SAMPLE_RATE, audio_duration, load_audio, save_audio
from asrlab.errors import AudioError, ManifestError, TranscriptError
from asrlab.manifest import Utterance, write_manifest
from asrlab.text import CharVocabulary

logger = logging.getLogger(__name__)

OnInvalidText = Literal["error", "skip"]

LIBRISPEECH_URL = "https://www.openslr.org/12"
LIBRILIGHT_URL = "https://dl.fbaipublicfiles.com/librilight/data/librispeech_finetuning.tgz"
ARCTIC_URL = "http://festvox.org/cmu_arctic/"
MLS_URL = "https://www.openslr.org/94"

#: Multilingual LibriSpeech folder names (``mls_<name>``) -> ISO 639-1 language codes.
MLS_LANGUAGES: dict[str, str] = {
    "english": "en", "german": "de", "dutch": "nl", "french": "fr", "spanish": "es", "italian": "it",
    "portuguese": "pt", "polish": "pl",
}
#: MLS limited-supervision training sets -> their handle files under ``train/limited_supervision/``.
MLS_TRAIN_SUBSETS: dict[str, tuple[str, ...]] = {
    "10min": ("1hr/0",),
    "1h": tuple(f"1hr/{fold}" for fold in range(6)),
    "10h": (*(f"1hr/{fold}" for fold in range(6)), "9hr"),
}
_MLS_DIR = re.compile(r"^mls_([a-z]+?)(?:_opus)?$")
_MLS_ID = re.compile(r"^(\d+)_(\d+)_(\d+)$")

#: Libri-light limited-resource subsets -> folders under ``librispeech_finetuning/``.
LIBRILIGHT_FOLDERS: dict[str, tuple[str, ...]] = {
    "10min": ("1h/0",),
    "1h": tuple(f"1h/{fold}" for fold in range(6)),
    "10h": (*(f"1h/{fold}" for fold in range(6)), "9h"),
}

#: CMU ARCTIC speakers -> (accent, gender), from the festvox ARCTIC documentation.
ARCTIC_SPEAKERS: dict[str, tuple[str, str]] = {
    "bdl": ("us", "male"),
    "slt": ("us", "female"),
    "clb": ("us", "female"),
    "rms": ("us", "male"),
    "jmk": ("canadian", "male"),
    "awb": ("scottish", "male"),
    "ksp": ("indian", "male"),
}

_ARCTIC_LINE = re.compile(r'^\(\s*(\S+)\s+"(.*)"\s*\)$')
_ARCTIC_DIR = re.compile(r"^cmu_us_([a-z0-9]+)_arctic$")


@dataclass(frozen=True)
class _Item:
    """One utterance found on disk, before its text is checked and its audio measured."""

    utt_id: str
    audio: Path
    raw_text: str
    speaker: str
    source: str  # "transcript_file:line", named in errors
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- shared steps


def _require_dir(path: Path, what: str, fix: str) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path} is not a folder. {fix}")


def _list_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _check_texts(
    items: list[_Item], on_invalid_text: OnInvalidText, corpus: str, vocab: CharVocabulary | None = None,
) -> list[tuple[_Item, str]]:
    """Normalise every transcript with ``vocab`` (English by default); reject (or skip) those
    it cannot encode."""
    if on_invalid_text not in ("error", "skip"):
        raise ValueError(f"on_invalid_text must be 'error' or 'skip', got {on_invalid_text!r}")
    vocab = vocab or CharVocabulary()
    good: list[tuple[_Item, str]] = []
    bad: list[str] = []
    for item in items:
        text = vocab.normalize(item.raw_text)
        unknown = vocab.unknown_characters(text)
        if not text or unknown:
            why = "empty after normalisation" if not text else f"characters {unknown!r}"
            bad.append(f"{item.source} ({item.utt_id}, {why}): {item.raw_text!r}")
        else:
            good.append((item, text))
    if bad and on_invalid_text == "error":
        shown = "\n  ".join(bad[:20]) + ("\n  ..." if len(bad) > 20 else "")
        raise TranscriptError(
            f"{len(bad)} {corpus} transcript(s) cannot be encoded with asrlab's vocabulary "
            f"(a-z, space, apostrophe{', ' + vocab.letters if vocab.letters else ''}) after normalisation:\n  {shown}\n"
            "Spell numbers and symbols out as words in those lines, or pass "
            "on_invalid_text='skip' (--skip-bad with `asrlab corpus prepare`) to leave these utterances out."
        )
    if bad:
        logger.warning("%s: left out %d utterance(s) whose transcript cannot be encoded, "
                       "e.g. %s", corpus, len(bad), bad[0])
    return good


def _measure(
    item: _Item, convert_dir: Path | None
) -> tuple[Path, float]:
    """The audio path for the manifest and its duration; converts to 16 kHz WAV if asked."""
    if convert_dir is None:
        duration = audio_duration(item.audio)
        path = item.audio
    else:
        path = convert_dir / f"{item.utt_id}.wav"
        if path.is_file():  # save_audio writes atomically, so an existing file is complete
            duration = audio_duration(path)
        else:
            wave = load_audio(item.audio, SAMPLE_RATE)
            save_audio(path, wave, SAMPLE_RATE)
            duration = len(wave) / SAMPLE_RATE
    if duration <= 0:
        raise AudioError(f"audio file {item.audio} holds no samples: delete it and its "
                         f"transcript line in {item.source}, or re-extract the corpus")
    return path, duration


def _build_manifest(
    items: list[_Item],
    manifest: Path,
    *,
    domain: str,
    split_of: Callable[[_Item], str],
    corpus: str,
    on_invalid_text: OnInvalidText,
    progress: bool,
    convert_dir: Path | None = None,
    vocab: CharVocabulary | None = None,
) -> Path:
    """Check texts, measure audio (with a progress bar) and write ``manifest``."""
    checked = _check_texts(items, on_invalid_text, corpus, vocab)
    utterances = []
    for item, text in tqdm(checked, desc=corpus, unit="file", disable=not progress):
        path, duration = _measure(item, convert_dir)
        utterances.append(Utterance(
            audio=str(path.resolve()), text=text, duration=duration, domain=domain,
            speaker=item.speaker, split=split_of(item), extra=dict(item.extra),
        ))
    logger.info("%s: wrote %d utterances (%.1f min) to %s", corpus, len(utterances),
                sum(u.duration for u in utterances) / 60.0, manifest)
    return write_manifest(manifest, utterances)


# --------------------------------------------------------------------------- LibriSpeech layout


def _read_librispeech_chapter(chapter_dir: Path) -> list[_Item]:
    """Items of one ``<speaker>/<chapter>/`` folder: its FLACs and its ``*.trans.txt``."""
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}
    trans_file = chapter_dir / f"{speaker}-{chapter}.trans.txt"
    if not trans_file.is_file():
        others = sorted(chapter_dir.glob("*.trans.txt"))
        if len(others) != 1:
            if flacs:
                first = sorted(flacs.values())[0]
                raise ManifestError(
                    f"audio without transcript: {first} (and {len(flacs) - 1} more) but no "
                    f"{trans_file.name} in {chapter_dir}. Re-extract this chapter from the "
                    "corpus archive, or delete the folder."
                )
            return []
        trans_file = others[0]

    items: list[_Item] = []
    seen: set[str] = set()
    with open(trans_file, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{trans_file}:{number}"
            utt_id, _, text = line.strip().partition(" ")
            if not text.strip():
                raise TranscriptError(f"{where}: expected 'ID TRANSCRIPT', got {line.strip()!r}")
            if utt_id not in flacs:
                raise ManifestError(
                    f"transcript line without audio: {where} names {utt_id}, but "
                    f"{chapter_dir / (utt_id + '.flac')} does not exist. Re-extract the "
                    "corpus archive, or delete the line."
                )
            if utt_id in seen:
                raise TranscriptError(f"{where}: {utt_id} has a transcript already; keep one line")
            seen.add(utt_id)
            items.append(_Item(utt_id=utt_id, audio=flacs[utt_id], raw_text=text.strip(),
                               speaker=speaker, source=where, extra={"chapter": chapter}))
    _refuse_orphan_audio(flacs, seen, trans_file)
    return items


def _refuse_orphan_audio(audio: dict[str, Path], transcribed: set[str], transcript_file: Path) -> None:
    """Raise :class:`ManifestError` naming the first audio file (by id) that no transcript line names."""
    orphans = sorted(set(audio) - transcribed)
    if orphans:
        raise ManifestError(
            f"audio without transcript: {audio[orphans[0]]}"
            + (f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else "")
            + f" has no line in {transcript_file}. Add the line or delete the audio file."
        )


def _read_librispeech_tree(folder: Path) -> list[_Item]:
    """Items of a ``<speaker>/<chapter>/`` tree (a LibriSpeech subset, a Libri-light fold)."""
    chapters = sorted(p for p in folder.glob("*/*") if p.is_dir())
    if not chapters:
        raise FileNotFoundError(
            f"no <speaker>/<chapter>/ folders under {folder}: it is empty or not in the "
            "LibriSpeech layout. Re-extract the corpus archive."
        )
    return [item for chapter in chapters for item in _read_librispeech_chapter(chapter)]


def prepare_librispeech(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    subsets: Sequence[str] = ("dev-clean", "test-clean"),
    domain: str = "librispeech",
    convert_audio: bool = False,
    *,
    on_invalid_text: OnInvalidText = "error",
    progress: bool = True,
) -> dict[str, Path]:
    """Write one manifest per LibriSpeech subset.

    Expects the layout the openslr archives extract to::

        root/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
        root/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

    where each ``trans.txt`` line is ``<speaker>-<chapter>-<utt> TRANSCRIPT IN CAPITALS``.
    ``root`` may also be the ``LibriSpeech/`` folder itself.

    Args:
        root: the folder holding ``LibriSpeech/``, or ``LibriSpeech/`` itself.
        out_dir: where ``<subset>.jsonl`` (and converted audio) are written.
        subsets: subset folder names, e.g. ``"dev-clean"``, ``"train-clean-100"``.
        domain: the ``domain`` field of every line.
        convert_audio: ``False`` points the manifest at the original FLACs; ``True`` writes
            16 kHz WAVs to ``out_dir/wav/<subset>/<utt>.wav`` (files already there are reused).
        on_invalid_text: ``"error"`` raises on a transcript the vocabulary cannot encode,
            ``"skip"`` leaves it out with a warning.
        progress: show a tqdm progress bar over the files.

    Returns:
        ``{subset: manifest path}``. Each line has ``split`` = the subset name, ``speaker`` =
        the speaker id, and an extra ``chapter`` key.

    Raises:
        FileNotFoundError: ``root`` or a subset is missing (the message lists the subsets found).
        ManifestError: a transcript line has no audio file, or an audio file no transcript.
        TranscriptError: a transcript line is malformed, or (with ``on_invalid_text="error"``)
            holds characters the vocabulary cannot encode.
    """
    root = Path(root)
    _require_dir(root, "LibriSpeech root", f"Download subsets from {LIBRISPEECH_URL}, extract "
                 "them (`tar xzf dev-clean.tar.gz` creates LibriSpeech/dev-clean) and pass the "
                 "folder that holds LibriSpeech/.")
    if not subsets:
        raise ValueError("subsets is empty: name at least one, e.g. ('dev-clean',)")
    base = root / "LibriSpeech" if (root / "LibriSpeech").is_dir() else root
    for subset in subsets:
        if not (base / subset).is_dir():
            found = ", ".join(_list_dirs(base)) or "none"
            raise FileNotFoundError(
                f"LibriSpeech subset {subset!r} not found: {base / subset} does not exist "
                f"(subsets found in {base}: {found}). Download {subset}.tar.gz from "
                f"{LIBRISPEECH_URL} and extract it with `tar xzf {subset}.tar.gz -C {base.parent}`."
            )
    out_dir = Path(out_dir)
    manifests: dict[str, Path] = {}
    for subset in subsets:
        items = _read_librispeech_tree(base / subset)
        manifests[subset] = _build_manifest(
            items, out_dir / f"{subset}.jsonl", domain=domain, split_of=lambda _, s=subset: s,
            corpus=f"LibriSpeech {subset}", on_invalid_text=on_invalid_text, progress=progress,
            convert_dir=out_dir / "wav" / subset if convert_audio else None,
        )
    return manifests


def prepare_librilight_limited(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    subset: Literal["10min", "1h", "10h"],
    domain: str = "librilight",
    *,
    on_invalid_text: OnInvalidText = "error",
    progress: bool = True,
) -> Path:
    """Write the manifest of a Libri-light limited-resource fine-tuning set.

    Layout assumed (that of ``librispeech_finetuning.tgz`` from the Libri-light release, checked
    against the Libri-light ``data_preparation`` scripts and torchaudio's ``LibriLightLimited``)::

        root/librispeech_finetuning/1h/{0..5}/{clean,other}/<speaker>/<chapter>/<utt>.flac
        root/librispeech_finetuning/1h/{0..5}/{clean,other}/<speaker>/<chapter>/<spk>-<ch>.trans.txt
        root/librispeech_finetuning/9h/{clean,other}/<speaker>/<chapter>/...

    ``10min`` is fold ``1h/0``; ``1h`` is the six folds of ``1h/``; ``10h`` is ``1h/`` plus
    ``9h/``. The release prunes each ``trans.txt`` to the utterances present, so a line without
    audio is an error here as in LibriSpeech. The ``phones/`` folder of the release is ignored.

    Args:
        root: the folder holding ``librispeech_finetuning/``, or that folder itself.
        out_dir: where ``librilight-<subset>.jsonl`` is written.
        subset: ``"10min"``, ``"1h"`` or ``"10h"``.
        domain: the ``domain`` field of every line.
        on_invalid_text: see :func:`prepare_librispeech`.
        progress: show a tqdm progress bar over the files.

    Returns:
        The manifest path. Every line has ``split="train"`` (these are fine-tuning sets; use
        LibriSpeech dev/test to evaluate), ``speaker`` = the speaker id, and extra keys
        ``chapter``, ``fold`` (``"1h/3"`` or ``"9h"``) and ``quality`` (``"clean"``/``"other"``).

    Raises:
        ValueError: ``subset`` is not one of the three.
        FileNotFoundError: ``root`` or a fold folder is missing.
        ManifestError, TranscriptError: as in :func:`prepare_librispeech`.
    """
    if subset not in LIBRILIGHT_FOLDERS:
        raise ValueError(f"subset must be one of {list(LIBRILIGHT_FOLDERS)}, got {subset!r}")
    root = Path(root)
    fix = (f"Download {LIBRILIGHT_URL}, extract it (`tar xzf librispeech_finetuning.tgz`) and "
           "pass the folder that holds librispeech_finetuning/.")
    _require_dir(root, "Libri-light root", fix)
    base = root / "librispeech_finetuning" if (root / "librispeech_finetuning").is_dir() else root
    items: list[_Item] = []
    for fold in LIBRILIGHT_FOLDERS[subset]:
        fold_dir = base / fold
        if not fold_dir.is_dir():
            found = ", ".join(_list_dirs(base)) or "none"
            raise FileNotFoundError(
                f"Libri-light folder {fold_dir} not found (folders in {base}: {found}); the "
                f"{subset} set needs {', '.join(LIBRILIGHT_FOLDERS[subset])}. {fix}"
            )
        qualities = [q for q in ("clean", "other") if (fold_dir / q).is_dir()]
        if not qualities:
            raise FileNotFoundError(f"{fold_dir} holds neither clean/ nor other/. {fix}")
        for quality in qualities:
            for item in _read_librispeech_tree(fold_dir / quality):
                extra = {**item.extra, "fold": fold, "quality": quality}
                items.append(_Item(item.utt_id, item.audio, item.raw_text, item.speaker,
                                   item.source, extra))
    return _build_manifest(
        items, Path(out_dir) / f"librilight-{subset}.jsonl", domain=domain,
        split_of=lambda _: "train", corpus=f"Libri-light {subset}",
        on_invalid_text=on_invalid_text, progress=progress,
    )


# --------------------------------------------------------------------------- CMU ARCTIC


def arctic_split(utt_id: str, dev_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """Deterministic split of an ARCTIC sentence id: ``"train"``, ``"dev"`` or ``"test"``.

    The split hashes the sentence id (``arctic_a0001``), not the speaker: all speakers read the
    same sentences, so a sentence is in the same split for every speaker and no test sentence is
    heard in training. SHA-256 makes it stable across runs and machines.
    """
    if dev_fraction < 0 or test_fraction < 0 or dev_fraction + test_fraction >= 1:
        raise ValueError("dev_fraction and test_fraction must be >= 0 and sum to less than 1, "
                         f"got {dev_fraction} and {test_fraction}")
    unit = int(hashlib.sha256(utt_id.encode("utf-8")).hexdigest()[:8], 16) / 2**32
    if unit < test_fraction:
        return "test"
    if unit < test_fraction + dev_fraction:
        return "dev"
    return "train"


def _read_arctic_speaker(spk_dir: Path, speaker: str) -> list[_Item]:
    """Items of one ``cmu_us_<spk>_arctic`` folder: ``etc/txt.done.data`` and ``wav/``."""
    prompts = spk_dir / "etc" / "txt.done.data"
    if not prompts.is_file():
        raise FileNotFoundError(f"ARCTIC transcript file {prompts} not found: re-extract "
                                f"cmu_us_{speaker}_arctic from {ARCTIC_URL}")
    wavs = {p.stem: p for p in (spk_dir / "wav").glob("*.wav")}
    accent, gender = ARCTIC_SPEAKERS.get(speaker, ("unknown", "unknown"))
    items: list[_Item] = []
    with open(prompts, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{prompts}:{number}"
            match = _ARCTIC_LINE.match(line.strip())
            if match is None:
                raise TranscriptError(
                    f"{where}: expected '( arctic_a0001 \"Text.\" )', got {line.strip()!r}"
                )
            utt_id, text = match.groups()
            if utt_id not in wavs:
                raise ManifestError(
                    f"transcript line without audio: {where} names {utt_id}, but "
                    f"{spk_dir / 'wav' / (utt_id + '.wav')} does not exist. Re-extract the "
                    "archive, or delete the line."
                )
            items.append(_Item(utt_id=utt_id, audio=wavs[utt_id], raw_text=text,
                               speaker=speaker, source=where,
                               extra={"accent": accent, "gender": gender}))
    _refuse_orphan_audio(wavs, {item.utt_id for item in items}, prompts)
    return items


def prepare_cmu_arctic(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    speakers: Sequence[str] | None = None,
    domain: str = "arctic",
    *,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.1,
    on_invalid_text: OnInvalidText = "error",
    progress: bool = True,
) -> Path:
    """Write one manifest for CMU ARCTIC speakers.

    Layout (the festvox ``cmu_us_<spk>_arctic-0.95-release.tar.bz2`` archives)::

        root/cmu_us_<spk>_arctic/wav/arctic_a0001.wav            (16 kHz mono)
        root/cmu_us_<spk>_arctic/etc/txt.done.data               ( arctic_a0001 "Text." )

    Args:
        root: the folder holding the ``cmu_us_<spk>_arctic`` folders.
        out_dir: where ``cmu_arctic.jsonl`` is written.
        speakers: speaker codes (``"bdl"``, ``"ksp"``...); ``None`` takes every speaker found.
        domain: the ``domain`` field of every line.
        dev_fraction: share of sentences in ``dev``.
        test_fraction: share of sentences in ``test``.
        on_invalid_text: see :func:`prepare_librispeech`.
        progress: show a tqdm progress bar over the files.

    Returns:
        The manifest path. ``speaker`` is the speaker code; ``split`` comes from
        :func:`arctic_split` (by sentence, the same for every speaker); extra keys ``accent``
        (``us``, ``canadian``, ``scottish``, ``indian``, from :data:`ARCTIC_SPEAKERS`, or
        ``unknown``) and ``gender``. Audio ids (file stems) repeat across speakers.

    Raises:
        FileNotFoundError: ``root``, a requested speaker or a speaker's files are missing.
        ManifestError, TranscriptError: as in :func:`prepare_librispeech`.
    """
    arctic_split("arctic_a0001", dev_fraction, test_fraction)  # validate the fractions first
    root = Path(root)
    fix = (f"Download cmu_us_<spk>_arctic-0.95-release.tar.bz2 archives from {ARCTIC_URL} and "
           "extract them into one folder.")
    _require_dir(root, "CMU ARCTIC root", fix)
    found = {m.group(1): root / name for name in _list_dirs(root)
             if (m := _ARCTIC_DIR.match(name))}
    if speakers is None:
        if not found:
            raise FileNotFoundError(f"no cmu_us_<spk>_arctic folders in {root}. {fix}")
        speakers = sorted(found)
    missing = [spk for spk in speakers if spk not in found]
    if missing:
        raise FileNotFoundError(
            f"ARCTIC speaker(s) {missing} not found in {root} (found: "
            f"{', '.join(sorted(found)) or 'none'}): expected {root / f'cmu_us_{missing[0]}_arctic'}."
            f" {fix}"
        )
    for spk in speakers:
        if spk not in ARCTIC_SPEAKERS:
            logger.warning("ARCTIC speaker %r is not in ARCTIC_SPEAKERS: accent 'unknown'", spk)
    items = [item for spk in speakers for item in _read_arctic_speaker(found[spk], spk)]
    return _build_manifest(
        items, Path(out_dir) / "cmu_arctic.jsonl", domain=domain,
        split_of=lambda item: arctic_split(item.utt_id, dev_fraction, test_fraction),
        corpus="CMU ARCTIC", on_invalid_text=on_invalid_text, progress=progress,
    )


# --------------------------------------------------------------------------- Multilingual LibriSpeech


def mls_language(folder: str | os.PathLike) -> str | None:
    """The language code of an MLS folder name: ``mls_spanish`` (or ``mls_spanish_opus``) -> ``"es"``;
    None for a name that is not one."""
    match = _MLS_DIR.match(Path(folder).name)
    return MLS_LANGUAGES.get(match.group(1)) if match else None


def _mls_base(root: Path, language: str | None) -> tuple[Path, str]:
    """The ``mls_<name>`` folder under (or at) ``root`` and its language code."""
    fix = (f"Download mls_<language>.tar.gz from {MLS_URL}, extract it (`tar xzf mls_spanish.tar.gz` "
           "creates mls_spanish/) and pass that folder, or its parent with language='es'.")
    _require_dir(root, "Multilingual LibriSpeech root", fix)
    if any((root / split / "transcripts.txt").is_file() for split in ("train", "dev", "test")):
        inferred = mls_language(root)
        if language is None and inferred is None:
            raise ValueError(f"cannot tell the language of {root} from its name (expected mls_<language>, "
                             f"e.g. mls_spanish): pass language='es' (--language es)")
        return root, language or inferred  # type: ignore[return-value]
    if language is not None:
        names = [n for n, code in MLS_LANGUAGES.items() if code == language]
        for name in names:
            for folder in (root / f"mls_{name}", root / f"mls_{name}_opus"):
                if folder.is_dir():
                    return folder, language
    found = [n for n in _list_dirs(root) if mls_language(n)]
    raise FileNotFoundError(
        f"no Multilingual LibriSpeech language folder at {root}"
        + (f" for language {language!r}" if language else "")
        + f" (MLS folders found there: {', '.join(found) or 'none'}): it needs train/, dev/ or test/ "
        f"with a transcripts.txt. {fix}"
    )


def _read_mls_handles(split_dir: Path, subset: str) -> set[str]:
    """The utterance ids of a limited-supervision training subset (``10min``, ``1h``, ``10h``)."""
    if subset not in MLS_TRAIN_SUBSETS:
        raise ValueError(f"unknown MLS training subset {subset!r}; choose one of {', '.join(MLS_TRAIN_SUBSETS)}")
    handles: set[str] = set()
    for part in MLS_TRAIN_SUBSETS[subset]:
        path = split_dir / "limited_supervision" / part / "handles.txt"
        if not path.is_file():
            raise FileNotFoundError(f"MLS handle file {path} not found: the {subset} training subset needs "
                                    f"{', '.join(MLS_TRAIN_SUBSETS[subset])}. Re-extract the archive from {MLS_URL}.")
        handles |= {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    return handles


def _read_mls_split(split_dir: Path, keep: set[str] | None, language: str) -> list[_Item]:
    """Items of one MLS split: ``transcripts.txt`` lines ``SPEAKER_BOOK_UTT<TAB>text``, audio at
    ``audio/SPEAKER/BOOK/SPEAKER_BOOK_UTT.flac`` (``.opus`` in the opus release)."""
    transcripts = split_dir / "transcripts.txt"
    if not transcripts.is_file():
        raise FileNotFoundError(f"MLS transcript file {transcripts} not found: re-extract the archive from {MLS_URL}")
    items: list[_Item] = []
    seen: set[str] = set()
    with open(transcripts, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{transcripts}:{number}"
            utt_id, tab, text = line.rstrip("\n").partition("\t")
            match = _MLS_ID.match(utt_id.strip())
            if not tab or match is None or not text.strip():
                raise TranscriptError(f"{where}: expected 'SPEAKER_BOOK_UTTERANCE<TAB>transcript' "
                                      f"(e.g. '10087_10388_000000\tla casa'), got {line.rstrip()!r}")
            utt_id = utt_id.strip()
            if keep is not None and utt_id not in keep:
                continue
            if utt_id in seen:
                raise TranscriptError(f"{where}: {utt_id} has a transcript already; keep one line")
            seen.add(utt_id)
            speaker, book, _ = match.groups()
            folder = split_dir / "audio" / speaker / book
            audio = next((folder / f"{utt_id}{ext}" for ext in (".flac", ".opus", ".wav")
                          if (folder / f"{utt_id}{ext}").is_file()), None)
            if audio is None:
                raise ManifestError(f"transcript line without audio: {where} names {utt_id}, but "
                                    f"{folder / (utt_id + '.flac')} does not exist. Re-extract the archive, "
                                    "or delete the line.")
            items.append(_Item(utt_id=utt_id, audio=audio, raw_text=text.strip(), speaker=speaker,
                               source=where, extra={"book": book, "language": language}))
    if keep is not None and not items:
        raise ManifestError(f"none of the limited-supervision handles is in {transcripts}: are the handle "
                            "files from the same language release?")
    return items


def prepare_mls(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    splits: Sequence[str] = ("train", "dev", "test"),
    language: str | None = None,
    domain: str | None = None,
    train_subset: str | None = None,
    convert_audio: bool = False,
    *,
    on_invalid_text: OnInvalidText = "error",
    progress: bool = True,
) -> dict[str, Path]:
    """Write one manifest per split of a Multilingual LibriSpeech language.

    Expects the layout the openslr archives extract to::

        root/mls_spanish/{train,dev,test}/transcripts.txt          SPEAKER_BOOK_UTT<TAB>transcript
        root/mls_spanish/{train,dev,test}/audio/SPEAKER/BOOK/SPEAKER_BOOK_UTT.flac
        root/mls_spanish/train/limited_supervision/{1hr/0..5,9hr}/handles.txt

    ``root`` may also be the ``mls_<language>`` folder itself, whose name then gives the language.
    Transcripts are normalised with ``CharVocabulary.for_language(language)`` (``ñ``, ``ü``, ``ß``
    stay letters; other accents fold); a line it cannot encode is named with its file and line.
    Lines are not checked against the audio the other way round (the training folder holds
    hundreds of thousands of files): audio without a transcript is simply not used.

    Args:
        root: the ``mls_<language>`` folder, or the folder holding it (then ``language`` is needed).
        out_dir: where ``<split>.jsonl`` (and converted audio) are written; make it
            ``<corpus>/<domain>`` and :func:`~asrlab.manifest.manifest_path` finds the manifests.
        splits: any of ``"train"``, ``"dev"``, ``"test"``.
        language: ISO code (``"es"``); default: from the folder name (``mls_spanish`` -> ``"es"``).
        domain: the ``domain`` field of every line (default ``mls_<language name>``, e.g. ``mls_spanish``).
        train_subset: ``"10min"``, ``"1h"`` or ``"10h"``: only the limited-supervision training
            utterances of that size (the MLS handle files); None takes the whole training split.
        convert_audio: ``True`` writes 16 kHz WAVs to ``out_dir/wav/<split>/`` (needed for opus).
        on_invalid_text: ``"error"`` raises on a transcript the vocabulary cannot encode,
            ``"skip"`` leaves it out with a warning.
        progress: show a tqdm progress bar over the files.

    Returns:
        ``{split: manifest path}``. Each line has ``speaker`` = the MLS speaker id, ``split``, and
        extra keys ``book`` and ``language`` (:attr:`asrlab.manifest.Utterance.language`).

    Raises:
        FileNotFoundError: no MLS folder at ``root``, or a split or handle file is missing.
        ValueError: the language cannot be told, has no alphabet in asrlab, or a split is unknown.
        ManifestError: a transcript line has no audio file.
        TranscriptError: a malformed or duplicated line, or (with ``on_invalid_text="error"``)
            transcripts the vocabulary cannot encode, each named with its file and line.
    """
    bad_splits = [s for s in splits if s not in ("train", "dev", "test")]
    if bad_splits or not splits:
        raise ValueError(f"MLS splits are train, dev and test; got {list(splits)}")
    base, language = _mls_base(Path(root), language)
    vocab = CharVocabulary.for_language(language)  # ValueError for a language with no alphabet here
    name = next((n for n, code in MLS_LANGUAGES.items() if code == language), language)
    domain = domain or f"mls_{name}"
    out_dir = Path(out_dir)
    manifests: dict[str, Path] = {}
    for split in splits:
        split_dir = base / split
        if not split_dir.is_dir():
            found = ", ".join(d for d in _list_dirs(base) if d in ("train", "dev", "test")) or "none"
            raise FileNotFoundError(f"MLS split {split!r} not found: {split_dir} does not exist (splits in {base}: "
                                    f"{found}). Re-extract the archive from {MLS_URL}.")
        keep = _read_mls_handles(split_dir, train_subset) if split == "train" and train_subset else None
        items = _read_mls_split(split_dir, keep, language)
        manifests[split] = _build_manifest(
            items, out_dir / f"{split}.jsonl", domain=domain, split_of=lambda _, s=split: s,
            corpus=f"MLS {name} {split}", on_invalid_text=on_invalid_text, progress=progress,
            convert_dir=out_dir / "wav" / split if convert_audio else None, vocab=vocab,
        )
    return manifests

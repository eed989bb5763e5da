"""In-process espeak-ng synthesis through its C API (the library bundled by ``espeakng-loader``).

One :class:`EspeakSynthesizer` per process and thread: espeak-ng keeps global state, so it is
neither thread-safe nor re-entrant. The corpus builder gives each worker process its own.
"""
from __future__ import annotations

import ctypes
import _ctypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asrlab.audio import SAMPLE_RATE, resample
from asrlab.errors import MissingDependencyError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_LIBC = ctypes.CDLL(None)

#: The English accents that espeak-ng ships, by voice name.
ESPEAK_ACCENTS = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
#: Accents of the other languages asrlab builds corpora in (see asrlab.corpus.domains.LANGUAGE_DOMAINS),
#: by language: ``es`` is Castilian Spanish, ``es-419`` Latin American.
ESPEAK_LANGUAGE_ACCENTS: dict[str, tuple[str, ...]] = {"es": ("es", "es-419"), "de": ("de",), "nl": ("nl",)}
#: espeak-ng's own name where it differs from the accent label (variants attach to "en", not "en-gb").
_ESPEAK_NAME = {"en-gb": "en"}
#: Voice variants that combine with every accent above (checked by the tests).
ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "whisper", "croak",
)


@dataclass(frozen=True)
class EspeakVoice:
    """An espeak-ng voice: accent, variant and prosody.

    Attributes:
        accent: a voice name from :data:`ESPEAK_ACCENTS`.
        variant: a variant name (``"f3"``) or ``""`` for the accent's default.
        rate: words per minute (espeak accepts 80-450).
        pitch: base pitch 0-99.
        pitch_range: pitch variation 0-99 (0 is monotone).
    """

    accent: str
    variant: str = ""
    rate: int = 170
    pitch: int = 50
    pitch_range: int = 50

    @property
    def name(self) -> str:
        """The voice name espeak understands, e.g. ``en-us+f3``."""
        base = _ESPEAK_NAME.get(self.accent, self.accent)
        return f"{base}+{self.variant}" if self.variant else base

    @property
    def language(self) -> str:
        """The language code of the accent: ``"en"`` for ``en-gb-scotland``, ``"es"`` for ``es-419``."""
        return self.accent.split("-", 1)[0]

    @property
    def speaker_id(self) -> str:
        """A speaker label: engine, accent and variant (rate and pitch vary within a speaker)."""
        variant = f"+{self.variant}" if self.variant else ""
        return f"espeak:{self.accent}{variant}"


class EspeakSynthesizer:
    """Synthesises text to 16 kHz float32 waveforms with espeak-ng, in this process.

    espeak-ng keeps hidden state between utterances (noise generators, filter memories, voice
    settings that a variant does not override), so the same text and voice sound slightly
    different depending on what was spoken before. For a corpus that is the same on every build
    and with any number of workers, each utterance is spoken by a fresh copy of the library
    (``fresh=True``, about 3 ms extra per utterance).

    Args:
        fresh: a fresh copy of the library for every utterance (see above).
        languages: the languages whose voices it speaks (ISO codes: ``("en",)``, ``("es",)``);
            only their data is loaded (:func:`espeak_data_dir`).

    Raises:
        MissingDependencyError: ``espeakng-loader`` is not installed.
    """

    def __init__(self, fresh: bool = True, languages: tuple[str, ...] = ("en",)) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise MissingDependencyError(
                "espeak-ng synthesis needs the PyPI package espeakng-loader: pip install espeakng-loader"
            ) from exc
        self._source = espeakng_loader.get_library_path()
        self._tmp = Path(tempfile.mkdtemp(prefix="asrlab-espeak-"))
        self.languages = tuple(languages)
        self._data_path = str(espeak_data_dir(Path(espeakng_loader.get_data_path()), self._tmp,
                                              self.languages)).encode()
        self._loads = 0
        self._fresh = fresh
        self._used = False
        self._chunks: list[np.ndarray] = []

        def collect(wav: ctypes.POINTER(ctypes.c_short), count: int, _events: int) -> int:
            if count > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        self._callback = _SYNTH_CALLBACK(collect)  # keep a reference: C holds a raw pointer
        self._lib: ctypes.CDLL | None = None
        self._load()

    def _load(self) -> None:
        """Load a private copy of libespeak-ng (fresh global state) and initialise it."""
        if self._lib is not None:
            self._lib.espeak_Terminate()
            _ctypes.dlclose(self._lib._handle)
        self._loads += 1
        copy = self._tmp / f"libespeak-ng-{self._loads}.so"
        shutil.copyfile(self._source, copy)
        try:
            lib = ctypes.CDLL(str(copy))
        finally:
            copy.unlink()
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.native_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_path, 0)
        if self.native_rate <= 0:
            raise MissingDependencyError(f"espeak-ng failed to initialise with data at {self._data_path!r}")
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib

    def _set_voice(self, voice: EspeakVoice) -> None:
        assert self._lib is not None
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise ValueError(
                f"espeak-ng has no voice {voice.name!r} in the languages {self.languages} this synthesizer "
                f"loaded; accents: {ESPEAK_ACCENTS} and {ESPEAK_LANGUAGE_ACCENTS}, variants: {ESPEAK_VARIANTS}. "
                f"Speak a {voice.language!r} voice with EspeakSynthesizer(languages=({voice.language!r},))."
            )
        for param, value in ((_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch),
                             (_PARAM_RANGE, voice.pitch_range), (_PARAM_VOLUME, 100)):
            self._lib.espeak_SetParameter(param, int(value), 0)

    def synthesize(self, text: str, voice: EspeakVoice, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Speak ``text`` with ``voice``.

        Returns:
            ``(samples,)`` float32 waveform at ``sample_rate``, leading/trailing silence trimmed
            to at most 100 ms.
        """
        if self._fresh and self._used:
            self._load()
        self._used = True
        # the noise generators: espeak-ng's own and libc's rand(), which it also draws from
        self._lib.espeak_ng_SetRandSeed(ctypes.c_long(0))
        _LIBC.srand(0)
        self._set_voice(voice)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak-ng failed (status {status}) on {text!r} with {voice.name}")
        if not self._chunks:
            raise RuntimeError(f"espeak-ng produced no audio for {text!r} with {voice.name}")
        wave = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        wave = trim_silence(wave, self.native_rate)
        return resample(wave, self.native_rate, sample_rate)


def english_data_dir(source: Path, workdir: Path) -> Path:
    """:func:`espeak_data_dir` for English alone (what the English corpus is built with)."""
    return espeak_data_dir(source, workdir, ("en",))


def _is_language_file(name: str, languages: tuple[str, ...]) -> bool:
    code = name.lower()
    return any(code == lang or code.startswith(lang + "-") for lang in languages)


def espeak_data_dir(source: Path, workdir: Path, languages: tuple[str, ...] = ("en",)) -> Path:
    """A view of espeak-ng's data folder with only ``languages`` and asrlab's variants.

    Loading a voice makes espeak-ng scan every language and variant file; a fresh library per
    utterance would pay for that scan each time. The view (symbolic links into ``source``)
    cuts the scan to the files asrlab uses: the ``<lang>_dict`` dictionaries and the voice files
    ``lang/<family>/<lang>[-<region>]`` of ``languages``; the speech is identical. Falls back to
    ``source`` where links cannot be made.
    """
    view = workdir / "espeak-ng-data"
    # the English dictionary stays in every view: a full-size Spanish and German build printed
    # "Can't read dictionary file .../en_dict" from its workers without it (espeak-ng can fall back
    # to English while it starts; the speech was unaffected)
    dicts = {f"{lang}_dict" for lang in languages} | {"en_dict"}
    try:
        view.mkdir()
        for item in source.iterdir():
            if item.name in ("lang", "voices") or (item.name.endswith("_dict") and item.name not in dicts):
                continue
            os.symlink(item, view / item.name)
        for family in sorted(p for p in (source / "lang").iterdir() if p.is_dir()):
            for item in family.iterdir():
                if item.is_file() and _is_language_file(item.name, languages):
                    (view / "lang" / family.name).mkdir(parents=True, exist_ok=True)
                    os.symlink(item, view / "lang" / family.name / item.name)
        (view / "voices" / "!v").mkdir(parents=True)
        for name in ESPEAK_VARIANTS:
            if (source / "voices" / "!v" / name).exists():
                os.symlink(source / "voices" / "!v" / name, view / "voices" / "!v" / name)
    except OSError:
        return source
    return view


def trim_silence(wave: np.ndarray, sample_rate: int, keep_s: float = 0.1, threshold: float = 1e-3) -> np.ndarray:
    """Trim leading/trailing samples below ``threshold``, keeping ``keep_s`` seconds of margin."""
    loud = np.flatnonzero(np.abs(wave) > threshold)
    if loud.size == 0:
        return wave
    keep = int(keep_s * sample_rate)
    return wave[max(0, loud[0] - keep): loud[-1] + keep + 1]

"""Every domain of the offline corpus, declared in one place.

A domain is a text style, a pool of voices for its labelled/unlabelled training splits, a
disjoint pool for its dev/test splits (where the domain allows), an optional acoustic shift,
and split sizes in minutes of audio. The source domain is clean speech from many voices and
three synthesisers; the target domains shift accent, noise, room, channel, text, or are real.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from asrlab.config import CORPUS_SIZES
from asrlab.corpus.espeak import EspeakVoice
from asrlab.corpus.flite import FliteVoiceSpec
from asrlab.corpus.piper import PiperVoiceSpec

VoiceSpec = Union[EspeakVoice, PiperVoiceSpec, FliteVoiceSpec]
SPLITS = ("train", "unlabelled", "dev", "test")
#: The order splits are built in: held-out splits first so training texts can avoid them.
BUILD_ORDER = ("test", "dev", "unlabelled", "train")
SizeName = Literal["smoke", "lab", "full"]
#: Corpus sizes, smallest first: smoke for CI, lab for a learner (built in minutes), full for the README.
SIZE_NAMES: tuple[str, ...] = CORPUS_SIZES


@dataclass(frozen=True)
class SplitMinutes:
    """Minutes of audio per split."""

    train: float
    unlabelled: float
    dev: float
    test: float

    def __getitem__(self, split: str) -> float:
        return float(getattr(self, split))


@dataclass(frozen=True)
class VoicePool:
    """Voices to draw from, with the share of utterances each engine gets.

    Attributes:
        accents: espeak-ng accents.
        variants: espeak-ng voice variants; a speaker is one (accent, variant) pair.
        rate: espeak words per minute, drawn uniformly per utterance.
        pitch: espeak base pitch, drawn uniformly per utterance.
        piper: Piper voices and their share of utterances (if piper-tts is installed).
        flite: flite voices and their share of utterances (if the flite binary is installed).
    """

    accents: tuple[str, ...]
    variants: tuple[str, ...]
    rate: tuple[int, int] = (140, 200)
    pitch: tuple[int, int] = (30, 70)
    piper: tuple[str, ...] = ()
    piper_share: float = 0.0
    flite: tuple[str, ...] = ()
    flite_share: float = 0.0

    def speakers(self, *, piper_ok: bool, flite_ok: bool) -> list[str]:
        """Speaker labels this pool can produce with the engines available."""
        out = [EspeakVoice(a, v).speaker_id for a in self.accents for v in self.variants]
        out += [PiperVoiceSpec(v).speaker_id for v in self.piper] if piper_ok else []
        out += [FliteVoiceSpec(v).speaker_id for v in self.flite] if flite_ok else []
        return out

    def draw(self, rng: np.random.Generator, *, piper_ok: bool, flite_ok: bool) -> VoiceSpec:
        """Draw one voice; the shares of missing engines fall back to espeak-ng."""
        u = rng.random()
        piper_share = self.piper_share if (piper_ok and self.piper) else 0.0
        flite_share = self.flite_share if (flite_ok and self.flite) else 0.0
        if u < piper_share:
            return PiperVoiceSpec(str(rng.choice(self.piper)), length_scale=round(float(rng.uniform(0.85, 1.15)), 2))
        if u < piper_share + flite_share:
            return FliteVoiceSpec(str(rng.choice(self.flite)), duration_stretch=round(float(rng.uniform(0.85, 1.15)), 2))
        return EspeakVoice(
            accent=str(rng.choice(self.accents)),
            variant=str(rng.choice(self.variants)),
            rate=int(rng.integers(self.rate[0], self.rate[1] + 1)),
            pitch=int(rng.integers(self.pitch[0], self.pitch[1] + 1)),
            pitch_range=int(rng.integers(30, 80)),
        )


@dataclass(frozen=True)
class DomainSpec:
    """One domain of the corpus.

    Attributes:
        name: folder name and manifest ``domain`` value.
        description: one line for tables and notebooks.
        source: ``"synthetic"`` (built from voices) or ``"asterisk"`` (real recordings).
        text_style: a style of :mod:`asrlab.corpus.textgen`.
        train_voices: voices of the train and unlabelled splits.
        eval_voices: voices of the dev and test splits (disjoint from ``train_voices``).
        shift: acoustic shift, as ``{"kind": ..., **settings}`` (see :func:`build_shift`), or None.
        sizes: minutes per split for each corpus size.
        language: ISO 639-1 code of the speech (``"en"``; ``"es"`` and ``"de"`` for
            :data:`LANGUAGE_DOMAINS`): its texts come from that language's generator, and its
            manifests are read with ``CharVocabulary.for_language(language)``.
    """

    name: str
    description: str
    source: Literal["synthetic", "asterisk"] = "synthetic"
    text_style: str = "read"
    train_voices: VoicePool | None = None
    eval_voices: VoicePool | None = None
    shift: dict[str, Any] | None = field(default=None, hash=False)
    sizes: dict[str, SplitMinutes] = field(default_factory=dict, hash=False)
    language: str = "en"

    def pool(self, split: str) -> VoicePool:
        """The voice pool of ``split``."""
        pool = self.train_voices if split in ("train", "unlabelled") else self.eval_voices
        if pool is None:
            raise ValueError(f"domain {self.name!r} has no synthetic voices")
        return pool


# Voices of the source domain. Train and test speakers are disjoint: different espeak variants,
# and for flite different recorded speakers; Piper (one voice) is used in training only.
SOURCE_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-us-nyc")
_SOURCE_TRAIN = VoicePool(
    accents=SOURCE_ACCENTS, variants=("m1", "m2", "m3", "m4", "f1", "f2", "f3", "klatt"),
    piper=("joe",), piper_share=0.04, flite=("kal", "awb", "rms"), flite_share=0.10,
)
_SOURCE_EVAL = VoicePool(
    accents=SOURCE_ACCENTS, variants=("m5", "m6", "m7", "f4", "f5", "klatt2"),
    flite=("slt",), flite_share=0.10,
)
# Accents never heard in the source domain.
TARGET_ACCENTS = ("en-gb-scotland", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
#: What tables and plots call each espeak-ng accent of the corpus (see :func:`accent_name`).
ACCENT_NAMES = {
    "en-us": "American",
    "en-gb": "British",
    "en-gb-x-rp": "Received Pronunciation",
    "en-us-nyc": "New York",
    "en-gb-scotland": "Scottish",
    "en-029": "Caribbean",
    "en-gb-x-gbclan": "Lancastrian",
    "en-gb-x-gbcwmd": "West Midlands",
    "es": "Castilian Spanish",
    "es-419": "Latin American Spanish",
    "de": "German",
}
_ACCENT_TRAIN = VoicePool(accents=TARGET_ACCENTS, variants=("m1", "m2", "m3", "f1", "f2", "klatt"))
_ACCENT_EVAL = VoicePool(accents=TARGET_ACCENTS, variants=("m5", "m6", "f4", "f5", "klatt2"))

_SOURCE_SIZES = {
    "smoke": SplitMinutes(train=3.0, unlabelled=1.0, dev=0.5, test=0.5),
    # lab: the shipped model is already trained, so the source's training audio serves adaptation
    # batches and, above all, notebook 06's source-text language model (30 minutes is ~700
    # sentences: with 8 its LM knew too few words to beat a target LM on read speech); 4 test
    # minutes (~90 utterances, ~750 words) keep WER within ~2 points. The 12 unlabelled minutes
    # become the graded noise shifts' labelled (4) and unlabelled (8) audio (asrlab.corpus.graded).
    "lab": SplitMinutes(train=30.0, unlabelled=12.0, dev=2.0, test=4.0),
    "full": SplitMinutes(train=330.0, unlabelled=30.0, dev=10.0, test=10.0),
}
_TARGET_SIZES = {
    "smoke": SplitMinutes(train=1.0, unlabelled=0.5, dev=0.5, test=0.5),
    # lab: enough labelled minutes for fine-tuning to beat the source model within a lab's budget,
    # unlabelled audio whose text also feeds notebook 06's target LM, and test sets large enough
    # for the effects the notebooks assert.
    "lab": SplitMinutes(train=8.0, unlabelled=10.0, dev=2.0, test=4.0),
    "full": SplitMinutes(train=30.0, unlabelled=30.0, dev=5.0, test=10.0),
}
# The real recordings hold about 25 minutes: full takes fractions of what exists.
_REAL_SIZES = {
    "smoke": SplitMinutes(train=1.0, unlabelled=0.5, dev=0.5, test=0.5),
    "lab": SplitMinutes(train=6.0, unlabelled=2.0, dev=2.0, test=4.0),
    "full": SplitMinutes(train=11.0, unlabelled=5.0, dev=3.0, test=6.0),
}

DOMAINS: dict[str, DomainSpec] = {
    spec.name: spec
    for spec in (
        DomainSpec(
            "source", "clean read speech, 4 accents, many voices, 3 synthesisers",
            text_style="read", train_voices=_SOURCE_TRAIN, eval_voices=_SOURCE_EVAL, sizes=_SOURCE_SIZES,
        ),
        DomainSpec(
            "accent", "unseen accents: Scottish, Caribbean, Lancastrian, West Midlands",
            text_style="read", train_voices=_ACCENT_TRAIN, eval_voices=_ACCENT_EVAL, sizes=_TARGET_SIZES,
        ),
        DomainSpec(
            "noisy", "source voices in babble and pink noise at 0-15 dB SNR",
            text_style="read", train_voices=_SOURCE_TRAIN, eval_voices=_SOURCE_EVAL,
            shift={"kind": "noise", "snr_db": (0.0, 15.0)}, sizes=_TARGET_SIZES,
        ),
        DomainSpec(
            "reverb", "source voices in reverberant rooms (RT60 0.4-0.9 s)",
            text_style="read", train_voices=_SOURCE_TRAIN, eval_voices=_SOURCE_EVAL,
            shift={"kind": "reverb", "rt60": (0.4, 0.9), "room_dims_min": (5.0, 4.0, 2.6),
                   "room_dims_max": (12.0, 9.0, 4.0)}, sizes=_TARGET_SIZES,
        ),
        DomainSpec(
            "telephone", "source voices through a telephone channel, phone-menu text",
            text_style="service", train_voices=_SOURCE_TRAIN, eval_voices=_SOURCE_EVAL,
            shift={"kind": "telephone"}, sizes=_TARGET_SIZES,
        ),
        DomainSpec(
            "commands", "source voices reading voice-assistant commands (a text shift)",
            text_style="command", train_voices=_SOURCE_TRAIN, eval_voices=_SOURCE_EVAL, sizes=_TARGET_SIZES,
        ),
        DomainSpec(
            "real_telephone", "real recorded telephone prompts, one US speaker (Asterisk, CC-BY-SA-3.0)",
            source="asterisk", text_style="service", sizes=_REAL_SIZES,
        ),
    )
}
TARGET_DOMAINS = tuple(name for name in DOMAINS if name != "source")

# Target languages (the cross-lingual chapter): espeak-ng's voices of the language, train and
# eval speakers disjoint by variant (Spanish also mixes Castilian and Latin American accents).
# Full size holds over 30 training minutes so that a learning curve of 1 to 30 minutes fits.
_LANGUAGE_SIZES = {
    "smoke": SplitMinutes(train=1.0, unlabelled=0.25, dev=0.5, test=0.5),
    "lab": SplitMinutes(train=10.0, unlabelled=1.0, dev=2.0, test=3.0),
    "full": SplitMinutes(train=35.0, unlabelled=5.0, dev=5.0, test=10.0),
}
_LANGUAGE_TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "klatt")
_LANGUAGE_EVAL_VARIANTS = ("m5", "m6", "m7", "f4", "f5", "klatt2")


def _language_domain(name: str, language: str, accents: tuple[str, ...], description: str) -> DomainSpec:
    return DomainSpec(
        name, description, text_style="read", language=language, sizes=_LANGUAGE_SIZES,
        train_voices=VoicePool(accents=accents, variants=_LANGUAGE_TRAIN_VARIANTS),
        eval_voices=VoicePool(accents=accents, variants=_LANGUAGE_EVAL_VARIANTS),
    )


#: Domains in other languages. Not part of the default build (:data:`DOMAINS`): build them on
#: demand with :func:`asrlab.corpus.build.ensure_language_domain` or
#: ``asrlab corpus build --domains spanish german``.
LANGUAGE_DOMAINS: dict[str, DomainSpec] = {
    spec.name: spec
    for spec in (
        _language_domain("spanish", "es", ("es", "es-419"),
                         "Spanish read speech, Castilian and Latin American espeak-ng voices"),
        _language_domain("german", "de", ("de",), "German read speech, espeak-ng voices"),
    )
}


def get_domain(name: str) -> DomainSpec:
    """The domain called ``name`` (English or :data:`LANGUAGE_DOMAINS`); ValueError listing the
    known names otherwise."""
    if name in DOMAINS:
        return DOMAINS[name]
    if name in LANGUAGE_DOMAINS:
        return LANGUAGE_DOMAINS[name]
    raise ValueError(f"unknown domain {name!r}; known domains: {', '.join(DOMAINS)}; "
                     f"other languages: {', '.join(LANGUAGE_DOMAINS)}")


def language_domain(language: str) -> DomainSpec:
    """The domain of ``language`` (``"es"`` -> ``spanish``; its name works too).

    Raises:
        ValueError: no domain speaks it; the message lists the languages there are.
    """
    for spec in LANGUAGE_DOMAINS.values():
        if language in (spec.language, spec.name):
            return spec
    known = ", ".join(f"{s.language} ({s.name})" for s in LANGUAGE_DOMAINS.values())
    raise ValueError(f"no corpus domain in language {language!r}; languages: {known}")


def accent_name(code_or_voice: str) -> str:
    """The readable name of an espeak-ng accent, for tables, axes and legends.

    Takes an accent code (``"en-029"``), a voice (``"en-029+m1"``: the variant is dropped) or a
    corpus speaker label (``"espeak:en-029+m1"``: the engine is dropped too).

    Returns:
        The name from :data:`ACCENT_NAMES` (``"Caribbean"``); an accent not in it (a Piper or
        flite voice, a real speaker) comes back unchanged.
    """
    code = code_or_voice.split(":", 1)[-1].split("+", 1)[0]
    return ACCENT_NAMES.get(code, code_or_voice)

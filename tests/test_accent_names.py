"""asrlab.corpus.domains.accent_name: espeak-ng accent codes, voices and speaker labels -> names."""
from __future__ import annotations

import pytest

from asrlab.corpus.domains import ACCENT_NAMES, SOURCE_ACCENTS, TARGET_ACCENTS, accent_name


@pytest.mark.parametrize("given, name", [
    ("en-us", "American"),
    ("en-gb-x-rp", "Received Pronunciation"),
    ("en-029+m1", "Caribbean"),              # a voice: the variant goes
    ("en-gb-scotland+klatt2", "Scottish"),
    ("espeak:en-gb-x-gbcwmd+f4", "West Midlands"),  # a corpus speaker label: the engine goes too
])
def test_known_accents_get_their_names(given: str, name: str) -> None:
    assert accent_name(given) == name


@pytest.mark.parametrize("given", ["en-xx", "en-xx+m1", "flite:slt", "piper:joe", ""])
def test_unknown_codes_come_back_unchanged(given: str) -> None:
    assert accent_name(given) == given


def test_every_accent_of_the_corpus_has_a_distinct_name() -> None:
    accents = SOURCE_ACCENTS + TARGET_ACCENTS
    assert set(accents) <= set(ACCENT_NAMES)
    assert len({accent_name(a) for a in accents}) == len(accents)

"""Tests for asrlab.corpus.textgen: number spelling, determinism, vocabulary, styles, validity."""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from asrlab.corpus import textgen
from asrlab.corpus.textgen import (
    MAX_WORDS,
    MIN_WORDS,
    TEXT_STYLES,
    SentenceGenerator,
    generate_sentences,
    pluralize,
    reachable_vocabulary,
    spell_date,
    spell_digits,
    spell_number,
    spell_ordinal,
    spell_time,
    spell_year,
)
from asrlab.text import CharVocabulary, normalize_text

REPO_ROOT = Path(__file__).resolve().parents[1]
WORDLIST_DIR = REPO_ROOT / "asrlab" / "corpus" / "wordlists"


@pytest.fixture(scope="module")
def samples() -> dict[str, list[str]]:
    """5,000 sentences per style, made once for the module."""
    return {style: generate_sentences(5000, style, seed=11) for style in TEXT_STYLES}


# ------------------------------------------------------------------ numbers, dates, times

@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (21, "twenty one"),
        (100, "one hundred"), (101, "one hundred one"), (110, "one hundred ten"),
        (1000, "one thousand"), (1234, "one thousand two hundred thirty four"),
        (1999, "one thousand nine hundred ninety nine"), (2024, "two thousand twenty four"),
        (90017, "ninety thousand seventeen"), (1000000, "one million"),
        (2500300, "two million five hundred thousand three hundred"),
        (1000000001, "one billion one"), (-5, "minus five"),
    ],
)
def test_spell_number(n: int, words: str) -> None:
    assert spell_number(n) == words


def test_spell_number_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="twelve digits"):
        spell_number(10**12)
    with pytest.raises(TypeError):
        spell_number(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        spell_number(True)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"),
        (9, "ninth"), (12, "twelfth"), (13, "thirteenth"), (20, "twentieth"),
        (21, "twenty first"), (22, "twenty second"), (30, "thirtieth"), (100, "one hundredth"),
        (101, "one hundred first"), (1000, "one thousandth"),
    ],
)
def test_spell_ordinal(n: int, words: str) -> None:
    assert spell_ordinal(n) == words


def test_spell_ordinal_rejects_negative() -> None:
    with pytest.raises(ValueError):
        spell_ordinal(-1)


@pytest.mark.parametrize(
    ("year", "words"),
    [
        (1999, "nineteen ninety nine"), (2024, "twenty twenty four"), (2000, "two thousand"),
        (2005, "two thousand five"), (2010, "twenty ten"), (1905, "nineteen oh five"),
        (1900, "nineteen hundred"), (1066, "ten sixty six"), (800, "eight hundred"),
    ],
)
def test_spell_year(year: int, words: str) -> None:
    assert spell_year(year) == words


def test_spell_date() -> None:
    assert spell_date(3, 21) == "the twenty first of march"
    assert spell_date(5, 3) == "the third of may"
    assert spell_date(12, 31, day_first=False) == "december thirty first"
    assert spell_date(1, 1, 2024) == "the first of january twenty twenty four"
    assert spell_date(2, 29, 2024) == "the twenty ninth of february twenty twenty four"
    for bad in [(2, 30), (13, 1), (0, 5), (4, 31)]:
        with pytest.raises(ValueError):
            spell_date(*bad)
    with pytest.raises(ValueError, match="leap"):
        spell_date(2, 29, 2023)


@pytest.mark.parametrize(
    ("hour", "minute", "style", "words"),
    [
        (7, 30, "clock", "seven thirty a m"),
        (19, 15, "clock", "seven fifteen p m"),
        (9, 5, "clock", "nine oh five a m"),
        (8, 0, "clock", "eight a m"),
        (0, 30, "clock", "twelve thirty a m"),
        (0, 0, "clock", "midnight"),
        (12, 0, "spoken", "noon"),
        (19, 30, "spoken", "half past seven"),
        (7, 15, "spoken", "quarter past seven"),
        (7, 45, "spoken", "quarter to eight"),
        (11, 50, "spoken", "ten to twelve"),
        (16, 20, "spoken", "twenty past four"),
        (8, 0, "spoken", "eight o'clock"),
        (8, 23, "spoken", "eight twenty three"),
        (19, 15, "day", "seven fifteen in the evening"),
        (7, 0, "day", "seven in the morning"),
        (14, 30, "day", "two thirty in the afternoon"),
        (23, 10, "day", "eleven ten at night"),
    ],
)
def test_spell_time(hour: int, minute: int, style: str, words: str) -> None:
    assert spell_time(hour, minute, style=style) == words


def test_spell_time_rejects_bad_input() -> None:
    for hour, minute in [(24, 0), (-1, 0), (7, 60)]:
        with pytest.raises(ValueError):
            spell_time(hour, minute)
    with pytest.raises(ValueError, match="clock"):
        spell_time(7, 0, style="military")


def test_spell_digits() -> None:
    assert spell_digits("5550142") == "five five five zero one four two"
    assert spell_digits(907, zero="oh") == "nine oh seven"
    for bad in ["", "12a", "-1"]:
        with pytest.raises(ValueError):
            spell_digits(bad)


def test_spelled_output_uses_only_the_alphabet() -> None:
    vocab = CharVocabulary()
    texts = [spell_number(n) for n in range(0, 3000, 7)]
    texts += [spell_time(h, m, style=s) for h in range(24) for m in range(0, 60, 7)
              for s in textgen.TIME_STYLES]
    texts += [spell_date(m, d, 2000 + m) for m in range(1, 13) for d in (1, 2, 3, 22, 28)]
    for text in texts:
        assert normalize_text(text) == text
        vocab.encode(text)


# ------------------------------------------------------------------ word lists

def test_wordlists_are_clean() -> None:
    entry = re.compile(r"[a-z]+(?:'[a-z]+)*(?: [a-z]+(?:'[a-z]+)*)*")
    assert {p.name for p in WORDLIST_DIR.glob("*.txt")} == set(textgen.wordlist_files())
    for name in textgen.wordlist_files():
        path = WORDLIST_DIR / name
        lines = path.read_text(encoding="utf-8").splitlines()
        entries = [line for line in lines if line.strip()]
        assert entries, f"{name} is empty"
        duplicates = [e for e, c in Counter(entries).items() if c > 1]
        assert not duplicates, f"{name} repeats {duplicates}"
        for line in entries:
            columns = line.split("|")
            if name.startswith("verbs_"):
                assert len(columns) == 5, f"{name}: {line!r} needs five forms"
            elif name == "plurals.txt":
                assert len(columns) == 2, f"{name}: {line!r} needs singular|plural"
            else:
                assert len(columns) == 1, f"{name}: {line!r} has columns"
            for column in columns:
                assert entry.fullmatch(column), f"{name}: {column!r} is not normalised text"


@pytest.mark.parametrize(
    ("noun", "plural"),
    [
        ("box", "boxes"), ("city", "cities"), ("key", "keys"), ("knife", "knives"),
        ("polar bear", "polar bears"), ("field mouse", "field mice"), ("sheep", "sheep"),
        ("sweet potato", "sweet potatoes"), ("bus", "buses"), ("fisherman", "fishermen"),
        ("monday", "mondays"),
    ],
)
def test_pluralize(noun: str, plural: str) -> None:
    assert pluralize(noun) == plural


# ------------------------------------------------------------------ the generator

def test_styles() -> None:
    assert TEXT_STYLES == ("read", "command", "service")


def test_unknown_style_names_the_valid_ones() -> None:
    for call in (lambda: SentenceGenerator("poetry"), lambda: generate_sentences(3, "poetry"),
                 lambda: reachable_vocabulary("poetry")):
        with pytest.raises(ValueError, match="read, command, service"):
            call()


def test_same_seed_same_sentences_different_seed_different() -> None:
    for style in TEXT_STYLES:
        a, b = SentenceGenerator(style, seed=5), SentenceGenerator(style, seed=5)
        first = a.sentences(200)
        assert first == b.sentences(200)
        assert first == generate_sentences(200, style, seed=5)
        assert first != generate_sentences(200, style, seed=6)
        assert a.sentences(50) != first[:50]  # the generator moves on
    assert generate_sentences(50, "read") != generate_sentences(50, "service")


def test_generation_does_not_depend_on_hash_seed() -> None:
    code = (
        "from asrlab.corpus import textgen as t;"
        "assert t._read_list.cache_info().currsize == 0, 'import read word lists';"
        "print('|'.join(s for st in t.TEXT_STYLES for s in t.generate_sentences(30, st, 3)))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].strip()


def test_sentences_count() -> None:
    gen = SentenceGenerator()
    assert gen.sentences(0) == []
    assert len(gen.sentences(7)) == 7
    with pytest.raises(ValueError):
        gen.sentences(-1)


@pytest.mark.parametrize("style", TEXT_STYLES)
def test_sentences_are_normalised_and_encodable(style: str, samples: dict[str, list[str]]) -> None:
    vocab = CharVocabulary()
    for sentence in samples[style]:
        assert sentence == normalize_text(sentence), sentence
        assert "  " not in sentence and sentence == sentence.strip()
        vocab.encode(sentence, source=f"textgen {style}")


@pytest.mark.parametrize("style", TEXT_STYLES)
def test_articles_agree(style: str, samples: dict[str, list[str]]) -> None:
    for sentence in samples[style]:
        words = sentence.split()
        for article, following in zip(words, words[1:]):
            if article == "a":
                assert following[0] not in "aeiou" or following in textgen._CONSONANT_SOUND, sentence
            if article == "an":
                assert following[0] in "aeiouh", sentence


@pytest.mark.parametrize("style", TEXT_STYLES)
def test_sentence_lengths(style: str, samples: dict[str, list[str]]) -> None:
    lengths = [len(s.split()) for s in samples[style]]
    assert all(MIN_WORDS <= n <= MAX_WORDS for n in lengths)
    within = sum(4 <= n <= 16 for n in lengths) / len(lengths)
    assert within >= 0.9, f"only {within:.0%} of {style} sentences have 4 to 16 words"
    median = sorted(lengths)[len(lengths) // 2]
    assert 5 <= median <= 10


@pytest.mark.parametrize("style", TEXT_STYLES)
def test_sentences_are_varied(style: str, samples: dict[str, list[str]]) -> None:
    distinct = len(set(samples[style])) / len(samples[style])
    assert distinct > 0.5, f"only {distinct:.0%} of {style} sentences are distinct"


def test_vocabulary_reaches_three_thousand_words() -> None:
    read = generate_sentences(20000, "read", seed=0)
    words = {w for s in read for w in s.split()}
    assert len(words) >= 3000, f"only {len(words)} distinct words in 20,000 read sentences"
    mixed = [s for style in TEXT_STYLES for s in generate_sentences(7000, style, seed=0)]
    assert len({w for s in mixed for w in s.split()}) >= 3000
    assert len(reachable_vocabulary()) >= len(words)


@pytest.mark.parametrize("style", TEXT_STYLES)
def test_reachable_vocabulary_covers_the_samples(style: str, samples: dict[str, list[str]]) -> None:
    reachable = reachable_vocabulary(style)
    emitted = {w for s in samples[style] for w in s.split()}
    assert emitted <= reachable, sorted(emitted - reachable)[:20]
    assert reachable <= reachable_vocabulary()


def test_styles_differ_in_their_frequent_words(samples: dict[str, list[str]]) -> None:
    top = {
        style: {w for w, _ in Counter(w for s in sents for w in s.split()).most_common(50)}
        for style, sents in samples.items()
    }
    for a, b in itertools.combinations(TEXT_STYLES, 2):
        overlap = len(top[a] & top[b]) / 50
        assert overlap < 0.6, f"top-50 words of {a} and {b} overlap {overlap:.0%}"


def test_styles_sound_like_their_domain(samples: dict[str, list[str]]) -> None:
    def share(style: str, pattern: str) -> float:
        regex = re.compile(pattern)
        return sum(bool(regex.search(s)) for s in samples[style]) / len(samples[style])

    ivr = (r"\b(press|please|enter|dial|extension|messages?|account|calls?|calling"
           r"|representative|menu|options?|balance|payment|number)\b")
    assistant = (r"\b(set|play|turn|switch|remind|add|call|text|send|what's|timer|alarm|open"
                 r"|find|show|start|stop|cancel|navigate|book|order|me|i|please)\b")
    assert share("service", ivr) > 0.5 > share("read", ivr)
    assert share("command", assistant) > 0.5 > share("read", assistant)


def test_generation_is_fast() -> None:
    for style in TEXT_STYLES:
        gen = SentenceGenerator(style, seed=1)
        gen.sentences(10)  # load the word lists
        start = time.perf_counter()
        gen.sentences(10000)
        elapsed = time.perf_counter() - start
        assert elapsed < 2.0, f"10,000 {style} sentences took {elapsed:.2f} s"


@pytest.mark.parametrize("template", ["(a|b", "a ] b", "[a", "{no_such_slot}", "Caps", "a, b"])
def test_bad_templates_are_rejected(template: str) -> None:
    with pytest.raises(ValueError):
        textgen._Grammar({"S": (template,)})

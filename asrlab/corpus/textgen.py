"""A seeded generator of varied English sentences for the synthetic speech corpus.

The corpus is synthesised from text, so the text decides what a model can learn and how far
two domains lie apart. This module writes sentences in three styles (:data:`TEXT_STYLES`):

* ``"read"``: narrative and news-like statements and questions over a general vocabulary;
* ``"command"``: voice-assistant requests (timers, music, smart home, reminders, messages);
* ``"service"``: telephone prompts as an automated phone system says them (menus, account
  details, voicemail, conference calls, network announcements, opening hours).

The styles share people, places and numbers but differ clearly in which words they use most,
so a change of style is a change of text domain.

Each style is a small grammar of templates with typed slots, filled from the word lists in
``wordlists/`` (one word or phrase a line; the verb lists hold the columns
``base|third person|past|participle|ing``) or by the number spellers below. Template syntax:

* ``{name}`` or ``{name.form}``: a slot (a rule, a word list or a number speller); noun lists
  take ``.pl``, verb lists ``.s``, ``.past``, ``.pp`` and ``.ing``, other lists ``.one`` (only
  the one-word entries); ``{name}'s`` adds a possessive to a word-list slot;
* ``(a|b|c)``: one alternative, chosen uniformly (an empty alternative is allowed);
* ``[x]``: ``x`` with probability one half.

Every sentence is normalised text: lower-case ``a-z``, single spaces, apostrophes only inside
words, with numbers, dates and times spelled out, so :func:`asrlab.text.normalize_text` leaves
it unchanged and :class:`asrlab.text.CharVocabulary` encodes it.

Generation draws only from a private ``random.Random(seed)`` through ``Random.random()``, so a
(style, seed) pair gives the same sentences on every machine. Word lists are read on first use.

>>> spell_number(1234)
'one thousand two hundred thirty four'
>>> spell_date(3, 21)
'the twenty first of march'
>>> spell_time(19, 30, style="spoken")
'half past seven'
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from importlib import resources
from typing import Callable, Iterable, Mapping, Sequence, Union

TEXT_STYLES: tuple[str, ...] = ("read", "command", "service")
TIME_STYLES: tuple[str, ...] = ("clock", "spoken", "day")

MONTHS: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
WEEKDAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)

#: Hard bounds on the words in one sentence; templates aim at 4 to 16.
MIN_WORDS = 2
MAX_WORDS = 20

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_MAX_NUMBER = 10**12 - 1
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# --------------------------------------------------------------------------------------------
# Numbers, dates and times in words
# --------------------------------------------------------------------------------------------

def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_ONES[rest % 10])
    elif rest:
        words.append(_ONES[rest])
    return words


def spell_number(n: int) -> str:
    """Spell an integer in words, American style without "and".

    Args:
        n: an integer with at most twelve digits; negative numbers get "minus".

    Returns:
        The words, e.g. ``spell_number(1234) == "one thousand two hundred thirty four"``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` has more than twelve digits.
    """
    _check_int(n, "n")
    if abs(n) > _MAX_NUMBER:
        raise ValueError(f"spell_number handles at most twelve digits, got {n}")
    if n < 0:
        return "minus " + spell_number(-n)
    if n == 0:
        return "zero"
    words: list[str] = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            words += _below_thousand(count) + [name]
    words += _below_thousand(n)
    return " ".join(words)


def _ordinal_word(word: str) -> str:
    if word in _ORDINAL_IRREGULAR:
        return _ORDINAL_IRREGULAR[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def spell_ordinal(n: int) -> str:
    """Spell an ordinal number: ``1 -> "first"``, ``21 -> "twenty first"``, ``100 -> "one hundredth"``.

    Raises:
        ValueError: ``n`` is negative or has more than twelve digits.
    """
    _check_int(n, "n")
    if n < 0:
        raise ValueError(f"ordinals are defined for n >= 0, got {n}")
    *head, last = spell_number(n).split()
    return " ".join([*head, _ordinal_word(last)])


def spell_year(year: int) -> str:
    """Spell a year the way it is said: ``1999 -> "nineteen ninety nine"``, ``2024 -> "twenty
    twenty four"``, ``2005 -> "two thousand five"``, ``1905 -> "nineteen oh five"``.

    Raises:
        ValueError: ``year`` is outside 1 to 9999.
    """
    _check_int(year, "year")
    if not 1 <= year <= 9999:
        raise ValueError(f"year must lie in 1..9999, got {year}")
    if year < 1000 or year % 1000 == 0 or 2000 < year < 2010:
        return spell_number(year)
    high, low = divmod(year, 100)
    if low == 0:
        return f"{spell_number(high)} hundred"
    if low < 10:
        return f"{spell_number(high)} oh {spell_number(low)}"
    return f"{spell_number(high)} {spell_number(low)}"


def spell_digits(digits: str | int, *, zero: str = "zero") -> str:
    """Read a digit string one digit at a time: ``"5550142" -> "five five five zero one four two"``.

    Args:
        digits: the digits (an int or a string of 0-9).
        zero: the word for 0 (``"zero"`` or ``"oh"``, as phone numbers are often read).

    Raises:
        ValueError: ``digits`` is empty or holds something other than 0-9.
    """
    text = str(digits)
    if not text or not text.isdigit() or not text.isascii():
        raise ValueError(f"spell_digits needs a non-empty string of digits 0-9, got {digits!r}")
    return " ".join(zero if ch == "0" else _ONES[int(ch)] for ch in text)


def spell_date(month: int, day: int, year: int | None = None, *, day_first: bool = True) -> str:
    """Spell a date with an ordinal day: ``(3, 21) -> "the twenty first of march"``.

    Args:
        month: 1 to 12.
        day: 1 to the length of the month (29 February only in a leap year, or with no year).
        year: added at the end, spelled as a year, when given.
        day_first: ``False`` gives the American order, ``"march twenty first"``.

    Raises:
        ValueError: the month or day does not exist.
    """
    _check_int(month, "month")
    _check_int(day, "day")
    if not 1 <= month <= 12:
        raise ValueError(f"month must lie in 1..12, got {month}")
    if not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        raise ValueError(f"{MONTHS[month - 1]} has no day {day}")
    if year is not None and month == 2 and day == 29 and not _is_leap(year):
        raise ValueError(f"{year} is not a leap year, so it has no twenty ninth of february")
    name, ordinal = MONTHS[month - 1], spell_ordinal(day)
    text = f"the {ordinal} of {name}" if day_first else f"{name} {ordinal}"
    return text if year is None else f"{text} {spell_year(year)}"


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _clock_words(hour12: int, minute: int) -> str:
    if minute == 0:
        return spell_number(hour12)
    if minute < 10:
        return f"{spell_number(hour12)} oh {spell_number(minute)}"
    return f"{spell_number(hour12)} {spell_number(minute)}"


def spell_time(hour: int, minute: int, *, style: str = "clock") -> str:
    """Spell a time of day on a twelve-hour clock.

    Args:
        hour: 0 to 23.
        minute: 0 to 59.
        style: ``"clock"`` (``19:15 -> "seven fifteen p m"``), ``"spoken"``
            (``19:30 -> "half past seven"``, ``7:45 -> "quarter to eight"``, ``7:00 -> "seven
            o'clock"``) or ``"day"`` (``19:15 -> "seven fifteen in the evening"``). Exactly
            0:00 and 12:00 are ``"midnight"`` and ``"noon"`` in every style.

    Raises:
        ValueError: the time or the style does not exist.
    """
    _check_int(hour, "hour")
    _check_int(minute, "minute")
    if not 0 <= hour <= 23 or not 0 <= minute <= 59:
        raise ValueError(f"no such time of day: {hour}:{minute:02d}")
    if style not in TIME_STYLES:
        raise ValueError(f"unknown time style {style!r}; choose one of {TIME_STYLES}")
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    hour12 = hour % 12 or 12
    if style == "clock":
        return f"{_clock_words(hour12, minute)} {'a m' if hour < 12 else 'p m'}"
    if style == "day":
        return f"{_clock_words(hour12, minute)} {_day_period(hour)}"
    if minute == 0:
        return f"{spell_number(hour12)} o'clock"
    if minute % 5:
        return _clock_words(hour12, minute)
    next12 = (hour + 1) % 12 or 12
    if minute == 15:
        return f"quarter past {spell_number(hour12)}"
    if minute == 30:
        return f"half past {spell_number(hour12)}"
    if minute == 45:
        return f"quarter to {spell_number(next12)}"
    if minute < 30:
        return f"{spell_number(minute)} past {spell_number(hour12)}"
    return f"{spell_number(60 - minute)} to {spell_number(next12)}"


def _day_period(hour: int) -> str:
    if 5 <= hour < 12:
        return "in the morning"
    if 12 <= hour < 18:
        return "in the afternoon"
    if 18 <= hour < 21:
        return "in the evening"
    return "at night"


# --------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------

_VERB_FORMS = {"": 0, "base": 0, "s": 1, "past": 2, "pp": 3, "ing": 4}


@functools.lru_cache(maxsize=None)
def _read_list(filename: str) -> tuple[str, ...]:
    """The non-empty lines of a word list (``#`` starts a comment line)."""
    text = resources.files("asrlab.corpus").joinpath("wordlists").joinpath(filename).read_text(
        encoding="utf-8"
    )
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#")


@functools.lru_cache(maxsize=None)
def _verb_table(filename: str) -> tuple[tuple[str, ...], ...]:
    rows = []
    for number, line in enumerate(_read_list(filename), 1):
        columns = tuple(c.strip() for c in line.split("|"))
        if len(columns) != 5 or not all(columns):
            raise ValueError(
                f"{filename} entry {number} ({line!r}) needs five '|'-separated forms: "
                "base|third person|past|participle|ing"
            )
        rows.append(columns)
    return tuple(rows)


@functools.lru_cache(maxsize=None)
def _irregular_plurals() -> dict[str, str]:
    pairs = (line.split("|") for line in _read_list("plurals.txt"))
    return {singular.strip(): plural.strip() for singular, plural in pairs}


def pluralize(noun: str) -> str:
    """The plural of a noun or noun phrase (the last word changes): ``"polar bear" -> "polar
    bears"``, ``"box" -> "boxes"``, ``"knife" -> "knives"`` (irregular ones from plurals.txt)."""
    irregular = _irregular_plurals()
    if noun in irregular:
        return irregular[noun]
    head, _, last = noun.rpartition(" ")
    if last in irregular:
        plural = irregular[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        plural = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return f"{head} {plural}" if head else plural


#: Slot name -> (word list file, kind). Kinds: "plain" (no forms), "noun" (``.pl``) and
#: "verb" (``.s``, ``.past``, ``.pp``, ``.ing``).
_LISTS: dict[str, tuple[str, str]] = {
    "first_name": ("first_names.txt", "plain"),
    "surname": ("surnames.txt", "plain"),
    "city": ("cities.txt", "plain"),
    "country": ("countries.txt", "plain"),
    "place": ("places.txt", "noun"),
    "nature": ("landscapes.txt", "noun"),
    "room": ("rooms.txt", "plain"),
    "thing": ("things.txt", "noun"),
    "animal": ("animals.txt", "noun"),
    "occupation": ("occupations.txt", "noun"),
    "relative": ("relatives.txt", "noun"),
    "food_count": ("foods_count.txt", "noun"),
    "food_mass": ("foods_mass.txt", "plain"),
    "adj_general": ("adjectives_general.txt", "plain"),
    "adj_thing": ("adjectives_thing.txt", "plain"),
    "adj_person": ("adjectives_person.txt", "plain"),
    "adj_place": ("adjectives_place.txt", "plain"),
    "adj_food": ("adjectives_food.txt", "plain"),
    "color": ("colors.txt", "plain"),
    "weather": ("weather.txt", "plain"),
    "adverb": ("adverbs.txt", "plain"),
    "topic": ("topics.txt", "plain"),
    "event": ("events.txt", "noun"),
    "language": ("languages.txt", "plain"),
    "sport": ("sports.txt", "plain"),
    "v_thing": ("verbs_thing.txt", "verb"),
    "v_person": ("verbs_person.txt", "verb"),
    "v_intrans": ("verbs_intrans.txt", "verb"),
    "v_food": ("verbs_food.txt", "verb"),
    "v_topic": ("verbs_topic.txt", "verb"),
    "v_place": ("verbs_place.txt", "verb"),
    "v_animal": ("verbs_animal.txt", "verb"),
    "device": ("devices.txt", "plain"),
    "genre": ("genres.txt", "plain"),
    "music_mood": ("music_moods.txt", "plain"),
    "app": ("apps.txt", "plain"),
    "task": ("tasks.txt", "plain"),
    "cuisine": ("cuisines.txt", "plain"),
    "exercise": ("exercises.txt", "plain"),
    "department": ("departments.txt", "plain"),
    "menu_action": ("menu_actions.txt", "plain"),
    "id_thing": ("id_things.txt", "plain"),
    "business": ("business_kinds.txt", "plain"),
    "brand": ("brand_words.txt", "plain"),
    "holiday": ("holidays.txt", "plain"),
    "street": ("street_names.txt", "plain"),
}
#: Lists that live in code because the number spellers need them too.
_CODE_LISTS: dict[str, tuple[tuple[str, ...], str]] = {
    "weekday": (WEEKDAYS, "noun"),
    "month": (MONTHS, "plain"),
}


def wordlist_files() -> tuple[str, ...]:
    """The names of the word list files the grammars read (plus ``plurals.txt``)."""
    return tuple(sorted({f for f, _ in _LISTS.values()} | {"plurals.txt"}))


@functools.lru_cache(maxsize=None)
def _list_items(name: str, form: str) -> tuple[str, ...]:
    """The strings a word-list slot ``{name.form}`` can produce.

    Raises:
        ValueError: the list has no such form.
    """
    if name in _CODE_LISTS:
        items, kind = _CODE_LISTS[name]
    else:
        filename, kind = _LISTS[name]
        if kind == "verb":
            if form not in _VERB_FORMS:
                raise ValueError(f"verb slot {{{name}.{form}}}: forms are {sorted(_VERB_FORMS)}")
            return tuple(row[_VERB_FORMS[form]] for row in _verb_table(filename))
        items = _read_list(filename)
    if form == "one":
        return tuple(w for w in items if " " not in w)
    if form == "pl" and kind == "noun":
        return tuple(pluralize(w) for w in items)
    if form:
        raise ValueError(f"slot {{{name}.{form}}}: the {kind} list {name!r} has no form {form!r}")
    return items


# --------------------------------------------------------------------------------------------
# Number slots: random draws, each with the set of words it can produce
# --------------------------------------------------------------------------------------------

def _randint(rng: random.Random, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]`` from ``rng.random()`` alone (stable across versions)."""
    return low + int(rng.random() * (high - low + 1))


def _pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[int(rng.random() * len(options))]


def _num_any(rng: random.Random) -> int:
    u = rng.random()
    if u < 0.4:
        return _randint(rng, 1, 20)
    if u < 0.7:
        return _randint(rng, 21, 100)
    if u < 0.9:
        return _randint(rng, 101, 1000)
    return _randint(rng, 2, 99) * 1000 + _randint(rng, 0, 9) * 100


def _num_big(rng: random.Random) -> int:
    u = rng.random()
    if u < 0.3:
        return _randint(rng, 2, 99) * 100
    if u < 0.6:
        return _randint(rng, 2, 999) * 1000
    if u < 0.8:
        return _randint(rng, 1000, 99999)
    return _randint(rng, 2, 30) * 10**6 + _randint(rng, 0, 9) * 10**5


def _minutes(rng: random.Random) -> int:
    return _randint(rng, 1, 11) * 5 if rng.random() < 0.7 else _randint(rng, 2, 59)


def _percent(rng: random.Random) -> int:
    return _randint(rng, 1, 20) * 5 if rng.random() < 0.6 else _randint(rng, 1, 99)


def _money(rng: random.Random) -> str:
    u = rng.random()
    dollars = _randint(rng, 1, 99) if u < 0.5 else _randint(rng, 100, 2500)
    cents = _randint(rng, 0, 99) if rng.random() < 0.6 else 0
    text = f"{spell_number(dollars)} {'dollar' if dollars == 1 else 'dollars'}"
    if cents:
        text += f" and {spell_number(cents)} {'cent' if cents == 1 else 'cents'}"
    return text


def _price(rng: random.Random) -> str:
    amount = _randint(rng, 2, 99) if rng.random() < 0.7 else _randint(rng, 100, 5000)
    return f"{spell_number(amount)} {_pick(rng, ('dollars', 'pounds', 'euros'))}"


def _duration(rng: random.Random) -> str:
    u = rng.random()
    if u < 0.55:
        n = _minutes(rng)
        return f"{spell_number(n)} {'minute' if n == 1 else 'minutes'}"
    if u < 0.65:
        return _pick(rng, ("an hour", "half an hour", "a minute", "an hour and a half"))
    if u < 0.8:
        n = _randint(rng, 10, 90)
        return f"{spell_number(n)} seconds"
    n = _randint(rng, 2, 5)
    if rng.random() < 0.5:
        return f"{spell_number(n)} hours"
    return f"{spell_number(n)} hours and {spell_number(_randint(rng, 1, 11) * 5)} minutes"


def _time(rng: random.Random) -> str:
    hour = _randint(rng, 6, 22) if rng.random() < 0.85 else _randint(rng, 0, 23)
    u = rng.random()
    minute = 0 if u < 0.35 else (_randint(rng, 1, 11) * 5 if u < 0.85 else _randint(rng, 1, 59))
    return spell_time(hour, minute, style=_pick(rng, TIME_STYLES))


def _hour_time(rng: random.Random) -> str:
    hour = _randint(rng, 6, 21)
    return spell_time(hour, 30 if rng.random() < 0.25 else 0, style="clock")


def _clock_time(rng: random.Random) -> str:
    hour, minute = _randint(rng, 5, 22), _randint(rng, 0, 11) * 5
    return spell_time(hour, minute, style="clock")


def _date(rng: random.Random) -> str:
    month = _randint(rng, 1, 12)
    day = _randint(rng, 1, _DAYS_IN_MONTH[month - 1] - (1 if month == 2 else 0))
    year = _randint(rng, 2000, 2030) if rng.random() < 0.15 else None
    return spell_date(month, day, year, day_first=rng.random() < 0.5)


def _digit_string(rng: random.Random, low: int, high: int) -> str:
    length = _randint(rng, low, high)
    return "".join(str(_randint(rng, 0, 9)) for _ in range(length))


def _digits(rng: random.Random) -> str:
    return spell_digits(_digit_string(rng, 4, 8), zero="oh" if rng.random() < 0.3 else "zero")


def _phone_number(rng: random.Random) -> str:
    zero = "oh" if rng.random() < 0.3 else "zero"
    groups = [_digit_string(rng, 3, 3), _digit_string(rng, 3, 3), _digit_string(rng, 4, 4)]
    return " ".join(spell_digits(g, zero=zero) for g in groups)


def _extension(rng: random.Random) -> str:
    number = _randint(rng, 100, 9999)
    return spell_number(number) if rng.random() < 0.4 else spell_digits(number)


def _temperature(rng: random.Random) -> str:
    degrees = _randint(rng, -15, 40)
    return f"{spell_number(degrees)} {'degree' if abs(degrees) == 1 else 'degrees'}"


@dataclass(frozen=True)
class _NumberSlot:
    """A slot filled by a function; ``vocabulary`` lists every word it can produce."""

    draw: Callable[[random.Random], str]
    vocabulary: Callable[[], frozenset[str]]


def _words_of(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(w for t in texts for w in t.split())


@functools.lru_cache(maxsize=None)
def _number_vocabulary() -> frozenset[str]:
    return frozenset(_ONES + _TENS[2:] + ("hundred", "thousand", "million", "minus"))


@functools.lru_cache(maxsize=None)
def _time_vocabulary() -> frozenset[str]:
    return _words_of(
        spell_time(h, m, style=s) for h in range(24) for m in range(60) for s in TIME_STYLES
    )


@functools.lru_cache(maxsize=None)
def _date_vocabulary() -> frozenset[str]:
    texts = [spell_date(m, d, day_first=f) for m in range(1, 13)
             for d in range(1, _DAYS_IN_MONTH[m - 1] + 1) for f in (True, False)]
    return _words_of(texts) | _words_of(spell_year(y) for y in range(2000, 2031))


def _range_vocabulary(low: int, high: int) -> Callable[[], frozenset[str]]:
    return lambda: _words_of(spell_number(n) for n in range(low, high + 1))


def _fixed_vocabulary(*texts: str) -> Callable[[], frozenset[str]]:
    return lambda: _words_of(texts)


def _union(*parts: Callable[[], frozenset[str]]) -> Callable[[], frozenset[str]]:
    return lambda: frozenset().union(*(p() for p in parts))


_DIGIT_WORDS = _fixed_vocabulary(*_ONES[:10], "oh")
_NUMBER_SLOTS: dict[str, _NumberSlot] = {
    "num_small": _NumberSlot(lambda r: spell_number(_randint(r, 2, 12)), _range_vocabulary(2, 12)),
    "num_count": _NumberSlot(lambda r: spell_number(_randint(r, 2, 99)), _range_vocabulary(2, 99)),
    "num_any": _NumberSlot(lambda r: spell_number(_num_any(r)), _number_vocabulary),
    "num_big": _NumberSlot(lambda r: spell_number(_num_big(r)), _number_vocabulary),
    "num_minutes": _NumberSlot(lambda r: spell_number(_minutes(r)), _range_vocabulary(2, 59)),
    "num_temp": _NumberSlot(lambda r: spell_number(_randint(r, 15, 28)), _range_vocabulary(15, 28)),
    "percent": _NumberSlot(lambda r: spell_number(_percent(r)), _range_vocabulary(1, 100)),
    "key": _NumberSlot(lambda r: _ONES[_randint(r, 0, 9)], _fixed_vocabulary(*_ONES[:10])),
    "menu_key": _NumberSlot(lambda r: _ONES[_randint(r, 1, 9)], _fixed_vocabulary(*_ONES[1:10])),
    "ordinal_small": _NumberSlot(
        lambda r: spell_ordinal(_randint(r, 1, 20)),
        lambda: _words_of(spell_ordinal(n) for n in range(1, 21)),
    ),
    "year": _NumberSlot(
        lambda r: spell_year(_randint(r, 1900, 2030)),
        lambda: _words_of(spell_year(y) for y in range(1900, 2031)),
    ),
    "date": _NumberSlot(_date, _date_vocabulary),
    "time": _NumberSlot(_time, _time_vocabulary),
    "hour_time": _NumberSlot(_hour_time, _time_vocabulary),
    "clock_time": _NumberSlot(_clock_time, _time_vocabulary),
    "duration": _NumberSlot(
        _duration,
        _union(_range_vocabulary(1, 90), _fixed_vocabulary(
            "minute minutes seconds hours and an hour half a"
        )),
    ),
    "money": _NumberSlot(
        _money, _union(_number_vocabulary, _fixed_vocabulary("dollar dollars and cent cents")),
    ),
    "price": _NumberSlot(
        _price, _union(_number_vocabulary, _fixed_vocabulary("dollars pounds euros")),
    ),
    "temperature": _NumberSlot(
        _temperature, _union(_range_vocabulary(-15, 40), _fixed_vocabulary("degree degrees")),
    ),
    "digits": _NumberSlot(_digits, _DIGIT_WORDS),
    "digits4": _NumberSlot(lambda r: spell_digits(_digit_string(r, 4, 4)), _DIGIT_WORDS),
    "phone_number": _NumberSlot(_phone_number, _DIGIT_WORDS),
    "extension": _NumberSlot(_extension, _number_vocabulary),
    "house_number": _NumberSlot(
        lambda r: spell_number(_randint(r, 1, 60) if r.random() < 0.5 else _randint(r, 100, 4999)),
        _number_vocabulary,
    ),
}


# --------------------------------------------------------------------------------------------
# Grammars: rules are lists of templates; "S" is the start symbol of a style
# --------------------------------------------------------------------------------------------

_COMMON: dict[str, tuple[str, ...]] = {
    "name": ("{first_name}", "{first_name}", "{first_name} {surname}"),
    "title_name": ("(mister|missus|miss|doctor|professor|captain) {surname}",),
    "poss": ("(my|his|her|their|our|your)",),
    "subj_sg": (
        "{first_name}", "{first_name}", "{first_name}", "{first_name} {surname}", "{title_name}",
        "{poss} {relative}", "{poss} {adj_person} {relative}",
        "(the|a|my|our) [{adj_person}] {occupation}", "the {occupation} from {city}",
        "(he|she)", "(he|she)",
    ),
    "subj_pl": (
        "the [{adj_person}] {occupation.pl}", "{poss} {relative.pl}", "{first_name} and {first_name}",
        "{num_small} {occupation.pl}", "(we|they)", "(we|they)", "the {occupation.pl} from {city}",
        "(some|many|most|all the) {occupation.pl}",
        "the (children|students|neighbors|visitors|tourists|passengers|workers|volunteers|players"
        "|guests|fans|villagers|residents)",
    ),
    "obj_person": (
        "{first_name}", "{first_name}", "{first_name} {surname}", "{title_name}", "{poss} {relative}",
        "the [{adj_person}] {occupation}", "(him|her|them|us|me)",
    ),
    "thing_adj": ("{adj_thing}", "{adj_thing}", "{color}", "{adj_general}"),
    "det": ("(the|a|the|a|my|his|her|their|our|your|this|that)",),
    "np_thing": ("{det} [{thing_adj}] {thing}",),
    "np_things": (
        "(the|some|these|those|{num_small}|a few|several|many|all the) [{thing_adj}] {thing.pl}",
    ),
    "np_food": (
        "(some|the|a little|more) [{adj_food}] {food_mass}",
        "(some|the|a few|{num_small}|a bag of|a box of) [{adj_food}] {food_count.pl}",
        "(a|the|one|another) [{adj_food}] {food_count}",
    ),
    "site": ("{place}", "{place}", "{nature}"),
    "np_place": ("the [{adj_place}] {site}", "the {site}", "the {place} in {city}"),
    "loc": (
        "(in|near|behind|outside|inside|next to|across from|opposite|beside) the [{adj_place}] {place}",
        "(at|near|by) the [{adj_place}] {nature}",
        "at the [{adj_place}] {place}", "(in|near|outside) {city}", "in {country}",
        "(at home|at work|at school|downstairs|upstairs|in the garden|in the kitchen|on the bus"
        "|on the train|on the roof|on the stairs|by the window|in the car)",
    ),
    "dest": (
        "to the [{adj_place}] {site}", "to {city}", "to {country}",
        "(home|to work|to school|to the shops|to the city|to the coast|to the countryside)",
        "to {first_name}'s (house|flat|office|party|place)",
    ),
    "period": ("(week|month|year|weekend|summer|winter|spring|autumn|{weekday})",),
    "when_past": (
        "yesterday", "yesterday", "last {period}", "last night", "on {weekday}", "recently",
        "over the weekend", "after (lunch|dinner|work|school|class)", "before (breakfast|dinner|work)",
        "at (dawn|dusk|midnight|lunchtime)", "just now", "last time",
        "on {weekday} (morning|afternoon|evening|night)", "(this|that) (morning|afternoon|evening)",
        "{num_small} (days|weeks|months|years) ago", "on {date}", "in {month}", "in {year}",
        "at {time}", "earlier today", "the day before yesterday", "a (few|couple of) (days|weeks) ago",
        "in the summer of {year}", "(during|after|before) the {event}", "long ago",
    ),
    "when_future": (
        "tomorrow", "next {period}", "on {weekday}", "on {date}", "at {time}",
        "in {num_small} (days|weeks|months)", "later (today|tonight|this week)",
        "tomorrow (morning|afternoon|evening|night)", "this (weekend|evening|afternoon|summer|winter)",
        "the day after tomorrow", "before {weekday}", "after the {event}", "in {month}",
        "by the end of the (week|month|year)", "(soon|one day|someday)",
    ),
    "day_ref": (
        "today", "tomorrow", "tonight", "this (morning|afternoon|evening|weekend)", "on {weekday}",
        "next {weekday}", "tomorrow (morning|afternoon|evening)", "on {date}", "(this|next) week",
    ),
}

_READ: dict[str, tuple[str, ...]] = {
    "S": (
        "{statement}", "{statement}", "{statement}", "{statement}", "{statement}", "{statement}",
        "{complex}", "{complex}", "{complex}", "{question}", "{question}", "{question}", "{news}",
    ),
    "statement": (
        "{subj_sg} {v_thing.past} {np_thing} [{loc}] [{when_past}]",
        "{subj_pl} {v_thing.past} {np_things} [{loc}]",
        "{subj_sg} (has|had) [(just|already|never|finally)] {v_thing.pp} {np_thing}",
        "{subj_pl} (have|had) [(just|already|never)] {v_thing.pp} {np_things}",
        "{subj_sg} {v_intrans.past} [{adverb}] [{loc}] [{when_past}]",
        "{subj_pl} {v_intrans.past} [{adverb}] {loc}",
        "{subj_sg} {v_intrans.s} [{adverb}] every (day|morning|evening|{weekday})",
        "{subj_sg} {v_person.past} {obj_person} [{loc}] [{when_past}]",
        "{subj_sg} will {v_person.base} {obj_person} {when_future}",
        "{subj_pl} (will|might|should|could|must) {v_place.base} {np_place} [{when_future}]",
        "{subj_sg} (walked|hiked|cycled|swam|sailed|paddled) (to|across|along|around|past) the {nature}",
        "the {nature} (near|outside) {city} (is|was) {adj_place}",
        "{subj_sg} (is|was) {v_intrans.ing} [{adverb}] [{loc}]",
        "{subj_sg} (is|was) {v_thing.ing} {np_thing} [{loc}]",
        "{subj_pl} (are|were) {v_thing.ing} {np_things}",
        "{subj_sg} {v_food.past} {np_food} [for (breakfast|lunch|dinner|dessert)]",
        "{subj_pl} (usually|often|never|sometimes) {v_food.base} {np_food} [on {weekday.pl}]",
        "{subj_sg} {v_topic.past} {topic} [(at the university|with {obj_person}|{when_past})]",
        "{subj_sg} (likes|loves|enjoys|hates|misses) {v_intrans.ing} [{loc}]",
        "{subj_sg} (wants|needs|hopes|plans|decided|promised|forgot) to {v_thing.base} {np_thing} [{when_future}]",
        "{subj_sg} (went|walked|drove|ran|hurried|cycled|flew|moved) {dest} [{when_past}]",
        "{subj_sg} (lives|works|grew up|studied|stayed) in {city}",
        "{subj_sg} (works|volunteers|used to work) at the {place} [in {city}]",
        "{subj_sg} was born in {city} in {year}",
        "the [{adj_general}] {animal} {v_animal.past} [{adverb}] [{loc}]",
        "the {animal} (chased|followed|watched|ignored|frightened|surprised) the {animal}",
        "there (is|was) a [{thing_adj}] {thing} {loc}",
        "there (are|were) {num_small} {animal.pl} {loc}",
        "the {thing} (is|was|looks|felt) {adj_thing}",
        "the {site} was [(very|quite|rather|too)] {adj_place} {when_past}",
        "the {place} is (usually|always|often|never) {adj_place} on {weekday.pl}",
        "the weather in {city} was {weather} {when_past}",
        "it will be {weather} in {city} {when_future}",
        "{subj_sg} (gave|sent|lent|showed|sold|brought|handed) {obj_person} {np_thing}",
        "{subj_sg} (keeps|kept|left|put|hid|found) {np_thing} (on|under|behind|beside|inside|in) the {thing}",
        "the {thing} (on|under|behind|beside|inside) the {thing} belongs to {obj_person}",
        "{subj_sg} (is|was) a [{adj_person}] {occupation} (from|in) {city}",
        "{subj_sg} (became|wants to be|used to be|trained as) a {occupation}",
        "{subj_sg} (speaks|learned|teaches|studied|is learning) {language} [at (school|night school|work)]",
        "{subj_sg} (plays|watched|loves|gave up|took up) {sport} [{when_past}]",
        "{subj_pl} (played|watched) {sport} (in the park|on {weekday}|after school|all afternoon)",
        "{subj_sg} (is|was) (afraid of|fond of|interested in|tired of) {animal.pl}",
        "{subj_sg} (is|was) (interested in|tired of|good at|excited about) {topic}",
        "(my|his|her|our) favorite (animal is the {animal}|food is {food_mass}|color is {color}|city is {city}|sport is {sport})",
        "{subj_sg} bought {num_small} {thing.pl} for {price}",
        "{subj_sg} paid {price} for {np_thing}",
        "{subj_sg} (painted|drew|photographed|sketched) {np_things} {loc}",
        "{subj_sg} (visited|explored|toured|photographed) {city} (with {obj_person}|{when_past})",
        "{first_name}'s {relative} (is|was) a {occupation}",
        "{first_name}'s {thing} (is|was) {adj_thing}",
    ),
    "complex": (
        "{clause_past} (because|when|after|before|while|although|until|so) {clause_past}",
        "(when|after|before|as soon as|although|because) {clause_past} {clause_past}",
        "{subj_sg} (said|thought|noticed|explained|told us|claimed|knew|remembered) that {clause_past}",
        "{subj_sg} (says|thinks|believes|hopes|told me) that {clause_future}",
        "if {clause_pres} {clause_future}",
        "{subj_sg} (asked|told|reminded|helped|invited|encouraged) {obj_person} to {v_thing.base} {np_thing}",
        "{subj_sg} (wondered|asked|wanted to know) (why|where|when|whether|if) {clause_past}",
        "(i|we) (think|believe|guess|suppose|hope|know) (that|) {clause_future}",
        "{clause_past} and {clause_past}",
        "{clause_past} but {clause_past}",
        "{subj_sg} (stayed|waited|sang|worked|read) (until|while) {clause_past}",
        "the {thing} that {subj_sg} {v_thing.past} (was|is) {adj_thing}",
        "the {occupation} who {v_person.past} {obj_person} (lives|works) in {city}",
    ),
    "clause_past": (
        "{subj_sg} {v_thing.past} {np_thing}",
        "{subj_sg} {v_intrans.past} [{adverb}]",
        "{subj_pl} {v_person.past} {obj_person}",
        "{subj_sg} {v_food.past} {np_food}",
        "the {animal} {v_animal.past} [{loc}]",
        "{subj_sg} (went|drove|walked) {dest}",
        "the {event} (started|ended|was cancelled|was postponed)",
        "it (started|began|stopped) (raining|snowing)",
        "the (lights|power|internet|phones) went out",
        "{subj_sg} lost {poss} {thing}",
        "{subj_pl} {v_intrans.past} {loc}",
    ),
    "clause_pres": (
        "{subj_sg} {v_thing.s} {np_thing}",
        "{subj_pl} {v_intrans.base} [{adverb}]",
        "it (rains|snows) {when_future}",
        "the {event} (starts|ends) (early|late|on time)",
        "{subj_sg} (calls|visits|helps|meets) {obj_person}",
        "you {v_thing.base} {np_thing}",
        "the {place} (opens|closes) (early|late|on {weekday})",
    ),
    "clause_future": (
        "{subj_sg} will {v_thing.base} {np_thing}",
        "{subj_pl} will {v_intrans.base} [{loc}]",
        "we will {v_place.base} {np_place}",
        "the {event} will (start|end|be cancelled|be postponed) [{when_future}]",
        "{subj_sg} will (call|visit|help|meet) {obj_person} [{when_future}]",
        "it will be {weather} {when_future}",
        "the {place} will (open|close) {when_future}",
    ),
    "org": (
        "the (city council|government|committee|company|school board|museum|hospital|university"
        "|police|fire service|mayor's office|local newspaper)",
    ),
    "news": (
        "{org} (announced|confirmed|reported|denied|said) that {clause_past}",
        "{org} (says|expects|hopes) that {clause_future}",
        "(officials|residents|experts|scientists|reporters|witnesses) in {city} (said|reported) that {clause_past}",
        "the {event} in {city} (was cancelled|was postponed|was a great success|attracted {num_big} visitors)",
        "the {event} in {city} will take place {when_future}",
        "(about|nearly|more than|almost|over) {num_big} people (attended|visited|watched|joined) the {event} [in {city}]",
        "the price of {food_mass} (rose|fell|increased|dropped) by {percent} percent [(in {month}|last {period})]",
        "the population of {city} is (about|almost|nearly|more than) {num_big}",
        "a new {place} (opened|will open) in {city} (on {date}|in {month}|in {year})",
        "{org} (opened|built|closed|renovated|sold) the {place} in {year}",
        "a [{thing_adj}] {thing} was found (in|near|behind|under) the {place} {when_past}",
        "the {occupation.pl} in {city} (went on strike|asked for higher pay|held a meeting|won an award) [{when_past}]",
        "the team from {city} (won|lost) the {sport} (match|final|game) [by {num_small} (points|goals)]",
        "the temperature in {city} (reached|fell to|rose to) {temperature} {when_past}",
        "{subj_sg} won (first|second|third) prize at the {event}",
        "the road (between|from) {city} (and|to) {city} (is|was) closed [{when_past}]",
        "the train to {city} (leaves|departs|arrives) at {time} [from platform {num_small}]",
        "the {event} (starts|begins|ends|finishes) at {time} [on {weekday}]",
        "tickets for the (concert|festival|exhibition|match|show|fair|play|race) cost {price}",
        "{num_big} (tourists|visitors|students|passengers) (visited|came to|left) {city} (last year|in {year}|in {month})",
        "the (bridge|museum|library|stadium|station|airport) in {city} (was built|opened|closed) in {year}",
        "(scientists|researchers) (found|discovered|described) a new kind of {animal} in {country}",
    ),
    "question": (
        "did {subj_sg} {v_thing.base} {np_thing} [{when_past}]",
        "have you ever {v_place.pp} {np_place}", "have you ever been to {city}",
        "has {subj_sg} (ever|already) {v_thing.pp} {np_thing}",
        "(where|when|why|how) did {subj_sg} {v_thing.base} {np_thing}",
        "(where|when|why) (is|was) {subj_sg} {v_intrans.ing}",
        "who {v_thing.past} {np_thing} [{loc}]",
        "how many {thing.pl} (did|does|will) {subj_sg} (need|want|buy|have|sell)",
        "(can|could|will|would|should) {subj_sg} {v_thing.base} {np_thing} [{when_future}]",
        "(what|which) {thing} did {subj_sg} {v_thing.base} [{when_past}]",
        "what time does the {event} (start|begin|end)",
        "is the {place} (open|closed) on {weekday.pl}",
        "(do|did) you (know|remember|hear|see) (why|where|when|how) {clause_past}",
        "are there any {thing.pl} {loc}",
        "would you like {np_food}",
        "how long does it take to (walk|drive|fly|get) to {city}",
        "why (do|did) {subj_pl} {v_intrans.base} {loc}",
        "(is|was) {subj_sg} (still|really) {v_intrans.ing} [{loc}]",
        "what did {subj_sg} {v_food.base} for (breakfast|lunch|dinner)",
        "does {subj_sg} (speak|understand|teach|study) {language}",
        "whose {thing} is (this|that) [on the {thing}]",
        "(where|how) (do|did|can) {subj_pl} (find|buy|get) {np_things}",
    ),
}

_COMMAND: dict[str, tuple[str, ...]] = {
    "S": (
        "{cmd}", "{cmd}", "{cmd}", "{cmd}", "{cmd} please",
        "(please|hey|okay|can you|could you|would you|go ahead and) {cmd}",
        "{ask}", "{ask}", "{ask}",
    ),
    "cmd": (
        "{c_timer}", "{c_alarm}", "{c_music}", "{c_music}", "{c_home}", "{c_home}", "{c_home}",
        "{c_remind}", "{c_remind}", "{c_calendar}", "{c_comm}", "{c_comm}", "{c_shop}", "{c_nav}",
        "{c_phone}", "{c_misc}", "{c_misc}",
    ),
    "ask": (
        "{q_weather}", "{q_weather}", "{q_time}", "{q_info}", "{q_info}", "{q_calendar}",
        "{q_media}", "{q_home}",
    ),
    "c_timer": (
        "set (a|the) timer for {duration}",
        "set a {num_minutes} minute timer [for the (pasta|eggs|rice|cake|laundry|pizza|bread|tea)]",
        "(start|begin) a timer for {duration}",
        "(cancel|stop|pause|resume|restart) the [{num_minutes} minute] timer",
        "add {duration} to the timer",
        "set a (second|another) timer for {duration}",
        "(start|stop|reset) the stopwatch",
    ),
    "c_alarm": (
        "(set|create) an alarm for {time} [{day_ref}]",
        "wake me up (at {time}|in {duration}) [{day_ref}]",
        "(cancel|delete|turn off|disable) (my|the) {clock_time} alarm",
        "snooze [the alarm] for {duration}",
        "set a (daily|weekday|weekend|recurring) alarm for {time}",
        "change my alarm to {time}",
        "turn off all my alarms [for {day_ref}]",
    ),
    "c_music": (
        "play [some] [{music_mood}] {genre} [music] [in the {room}]",
        "play (the|my) ({music_mood} {genre}|road trip|workout|dinner party|morning|sleep) playlist [on shuffle]",
        "play songs by {first_name} {surname}",
        "play the (latest|new|first) album by {first_name} {surname}",
        "play (the news|an audiobook|my daily briefing|the latest episode of my podcast|a podcast about {topic})",
        "(skip|repeat|replay|pause|stop|resume) (this|the) (song|track|podcast|episode|album)",
        "(turn|set) the volume (up|down) [to {num_small}]",
        "turn (it|the music) (up|down) a (bit|little|lot)",
        "set the volume to {percent} percent",
        "play {genre} (on|in) the {room} speaker",
        "add this song to my {music_mood} playlist",
        "play something (relaxing|upbeat|quiet|for a dinner party|for studying|for the kids|to help me sleep)",
        "play (rain|ocean|forest|thunderstorm|fireplace) sounds [for {duration}]",
        "shuffle my (music|library|favorites|liked songs)",
        "play {city} (public radio|jazz radio|news radio)",
        "move the music to the {room}",
    ),
    "c_home": (
        "turn (on|off) the {device} [in the {room}]",
        "turn the {room} {device} (on|off)",
        "switch (on|off) the {device} [in the {room}]",
        "(dim|brighten) the (lights|lamp) [in the {room}] [to {percent} percent]",
        "set the (lights|lamp) [in the {room}] to {color}",
        "set the (lights|lamp) [in the {room}] to {percent} percent",
        "set the thermostat to {num_temp} degrees",
        "(raise|lower|increase|decrease) the temperature [in the {room}] by {num_small} degrees",
        "make it (warmer|cooler|brighter|darker) in the {room}",
        "(lock|unlock|close|open) the (front|back|garage|side|patio) door",
        "(open|close) the (blinds|curtains|windows|shades) in the {room}",
        "start the (dishwasher|washing machine|dryer|robot vacuum|coffee maker) [at {time}]",
        "turn off all the lights [(downstairs|upstairs|in the house|except the {room})]",
        "(activate|turn on|start) (movie|reading|dinner|sleep|morning|party|away) mode",
        "set the {device} to (low|medium|high|eco mode|auto)",
        "turn on the {device} (at {time}|in {duration}|for {duration})",
        "(vacuum|clean) the {room}",
        "(arm|disarm) the (alarm system|security system)",
        "show me the (front door|back yard|garage|driveway|nursery) camera",
    ),
    "c_remind": (
        "remind me to {task} {when_future}",
        "remind me {when_future} to {task}",
        "remind me to {task} when i (get home|leave work|get to work|arrive at the {place})",
        "set a reminder (for {time}|for {date}|{day_ref}) to {task}",
        "remind me to call {obj_person} (on {date}|at {time}|{day_ref})",
        "remind me to buy {np_food} on the way home",
        "remind me every {weekday} to {task}",
        "add {task} to my (to do|task) list",
        "(delete|cancel) (my|the) reminder (to {task}|for {time})",
    ),
    "c_calendar": (
        "add (a meeting|lunch|dinner|a call|an appointment|coffee) with {name} (on {date}|at {time}|{day_ref})",
        "schedule a {event} with {name} [{day_ref}] [at {time}]",
        "cancel my {event} [{day_ref}]",
        "move my {clock_time} meeting to {time}",
        "(create|add) an event called {event} on {date}",
        "block out {duration} (tomorrow|on {weekday}|this afternoon) for (focus time|lunch|exercise|{topic})",
    ),
    "c_comm": (
        "call {name} [on speaker]",
        "call my {relative} [on (her|his|their) (mobile|cell phone|work phone|home phone)]",
        "(text|message) {name} (that|saying) {message}",
        "send a message to {name} [saying {message}]",
        "read my (new|latest|unread) (messages|emails|texts) [from {first_name}]",
        "(reply to|answer) {first_name}'s (message|email|text) [saying {message}]",
        "video call {name}",
        "(redial|call back) the last number",
        "tell {first_name} (that|) {message}",
        "email {name} about the {event} [{day_ref}]",
        "send {first_name} (my location|a photo of the {thing}|the shopping list|my arrival time)",
        "call the nearest {place}",
        "(call|ring) {brand} {business} [customer service]",
        "announce that {message}",
    ),
    "message": (
        "i'm running (late|about {duration} late)",
        "i'll be home (at {time}|in {duration}|soon)",
        "dinner is ready",
        "can you pick up {np_food} [on the way home]",
        "don't forget the {event} {when_future}",
        "i'm on my way",
        "call me when you (land|arrive|get home|are free)",
        "happy birthday",
        "thanks for the {thing}",
        "let's meet at the {place} at {time}",
        "the {event} has been moved to {weekday}",
        "i left my {thing} at (home|work|the {place})",
        "i'm at the {place}",
        "see you {day_ref}",
    ),
    "c_shop": (
        "add {np_food} to (my|the) (shopping|grocery) list",
        "add {num_small} {food_count.pl} to my (shopping|grocery) list",
        "remove {food_mass} from my shopping list",
        "(order|reorder|buy) (more|some) (coffee|{food_mass}|paper towels|dish soap|batteries|dog food|cat food)",
        "order (a|some) {cuisine} (dinner|lunch|takeaway|pizza|meal) [for {num_small} people]",
        "track my (package|order|delivery)",
        "(cancel|return) my (last|latest) order",
        "put {thing.pl} on my (shopping|wish) list",
    ),
    "c_nav": (
        "navigate to (the nearest {place}|{city}|{first_name}'s house|work|home) [avoiding (tolls|highways|traffic)]",
        "(find|show me) (a|the nearest) {cuisine} restaurant [(near me|nearby|in {city})]",
        "(find|show me) a {place} (near me|nearby|that's open now)",
        "(book|order|call) a (taxi|ride|cab) to (the {place}|{city} airport|work|the station) [at {time}]",
        "(book|reserve) a table for {num_small} at {time} [{day_ref}]",
        "take me (home|to work|to the {place})",
        "(add|find) a (gas station|coffee shop|rest stop|charging station) on my route",
        "share my (location|arrival time) with {first_name}",
    ),
    "c_phone": (
        "open [(the|my)] {app} [app]",
        "take a (photo|picture|selfie|screenshot|video)",
        "(start|stop) recording",
        "turn (on|off) (do not disturb|airplane mode|the flashlight|bluetooth|wifi|location services|dark mode)",
        "turn on do not disturb (until {time}|for {duration})",
        "set my phone to (silent|vibrate|loud)",
        "(increase|decrease|lower|raise) the (brightness|volume|font size)",
        "find my (phone|keys|wallet|headphones|tablet|watch)",
        "(set|change) the (language|voice) to {language}",
        "(show|play) (pictures|photos|videos) (from|of) ({city}|{first_name}|{year}|last {period}|my trip to {city})",
        "(delete|share|send) the last (photo|screenshot|video) [to {first_name}]",
        "restart my (phone|tablet|laptop|router)",
    ),
    "c_misc": (
        "start a {num_minutes} minute {exercise} workout",
        "log a {num_minutes} minute (walk|run|bike ride|swim|yoga session)",
        "read me a recipe for {food_mass}",
        "(tell me|read me) (a joke|a story|a fun fact|the headlines) [about {animal.pl}]",
        "translate {phrase} (into|to) {language}",
        "spell the word {spell_word}",
        "define the word {spell_word}",
        "(pay|send) {first_name} {money} for (dinner|the tickets|rent|lunch|groceries|the taxi)",
        "(convert|what is) {num_any} (miles to kilometers|kilometers to miles|pounds to kilograms"
        "|kilograms to pounds|ounces to grams|cups to milliliters|inches to centimeters"
        "|fahrenheit to celsius|celsius to fahrenheit|dollars to euros|euros to dollars)",
        "(flip a coin|roll a die|pick a number between one and {num_count})",
        "(set|start) a (sleep|bedtime|focus|meditation) timer for {duration}",
        "(show me|find) (videos|pictures) of {animal.pl}",
        "(order|book) (two|three|four) tickets for the {event} [{day_ref}]",
    ),
    "phrase": (
        "good morning", "thank you very much", "where is the {place}", "how much does this cost",
        "i would like {np_food}", "{food_mass}", "the {animal}", "happy birthday",
        "where is the nearest {place}", "my name is {first_name}", "i am from {city}",
        "i need a {occupation}", "the {thing} is {adj_thing}",
    ),
    "spell_word": (
        "{adj_general.one}", "{thing.one}", "{animal.one}", "{adverb.one}", "{food_mass.one}",
        "{occupation.one}", "{adj_person.one}",
    ),
    "q_weather": (
        "what's the weather (like|going to be like) [in {city}] {day_ref}",
        "(will|is) it (going to rain|going to snow|rain|snow) {day_ref} [in {city}]",
        "do i need (an umbrella|a coat|sunscreen|a jacket) [{day_ref}]",
        "how (hot|cold|windy|humid) is it (outside|in {city}) [right now]",
        "what's the forecast for {day_ref} [in {city}]",
        "when is (sunrise|sunset) [tomorrow] [in {city}]",
        "is it {weather} in {city} [{day_ref}]",
        "what's the (air quality|pollen count|uv index|temperature) [in {city}] {day_ref}",
    ),
    "q_time": (
        "what time is it [in {city}]",
        "what's the date [(today|tomorrow|next {weekday})]",
        "how many days until {holiday}",
        "what day (is|was) {date}",
        "how many (days|weeks) until my (birthday|vacation|trip to {city})",
        "what time (is|does) my (flight|train|alarm|next meeting) [tomorrow]",
        "how long until my {clock_time} alarm",
        "is {date} a {weekday}",
        "when is {holiday} [this year]",
    ),
    "q_info": (
        "how far is it to {city}",
        "how long does it take to (drive|walk|cycle|fly) to {city}",
        "what's (the capital of|the population of|the time in|the currency of) {country}",
        "what's {num_small} (plus|minus|times) {num_count}",
        "what is {percent} percent of {num_any}",
        "how do you say {phrase} in {language}",
        "what does the word {spell_word} mean",
        "what's another word for {adj_general}",
        "who won the {sport} game (last night|yesterday|on {weekday})",
        "when does the {sport} game start [{day_ref}]",
        "how is the traffic on the way to (work|{city}|the {place})",
        "is the {place} open (now|{day_ref}|on {weekday.pl})",
        "what time does the {place} (open|close) [on {weekday}]",
        "how many (calories|grams of sugar) are in {np_food}",
        "how long should i (boil|bake|roast|cook|grill|steam) (the|a) {food_count}",
        "how many (steps|kilometers|miles) have i walked today",
        "how did i sleep last night",
        "what (sound|noise) does a {animal} make",
        "how (big|old|fast|tall) (is a {animal}|can a {animal} get)",
        "(what's|how do i make) a good recipe (for|with) {food_mass}",
        "where is the nearest {place}",
    ),
    "q_calendar": (
        "what's on my calendar {day_ref}",
        "when is my next {event}",
        "do i have any (meetings|appointments|plans) {day_ref}",
        "what are my reminders for {day_ref}",
        "when is {first_name}'s birthday",
        "what's on my (shopping|grocery|to do) list",
        "am i free (at {time}|{day_ref})",
    ),
    "q_media": (
        "what song is (this|playing)",
        "who sings this song",
        "what's the name of this (song|album|band)",
        "what's the latest news [about {topic}]",
        "what (podcasts|audiobooks|playlists) do i have",
        "who (wrote|directed|starred in) the (film|book|song) about the {animal}",
    ),
    "q_home": (
        "is the (front|back|garage|side) door locked",
        "what's the temperature (inside|in the {room})",
        "are the lights (on|off) in the {room}",
        "is the {device} (on|off|still running)",
        "how much (battery|charge) (do i have left|does my phone have)",
        "did i (lock the door|turn off the oven|close the garage|set an alarm)",
        "how long until the (dishwasher|washing machine|dryer|robot vacuum) is done",
    ),
}

_SERVICE: dict[str, tuple[str, ...]] = {
    "S": (
        "{s_greet}", "{s_greet}", "{s_menu}", "{s_menu}", "{s_menu}", "{s_menu}", "{s_input}",
        "{s_input}", "{s_input}", "{s_account}", "{s_account}", "{s_account}", "{s_voicemail}",
        "{s_voicemail}", "{s_network}", "{s_network}", "{s_conference}", "{s_hours}", "{s_transfer}",
        "{s_payment}", "{s_survey}", "{s_health}", "{s_travel}", "{s_misc}", "{s_misc}",
    ),
    "company": (
        "{brand} {business}", "{brand} {business}", "{surname} {business}", "{city} {business}",
        "{surname} and {surname}", "{brand} {business} of {city}",
    ),
    "agent": (
        "(representative|agent|associate|operator|customer service representative|team member"
        "|specialist|advisor|nurse|pharmacist|banker|technician|travel consultant)",
    ),
    "agents": (
        "(representatives|agents|associates|operators|team members|specialists|advisors|nurses)",
    ),
    "press_key": ("press {menu_key}", "press {menu_key}", "press {key}", "dial {menu_key}", "say {menu_key}"),
    "pound": ("(pound|the pound key|the pound sign|hash|the hash key)",),
    "star": ("(star|the star key)",),
    "info_item": (
        "(our hours of operation|our location|our mailing address|directions to our office"
        "|account information|frequently asked questions|our holiday schedule|current promotions"
        "|our fax number|our website address|store locations|current wait times)",
    ),
    "address": ("{house_number} {street} (street|avenue|road|boulevard|drive|lane|way|place|court)",),
    "sorry": ("(i'm sorry|we're sorry|sorry|we are sorry|i am sorry)",),
    "s_greet": (
        "(thank you for calling|thanks for calling|welcome to|you have reached) {company}",
        "(hello and|) welcome to the {company} (automated|customer|self service) (phone|telephone|support|service) (system|line|center)",
        "your call is [very] important to us",
        "please (hold|stay on the line|continue to hold) [and] [the next available {agent} will (be with you (shortly|in a moment)|take your call)]",
        "all of our {agents} are (currently|) (busy|assisting other (customers|callers)|helping other callers)",
        "(your|the) estimated wait time is (about|approximately|less than|) {duration}",
        "you are caller number {num_small} in the queue",
        "this call (may|will) be (recorded|monitored|recorded and monitored) for (quality|quality assurance|training|quality and training) purposes",
        "please listen carefully as our menu options have [recently] changed",
        "(if you know your party's extension|if you know the extension of the person you are calling) (please|you may) dial it (now|at any time)",
        "(if this is|for) a (medical|) emergency please hang up and dial nine one one",
        "(we are|we're) (currently|) experiencing (higher than normal|unusually high|heavy) call volumes",
        "(your call|calls) will be answered in the order (it was|they were) received",
        "(please|) (do not|don't) hang up [your call will be answered shortly]",
        "thank you for (your patience|holding|waiting) [a {agent} will be with you shortly]",
        "(good morning|good afternoon|good evening) and thank you for calling {company}",
        "this is an automated (message|call|reminder) from {company}",
    ),
    "s_menu": (
        "(for|if you are calling about) {department} {press_key}",
        "to {menu_action} {press_key}",
        "to {menu_action} please {press_key}",
        "{press_key} to {menu_action}",
        "(for|to hear) {info_item} {press_key}",
        "(if you are|if you're) (a new|an existing|a returning) (customer|patient|member|caller) {press_key}",
        "to (speak with|reach) (a|the) {agent} {press_key} [or stay on the line]",
        "(to hear these options again|to repeat this menu|to repeat these options) press (star|{star}|nine|{pound})",
        "to return to the (main|previous) menu press ({star}|{pound}|zero|nine)",
        "(for|if you have) (billing questions|questions about your bill|a question about an order|a new order) {press_key}",
        "(for all other inquiries|for anything else|otherwise) (please|) (stay on the line|press zero|hold for the next available {agent})",
        "for service in (spanish|french|mandarin|vietnamese|korean|portuguese) press {menu_key}",
        "(please|) (say|enter) the number of your selection",
        "(you can say|you can say things like) {department} or {department}",
        "(say|tell me) (in a few words|briefly) (the reason for your call|why you're calling|what you're calling about)",
        "(okay|alright|got it) (let's get you to|i'll transfer you to|let me connect you with) {department}",
        "{department} is (currently closed|currently unavailable|open {weekday} through {weekday})",
        "(press|say) {menu_key} (to|if you would like to) (continue|confirm|accept|decline|go back|start over|cancel|finish)",
        "(for|to reach) the (company|staff|employee) directory {press_key}",
        "please make your selection now",
    ),
    "s_input": (
        "(please|) (say|enter) (your|the) {id_thing} [followed by {pound}]",
        "please enter your (four|five|six) digit (pin|passcode|security code|access code)",
        "please say or enter your {id_thing}",
        "using your telephone keypad please enter your {id_thing}",
        "please enter the last four digits of (your|the) (social security number|card number|account number|phone number)",
        "(you entered|i heard) {digits} [is that correct]",
        "(if this is correct|if that's correct) press one (if not|otherwise|to try again) press two",
        "{sorry} (i didn't (understand|get) that|that (is not|was not) a valid (entry|selection|option|extension|account number))",
        "(please try again|let's try that again|please make your selection now)",
        "{sorry} (we were unable to|i was unable to|we could not) (verify|find|locate|process) (your|that) {id_thing}",
        "you have (exceeded|reached) the maximum number of (attempts|tries) [please try again later] [goodbye]",
        "(please|) (enter|say) your {id_thing} (now|again) [then press {pound}]",
        "(for security purposes|to protect your account) (please|) (verify|confirm) your {id_thing}",
        "(please|) (have|get) your {id_thing} ready [before speaking with a {agent}]",
        "(to better serve you|to help us direct your call) please (enter|say) your {id_thing}",
        "(please|) spell the last name of the person you are (calling|trying to reach)",
        "(please|) (enter|say) the (phone number|number) (where you can be reached|we should call) [including the area code]",
        "the number you entered is {phone_number}",
        "(i|we) did not receive (a response|your entry|any input) [please try again]",
    ),
    "s_account": (
        "your (current|account|outstanding|remaining|available) balance is {money}",
        "your (last|most recent) payment of {money} was (received|posted|processed) on {date}",
        "your (next|minimum) payment [of {money}] is due (on|by) {date}",
        "(a payment|your payment) of {money} (has been|was) (received|scheduled|processed|applied to your account) [on {date}]",
        "your (order|package|shipment|return|refund|claim|request|application) [number {digits}] (has shipped|is being processed|has been approved|was delivered on {date}|is expected to arrive (on|by) {date}|has been received|is on hold|is under review)",
        "your (confirmation|reference|case|ticket|tracking) number is {digits}",
        "your (bill|statement|invoice) for {month} (is|was) {money}",
        "you have {num_big} (reward|loyalty|bonus) points [available]",
        "your (card|account|subscription|policy|membership|plan|warranty) (will expire|expires|will renew|renews) on {date}",
        "your (account|card|line|service) has been (suspended|temporarily locked|reactivated|activated|updated|closed)",
        "(we have|we've) (detected|noticed) (unusual|suspicious) activity on your (account|card) [ending in {digits4}]",
        "did you (make|authorize) a purchase of {money} at {company} on {date}",
        "(press one|say yes) if you (made|authorized) this (purchase|transaction) (press two|say no) if you did not",
        "(your|the) (available|current) balance (in|for) your (checking|savings) account [ending in {digits4}] is {money}",
        "(for|to hear) your (recent|last {num_small}) (transactions|deposits|withdrawals) {press_key}",
        "(a deposit|a withdrawal|a transfer|a purchase) of {money} (was|has been) (made|posted|processed) on {date}",
        "your (new|replacement) card (has been|was) (mailed|sent|activated|shipped) [and should arrive within {num_small} business days]",
        "to (activate|lock|unlock|replace) your (debit|credit|new) card {press_key}",
        "(okay|alright) (i|we) (found|have located|pulled up) your (account|order|reservation|claim|appointment)",
        "(please|) (wait|hold) (while|as) (i|we) (look up|access|retrieve|check|verify) your (account|information|order|records)",
        "your data usage this month is {num_small} gigabytes",
        "you have {num_count} (minutes|messages) remaining (on your plan|this month|until {date})",
    ),
    "s_voicemail": (
        "you have {num_small} new (messages|voice messages) [and {num_small} saved messages]",
        "you have (one new message|no new messages|no saved messages|one saved message)",
        "(first|next|second|third|last) (new|saved) message",
        "message (received|left) (on {weekday}|on {date}|{day_ref}) at {time}",
        "(to (replay|repeat|listen to) this message|to (delete|erase|save|forward|reply to) (this message|it)|to hear the (next|previous) message|to call back the sender|to hear the message envelope) {press_key}",
        "(end of message|end of messages|there are no more messages|no more messages)",
        "(your|this) (message|greeting) has been (saved|deleted|sent|recorded|erased)",
        "the (mailbox|voice mailbox) (is full|belonging to {name} is full|you are trying to reach is full) [and cannot accept (any more|new) messages]",
        "you have reached the (voicemail|voice mailbox|mailbox) (of|for) {name}",
        "(the person|the party|the subscriber|the mobile customer) you (are calling|are trying to reach|have called) is (not available|unavailable|busy) [(right now|at the moment)]",
        "please leave (your|a) (message|name and number) (after the (tone|beep)|and we will return your call [as soon as possible])",
        "when you (are finished|have finished) recording (you may hang up|please hang up) [or press {pound} for more options]",
        "(please|) record your (name|message|greeting) (after the tone|now) [then press {pound}]",
        "to (change|record|listen to) your (greeting|personal greeting|mailbox password|name announcement) {press_key}",
        "(please|) enter your (mailbox number|password|passcode) [followed by {pound}]",
        "(this|your) message (is|was) {num_small} (seconds|minutes) long",
        "(message|this message was) (sent|forwarded) (from|by) {name}",
        "(your|the) mailbox (is almost full|has {num_small} messages)",
        "to (send|forward) this message (to another mailbox|to a group list) {press_key}",
    ),
    "s_network": (
        "the number you have dialed is (not in service|no longer in service|not a working number|disconnected)",
        "please check the number and (dial|try) again",
        "{sorry} (all circuits are busy now|your call cannot be completed as dialed)",
        "please try your call again later",
        "if you'd like to make a call please hang up and (try|dial) again",
        "(if you need help|if you need assistance) hang up and then dial your operator",
        "the (wireless|mobile) customer you are calling is not available",
        "your call (has been|is being) (forwarded|transferred) to (an automated voice messaging system|voicemail|{department}|extension {extension})",
        "you have {num_small} minutes (remaining|left) [on your (prepaid|calling) (balance|plan|card)]",
        "your prepaid balance is (low|{money}) [please recharge (your account|soon)]",
        "(the|this) (number|line|office) (has changed|has been disconnected|is no longer in use) [the new number is {phone_number}]",
        "(the|your) call cannot be completed (at this time|from this phone|as dialed)",
        "(please|) dial a one (before|and) the area code",
        "(long distance|international) calls are not (allowed|permitted) from this (line|phone)",
        "(the|this) (line|network) is (busy|temporarily unavailable) [please try again (later|in a few minutes)]",
        "this is a collect call from {name}",
        "(to accept the charges|to accept this call) press one (to decline|otherwise) (press two|hang up)",
    ),
    "s_conference": (
        "please enter your (conference|meeting|participant|access) (id|code|pin) followed by {pound}",
        "you are (the first|the only) (participant|person) (in|to join) (the|this) (conference|call|meeting)",
        "there are {num_small} other participants (in the conference|on the call)",
        "{name} has (joined|left) the (conference|call|meeting)",
        "(please wait for the host to join the conference|the host has not yet joined)",
        "you are (now|) (muted|unmuted|on hold|in the waiting room|the host)",
        "press {star} six to (mute|unmute) (yourself|your line)",
        "press {star} (two|three|nine) to (raise your hand|hear a list of commands|record the meeting)",
        "this (conference|meeting) (is being recorded|has been locked by the host|will end in {duration})",
        "(please|) (state|say) your name (after the tone|and press {pound})",
        "the (conference|meeting) (is full|has ended|has not started yet|will begin shortly)",
        "(the host|an organizer) has (muted|unmuted|removed) (all participants|you|your line)",
    ),
    "s_hours": (
        "our (office|business|customer service) hours are {weekday} (through|to) {weekday} (from|between) {hour_time} (to|and) {hour_time}",
        "(our offices are|we are|the office is) (currently|now|) closed",
        "(we are|our offices are|the office is) closed (for|in observance of) {holiday} [and will reopen on {weekday}]",
        "please call (back|again) during (normal|regular) business hours",
        "(we are|our office is) located at {address} [in {city}]",
        "(our|the) mailing address is {address} {city}",
        "(mail|send) your payment to {address} {city}",
        "(we are|our office is) open (until|from) {hour_time} (today|on {weekday.pl}|on weekdays)",
        "our {city} (location|office|branch|store) (opens|closes) at {hour_time} [on {weekday.pl}]",
        "(our|the) (pharmacy|branch|store|office) is open {num_count} hours a day",
        "(you can|you may) also (visit|reach) us (online|on our website|through our mobile app) [at any time]",
        "(for more information|to {menu_action}) please visit our website",
    ),
    "s_transfer": (
        "(please hold|one moment please|please wait) while (i|we) (transfer|connect) your call [to {department}]",
        "(connecting|transferring) you (to|with) {department} [now]",
        "the extension (you have dialed|you requested) (is busy|is not available|does not exist|is not a valid extension)",
        "(please|) dial (the|your party's) extension [now] [or press zero for the operator]",
        "connecting you to extension {extension}",
        "(you will now|you'll now) be (transferred|connected) to (a|our) {agent}",
        "(to receive|to request|to schedule) a (call back|callback) (instead of (waiting|holding)|when a {agent} is available) {press_key}",
        "(we will|a {agent} will) call you back (at {phone_number}|within {duration}|in approximately {duration}|at the number you are calling from)",
        "(your|the) callback (has been|is) (scheduled|confirmed) [for {time}]",
        "(please|) (hold|wait) (for|while i find) the next available {agent}",
        "(the|your) {agent} (is|will be) {name}",
        "(your|this) call is being transferred to extension {extension}",
    ),
    "s_payment": (
        "to pay (your bill|by card|by bank transfer|with a credit card|your balance in full) {press_key}",
        "please enter (your|the) (card number|expiration date|security code|billing zip code|payment amount)",
        "(please|) (enter|say) the amount (you would like to pay|of your payment) [in dollars and cents]",
        "you (entered|said|would like to pay) {money} [is that correct]",
        "your payment [of {money}] (has been|was) (accepted|declined|scheduled for {date}|processed successfully)",
        "a (confirmation number|receipt|confirmation email|text message receipt) will be sent to (you|your email|your phone) [shortly]",
        "(a late fee|a fee|a convenience fee|a service charge) of {money} (will|may) (be applied|apply)",
        "(we accept|you can pay with) (visa|mastercard|debit cards|all major credit cards|checks|bank transfers)",
        "your (automatic|recurring|scheduled) payment (is set for|will be made on) {date}",
        "(to set up|to cancel) (a payment plan|automatic payments|paperless billing) {press_key}",
    ),
    "s_survey": (
        "(please stay on the line|stay on the line) (to take|for) a (short|brief) survey [about your experience]",
        "on a scale (of|from) one to (five|ten) how satisfied were you with (our|the) (service|{agent}|call)",
        "on a scale (of|from) one to (five|ten) how likely are you to recommend us to a friend",
        "(press one|say yes) if your (issue|question|problem) was resolved [today]",
        "(thank you|thanks) for (your feedback|completing our survey|taking our survey)",
        "(thank you|thanks) (for calling|for your patience|for holding|for using our automated system|for your payment) [goodbye]",
        "(thank you|thanks) for calling {company} [(goodbye|have a (great|nice|wonderful) (day|evening))]",
        "is there anything else i can help you with [today]",
        "(please|) rate (the|your) (call|service|{agent}) (by pressing|from) one (to|through) five",
    ),
    "s_health": (
        "this is a reminder of your appointment (with doctor {surname}|at {company}) on {date} at {time}",
        "(please|) arrive {num_small} minutes before your appointment [and bring your (insurance card|photo id|medication list)]",
        "(if you need to|to) (cancel|reschedule) please call (us|our office) at least {num_small} (hours|days) in advance",
        "(the|your) (lab|test) results (are|will be) (ready|available) [(within {duration}|on {date})]",
        "your prescription [number {digits}] is (ready for pickup|being filled|on hold|out of refills) [at our {city} location]",
        "please enter the (six|seven|nine) digit prescription number (located|found|printed) on your (bottle|label|receipt)",
        "your appointment with doctor {surname} is (scheduled|confirmed) for {date} at {time}",
        "(to confirm|to cancel|to reschedule) (this|your) appointment {press_key}",
        "(doctor|nurse) {surname} (is|will be) (out of the office|available) (until|on) {date}",
        "(for|to speak to) the (on call|after hours) (doctor|nurse) {press_key}",
    ),
    "s_travel": (
        "(the|your) (train|bus|flight) (to|from) {city} (is delayed by|will depart in|will arrive in) {duration}",
        "(the|this) (service|line|route) (to|from) {city} (is|has been) (cancelled|suspended|delayed) [due to (weather|maintenance|a signal problem|high winds|flooding)]",
        "(flight|train|bus) {digits} to {city} (is now boarding|has been cancelled|is delayed|will depart from gate {num_count})",
        "please have your (boarding pass|ticket|photo id|passport) ready",
        "your flight to {city} (is delayed|has been cancelled|is on time|will depart at {time}|departs from gate {num_count})",
        "your (reservation|booking) at {company} is confirmed for {date}",
        "(to report|if you are calling to report) (a power outage|a gas leak|a water main break|downed power lines) {press_key}",
        "(crews are|a crew is) (working|on site|on the way) [to restore (power|service|water)] [in the {city} area]",
        "(the|an) (estimated|expected) (restoration|repair) time is {time} [{day_ref}]",
        "there is (a service outage|a planned outage|scheduled maintenance) in (your area|the {city} area)",
        "service (is expected to be|should be) restored by {time} [{day_ref}]",
        "your (technician|driver|delivery) will arrive between {hour_time} and {hour_time} [{day_ref}]",
    ),
    "s_misc": (
        "(please note|note) that (our|) (prices|fees|hours|policies|phone numbers) (have changed|may vary|are subject to change)",
        "(goodbye|have a nice day|thank you goodbye)",
        "(one moment please|please hold|please wait)",
        "{sorry} (that option is not available|this service is temporarily unavailable|the system is not responding)",
        "(please|) (press|say) {menu_key} (now|) to (continue|confirm)",
        "(this|the) (number|line) is (monitored|answered) (twenty four hours a day|seven days a week|around the clock)",
        "(we|our {agents}) (speak|can assist you in) (english|spanish|french|several languages)",
        "(you|your account) (are|is) (now|) (enrolled|registered|signed up) (for|in) (paperless billing|text alerts|automatic payments)",
        "(to hear|to receive) this (information|message) (again|by text message|by email) {press_key}",
        "the (current|local) time is {time}",
        "the (date|current date) is {date}",
    ),
}

_STYLE_RULES: dict[str, Mapping[str, tuple[str, ...]]] = {
    "read": _READ, "command": _COMMAND, "service": _SERVICE,
}


# --------------------------------------------------------------------------------------------
# Template parsing and compilation
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Word:
    text: str


@dataclass(frozen=True)
class _Slot:
    name: str
    form: str
    possessive: bool


@dataclass(frozen=True)
class _Seq:
    items: tuple["_Node", ...]


@dataclass(frozen=True)
class _Choice:
    options: tuple[_Seq, ...]


@dataclass(frozen=True)
class _Optional:
    body: _Seq


_Node = Union[_Word, _Slot, _Choice, _Optional]
_Expander = Callable[[random.Random, list], None]
_TOKEN = re.compile(r"\{([a-z_0-9]+)(?:\.([a-z]+))?\}('s)?|[()\[\]|]|[^\s{}()\[\]|]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def _parse(template: str) -> _Seq:
    """Parse one template into a tree; raises ValueError naming the template on a syntax error."""
    matches = list(_TOKEN.finditer(template))
    if "".join(m.group(0) for m in matches) != "".join(template.split()):
        raise ValueError(f"template {template!r} holds characters outside the template syntax")
    pos = 0

    def fail(why: str) -> ValueError:
        return ValueError(f"template {template!r}: {why}")

    def sequence(closers: str) -> _Seq:
        nonlocal pos
        items: list[_Node] = []
        while pos < len(matches) and matches[pos].group(0) not in closers:
            match = matches[pos]
            token = match.group(0)
            pos += 1
            if token == "(":
                options = [sequence("|)")]
                while pos < len(matches) and matches[pos].group(0) == "|":
                    pos += 1
                    options.append(sequence("|)"))
                if pos >= len(matches) or matches[pos].group(0) != ")":
                    raise fail("unclosed '('")
                pos += 1
                items.append(_Choice(tuple(options)))
            elif token == "[":
                body = sequence("]")
                if pos >= len(matches) or matches[pos].group(0) != "]":
                    raise fail("unclosed '['")
                pos += 1
                items.append(_Optional(body))
            elif token in ")]|":
                raise fail(f"unexpected {token!r}")
            elif token.startswith("{"):
                items.append(_Slot(match.group(1), match.group(2) or "", bool(match.group(3))))
            elif _WORD.fullmatch(token):
                items.append(_Word(token))
            else:
                raise fail(f"{token!r} is not a lower-case word")
        return _Seq(tuple(items))

    tree = sequence("")
    if pos != len(matches):
        raise fail(f"unexpected {matches[pos].group(0)!r}")
    return tree


class _Grammar:
    """The compiled rules of one style: ``expand(rng)`` returns the words of one sentence."""

    def __init__(self, rules: Mapping[str, Sequence[str]]) -> None:
        self._trees = {name: tuple(_parse(t) for t in templates) for name, templates in rules.items()}
        self._compiled: dict[str, _Expander] = {}
        for name, trees in self._trees.items():
            self._compiled[name] = self._compile_choice(tuple(self._compile_seq(t) for t in trees))

    # -- compilation ----------------------------------------------------------------------
    def _compile_seq(self, seq: _Seq) -> _Expander:
        parts = [self._compile_node(node) for node in seq.items]
        if len(parts) == 1:
            return parts[0]

        def expand(rng: random.Random, out: list) -> None:
            for part in parts:
                part(rng, out)
        return expand

    @staticmethod
    def _compile_choice(options: tuple[_Expander, ...]) -> _Expander:
        if len(options) == 1:
            return options[0]
        count = len(options)

        def expand(rng: random.Random, out: list) -> None:
            options[int(rng.random() * count)](rng, out)
        return expand

    def _compile_node(self, node: _Node) -> _Expander:
        if isinstance(node, _Word):
            text = node.text
            return lambda rng, out: out.append(text)
        if isinstance(node, _Choice):
            return self._compile_choice(tuple(self._compile_seq(o) for o in node.options))
        if isinstance(node, _Optional):
            body = self._compile_seq(node.body)

            def optional(rng: random.Random, out: list) -> None:
                if rng.random() < 0.5:
                    body(rng, out)
            return optional
        return self._compile_slot(node)

    def _compile_slot(self, slot: _Slot) -> _Expander:
        name, suffix = slot.name, ("'s" if slot.possessive else "")
        if name in self._trees:
            if slot.form or slot.possessive:
                raise ValueError(f"rule slot {{{name}}} takes no form or possessive")
            compiled = self._compiled
            return lambda rng, out: compiled[name](rng, out)
        if name in _NUMBER_SLOTS:
            if slot.form:
                raise ValueError(f"number slot {{{name}}} takes no form")
            draw = _NUMBER_SLOTS[name].draw
            return lambda rng, out: out.append(draw(rng) + suffix)
        if name in _LISTS or name in _CODE_LISTS:
            items = tuple(w + suffix for w in _list_items(name, slot.form))
            count = len(items)
            return lambda rng, out: out.append(items[int(rng.random() * count)])
        raise ValueError(f"unknown slot {{{name}}}: not a rule, a word list or a number slot")

    # -- use ------------------------------------------------------------------------------
    def expand(self, rng: random.Random, start: str = "S") -> list[str]:
        out: list[str] = []
        self._compiled[start](rng, out)
        words = " ".join(out).split()
        _fix_articles(words)
        return words

    def vocabulary(self, start: str = "S") -> set[str]:
        """Every word that expanding ``start`` can produce (an upper bound on what it does)."""
        words: set[str] = set()
        seen: set[str] = set()
        pending = [start]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for tree in self._trees[name]:
                self._collect(tree, words, pending)
        if words & {"a", "an"}:
            words |= {"a", "an"}
        return words

    def _collect(self, node: _Node | _Seq, words: set[str], pending: list[str]) -> None:
        if isinstance(node, _Seq):
            for item in node.items:
                self._collect(item, words, pending)
        elif isinstance(node, _Choice):
            for option in node.options:
                self._collect(option, words, pending)
        elif isinstance(node, _Optional):
            self._collect(node.body, words, pending)
        elif isinstance(node, _Word):
            words.add(node.text)
        elif node.name in self._trees:
            pending.append(node.name)
        else:
            if node.name in _NUMBER_SLOTS:
                texts: Iterable[str] = _NUMBER_SLOTS[node.name].vocabulary()
            else:
                texts = _list_items(node.name, node.form)
            for text in texts:
                *head, last = text.split()
                words.update(head)
                words.add(last)
                if node.possessive:
                    words.add(last + "'s")


#: Words that start with a vowel letter but a consonant sound, and the reverse.
_CONSONANT_SOUND = frozenset({
    "one", "once", "unicorn", "uniform", "union", "unique", "unit", "united", "universal",
    "university", "usual", "useful", "user", "used", "usb", "utility", "ukulele", "european",
    "euro", "euros", "unicycle",
})
_VOWEL_SOUND = frozenset({"hour", "hours", "hourly", "honest", "honor", "heir"})


def _fix_articles(words: list[str]) -> None:
    """Choose "a" or "an" by the sound of the next word, in place ("a apple" -> "an apple")."""
    for i in range(len(words) - 1):
        if words[i] in ("a", "an"):
            following = words[i + 1]
            vowel = following[0] in "aeiou" and following not in _CONSONANT_SOUND
            words[i] = "an" if vowel or following in _VOWEL_SOUND else "a"


@functools.lru_cache(maxsize=None)
def _grammar(style: str) -> _Grammar:
    return _Grammar({**_COMMON, **_STYLE_RULES[style]})


def _check_style(style: str) -> str:
    if style not in TEXT_STYLES:
        raise ValueError(f"unknown text style {style!r}; valid styles are {', '.join(TEXT_STYLES)}")
    return style


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

class SentenceGenerator:
    """Seeded source of normalised sentences in one text style.

    The same ``(style, seed)`` always gives the same sequence of sentences, on any machine.

    Args:
        style: one of :data:`TEXT_STYLES`.
        seed: seed of the generator's private ``random.Random``.

    Raises:
        ValueError: ``style`` is not one of :data:`TEXT_STYLES`.

    Example:
        >>> gen = SentenceGenerator("command", seed=3)
        >>> len(gen.sentences(5))
        5
    """

    def __init__(self, style: str = "read", seed: int = 0) -> None:
        self.style = _check_style(style)
        self.seed = seed
        self._rng = random.Random(seed)
        self._grammar = _grammar(style)

    def __repr__(self) -> str:
        return f"SentenceGenerator(style={self.style!r}, seed={self.seed!r})"

    def sentence(self) -> str:
        """One sentence of :data:`MIN_WORDS` to :data:`MAX_WORDS` words (mostly 4 to 16)."""
        while True:
            words = self._grammar.expand(self._rng)
            if MIN_WORDS <= len(words) <= MAX_WORDS:
                return " ".join(words)

    def sentences(self, n: int) -> list[str]:
        """The next ``n`` sentences.

        Raises:
            ValueError: ``n`` is negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return [self.sentence() for _ in range(n)]


def generate_sentences(n: int, style: str = "read", seed: int = 0) -> list[str]:
    """``n`` sentences of ``style`` from a fresh :class:`SentenceGenerator` seeded with ``seed``."""
    return SentenceGenerator(style, seed).sentences(n)


def reachable_vocabulary(style: str | None = None) -> set[str]:
    """The words the generator can emit for ``style`` (all styles when ``None``).

    It is computed from the grammar, the word lists and the number spellers, so it is a
    superset of the words in any generated sample.

    Raises:
        ValueError: ``style`` is not one of :data:`TEXT_STYLES`.
    """
    styles = TEXT_STYLES if style is None else (_check_style(style),)
    words: set[str] = set()
    for name in styles:
        words |= _grammar(name).vocabulary()
    return words


__all__ = [
    "MAX_WORDS", "MIN_WORDS", "MONTHS", "TEXT_STYLES", "TIME_STYLES", "WEEKDAYS",
    "SentenceGenerator", "generate_sentences", "pluralize", "reachable_vocabulary",
    "spell_date", "spell_digits", "spell_number", "spell_ordinal", "spell_time", "spell_year",
    "wordlist_files",
]

"""Numbers, times and dates in Spanish and German words, for the target-language corpora.

The English spellers live in :mod:`asrlab.corpus.textgen`; these write what a Spanish or German
speaker says, with the agreement a sentence needs: Spanish numbers take the gender of the noun
they count (``veintiún libros``, ``veintiuna casas``, ``doscientas personas``), German ones are
written as one word up to a million (``einundzwanzig``, ``zweihundertfünfzig``). Output is
ordinary text with accents (``dieciséis``, ``dreißig``), as the generators write it; the corpus
builder normalises it with the language's vocabulary.

>>> spell_number_es(21), spell_number_es(21, gender="m"), spell_number_es(21, gender="f")
('veintiuno', 'veintiún', 'veintiuna')
>>> spell_number_de(1234)
'tausendzweihundertvierunddreißig'
>>> spell_time_de(20, 30, style="spoken")
'halb neun'
"""
from __future__ import annotations

from typing import Literal

Gender = Literal["m", "f"]
_MAX = 10**9 - 1


def _check(n: object, low: int = 0, high: int = _MAX, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if not low <= n <= high:
        raise ValueError(f"{what} must lie in {low}..{high}, got {n}")
    return n


# --------------------------------------------------------------------------- Spanish
_ES_UNITS = (
    "cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez",
    "once", "doce", "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho",
    "diecinueve", "veinte", "veintiuno", "veintidós", "veintitrés", "veinticuatro", "veinticinco",
    "veintiséis", "veintisiete", "veintiocho", "veintinueve",
)
_ES_TENS = ("", "", "", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa")
_ES_HUNDREDS = ("", "ciento", "doscientos", "trescientos", "cuatrocientos", "quinientos",
                "seiscientos", "setecientos", "ochocientos", "novecientos")
ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre")
ES_WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def _es_one(word: str, gender: Gender | None) -> str:
    """Agree a number word ending in "uno" with what it counts (uno/un/una, veintiuno/veintiún)."""
    if gender is None or not word.endswith("uno"):
        return word
    if gender == "f":
        return word[:-1] + "a"
    return "veintiún" if word == "veintiuno" else word[:-1]


def _es_below_thousand(n: int, gender: Gender | None) -> list[str]:
    if n == 100:
        return ["cien"]
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        word = _ES_HUNDREDS[hundreds]
        words.append(word[:-2] + "as" if gender == "f" and hundreds > 1 else word)
    if rest >= 30:
        words.append(_ES_TENS[rest // 10])
        if rest % 10:
            words += ["y", _es_one(_ES_UNITS[rest % 10], gender)]
    elif rest:
        words.append(_es_one(_ES_UNITS[rest], gender))
    return words


def spell_number_es(n: int, gender: Gender | None = None) -> str:
    """A whole number in Spanish words.

    Args:
        n: 0 to 999 999 999.
        gender: ``None`` for the number said alone (``"veintiuno"``); ``"m"`` or ``"f"`` for a
            number before a masculine or feminine noun (``"veintiún"``, ``"veintiuna"``;
            ``"doscientas"``). Thousands stay masculine before ``mil`` (``"veintiún mil"``).

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative or has more than nine digits, or ``gender`` is not m/f/None.
    """
    _check(n)
    if gender not in (None, "m", "f"):
        raise ValueError(f"gender must be 'm', 'f' or None, got {gender!r}")
    if n == 0:
        return "cero"
    words: list[str] = []
    millions, rest = divmod(n, 10**6)
    if millions:
        words += ["un", "millón"] if millions == 1 else _es_below_thousand(millions, "m") + ["millones"]
    thousands, rest = divmod(rest, 1000)
    if thousands:
        words += ["mil"] if thousands == 1 else _es_below_thousand(thousands, gender or "m") + ["mil"]
    if rest:
        words += _es_below_thousand(rest, gender)
    return " ".join(words)


def spell_digits_es(digits: str) -> str:
    """Read digits one at a time, as phone numbers are: ``"602"`` -> ``"seis cero dos"``."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"spell_digits_es needs a non-empty string of digits 0-9, got {digits!r}")
    return " ".join(_ES_UNITS[int(d)] for d in digits)


def spell_time_es(hour: int, minute: int, *, period: bool = False) -> str:
    """A time of day as said in Spanish, article included: ``(14, 15)`` -> ``"las dos y cuarto"``.

    Minutes past the half count down to the next hour (``"las cuatro menos diez"``), 1 o'clock is
    ``"la una"``. With ``period`` the part of the day follows (``"de la tarde"``).

    Raises:
        ValueError: no such time of day.
    """
    _check(hour, 0, 23, "hour")
    _check(minute, 0, 59, "minute")
    shown = hour if minute <= 30 else hour + 1
    h12 = shown % 12 or 12
    text = "la una" if h12 == 1 else f"las {_ES_UNITS[h12]}"
    if minute == 15:
        text += " y cuarto"
    elif minute == 30:
        text += " y media"
    elif minute == 45:
        text += " menos cuarto"
    elif 0 < minute < 30:
        text += f" y {spell_number_es(minute)}"
    elif minute > 30:
        text += f" menos {spell_number_es(60 - minute)}"
    if period:
        part = shown % 24
        text += (" de la madrugada" if part < 6 else " de la mañana" if part < 12 else
                 " de la tarde" if part < 20 else " de la noche")
    return text


def spell_date_es(month: int, day: int, year: int | None = None) -> str:
    """A date in Spanish: ``(5, 3)`` -> ``"el tres de mayo"``, the first as ``"el primero"``."""
    _check(month, 1, 12, "month")
    _check(day, 1, 31, "day")
    text = f"el {'primero' if day == 1 else spell_number_es(day)} de {ES_MONTHS[month - 1]}"
    return text if year is None else f"{text} de {spell_number_es(_check(year, 1, 9999, 'year'))}"


# --------------------------------------------------------------------------- German
_DE_UNITS = (
    "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
    "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn", "neunzehn",
)
_DE_TENS = ("", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig")
DE_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
             "Oktober", "November", "Dezember")
DE_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def _de_below_hundred(n: int, final: bool) -> str:
    if n < 20:
        return "ein" if n == 1 and not final else _DE_UNITS[n]
    tens, unit = divmod(n, 10)
    if not unit:
        return _DE_TENS[tens]
    return ("ein" if unit == 1 else _DE_UNITS[unit]) + "und" + _DE_TENS[tens]


def _de_below_thousand(n: int, final: bool) -> str:
    hundreds, rest = divmod(n, 100)
    head = "" if not hundreds else ("hundert" if hundreds == 1 else _DE_UNITS[hundreds] + "hundert")
    return head + (_de_below_hundred(rest, final) if rest else "")


def spell_number_de(n: int) -> str:
    """A whole number in German words, as one word below a million.

    ``1 -> "eins"``, ``21 -> "einundzwanzig"``, ``101 -> "hunderteins"``, ``1000 -> "tausend"``,
    ``2000000 -> "zwei Millionen"``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative or has more than nine digits.
    """
    _check(n)
    if n == 0:
        return "null"
    parts: list[str] = []
    millions, rest = divmod(n, 10**6)
    if millions:
        parts += ["eine Million"] if millions == 1 else [_de_below_thousand(millions, True) + " Millionen"]
    thousands, rest = divmod(rest, 1000)
    word = ""
    if thousands:
        word = ("" if thousands == 1 else _de_below_thousand(thousands, False)) + "tausend"
    if rest:
        word += _de_below_thousand(rest, True)
    if word:
        parts.append(word)
    return " ".join(parts)


def spell_ordinal_de(n: int, ending: str = "en") -> str:
    """A German ordinal with an adjective ending: ``(3) -> "dritten"``, ``(20, "e") -> "zwanzigste"``.

    Args:
        n: 1 to 999 999.
        ending: the adjective ending (``"en"`` after ``am``/``den``, ``"e"`` after ``der``).
    """
    _check(n, 1, 999_999)
    word = spell_number_de(n)
    irregular = {"eins": "erst", "drei": "dritt", "sieben": "siebt", "acht": "acht"}
    for cardinal, stem in irregular.items():
        if n % 100 < 20 and word.endswith(cardinal):
            return word[: -len(cardinal)] + stem + ending
    return word + ("t" if n % 100 < 20 and n % 100 else "st") + ending


def spell_year_de(year: int) -> str:
    """A year as German speakers say it: ``1999 -> "neunzehnhundertneunundneunzig"``,
    ``2024 -> "zweitausendvierundzwanzig"``."""
    _check(year, 1, 9999, "year")
    if 1100 <= year <= 1999:
        high, low = divmod(year, 100)
        return _DE_UNITS[high] + "hundert" + (_de_below_hundred(low, True) if low else "")
    return spell_number_de(year)


def spell_digits_de(digits: str) -> str:
    """Read digits one at a time: ``"602"`` -> ``"sechs null zwei"``."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"spell_digits_de needs a non-empty string of digits 0-9, got {digits!r}")
    return " ".join(_DE_UNITS[int(d)] for d in digits)


def spell_time_de(hour: int, minute: int, *, style: Literal["clock", "spoken"] = "clock") -> str:
    """A time of day in German.

    ``style="clock"``: the 24-hour reading, ``(20, 15) -> "zwanzig Uhr fünfzehn"``;
    ``style="spoken"``: the everyday one on a 12-hour clock, ``(20, 30) -> "halb neun"``,
    ``(8, 15) -> "Viertel nach acht"``, ``(8, 45) -> "Viertel vor neun"``, ``(8, 0) -> "acht Uhr"``.

    Raises:
        ValueError: no such time of day.
    """
    _check(hour, 0, 23, "hour")
    _check(minute, 0, 59, "minute")
    if style == "clock":
        text = f"{'ein' if hour == 1 else _de_below_hundred(hour, True)} Uhr"
        return text + (f" {_de_below_hundred(minute, True)}" if minute else "")
    if style != "spoken":
        raise ValueError(f"style must be 'clock' or 'spoken', got {style!r}")
    h12 = hour % 12 or 12
    nxt = (hour + 1) % 12 or 12
    if minute == 0:
        return f"{'ein' if h12 == 1 else _DE_UNITS[h12]} Uhr"
    if minute == 15:
        return f"Viertel nach {_DE_UNITS[h12]}"
    if minute == 30:
        return f"halb {_DE_UNITS[nxt]}"
    if minute == 45:
        return f"Viertel vor {_DE_UNITS[nxt]}"
    if minute < 30:
        return f"{_de_below_hundred(minute, True)} nach {_DE_UNITS[h12]}"
    return f"{_de_below_hundred(60 - minute, True)} vor {_DE_UNITS[nxt]}"


def spell_date_de(month: int, day: int, year: int | None = None) -> str:
    """A date after ``am``: ``(5, 3) -> "dritten Mai"`` (say ``am dritten Mai``)."""
    _check(month, 1, 12, "month")
    _check(day, 1, 31, "day")
    text = f"{spell_ordinal_de(day)} {DE_MONTHS[month - 1]}"
    return text if year is None else f"{text} {spell_year_de(year)}"


__all__ = [
    "DE_MONTHS", "DE_WEEKDAYS", "ES_MONTHS", "ES_WEEKDAYS",
    "spell_date_de", "spell_date_es", "spell_digits_de", "spell_digits_es", "spell_number_de",
    "spell_number_es", "spell_ordinal_de", "spell_time_de", "spell_time_es", "spell_year_de",
]

"""Spanish and German corpus text: asrlab.corpus.langtext and asrlab.corpus.spelling."""
from __future__ import annotations

import pytest

from asrlab.corpus import langtext
from asrlab.corpus.langtext import LanguageSentenceGenerator, sentence_generator
from asrlab.corpus.spelling import (
    spell_date_de,
    spell_date_es,
    spell_digits_es,
    spell_number_de,
    spell_number_es,
    spell_ordinal_de,
    spell_time_de,
    spell_time_es,
    spell_year_de,
)
from asrlab.corpus.textgen import SentenceGenerator
from asrlab.text import CharVocabulary

LANGUAGES = ("es", "de")
N = 3000


@pytest.fixture(scope="module", params=LANGUAGES)
def sample(request) -> tuple[str, list[str]]:
    return request.param, LanguageSentenceGenerator(request.param, seed=11).sentences(N)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_same_seed_gives_the_same_sentences_and_another_seed_others(language: str) -> None:
    first = LanguageSentenceGenerator(language, seed=4).sentences(50)
    assert first == LanguageSentenceGenerator(language, seed=4).sentences(50)
    assert first != LanguageSentenceGenerator(language, seed=5).sentences(50)


def test_every_sentence_normalises_into_its_language_vocabulary(sample) -> None:
    language, sentences = sample
    vocab = CharVocabulary.for_language(language)
    for text in sentences:
        label = vocab.normalize(text)
        vocab.encode(label, source=text)  # raises on a character outside the vocabulary
        assert langtext.MIN_WORDS <= len(label.split()) <= langtext.MAX_WORDS, text
        assert not any(ch.isdigit() for ch in text), text


def test_sentences_are_raw_text_with_capitals_punctuation_and_the_language_letters(sample) -> None:
    language, sentences = sample
    assert all(s[0].isupper() or s[0] in "¿¡" for s in sentences)
    assert all(s[-1] in ".?!" for s in sentences)
    assert any(s.endswith("?") for s in sentences)
    letters = set(CharVocabulary.for_language(language).letters)
    used = {ch for s in sentences for ch in s.lower() if ch in letters}
    assert used == letters  # every letter of the alphabet beyond a-z occurs (ñ, ü, ß...)


def test_the_vocabulary_is_varied(sample) -> None:
    language, sentences = sample
    vocab = CharVocabulary.for_language(language)
    words = {w for s in sentences for w in vocab.normalize(s).split()}
    assert len(words) >= 300
    assert len(set(sentences)) >= 0.95 * len(sentences)


def test_numbers_are_spelled_out_in_the_language(sample) -> None:
    language, sentences = sample
    text = " ".join(sentences).lower()
    numbers = {"es": ("veinte", "cien", "mil", "treinta y"), "de": ("zwanzig", "hundert", "tausend", "und")}
    assert all(word in text for word in numbers[language])


def test_spanish_agreement() -> None:
    gen = LanguageSentenceGenerator("es", seed=2)
    text = " ".join(gen.sentences(2000))
    for wrong in (" a el ", " de el ", "la libro", "el mesa", "los mesas", "las libros", "una libro", "un mesa"):
        assert wrong not in f" {text} ", wrong
    assert " al " in text and " del " in text


def test_german_articles_follow_case_and_gender() -> None:
    text = " ".join(LanguageSentenceGenerator("de", seed=2).sentences(2000))
    for wrong in ("der Tasse", "die Tisch", "das Stuhl", "einen Tasse", "in dem ", "zu dem ", "den Löwe "):
        assert wrong not in text, wrong
    assert " im " in text and " in der " in text


@pytest.mark.parametrize("n, alone, masculine, feminine", [
    (1, "uno", "un", "una"),
    (16, "dieciséis", "dieciséis", "dieciséis"),
    (21, "veintiuno", "veintiún", "veintiuna"),
    (31, "treinta y uno", "treinta y un", "treinta y una"),
    (100, "cien", "cien", "cien"),
    (101, "ciento uno", "ciento un", "ciento una"),
    (250, "doscientos cincuenta", "doscientos cincuenta", "doscientas cincuenta"),
    (21000, "veintiún mil", "veintiún mil", "veintiuna mil"),
    (1_500_000, "un millón quinientos mil", "un millón quinientos mil", "un millón quinientas mil"),
])
def test_spanish_numbers(n: int, alone: str, masculine: str, feminine: str) -> None:
    assert (spell_number_es(n), spell_number_es(n, "m"), spell_number_es(n, "f")) == (alone, masculine, feminine)


@pytest.mark.parametrize("n, words", [
    (0, "null"), (1, "eins"), (17, "siebzehn"), (21, "einundzwanzig"), (30, "dreißig"), (101, "hunderteins"),
    (999, "neunhundertneunundneunzig"), (1000, "tausend"), (21_300, "einundzwanzigtausenddreihundert"),
    (2_000_001, "zwei Millionen eins"),
])
def test_german_numbers(n: int, words: str) -> None:
    assert spell_number_de(n) == words


def test_times_dates_and_ordinals() -> None:
    assert spell_time_es(13, 0) == "la una"
    assert spell_time_es(14, 15) == "las dos y cuarto"
    assert spell_time_es(15, 40, period=True) == "las cuatro menos veinte de la tarde"
    assert spell_time_de(20, 30, style="spoken") == "halb neun"
    assert spell_time_de(8, 45, style="spoken") == "Viertel vor neun"
    assert spell_time_de(1, 5) == "ein Uhr fünf"
    assert [spell_ordinal_de(n) for n in (1, 3, 7, 8, 19, 20, 21)] == [
        "ersten", "dritten", "siebten", "achten", "neunzehnten", "zwanzigsten", "einundzwanzigsten"]
    assert spell_date_de(3, 21, 1999) == "einundzwanzigsten März neunzehnhundertneunundneunzig"
    assert spell_year_de(2024) == "zweitausendvierundzwanzig"
    assert spell_date_es(1, 1, 2024) == "el primero de enero de dos mil veinticuatro"
    assert spell_digits_es("602") == "seis cero dos"
    with pytest.raises(ValueError, match="hour"):
        spell_time_es(24, 0)
    with pytest.raises(TypeError):
        spell_number_es(2.0)  # type: ignore[arg-type]


def test_english_goes_to_the_english_generator_unchanged() -> None:
    english = sentence_generator("en", "read", seed=3)
    assert isinstance(english, SentenceGenerator)
    assert english.sentences(5) == SentenceGenerator("read", seed=3).sentences(5)


def test_unknown_language_or_style_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="es, de"):
        LanguageSentenceGenerator("xx")
    with pytest.raises(ValueError, match="style"):
        LanguageSentenceGenerator("es", style="command")


def test_a_malformed_word_list_line_is_named() -> None:
    langtext._rows.cache_clear()
    with pytest.raises(ValueError, match=r"wordlists/es/verbs_thing.txt:2: .*needs 5 .*columns"):
        langtext._rows("es", "verbs_thing.txt", (5,))
    langtext._rows.cache_clear()

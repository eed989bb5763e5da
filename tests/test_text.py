"""Text normalisation and the CTC character vocabulary."""
from __future__ import annotations

import pytest
import torch

from asrlab.errors import AsrlabError, TranscriptError
from asrlab.text import BLANK, CharVocabulary, normalize_text


@pytest.mark.parametrize("raw, expected", [
    ("HELLO World", "hello world"),
    ("Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m", "cafe naive resume angstrom"),
    ("well-known co\u2013op \u2014 end_of/line", "well known co op end of line"),
    ("Hello, world! How are you? (fine); yes: no.", "hello world how are you fine yes no"),
    ("\u201cquoted\u201d and \"double\"", "quoted and double"),
    ("  lots \t of\n  space  ", "lots of space"),
])
def test_normalize_case_accents_dashes_punctuation(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("Don\u2019t stop", "don't stop"),          # typographic apostrophe becomes '
    ("it's John's", "it's john's"),             # contractions and possessives keep it
    ("'Caf\u00e9' time", "cafe time"),          # single quotes around a word are dropped
    ("rock 'n' roll", "rock n roll"),
    ("the students' books", "the students books"),
    ("\u2018hello\u2019", "hello"),
])
def test_normalize_quotes_versus_contractions(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_keeps_digits_and_symbols_for_the_vocabulary_to_reject():
    assert normalize_text("Room 101 & co") == "room 101 & co"


def test_normalize_docstring_example():
    assert normalize_text("Don\u2019t  stop -- it's 'Caf\u00e9' time!") == "don't stop it's cafe time"


def test_vocabulary_layout():
    vocab = CharVocabulary()
    assert len(vocab) == 29
    assert vocab.blank == 0 and vocab.symbols[0] == BLANK
    assert vocab.symbols[1] == " " and vocab.symbols[-1] == "'"
    assert vocab.encode("a") == [2] and vocab.encode("z") == [27]


def test_encode_decode_round_trip():
    vocab = CharVocabulary()
    text = normalize_text("Don't open the window, it's cold!")
    ids = vocab.encode(text)
    assert 0 not in ids
    assert vocab.decode(ids) == text
    tensor = vocab.encode_tensor(text)
    assert tensor.dtype == torch.long and tensor.tolist() == ids


def test_decode_skips_blanks_without_collapsing():
    vocab = CharVocabulary()
    a, b = vocab.encode("a")[0], vocab.encode("b")[0]
    assert vocab.decode([0, a, a, 0, b, 0]) == "aab"


def test_unknown_characters_named_with_source():
    vocab = CharVocabulary()
    with pytest.raises(TranscriptError) as info:
        vocab.encode("room 101", source="train.jsonl:7")
    message = str(info.value)
    assert "train.jsonl:7" in message
    assert "'0'" in message and "'1'" in message
    assert "room 101" in message
    assert vocab.unknown_characters("b\u00e9 2 a1") == ["1", "2", "\u00e9"]


def test_empty_transcript_is_an_error_naming_the_source():
    vocab = CharVocabulary()
    for text in ("", "   "):
        with pytest.raises(TranscriptError, match=r"empty transcript in dev.jsonl:3"):
            vocab.encode(text, source="dev.jsonl:3")


def test_transcript_error_is_a_value_error_and_asrlab_error():
    with pytest.raises(ValueError):
        CharVocabulary().encode("")
    assert issubclass(TranscriptError, AsrlabError)


def test_vocabulary_validation_and_serialisation():
    with pytest.raises(ValueError, match="blank"):
        CharVocabulary(("a", BLANK))
    with pytest.raises(ValueError, match="unique"):
        CharVocabulary((BLANK, "a", "a"))
    custom = CharVocabulary((BLANK, "x", "y"))
    assert CharVocabulary.from_dict(custom.to_dict()) == custom
    assert custom.encode("yx") == [2, 1]


def test_language_vocabulary_keeps_its_letters_and_folds_others():
    from asrlab.text import CharVocabulary, normalize_text
    spanish = CharVocabulary.for_language("es")
    assert spanish.symbols[:29] == CharVocabulary().symbols  # English rows keep their indices
    assert spanish.letters == "áéíóúüñ"
    assert spanish.normalize("¿Qué tal, Señor Müller? Crème.") == "qué tal señor müller creme"
    assert spanish.encode(spanish.normalize("Año")) == [spanish.symbols.index(c) for c in "año"]
    assert normalize_text("Año Straße") == "ano straße"  # English folds ñ; ß has no fold
    with pytest.raises(TranscriptError, match="ß"):
        CharVocabulary().encode(normalize_text("straße"))
    german = CharVocabulary.for_language("de-DE")
    assert german.normalize("„Grüße“ aus Köln") == "grüße aus köln"
    with pytest.raises(ValueError, match="LANGUAGE_LETTERS"):
        CharVocabulary.for_language("xx")

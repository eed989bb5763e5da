"""Seeded generators of Spanish and German sentences for the target-language corpora.

The English corpus text comes from :mod:`asrlab.corpus.textgen`; these generators write the
same kind of everyday read speech in another language, for the cross-lingual transfer chapter.
Unlike the English generator they write **raw text** as a book would print it: capitals,
accents, ``¿...?`` and commas (``"¿Dónde está la llave de Carmen?"``, ``"Meine Schwester hat
gestern einen neuen Tisch gekauft."``). espeak-ng reads the punctuation (a question rises);
the corpus builder stores ``CharVocabulary.for_language(lang).normalize(text)`` as the label.

Grammar is handled simply but correctly: nouns carry their gender (``m|mesa`` is wrong,
``f|mesa`` right) and plural, determiners and adjectives agree with them (``las mesas
nuevas``; German articles and adjective endings by case, ``mit dem neuen Auto``), verbs are
listed with the forms the templates use, and numbers agree with what they count
(:mod:`asrlab.corpus.spelling`). Word lists live in ``wordlists/<language>/`` (one entry a
line, ``|`` between columns, ``#`` starts a comment line; the first comment of each file names
its columns).

Generation draws only from a private ``random.Random(seed)`` through ``Random.random()``, so a
(language, style, seed) triple gives the same sentences on every machine.

>>> gen = LanguageSentenceGenerator("es", seed=1)
>>> len(gen.sentences(3))
3
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from importlib import resources
from typing import Callable, Sequence

from asrlab.corpus import spelling as sp
from asrlab.text import normalize_text

#: Languages with a generator, and the text styles each has (English: :mod:`asrlab.corpus.textgen`).
LANGUAGE_STYLES: dict[str, tuple[str, ...]] = {"es": ("read",), "de": ("read",)}
#: Bumped whenever a generator's output changes, so corpora built with the old text are rebuilt.
TEXT_VERSION = 1
MIN_WORDS = 2
MAX_WORDS = 20


# --------------------------------------------------------------------------- word lists
@dataclass(frozen=True)
class Noun:
    """A noun with its gender (``m``, ``f``, German also ``n``) and plural (None: uncountable).

    ``oblique`` is the German accusative/dative singular where it differs (``den Löwen``).
    """

    gender: str
    singular: str
    plural: str | None
    oblique: str = ""


@functools.lru_cache(maxsize=None)
def _rows(language: str, filename: str, columns: tuple[int, ...]) -> tuple[tuple[str, ...], ...]:
    """The ``|``-separated rows of ``wordlists/<language>/<filename>``; ValueError naming the
    file and line of a row whose column count is not in ``columns``."""
    text = resources.files("asrlab.corpus").joinpath("wordlists", language, filename).read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        row = tuple(c.strip() for c in line.split("|"))
        if len(row) not in columns or not all(row):
            raise ValueError(f"wordlists/{language}/{filename}:{number}: {line!r} needs {' or '.join(map(str, columns))} "
                             "'|'-separated columns, none empty (see the comment at the top of the file)")
        rows.append(row)
    return tuple(rows)


def _nouns(language: str, filename: str) -> tuple[Noun, ...]:
    genders = ("m", "f", "n") if language == "de" else ("m", "f")
    out = []
    for row in _rows(language, filename, (3, 4)):
        if row[0] not in genders:
            raise ValueError(f"wordlists/{language}/{filename}: {row[1]!r} has gender {row[0]!r}; use one of {genders}")
        out.append(Noun(row[0], row[1], None if row[2] == "-" else row[2], row[3] if len(row) == 4 else ""))
    return tuple(out)


def _plain(language: str, filename: str) -> tuple[str, ...]:
    return tuple(row[0] for row in _rows(language, filename, (1,)))


def _gendered(language: str, filename: str) -> tuple[tuple[str, str], ...]:
    return tuple((row[0], row[1]) for row in _rows(language, filename, (2,)))


class _Draw:
    """Uniform draws from ``random.Random(seed).random()`` alone (stable across Python versions)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self._rng.random() < p

    def int(self, low: int, high: int) -> int:
        return low + int(self._rng.random() * (high - low + 1))

    def pick(self, options: Sequence):
        return options[int(self._rng.random() * len(options))]


def _finish(body: str, mark: str, opening: str = "") -> str:
    """Capitalise the first letter and add the punctuation (``opening`` for Spanish ``¿``/``¡``)."""
    body = re.sub(r"\s+", " ", body).strip()
    return opening + body[:1].upper() + body[1:] + mark


# --------------------------------------------------------------------------- Spanish
def _es_plural(word: str) -> str:
    if word[-1] in "aeiouáéó":
        return word + "s"
    if word.endswith("z"):
        return word[:-1] + "ces"
    return word + "es"


def _es_adjective(row: tuple[str, ...]) -> tuple[str, str, str, str]:
    """(m, f, m plural, f plural) of a Spanish adjective: listed, or by the regular endings."""
    if len(row) == 4:
        return row  # type: ignore[return-value]
    m = row[0]
    if m.endswith("o"):
        return m, m[:-1] + "a", m + "s", m[:-1] + "as"
    if m.endswith("or"):
        return m, m + "a", m + "es", m + "as"
    return m, m, _es_plural(m), _es_plural(m)


def _es_person(row: tuple[str, ...]) -> tuple[str, str, str, str]:
    """(m, f, m plural, f plural) of an occupation or relative."""
    return row if len(row) == 4 else (row[0], row[1], _es_plural(row[0]), _es_plural(row[1]))  # type: ignore[return-value]


_ES_ARTICLES = {
    "def": ("el", "la", "los", "las"),
    "indef": ("un", "una", "unos", "unas"),
    "este": ("este", "esta", "estos", "estas"),
    "ese": ("ese", "esa", "esos", "esas"),
    "aquel": ("aquel", "aquella", "aquellos", "aquellas"),
    "mi": ("mi", "mi", "mis", "mis"),
    "tu": ("tu", "tu", "tus", "tus"),
    "su": ("su", "su", "sus", "sus"),
    "nuestro": ("nuestro", "nuestra", "nuestros", "nuestras"),
}
_ES_POSSESSIVES = ("mi", "tu", "su", "nuestro")
#: Places a town does not open or build (left out of the news template).
_ES_NOT_BUILT = frozenset({"playa", "montaña", "lago", "río", "bosque", "isla", "pueblo", "barrio", "cocina", "salón",
                           "dormitorio", "garaje", "terraza", "balcón", "pasillo"})
#: What the animal template lets animals do.
_ES_ANIMAL_VERBS = frozenset({"dormir", "correr", "esperar", "jugar", "nadar", "comer", "descansar"})


def _slot(gender: str, plural: bool) -> int:
    return (2 if plural else 0) + (1 if gender == "f" else 0)


@dataclass(frozen=True)
class _Phrase:
    """A noun phrase and what agrees with it."""

    text: str
    gender: str
    plural: bool


class _Spanish:
    """The Spanish read-speech grammar."""

    language = "es"

    def __init__(self) -> None:
        lang = self.language
        self.things = _nouns(lang, "nouns_thing.txt")
        self.foods = _nouns(lang, "nouns_food.txt")
        self.countable_foods = tuple(n for n in self.foods if n.plural)
        self.places = _nouns(lang, "nouns_place.txt")
        self.buildings = tuple(n for n in self.places if n.singular not in _ES_NOT_BUILT)
        self.animals = _nouns(lang, "nouns_animal.txt")
        self.people = tuple(_es_person(r) for r in _rows(lang, "people.txt", (2, 4)))
        self.relatives = tuple(_es_person(r) for r in _rows(lang, "relatives.txt", (2, 4)))
        self.adj_thing = tuple(_es_adjective(r) for r in _rows(lang, "adjectives_thing.txt", (1, 4)))
        self.adj_food = tuple(_es_adjective(r) for r in _rows(lang, "adjectives_food.txt", (1, 4)))
        self.adj_person = tuple(_es_adjective(r) for r in _rows(lang, "adjectives_person.txt", (1, 4)))
        self.verbs = {kind: _rows(lang, f"verbs_{kind}.txt", (6,))
                      for kind in ("thing", "food", "intrans", "person", "drink")}
        self.names = _gendered(lang, "names.txt")
        self.surnames = _plain(lang, "surnames.txt")
        self.cities = _plain(lang, "cities.txt")
        self.countries = _plain(lang, "countries.txt")
        self.drinks = _plain(lang, "drinks.txt")
        self.templates: tuple[Callable[[_Draw], str], ...] = (
            self.t_past, self.t_past, self.t_present, self.t_future, self.t_intrans, self.t_intrans,
            self.t_where, self.t_describe, self.t_there_are, self.t_likes, self.t_question,
            self.t_question, self.t_time, self.t_date, self.t_price, self.t_weather, self.t_job,
            self.t_travel, self.t_two_clauses, self.t_two_clauses, self.t_phone, self.t_wish,
            self.t_news, self.t_animal, self.t_drink,
        )

    # -- phrases -------------------------------------------------------------------------
    def np(self, d: _Draw, nouns: Sequence[Noun], *, det: str | None = None, plural: bool | None = None,
           adjectives: Sequence[tuple[str, ...]] = (), adj_p: float = 0.35) -> _Phrase:
        noun = d.pick(nouns)
        plural = (d.chance(0.25) if plural is None else plural) and noun.plural is not None
        det = det or d.pick(("def", "def", "def", "indef", "poss", "este", "ese", "aquel"))
        if det == "poss":
            det = d.pick(_ES_POSSESSIVES)
        if det == "indef" and noun.plural is None:
            det = "def"
        words = [_ES_ARTICLES[det][_slot(noun.gender, plural)], noun.plural if plural else noun.singular]
        if adjectives and d.chance(adj_p):
            words.append(d.pick(adjectives)[_slot(noun.gender, plural)])
        return _Phrase(" ".join(words), noun.gender, plural)

    def person(self, d: _Draw, plural: bool | None = None) -> _Phrase:
        """A subject or object that is a person: a name, a relative, an occupation."""
        plural = d.chance(0.25) if plural is None else plural
        gender = d.pick(("m", "f"))
        if plural:
            kind = d.int(0, 2)
            if kind == 0:
                (g1, n1), (g2, n2) = d.pick(self.names), d.pick(self.names)
                if n1 == n2:
                    return self.person(d, plural=False)
                return _Phrase(f"{n1} y {n2}", "f" if g1 == g2 == "f" else "m", True)
            forms = d.pick(self.relatives if kind == 1 else self.people)
            det = d.pick(_ES_POSSESSIVES) if kind == 1 else "def"
            return _Phrase(f"{_ES_ARTICLES[det][_slot(gender, True)]} {forms[_slot(gender, True)]}", gender, True)
        kind = d.int(0, 4)
        if kind <= 1:
            gender, name = d.pick(self.names)
            return _Phrase(name if kind == 0 else f"{name} {d.pick(self.surnames)}", gender, False)
        if kind == 2:
            return _Phrase(f"{'el señor' if gender == 'm' else 'la señora'} {d.pick(self.surnames)}", gender, False)
        forms = d.pick(self.relatives if kind == 3 else self.people)
        det = d.pick(_ES_POSSESSIVES) if kind == 3 else "def"
        return _Phrase(f"{_ES_ARTICLES[det][_slot(gender, False)]} {forms[_slot(gender, False)]}", gender, False)

    def place(self, d: _Draw, prep: str = "en") -> str:
        if d.chance(0.2):
            return f"{prep} {d.pick(self.cities)}"
        phrase = self.np(d, self.places, det=d.pick(("def", "def", "def", "poss")), plural=False,
                         adjectives=self.adj_thing, adj_p=0.2).text
        if d.chance(0.2):
            phrase += f" de {d.pick(self.cities)}"
        return f"{prep} {phrase}"

    def verb_object(self, d: _Draw, form: int) -> str:
        """A verb form (column ``form`` of the verb lists) with a fitting object."""
        kind = d.pick(("thing", "thing", "food", "person"))
        verb = d.pick(self.verbs[kind])[form]
        if kind == "thing":
            obj = self.np(d, self.things, adjectives=self.adj_thing).text
        elif kind == "food":
            obj = self.np(d, self.foods, adjectives=self.adj_food).text
        else:
            obj = "a " + self.person(d).text
        return f"{verb} {obj}"

    def when_past(self, d: _Draw) -> str:
        u = d.int(0, 9)
        if u == 0:
            return f"hace {sp.spell_number_es(d.int(2, 10), 'm')} días"
        if u == 1:
            return f"el {d.pick(sp.ES_WEEKDAYS)} pasado"
        return d.pick(("ayer", "anoche", "anteayer", "la semana pasada", "el mes pasado", "el año pasado",
                       "el verano pasado", "esta mañana"))

    def when_future(self, d: _Draw) -> str:
        u = d.int(0, 9)
        if u == 0:
            return f"dentro de {sp.spell_number_es(d.int(2, 10), 'm')} días"
        if u == 1:
            return f"el {d.pick(sp.ES_WEEKDAYS)}"
        return d.pick(("mañana", "pasado mañana", "la próxima semana", "el próximo mes", "este fin de semana",
                       "esta tarde", "esta noche", "mañana por la mañana"))

    def habit(self, d: _Draw) -> str:
        if d.chance(0.2):
            day = d.pick(sp.ES_WEEKDAYS)
            return f"los {day if day.endswith('s') else day + 's'}"
        return d.pick(("todos los días", "cada mañana", "a menudo", "siempre", "a veces", "por la mañana",
                       "por la tarde", "todas las semanas", "los fines de semana"))

    def count(self, d: _Draw, gender: str) -> str:
        n = d.int(2, 30) if d.chance(0.7) else d.int(31, 999)
        return sp.spell_number_es(n, gender)

    def clause(self, d: _Draw) -> str:
        subject = self.person(d)
        tense = d.int(0, 2)
        if tense == 0:
            return f"{subject.text} {self.verb_object(d, 5 if subject.plural else 4)} {self.when_past(d)}"
        if tense == 1:
            return f"{subject.text} {self.verb_object(d, 3 if subject.plural else 2)} {self.habit(d)}"
        return f"{subject.text} {'van' if subject.plural else 'va'} a {self.verb_object(d, 0)} {self.when_future(d)}"

    # -- templates -----------------------------------------------------------------------
    def t_past(self, d: _Draw) -> str:
        subject = self.person(d)
        when = self.when_past(d)
        body = f"{subject.text} {self.verb_object(d, 5 if subject.plural else 4)}"
        return _finish(f"{when}, {body}" if d.chance(0.3) else f"{body} {when}", ".")

    def t_present(self, d: _Draw) -> str:
        subject = self.person(d)
        return _finish(f"{subject.text} {self.verb_object(d, 3 if subject.plural else 2)} {self.habit(d)}", ".")

    def t_future(self, d: _Draw) -> str:
        subject = self.person(d)
        aux = "van" if subject.plural else "va"
        return _finish(f"{subject.text} {aux} a {self.verb_object(d, 0)} {self.when_future(d)}", ".")

    def t_intrans(self, d: _Draw) -> str:
        subject = self.person(d)
        verb = d.pick(self.verbs["intrans"])
        if d.chance(0.5):
            return _finish(f"{subject.text} {verb[5 if subject.plural else 4]} {self.place(d)} {self.when_past(d)}", ".")
        return _finish(f"{subject.text} {verb[3 if subject.plural else 2]} {self.place(d)} {self.habit(d)}", ".")

    def t_where(self, d: _Draw) -> str:
        thing = self.np(d, self.things, det=d.pick(("def", "poss")), adjectives=self.adj_thing)
        spot = d.pick(("encima de la mesa", "en el armario", "debajo de la cama", "al lado de la puerta",
                       "en el cajón", "en el coche", "detrás del sofá", "en la estantería", "en la mochila"))
        if d.chance(0.5):
            return _finish(f"{thing.text} {'están' if thing.plural else 'está'} {spot}", ".")
        return _finish(f"{thing.text} {'están' if thing.plural else 'está'} {self.place(d)}", ".")

    def t_describe(self, d: _Draw) -> str:
        degree = d.pick(("muy", "bastante", "un poco", "demasiado", "realmente", ""))
        if d.chance(0.35):
            who = self.person(d)
            adj = d.pick(self.adj_person)[_slot(who.gender, who.plural)]
            verb = d.pick(("es", "parece")) if not who.plural else d.pick(("son", "parecen"))
            return _finish(f"{who.text} {verb} {degree} {adj}", ".")
        nouns, adjectives = d.pick(((self.things, self.adj_thing), (self.places, self.adj_thing),
                                    (self.foods, self.adj_food)))
        thing = self.np(d, nouns, det=d.pick(("def", "este", "ese", "poss")))
        adj = d.pick(adjectives)[_slot(thing.gender, thing.plural)]
        return _finish(f"{thing.text} {'son' if thing.plural else 'es'} {degree} {adj}", ".")

    def t_there_are(self, d: _Draw) -> str:
        nouns, adjectives = d.pick(((self.things, self.adj_thing), (self.countable_foods, self.adj_food),
                                    (self.animals, ())))
        noun = d.pick([n for n in nouns if n.plural])
        words = f"{self.count(d, noun.gender)} {noun.plural}"
        if adjectives and d.chance(0.4):
            words += " " + d.pick(adjectives)[_slot(noun.gender, True)]
        where = self.place(d)
        return _finish(f"{where}, hay {words}" if d.chance(0.3) else f"hay {words} {where}", ".")

    def t_likes(self, d: _Draw) -> str:
        thing = self.np(d, d.pick((self.things, self.foods, self.animals, self.places)), det="def")
        verb = "gustan" if thing.plural else "gusta"
        who = d.int(0, 3)
        if who == 0:
            return _finish(f"a {self.person(d, plural=False).text} le {verb} {thing.text}", ".")
        neg = "no " if d.chance(0.3) else ""
        return _finish(f"{neg}{d.pick(('me', 'te', 'nos'))} {verb} mucho {thing.text}", ".")

    def t_question(self, d: _Draw) -> str:
        kind = d.int(0, 7)
        if kind == 0:
            thing = self.np(d, self.things, det=d.pick(("def", "poss")))
            return _finish(f"dónde {'están' if thing.plural else 'está'} {thing.text}", "?", "¿")
        if kind == 1:
            thing = self.np(d, self.things, det=d.pick(("def", "este", "ese")), adjectives=self.adj_thing)
            return _finish(f"cuánto {'cuestan' if thing.plural else 'cuesta'} {thing.text}", "?", "¿")
        if kind == 2:
            place = self.np(d, self.places, det="def", plural=False)
            verb = d.pick(("abre", "cierra"))
            return _finish(f"a qué hora {verb} {place.text}", "?", "¿")
        if kind == 3:
            return _finish(f"vas a {d.pick(self.cities + self.countries)} {self.when_future(d)}", "?", "¿")
        if kind == 4:
            return _finish(f"tienes {self.np(d, self.things, det='indef', plural=False).text}", "?", "¿")
        if kind == 5:
            return _finish(f"quién {self.verb_object(d, 4)} {self.when_past(d)}", "?", "¿")
        if kind == 6:
            subject = self.person(d)
            return _finish(f"por qué {subject.text} {self.verb_object(d, 5 if subject.plural else 4)}", "?", "¿")
        subject = self.person(d)
        return _finish(f"{subject.text} {self.verb_object(d, 3 if subject.plural else 2)} {self.habit(d)}", "?", "¿")

    def t_time(self, d: _Draw) -> str:
        hour, minute = d.int(6, 22), d.pick((0, 0, 5, 10, 15, 20, 25, 30, 30, 40, 45, 50, 55, d.int(1, 59)))
        time = sp.spell_time_es(hour, minute, period=d.chance(0.3))
        kind = d.int(0, 4)
        if kind == 0:
            return _finish(f"el tren para {d.pick(self.cities)} sale a {time}", ".")
        if kind == 1:
            event = d.pick(("la reunión", "la clase", "la película", "el concierto", "el partido", "la cena"))
            return _finish(f"{event} empieza a {time}", ".")
        if kind == 2:
            return _finish(f"{'es' if time.startswith('la una') else 'son'} {time}", ".")
        if kind == 3:
            place = self.np(d, self.places, det="def", plural=False).text
            return _finish(f"nos vemos a {time} delante de {place}", ".")
        return _finish(f"{self.person(d, plural=False).text} llega {self.when_future(d)} a {time}", ".")

    def t_date(self, d: _Draw) -> str:
        month = d.int(1, 12)
        day = d.int(1, 28)
        if d.chance(0.5):
            who = self.person(d, plural=False).text
            return _finish(f"{who} nació {sp.spell_date_es(month, day, d.int(1940, 2020))}", ".")
        event = d.pick(("mi cumpleaños", "la boda", "el examen", "la fiesta", "el viaje", "la mudanza"))
        return _finish(f"{event} es {sp.spell_date_es(month, day)}", ".")

    def t_price(self, d: _Draw) -> str:
        amount = d.int(2, 99) if d.chance(0.7) else d.int(100, 2500)
        cents = d.pick((0, 0, 10, 20, 25, 50, 75, 90, d.int(1, 99)))
        price = f"{sp.spell_number_es(amount, 'm')} {d.pick(('euros', 'euros', 'dólares', 'pesos'))}"
        if cents:
            price += f" con {sp.spell_number_es(cents, 'm')} céntimos" if price.endswith("euros") else ""
        thing = self.np(d, self.things, det=d.pick(("def", "este", "ese")), adjectives=self.adj_thing)
        if d.chance(0.5):
            return _finish(f"{thing.text} {'cuestan' if thing.plural else 'cuesta'} {price}", ".")
        return _finish(f"{d.pick(('pagué', 'pagamos', 'pagaron'))} {price} por {thing.text}", ".")

    def t_weather(self, d: _Draw) -> str:
        city = d.pick(self.cities)
        kind = d.int(0, 3)
        if kind == 0:
            weather = d.pick(("calor", "frío", "sol", "viento", "buen tiempo", "mal tiempo"))
            return _finish(f"{d.pick(('hoy', 'mañana', 'esta semana'))} hace {weather} en {city}", ".")
        if kind == 1:
            return _finish(f"{self.when_future(d)} va a {d.pick(('llover', 'nevar'))} en {city}", ".")
        degrees = d.int(-5, 40)
        spelled = ("menos " if degrees < 0 else "") + sp.spell_number_es(abs(degrees), "m")
        return _finish(f"en {city} hay {spelled} {'grado' if abs(degrees) == 1 else 'grados'}", ".")

    def t_job(self, d: _Draw) -> str:
        gender, name = d.pick(self.names)
        job = d.pick(self.people)[_slot(gender, False)]
        if d.chance(0.5):
            return _finish(f"{name} es {job} y vive en {d.pick(self.cities)}", ".")
        return _finish(f"{name} trabaja de {job} {self.place(d)}", ".")

    def t_travel(self, d: _Draw) -> str:
        subject = self.person(d)
        where = d.pick(self.cities + self.countries)
        if d.chance(0.5):
            verb = d.pick(("viajaron", "volvieron", "fueron")) if subject.plural else d.pick(("viajó", "volvió", "fue"))
            return _finish(f"{subject.text} {verb} a {where} {self.when_past(d)}", ".")
        aux = "van" if subject.plural else "va"
        return _finish(f"{subject.text} {aux} a viajar a {where} {self.when_future(d)}", ".")

    def t_two_clauses(self, d: _Draw) -> str:
        join = d.pick((", pero ", " y ", " porque ", ", así que "))
        return _finish(self.clause(d) + join + self.clause(d), ".")

    def t_phone(self, d: _Draw) -> str:
        digits = "".join(str(d.int(0, 9)) for _ in range(d.int(6, 9)))
        intro = d.pick(("mi número de teléfono es", "llama al", "el número de la oficina es", "mi código es"))
        return _finish(f"{intro} {sp.spell_digits_es(digits)}", ".")

    def t_wish(self, d: _Draw) -> str:
        start = d.pick(("quiero", "necesito", "tengo que", "me gustaría", "voy a", "prefiero", "no puedo"))
        return _finish(f"{start} {self.verb_object(d, 0)} {self.when_future(d)}", ".")

    def t_news(self, d: _Draw) -> str:
        city = d.pick(self.cities)
        kind = d.int(0, 2)
        if kind == 0:
            place = self.np(d, self.buildings, det="indef", plural=False)
            new = "nuevo" if place.gender == "m" else "nueva"
            verb = d.pick(("abrirá", "abrió", "construirá", "cerró"))
            if verb.endswith("á"):
                return _finish(f"el ayuntamiento de {city} {verb} {place.text} {new} {self.when_future(d)}", ".")
            return _finish(f"el ayuntamiento de {city} {verb} {place.text} {self.when_past(d)}", ".")
        if kind == 1:
            count = sp.spell_number_es(d.int(2, 999) * d.pick((1, 10, 100)), "f")
            place = self.np(d, self.places, det="def", plural=False).text
            return _finish(f"más de {count} personas visitaron {place} de {city} {self.when_past(d)}", ".")
        percent = sp.spell_number_es(d.int(2, 60), "m")
        thing = d.pick(("el precio del pan", "el número de turistas", "el tráfico", "el precio de la vivienda"))
        return _finish(f"{thing} {d.pick(('subió', 'bajó'))} un {percent} por ciento en {city}", ".")

    def t_animal(self, d: _Draw) -> str:
        animal = self.np(d, self.animals, det=d.pick(("def", "poss", "este")))
        verb = d.pick([v for v in self.verbs["intrans"] if v[0] in _ES_ANIMAL_VERBS])
        spot = d.pick(("en el jardín", "en el sofá", "debajo de la mesa", "en el parque", "en el bosque",
                       "cerca del río", "en la granja", "todo el día"))
        return _finish(f"{animal.text} {verb[3 if animal.plural else 2]} {spot}", ".")

    def t_drink(self, d: _Draw) -> str:
        subject = self.person(d)
        verb = d.pick(self.verbs["drink"])[3 if subject.plural else 2]
        return _finish(f"{subject.text} {verb} {d.pick(self.drinks)} {self.habit(d)}", ".")

    def sentence(self, d: _Draw) -> str:
        text = d.pick(self.templates)(d)
        text = re.sub(r"\b([Aa]) el\b", r"\1l", text)        # a el -> al
        return re.sub(r"\b([Dd])e el\b", r"\1el", text)      # de el -> del


# --------------------------------------------------------------------------- German
_CASES = ("nom", "acc", "dat")
#: Definite article by case and gender/plural.
_DE_DEF = {"nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
           "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
           "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"}}
#: Endings of ein/mein/kein (plural: of mein/kein).
_DE_EIN = {"nom": {"m": "", "f": "e", "n": "", "pl": "e"},
           "acc": {"m": "en", "f": "e", "n": "", "pl": "e"},
           "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"}}
#: Endings of dieser/jeder, which are also the strong adjective endings (no article).
_DE_STRONG = {"nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
              "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
              "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"}}
#: Adjective endings after der/dieser (weak) and after ein/mein (mixed).
_DE_WEAK = {"nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
            "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
            "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"}}
_DE_MIXED = {"nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
             "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
             "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"}}
_DE_POSSESSIVES = ("mein", "dein", "sein", "ihr", "unser")
_DE_NOT_BUILT = frozenset({"Strand", "Berg", "See", "Fluss", "Wald", "Insel", "Dorf", "Viertel", "Küche", "Wohnzimmer",
                           "Schlafzimmer", "Garage", "Terrasse", "Balkon", "Flur", "Platz", "Hafen"})
_DE_ANIMAL_VERBS = frozenset({"schlafen", "laufen", "warten", "spielen", "schwimmen", "essen"})


def _de_noun_form(noun: Noun, case: str, plural: bool) -> str:
    if plural:
        word = noun.plural or noun.singular
        return word + "n" if case == "dat" and not word.endswith(("n", "s")) else word
    return noun.oblique if case != "nom" and noun.oblique else noun.singular


def _de_adjective(row: tuple[str, ...]) -> tuple[str, str]:
    """(form after ``ist``, stem for endings) of a German adjective."""
    return (row[0], row[1]) if len(row) == 2 else (row[0], row[0])


class _German:
    """The German read-speech grammar."""

    language = "de"

    def __init__(self) -> None:
        lang = self.language
        self.things = _nouns(lang, "nouns_thing.txt")
        self.foods = _nouns(lang, "nouns_food.txt")
        self.countable_foods = tuple(n for n in self.foods if n.plural)
        self.places = _nouns(lang, "nouns_place.txt")
        self.buildings = tuple(n for n in self.places if n.singular not in _DE_NOT_BUILT)
        self.animals = _nouns(lang, "nouns_animal.txt")
        self.relatives = _nouns(lang, "relatives.txt")
        self.people = _rows(lang, "people.txt", (2,))
        self.adj_thing = tuple(_de_adjective(r) for r in _rows(lang, "adjectives_thing.txt", (1, 2)))
        self.adj_food = tuple(_de_adjective(r) for r in _rows(lang, "adjectives_food.txt", (1, 2)))
        self.adj_person = tuple(_de_adjective(r) for r in _rows(lang, "adjectives_person.txt", (1, 2)))
        self.verbs = {kind: _rows(lang, f"verbs_{kind}.txt", (5,))
                      for kind in ("thing", "food", "intrans", "person", "drink")}
        self.names = _gendered(lang, "names.txt")
        self.surnames = _plain(lang, "surnames.txt")
        self.cities = _plain(lang, "cities.txt")
        self.countries = _plain(lang, "countries.txt")
        self.drinks = _plain(lang, "drinks.txt")
        self.templates: tuple[Callable[[_Draw], str], ...] = (
            self.t_perfect, self.t_perfect, self.t_present, self.t_future, self.t_intrans, self.t_intrans,
            self.t_where, self.t_describe, self.t_there_are, self.t_likes, self.t_question,
            self.t_question, self.t_time, self.t_date, self.t_price, self.t_weather, self.t_job,
            self.t_travel, self.t_two_clauses, self.t_two_clauses, self.t_phone, self.t_wish,
            self.t_news, self.t_animal, self.t_drink,
        )

    # -- phrases -------------------------------------------------------------------------
    def np(self, d: _Draw, nouns: Sequence[Noun], case: str, *, det: str | None = None,
           plural: bool | None = None, adjectives: Sequence[tuple[str, str]] = (), adj_p: float = 0.35) -> _Phrase:
        noun = d.pick(nouns)
        plural = (d.chance(0.2) if plural is None else plural) and noun.plural is not None
        key = "pl" if plural else noun.gender
        det = det or d.pick(("def", "def", "def", "ein", "poss", "dies"))
        if det == "ein" and (plural or noun.plural is None):
            det = "def"
        if det == "def":
            article, endings = _DE_DEF[case][key], _DE_WEAK
        elif det == "dies":
            article, endings = "dies" + _DE_STRONG[case][key], _DE_WEAK
        elif det == "none":
            article, endings = "", _DE_STRONG
        else:
            stem = "ein" if det == "ein" else (d.pick(_DE_POSSESSIVES) if det == "poss" else det)
            article, endings = stem + _DE_EIN[case][key], _DE_MIXED
        words = [article]
        if adjectives and d.chance(adj_p):
            words.append(d.pick(adjectives)[1] + endings[case][key])
        words.append(_de_noun_form(noun, case, plural))
        return _Phrase(" ".join(w for w in words if w), noun.gender, plural)

    def person(self, d: _Draw, case: str = "nom", plural: bool | None = None) -> _Phrase:
        """A person: a name, Herr/Frau with a surname, a relative, an occupation."""
        plural = d.chance(0.2) if plural is None else plural
        if plural:
            if d.chance(0.4):
                (_, n1), (_, n2) = d.pick(self.names), d.pick(self.names)
                if n1 != n2:
                    return _Phrase(f"{n1} und {n2}", "m", True)
            return self.np(d, self.relatives, case, det=d.pick(("poss", "poss", "def")), plural=True)
        kind = d.int(0, 4)
        if kind <= 1:
            gender, name = d.pick(self.names)
            return _Phrase(name if kind == 0 else f"{name} {d.pick(self.surnames)}", gender, False)
        if kind == 2:
            gender = d.pick(("m", "f"))
            title = "Frau" if gender == "f" else ("Herr" if case == "nom" else "Herrn")
            return _Phrase(f"{title} {d.pick(self.surnames)}", gender, False)
        return self.np(d, self.relatives, case, det=d.pick(("poss", "poss", "def")), plural=False)

    def place(self, d: _Draw) -> str:
        """Where something happens: ``im Park``, ``in der neuen Bibliothek``, ``in Berlin``."""
        if d.chance(0.2):
            return f"in {d.pick(self.cities)}"
        noun = d.pick(self.places)
        adj = d.pick(self.adj_thing)[1] + "en " if d.chance(0.2) else ""
        if d.chance(0.2):
            return f"in {d.pick(_DE_POSSESSIVES)}{_DE_EIN['dat'][noun.gender]} {adj}{noun.singular}"
        return f"{'in der' if noun.gender == 'f' else 'im'} {adj}{noun.singular}"

    def object(self, d: _Draw, kind: str) -> str:
        if kind == "thing":
            return self.np(d, self.things, "acc", adjectives=self.adj_thing).text
        if kind == "food":
            return self.np(d, self.foods, "acc", adjectives=self.adj_food).text
        return self.person(d, "acc").text

    def verb_object(self, d: _Draw) -> tuple[tuple[str, ...], str]:
        kind = d.pick(("thing", "thing", "food", "person"))
        return d.pick(self.verbs[kind]), self.object(d, kind)

    def when_past(self, d: _Draw) -> str:
        u = d.int(0, 9)
        if u == 0:
            return f"vor {spell_de_count(d.int(2, 10))} {d.pick(('Tagen', 'Wochen'))}"
        if u == 1:
            return f"am {d.pick(sp.DE_WEEKDAYS)}"
        return d.pick(("gestern", "vorgestern", "letzte Woche", "letzten Monat", "letztes Jahr", "letzten Sommer",
                       "heute Morgen", "gestern Abend"))

    def when_future(self, d: _Draw) -> str:
        u = d.int(0, 9)
        if u == 0:
            return f"in {spell_de_count(d.int(2, 10))} Tagen"
        if u == 1:
            return f"am {d.pick(sp.DE_WEEKDAYS)}"
        return d.pick(("morgen", "übermorgen", "nächste Woche", "nächsten Monat", "am Wochenende",
                       "heute Nachmittag", "heute Abend", "morgen früh"))

    def habit(self, d: _Draw) -> str:
        if d.chance(0.2):
            return d.pick(sp.DE_WEEKDAYS).lower() + "s"
        return d.pick(("jeden Tag", "jeden Morgen", "oft", "immer", "manchmal", "am Abend", "jede Woche",
                       "am Wochenende", "fast nie"))

    def clause(self, d: _Draw) -> str:
        """A main clause (verb second), in the perfect, the present or the future."""
        subject = self.person(d)
        verb, obj = self.verb_object(d)
        tense = d.int(0, 2)
        if tense == 0:
            aux = {"haben": ("hat", "haben"), "sein": ("ist", "sind")}[verb[4]][subject.plural]
            return f"{subject.text} {aux} {self.when_past(d)} {obj} {verb[3]}"
        if tense == 1:
            return f"{subject.text} {verb[0] if subject.plural else verb[2]} {self.habit(d)} {obj}"
        return f"{subject.text} {'werden' if subject.plural else 'wird'} {self.when_future(d)} {obj} {verb[0]}"

    # -- templates -----------------------------------------------------------------------
    def t_perfect(self, d: _Draw) -> str:
        subject = self.person(d)
        verb, obj = self.verb_object(d)
        aux = {"haben": ("hat", "haben"), "sein": ("ist", "sind")}[verb[4]][subject.plural]
        when = self.when_past(d)
        if d.chance(0.3):  # the time first, the subject after the verb
            return _finish(f"{when} {aux} {subject.text} {obj} {verb[3]}", ".")
        return _finish(f"{subject.text} {aux} {when} {obj} {verb[3]}", ".")

    def t_present(self, d: _Draw) -> str:
        if d.chance(0.3):
            pronoun, form = d.pick((("ich", 1), ("wir", 0)))
            verb, obj = self.verb_object(d)
            return _finish(f"{pronoun} {verb[form]} {self.habit(d)} {obj}", ".")
        return _finish(self.clause_present(d), ".")

    def clause_present(self, d: _Draw) -> str:
        subject = self.person(d)
        verb, obj = self.verb_object(d)
        return f"{subject.text} {verb[0] if subject.plural else verb[2]} {self.habit(d)} {obj}"

    def t_future(self, d: _Draw) -> str:
        subject = self.person(d)
        verb, obj = self.verb_object(d)
        return _finish(f"{subject.text} {'werden' if subject.plural else 'wird'} {self.when_future(d)} {obj} {verb[0]}", ".")

    def t_intrans(self, d: _Draw) -> str:
        subject = self.person(d)
        verb = d.pick(self.verbs["intrans"])
        if d.chance(0.5):
            aux = {"haben": ("hat", "haben"), "sein": ("ist", "sind")}[verb[4]][subject.plural]
            return _finish(f"{subject.text} {aux} {self.when_past(d)} {self.place(d)} {verb[3]}", ".")
        return _finish(f"{subject.text} {verb[0] if subject.plural else verb[2]} {self.habit(d)} {self.place(d)}", ".")

    def t_where(self, d: _Draw) -> str:
        thing = self.np(d, self.things, "nom", det=d.pick(("def", "poss")), adjectives=self.adj_thing)
        verb = ("liegen", "stehen", "sind") if thing.plural else ("liegt", "steht", "ist")
        spot = d.pick(("auf dem Tisch", "im Schrank", "unter dem Bett", "neben der Tür", "in der Schublade",
                       "im Auto", "hinter dem Sofa", "im Regal", "im Rucksack"))
        if d.chance(0.5):
            return _finish(f"{thing.text} {d.pick(verb)} {spot}", ".")
        return _finish(f"{thing.text} {verb[2]} {self.place(d)}", ".")

    def t_describe(self, d: _Draw) -> str:
        degree = d.pick(("sehr", "ziemlich", "ein bisschen", "zu", "wirklich", ""))
        if d.chance(0.35):
            who = self.person(d)
            return _finish(f"{who.text} {'sind' if who.plural else 'ist'} {degree} {d.pick(self.adj_person)[0]}", ".")
        nouns, adjectives = d.pick(((self.things, self.adj_thing), (self.places, self.adj_thing),
                                    (self.foods, self.adj_food)))
        thing = self.np(d, nouns, "nom", det=d.pick(("def", "dies", "poss")))
        return _finish(f"{thing.text} {'sind' if thing.plural else 'ist'} {degree} {d.pick(adjectives)[0]}", ".")

    def t_there_are(self, d: _Draw) -> str:
        nouns, adjectives = d.pick(((self.things, self.adj_thing), (self.countable_foods, self.adj_food),
                                    (self.animals, ())))
        noun = d.pick([n for n in nouns if n.plural])
        adj = d.pick(adjectives)[1] + "e " if adjectives and d.chance(0.4) else ""
        words = f"{spell_de_count(d.int(2, 30) if d.chance(0.7) else d.int(31, 999))} {adj}{noun.plural}"
        where = self.place(d)
        return _finish(f"{where} gibt es {words}" if d.chance(0.5) else f"es gibt {words} {where}", ".")

    def t_likes(self, d: _Draw) -> str:
        thing = self.np(d, d.pick((self.things, self.foods, self.animals, self.places)), "acc", det="def")
        if d.chance(0.5):
            who = self.person(d, plural=False)
            return _finish(f"{who.text} mag {thing.text} {d.pick(('sehr', 'nicht', 'überhaupt nicht', ''))}", ".")
        food = d.pick(self.countable_foods)
        return _finish(f"{d.pick(('ich esse', 'wir essen'))} {d.pick(('gern', 'nicht gern', 'sehr gern'))} {food.plural}", ".")

    def t_question(self, d: _Draw) -> str:
        kind = d.int(0, 7)
        if kind == 0:
            thing = self.np(d, self.things, "nom", det=d.pick(("def", "poss")))
            return _finish(f"wo {'sind' if thing.plural else 'ist'} {thing.text}", "?")
        if kind == 1:
            thing = self.np(d, self.things, "nom", det=d.pick(("def", "dies")), adjectives=self.adj_thing)
            return _finish(f"was {'kosten' if thing.plural else 'kostet'} {thing.text}", "?")
        if kind == 2:
            place = self.np(d, self.places, "nom", det="def", plural=False).text
            return _finish(f"wann {d.pick(('öffnet', 'schließt'))} {place}", "?")
        if kind == 3:
            return _finish(f"{d.pick(('fährst', 'fliegst'))} du {self.when_future(d)} nach "
                           f"{d.pick(self.cities + self.countries)}", "?")
        if kind == 4:
            return _finish(f"hast du {self.np(d, self.things, 'acc', det='ein', plural=False).text}", "?")
        if kind == 5:
            verb, obj = self.verb_object(d)
            return _finish(f"wer {'hat' if verb[4] == 'haben' else 'ist'} {self.when_past(d)} {obj} {verb[3]}", "?")
        if kind == 6:
            subject = self.person(d)
            verb, obj = self.verb_object(d)
            aux = {"haben": ("hat", "haben"), "sein": ("ist", "sind")}[verb[4]][subject.plural]
            return _finish(f"warum {aux} {subject.text} {obj} {verb[3]}", "?")
        subject = self.person(d)
        verb, obj = self.verb_object(d)
        return _finish(f"{verb[0] if subject.plural else verb[2]} {subject.text} {self.habit(d)} {obj}", "?")

    def t_time(self, d: _Draw) -> str:
        hour, minute = d.int(6, 22), d.pick((0, 0, 5, 10, 15, 20, 25, 30, 30, 40, 45, 50, 55, d.int(1, 59)))
        time = sp.spell_time_de(hour, minute, style=d.pick(("clock", "spoken")))
        kind = d.int(0, 4)
        if kind == 0:
            return _finish(f"der Zug nach {d.pick(self.cities)} fährt um {time} ab", ".")
        if kind == 1:
            event = d.pick(("das Treffen", "der Unterricht", "der Film", "das Konzert", "das Spiel", "das Essen"))
            return _finish(f"{event} beginnt um {time}", ".")
        if kind == 2:
            return _finish(f"es ist {time}", ".")
        if kind == 3:
            place = self.np(d, self.places, "dat", det="def", plural=False).text
            return _finish(f"wir treffen uns um {time} vor {place}", ".")
        return _finish(f"{self.person(d, plural=False).text} kommt {self.when_future(d)} um {time} an", ".")

    def t_date(self, d: _Draw) -> str:
        month, day = d.int(1, 12), d.int(1, 28)
        if d.chance(0.5):
            who = self.person(d, plural=False).text
            return _finish(f"{who} wurde am {sp.spell_date_de(month, day, d.int(1940, 2020))} geboren", ".")
        event = d.pick(("mein Geburtstag", "die Hochzeit", "die Prüfung", "die Party", "die Reise", "der Umzug"))
        return _finish(f"{event} ist am {sp.spell_date_de(month, day)}", ".")

    def t_price(self, d: _Draw) -> str:
        amount = d.int(2, 99) if d.chance(0.7) else d.int(100, 2500)
        cents = d.pick((0, 0, 10, 20, 25, 50, 75, 90, d.int(1, 99)))
        price = f"{spell_de_count(amount)} Euro" + (f" {sp.spell_number_de(cents)}" if cents else "")
        if d.chance(0.5):
            thing = self.np(d, self.things, "nom", det=d.pick(("def", "dies")), adjectives=self.adj_thing)
            return _finish(f"{thing.text} {'kosten' if thing.plural else 'kostet'} {price}", ".")
        thing = self.np(d, self.things, "acc", det=d.pick(("def", "dies")), adjectives=self.adj_thing)
        return _finish(f"{d.pick(('ich habe', 'wir haben', 'sie haben'))} {price} für {thing.text} bezahlt", ".")

    def t_weather(self, d: _Draw) -> str:
        city = d.pick(self.cities)
        kind = d.int(0, 3)
        if kind == 0:
            weather = d.pick(("sonnig", "warm", "kalt", "windig", "bewölkt", "neblig", "heiß"))
            return _finish(f"{d.pick(('heute', 'morgen', 'diese Woche'))} ist es in {city} {weather}", ".")
        if kind == 1:
            when, verb = d.pick(("morgen", "heute Abend", "am Wochenende")), d.pick(("regnet", "schneit"))
            return _finish(f"{when} {verb} es in {city}", ".")
        degrees = d.int(-5, 40)
        spelled = ("minus " if degrees < 0 else "") + sp.spell_number_de(abs(degrees)).replace("eins", "ein")
        return _finish(f"in {city} sind es heute {spelled} Grad", ".")

    def t_job(self, d: _Draw) -> str:
        gender, name = d.pick(self.names)
        job = d.pick(self.people)[0 if gender == "m" else 1]
        if d.chance(0.5):
            return _finish(f"{name} ist {job} und wohnt in {d.pick(self.cities)}", ".")
        return _finish(f"{name} arbeitet als {job} {self.place(d)}", ".")

    def t_travel(self, d: _Draw) -> str:
        subject = self.person(d)
        where = d.pick(self.cities + self.countries)
        if d.chance(0.5):
            aux = "sind" if subject.plural else "ist"
            when, went = self.when_past(d), d.pick(("gefahren", "geflogen", "gereist"))
            return _finish(f"{subject.text} {aux} {when} nach {where} {went}", ".")
        verb = d.pick((("fährt", "fahren"), ("fliegt", "fliegen"), ("reist", "reisen")))[subject.plural]
        return _finish(f"{subject.text} {verb} {self.when_future(d)} nach {where}", ".")

    def t_two_clauses(self, d: _Draw) -> str:
        # coordinating conjunctions keep both clauses verb-second
        join = d.pick((", aber ", " und ", ", denn ", ", oder "))
        return _finish(self.clause(d) + join + self.clause(d), ".")

    def t_phone(self, d: _Draw) -> str:
        digits = "".join(str(d.int(0, 9)) for _ in range(d.int(6, 9)))
        intro = d.pick(("meine Telefonnummer ist", "ruf bitte die", "die Nummer vom Büro ist", "mein Code ist"))
        tail = " an" if intro.startswith("ruf") else ""
        return _finish(f"{intro} {sp.spell_digits_de(digits)}{tail}", ".")

    def t_wish(self, d: _Draw) -> str:
        start = d.pick(("ich möchte", "ich muss", "ich will", "wir wollen", "wir müssen", "ich kann"))
        verb, obj = self.verb_object(d)
        return _finish(f"{start} {self.when_future(d)} {obj} {verb[0]}", ".")

    def t_news(self, d: _Draw) -> str:
        city = d.pick(self.cities)
        kind = d.int(0, 2)
        if kind == 0:
            place = self.np(d, self.buildings, "acc", det="ein", plural=False)
            new = {"m": "neuen", "f": "neue", "n": "neues"}[place.gender]
            article, noun = place.text.split(" ", 1)
            verb = d.pick(("eröffnet", "gebaut", "geschlossen"))
            return _finish(f"die Stadt {city} hat {self.when_past(d)} {article} {new} {noun} {verb}", ".")
        if kind == 1:
            count = spell_de_count(d.int(2, 999) * d.pick((1, 10, 100)))
            place = self.np(d, self.places, "acc", det="def", plural=False).text
            return _finish(f"mehr als {count} Menschen haben {self.when_past(d)} {place} in {city} besucht", ".")
        percent = spell_de_count(d.int(2, 60))
        thing = d.pick(("der Brotpreis", "die Zahl der Touristen", "der Verkehr", "die Miete"))
        return _finish(f"{thing} ist in {city} um {percent} Prozent {d.pick(('gestiegen', 'gesunken'))}", ".")

    def t_animal(self, d: _Draw) -> str:
        animal = self.np(d, self.animals, "nom", det=d.pick(("def", "poss", "dies")))
        verb = d.pick([v for v in self.verbs["intrans"] if v[0] in _DE_ANIMAL_VERBS])
        spot = d.pick(("im Garten", "auf dem Sofa", "unter dem Tisch", "im Park", "im Wald", "am Fluss",
                       "auf dem Bauernhof", "den ganzen Tag"))
        return _finish(f"{animal.text} {verb[0] if animal.plural else verb[2]} {spot}", ".")

    def t_drink(self, d: _Draw) -> str:
        subject = self.person(d)
        verb = d.pick(self.verbs["drink"])
        return _finish(f"{subject.text} {verb[0] if subject.plural else verb[2]} {self.habit(d)} {d.pick(self.drinks)}", ".")

    def sentence(self, d: _Draw) -> str:
        return d.pick(self.templates)(d)


def spell_de_count(n: int) -> str:
    """A German number before a plural noun (never ending in ``eins``: 101 becomes 102)."""
    return sp.spell_number_de(n + 1 if n % 100 == 1 else n)


# --------------------------------------------------------------------------- public API
_GRAMMARS: dict[str, type] = {"es": _Spanish, "de": _German}


@functools.lru_cache(maxsize=None)
def _grammar(language: str):
    return _GRAMMARS[language]()


def _check(language: str, style: str) -> None:
    if language not in LANGUAGE_STYLES:
        raise ValueError(f"no sentence generator for language {language!r}; languages: "
                         f"{', '.join(['en', *LANGUAGE_STYLES])} (English: asrlab.corpus.textgen)")
    if style not in LANGUAGE_STYLES[language]:
        raise ValueError(f"language {language!r} has no text style {style!r}; styles: {LANGUAGE_STYLES[language]}")


class LanguageSentenceGenerator:
    """Seeded source of raw sentences in Spanish (``"es"``) or German (``"de"``).

    The same ``(language, style, seed)`` always gives the same sentences, on any machine. Each
    sentence has :data:`MIN_WORDS` to :data:`MAX_WORDS` words once normalised.

    Args:
        language: ``"es"`` or ``"de"`` (:data:`LANGUAGE_STYLES`).
        style: a style of the language (``"read"``).
        seed: seed of the private ``random.Random``.

    Raises:
        ValueError: unknown language or style.
    """

    def __init__(self, language: str, style: str = "read", seed: int = 0) -> None:
        _check(language, style)
        self.language, self.style, self.seed = language, style, seed
        self._draw = _Draw(seed)
        self._grammar = _grammar(language)

    def __repr__(self) -> str:
        return f"LanguageSentenceGenerator({self.language!r}, style={self.style!r}, seed={self.seed!r})"

    def sentence(self) -> str:
        """One raw sentence: capitals, accents and punctuation as printed."""
        while True:
            text = self._grammar.sentence(self._draw)
            if MIN_WORDS <= len(normalize_text(text).split()) <= MAX_WORDS:
                return text

    def sentences(self, n: int) -> list[str]:
        """The next ``n`` sentences; ValueError for a negative ``n``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return [self.sentence() for _ in range(n)]


def sentence_generator(language: str, style: str = "read", seed: int = 0):
    """The sentence generator of ``language``: English's :class:`~asrlab.corpus.textgen.SentenceGenerator`
    (normalised text, unchanged) for ``"en"``, a :class:`LanguageSentenceGenerator` (raw text) otherwise.

    Both have ``.sentence()`` and ``.sentences(n)``.
    """
    if language == "en":
        from asrlab.corpus.textgen import SentenceGenerator

        return SentenceGenerator(style, seed)
    return LanguageSentenceGenerator(language, style, seed)


__all__ = ["LANGUAGE_STYLES", "LanguageSentenceGenerator", "MAX_WORDS", "MIN_WORDS", "Noun", "TEXT_VERSION",
           "sentence_generator", "spell_de_count"]

"""N-gram language models: counting, Kneser-Ney and Witten-Bell by hand, ARPA round trips (and
KenLM agreement), normalisation, perplexity, interpolation, text reading and the ``lm`` command."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from asrlab.cli import main
from asrlab.lm import (
    build_lm, choose_weight, count_ngrams, interpolate, kn_discounts, mixture_perplexity, read_arpa, read_texts,
    sentence_tokens,
)
from asrlab.lm.arpa import read_vocabulary
from asrlab.lm.interpolate import component_probs

TOY = ["a b", "a c", "b a"]
FIXED = {1: (0.5, 1.0, 1.5), 2: (0.5, 1.0, 1.5)}

KITCHEN = [
    "stir the soup slowly", "chop the onions finely", "boil the pasta in salted water", "stir the sauce",
    "chop the garlic and the onions", "taste the soup and add salt", "boil the water for the tea",
    "slice the bread thinly", "stir the pasta and the sauce", "add salt to the water",
]
KITCHEN_HELD_OUT = ["stir the onions slowly", "boil the soup", "chop the bread"]
TRAINS = [
    "the train leaves the station at noon", "the next train is late", "change trains at the central station",
    "the platform is crowded", "the late train leaves from platform two", "buy a ticket at the station",
    "the train to the coast is full", "wait on the platform", "the ticket office is closed",
    "the station is near the coast",
]
TRAINS_HELD_OUT = ["the train is crowded", "buy a ticket for the next train", "the station is closed"]


def p(lm, word: str, *context: str) -> float:
    return 10.0 ** lm.log10_prob(word, context)


@pytest.fixture()
def toy_kn(tmp_path: Path):
    """The 3-sentence bigram model with fixed discounts, after an ARPA round trip."""
    return read_arpa(build_lm(TOY, order=2, discounts=FIXED).write_arpa(tmp_path / "toy.arpa"))


def test_count_ngrams_pads_sentences() -> None:
    counts = count_ngrams([["a", "b"], ["a"]], 2)
    assert counts[0] == {("a",): 2, ("b",): 1, ("</s>",): 2}  # <s> is a context, never counted
    assert counts[1] == {("<s>", "a"): 2, ("a", "b"): 1, ("b", "</s>"): 1, ("a", "</s>"): 1}


def test_kn_discounts_by_hand() -> None:
    # n1..n4 = 10, 5, 3, 2: Y = 10 / (10 + 2*5) = 0.5
    # D1 = 1 - 2*0.5*5/10 = 0.5;  D2 = 2 - 3*0.5*3/5 = 1.1;  D3+ = 3 - 4*0.5*2/3 = 5/3
    assert kn_discounts((10, 5, 3, 2)) == pytest.approx((0.5, 1.1, 5 / 3))
    with pytest.raises(ValueError, match="n1..n4"):
        kn_discounts((10, 5, 0, 2))


def test_kneser_ney_bigram_by_hand(toy_kn) -> None:
    # Corpus: <s> a b </s> / <s> a c </s> / <s> b a </s>; discounts D1=0.5, D2=1, D3+=1.5.
    # Unigrams use continuation counts (distinct left neighbours):
    #   a: {<s>, b} = 2   b: {a, <s>} = 2   c: {a} = 1   </s>: {b, c, a} = 3      total 8
    #   gamma() = (0.5*1 [c] + 1.0*2 [a, b] + 1.5*1 [</s>]) / 8 = 0.5, uniform over
    #   {a, b, c, </s>, <unk>} = 1/5, so
    #   P(a) = P(b) = (2-1)/8 + 0.5/5 = 0.225   P(c) = (1-0.5)/8 + 0.1 = 0.1625
    #   P(</s>) = (3-1.5)/8 + 0.1 = 0.2875      P(<unk>) = 0.1               (sum 1)
    assert p(toy_kn, "a") == pytest.approx(0.225, rel=1e-5)
    assert p(toy_kn, "c") == pytest.approx(0.1625, rel=1e-5)
    assert p(toy_kn, "</s>") == pytest.approx(0.2875, rel=1e-5)
    assert p(toy_kn, "<unk>") == pytest.approx(0.1, rel=1e-5)
    assert p(toy_kn, "zebra") == pytest.approx(0.1, rel=1e-5)  # OOV reads as <unk>
    # Bigrams use raw counts. After <s>: a 2, b 1 (total 3); gamma(<s>) = (1.0*1 + 0.5*1)/3 = 0.5
    #   P(a|<s>) = (2-1)/3 + 0.5*0.225 = 0.4458333   P(b|<s>) = (1-0.5)/3 + 0.1125 = 0.2791667
    #   P(c|<s>) = 0.5 * 0.1625 = 0.08125 (backed off: not listed)
    assert p(toy_kn, "a", "<s>") == pytest.approx(1 / 3 + 0.1125, rel=1e-5)
    assert p(toy_kn, "b", "<s>") == pytest.approx(1 / 6 + 0.1125, rel=1e-5)
    assert p(toy_kn, "c", "<s>") == pytest.approx(0.08125, rel=1e-5)
    # After a: b, c, </s> once each (total 3); gamma(a) = 1.5/3 = 0.5
    #   P(</s>|a) = 0.5/3 + 0.5*0.2875 = 0.3104167
    # After b: </s>, a once each (total 2); gamma(b) = 0.5:  P(</s>|b) = 0.25 + 0.14375 = 0.39375
    assert p(toy_kn, "</s>", "a") == pytest.approx(1 / 6 + 0.14375, rel=1e-5)
    assert p(toy_kn, "</s>", "b") == pytest.approx(0.39375, rel=1e-5)
    # P(a b) = P(a|<s>) P(b|a) P(</s>|b) = 0.4458333 * 0.2791667 * 0.39375
    assert 10 ** toy_kn.score("a b") == pytest.approx(0.4458333 * 0.2791667 * 0.39375, rel=1e-5)


def test_witten_bell_by_hand(tmp_path: Path) -> None:
    lm = read_arpa(build_lm(TOY, order=2, smoothing="wb").write_arpa(tmp_path / "wb.arpa"))
    # Unigram counts (no <s>): a 3, b 2, c 1, </s> 3: total 9, 4 types; uniform 1/5.
    #   P(a) = (3 + 4/5) / (9 + 4) = 3.8/13;  P(b) = 2.8/13
    assert p(lm, "a") == pytest.approx(3.8 / 13, rel=1e-5)
    # After a: b, c, </s> once each: total 3, 3 types:  P(b|a) = (1 + 3 * 2.8/13) / 6
    assert p(lm, "b", "a") == pytest.approx((1 + 3 * 2.8 / 13) / 6, rel=1e-5)


@pytest.mark.parametrize("smoothing", ["kn", "wb"])
@pytest.mark.parametrize("level, order", [("word", 3), ("char", 5)])
def test_every_context_sums_to_one(tmp_path: Path, smoothing: str, level: str, order: int) -> None:
    lm = read_arpa(build_lm(KITCHEN, level=level, order=order, smoothing=smoothing).write_arpa(tmp_path / "m.arpa"))
    contexts = [(), ("<s>",), ("zzz",), ("<s>", "stir")] if level == "word" else [("<s>", "s"), ("t", "h", "e", "|")]
    contexts += [("stir", "the"), ("the", "train"), ("and", "the", "onions")]
    for context in contexts:
        assert sum(lm.next_distribution(context).values()) == pytest.approx(1.0, abs=1e-5), context


def test_arpa_round_trip_and_header(tmp_path: Path) -> None:
    lm = build_lm(KITCHEN, level="char", order=4)
    path = lm.write_arpa(tmp_path / "c.arpa")
    text = path.read_text()
    assert "\\data\\" in text and f"ngram 4={lm.counts()[3]}" in text and text.rstrip().endswith("\\end\\")
    again = read_arpa(path)
    assert again.level == "char" and again.order == 4 and again.counts() == lm.counts()
    for sentence in KITCHEN_HELD_OUT:
        assert again.score(sentence) == pytest.approx(lm.score(sentence), abs=1e-5)
    assert read_vocabulary(path) == ("char", lm.words())
    assert "|" in lm.words()


def test_read_arpa_rejects_broken_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\ta\n\\end\\\n")
    with pytest.raises(ValueError, match="announces"):
        read_arpa(bad)
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="not an ARPA file"):
        read_arpa(bad)


def test_kenlm_scores_like_our_reader(tmp_path: Path) -> None:
    pytest.importorskip("flashlight.lib.text.decoder.kenlm")
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    for level, order, smoothing in [("word", 3, "kn"), ("char", 6, "kn"), ("word", 2, "wb")]:
        lm = build_lm(KITCHEN + TRAINS, level=level, order=order, smoothing=smoothing)
        path = lm.write_arpa(tmp_path / "k.arpa")
        ours = read_arpa(path)
        sentences = KITCHEN_HELD_OUT + TRAINS_HELD_OUT + ["never seen q words"]
        words = Dictionary(sorted(ours.vocab | {t for s in sentences for t in sentence_tokens(s, level)}))
        ken = KenLM(str(path), words)
        for sentence in sentences:
            tokens = sentence_tokens(sentence, level)
            state, total = ken.start(False), 0.0
            for token in tokens:
                state, score = ken.score(state, words.get_index(token))
                total += score
            total += ken.finish(state)[1]
            assert total == pytest.approx(ours.sentence_log10(tokens), abs=1e-4), (level, sentence)


def test_perplexity_is_lower_in_domain() -> None:
    for level in ("word", "char"):
        lm = build_lm(KITCHEN, level=level)
        assert lm.perplexity(KITCHEN_HELD_OUT) < lm.perplexity(TRAINS_HELD_OUT)
        result = lm.evaluate(TRAINS_HELD_OUT)
        assert result["tokens"] == sum(len(sentence_tokens(t, level)) + 1 for t in TRAINS_HELD_OUT)
    assert build_lm(KITCHEN).evaluate(["stir the xylophone"])["oovs"] == 1


def test_interpolation_is_normalised_and_exact_on_listed_ngrams() -> None:
    kitchen, trains = build_lm(KITCHEN), build_lm(TRAINS)
    mixed = interpolate(kitchen, trains, 0.3)
    for context in [(), ("<s>",), ("the",), ("stir", "the"), ("the", "train"), ("q", "the")]:
        assert sum(mixed.next_distribution(context).values()) == pytest.approx(1.0, abs=1e-5), context
    # a listed n-gram ("salt to the", from the kitchen) gets exactly 0.3 P_kitchen + 0.7 P_trains
    # (both models know "the"; the trains model backs off, reading "salt" as <unk>)
    want = 0.3 * p(kitchen, "the", "salt", "to") + 0.7 * p(trains, "the", "salt", "to")
    assert p(mixed, "the", "salt", "to") == pytest.approx(want, rel=1e-5)
    # a word only one model knows shares the other's <unk> mass with the other unknown words
    assert p(mixed, "station", "the") > 0.7 * p(trains, "station", "the")
    # weight 1 is the first model again, for its own words
    alone = interpolate(kitchen, trains, 1.0)
    assert p(alone, "soup", "stir", "the") == pytest.approx(p(kitchen, "soup", "stir", "the"), rel=1e-5)
    with pytest.raises(ValueError):
        interpolate(kitchen, build_lm(TRAINS, level="char"), 0.5)


def test_choose_weight_minimises_dev_perplexity() -> None:
    kitchen, trains = build_lm(KITCHEN), build_lm(TRAINS)
    weight, perplexity = choose_weight(kitchen, trains, KITCHEN_HELD_OUT)
    assert weight > 0.5  # kitchen dev text prefers the kitchen model
    pa, pb = component_probs(kitchen, trains, KITCHEN_HELD_OUT)
    grid = [mixture_perplexity(pa, pb, w) for w in [i / 20 for i in range(1, 20)]]
    assert perplexity <= min(grid) + 1e-9
    assert choose_weight(kitchen, trains, TRAINS_HELD_OUT)[0] < 0.5


def test_read_texts_from_files_and_manifests(tmp_path: Path) -> None:
    plain = tmp_path / "t.txt"
    plain.write_text("Stir the SOUP!\n\n  chop -- onions \n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"text": "boil water", "split": "train"}) + "\n")
    assert read_texts([plain, manifest]) == ["stir the soup", "chop onions", "boil water"]
    manifest.write_text(json.dumps({"text": "secret answers", "split": "test"}) + "\n")
    with pytest.raises(ValueError, match="test-split"):
        read_texts([manifest])
    assert read_texts([manifest], allow_test=True) == ["secret answers"]
    with pytest.raises(FileNotFoundError):
        read_texts([tmp_path / "missing.txt"])


def test_lm_commands(tmp_path: Path, capsys) -> None:
    kitchen, trains = tmp_path / "kitchen.txt", tmp_path / "trains.jsonl"
    kitchen.write_text("\n".join(KITCHEN) + "\n")
    trains.write_text("".join(json.dumps({"text": t, "split": "train"}) + "\n" for t in TRAINS))
    dev = tmp_path / "dev.txt"
    dev.write_text("\n".join(KITCHEN_HELD_OUT) + "\n")
    assert main(["lm", "build", "--text", str(kitchen), "--out", str(tmp_path / "k.arpa")]) == 0
    assert main(["lm", "build", "--text", str(trains), "--order", "2", "--smoothing", "wb",
                 "--out", str(tmp_path / "t.arpa")]) == 0
    assert main(["lm", "build", "--text", str(kitchen), "--level", "char", "--out", str(tmp_path / "c.arpa")]) == 0
    assert read_arpa(tmp_path / "c.arpa").order == 6 and read_arpa(tmp_path / "t.arpa").order == 2
    assert main(["lm", "interpolate", "--lm", str(tmp_path / "k.arpa"), str(tmp_path / "t.arpa"),
                 "--dev", str(dev), "--out", str(tmp_path / "mix.arpa")]) == 0
    capsys.readouterr()
    assert main(["lm", "score", "--lm", str(tmp_path / "mix.arpa"), "--text", str(dev)]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert math.isfinite(scored["perplexity"]) and scored["tokens"] > 0
    assert main(["lm", "interpolate", "--lm", str(tmp_path / "k.arpa"), str(tmp_path / "t.arpa"),
                 "--out", str(tmp_path / "x.arpa")]) == 2  # neither --weight nor --dev

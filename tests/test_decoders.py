"""CTC decoders: prefix beam search finds the most probable labelling, beam 1 is greedy on peaky
posteriors, the Python and flashlight decoders agree (with and without an LM), LM fusion fixes a
homophone-like confusion, lengths are respected, and evaluation/CLI take a decoder. KenLM files
are read once (and quietly) however many decoders and grid points use them."""
from __future__ import annotations

import gc
import itertools
import os
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from asrlab.decoding.greedy import greedy_decode
from asrlab.decoding import (
    FlashlightDecoder, GreedyDecoder, LMFusion, PrefixBeamDecoder, decode_all, flashlight_available, make_decoder,
    prefix_beam_search,
)
from asrlab.decoding import flashlight as fl
from asrlab.decoding.tune import grid_search
from asrlab.lm import build_lm
from asrlab.metrics import error_rates
from asrlab.text import CharVocabulary

VOCAB = CharVocabulary()
SMALL = CharVocabulary(("<blank>", " ", "a", "b"))
needs_flashlight = pytest.mark.skipif(not flashlight_available(), reason="flashlight-text is not installed")
BACKENDS = ["python", pytest.param("flashlight", marks=needs_flashlight)]

TEXTS = ["the cat sat on the mat", "a dog ate the fish", "the cat ate the fish", "the dog sat on a log",
         "a cat and a dog sat"] * 3
SPOKEN = ["the cat sat on the log", "a dog ate the cat", "the fish sat on a mat"]


def noisy_posteriors(text: str, seed: int, sharpness: float = 5.0, noise: float = 1.0) -> torch.Tensor:
    """``(T, V)`` log-probs spelling ``text``: each character for 1-2 frames, then 0-2 blanks, with
    Gaussian noise on every logit (confusions that a decoder must resolve)."""
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    ids: list[int] = []
    for index in VOCAB.encode(text):
        ids += [index] * rng.randint(1, 2) + [0] * rng.randint(0, 2)
    logits = torch.randn(len(ids), len(VOCAB), generator=gen) * noise
    logits[torch.arange(len(ids)), torch.tensor(ids)] += sharpness
    return logits.log_softmax(-1)


def labelling_log_prob(ids: list[int], log_probs: torch.Tensor) -> float:
    """Exact ``log P(labelling | posteriors)`` summed over every CTC alignment (torch's forward)."""
    target = torch.tensor([ids], dtype=torch.long)
    return -F.ctc_loss(log_probs[:, None], target, torch.tensor([log_probs.shape[0]]), torch.tensor([len(ids)]),
                       reduction="sum", zero_infinity=False).item()


@pytest.fixture(scope="module")
def lms(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lms")
    return {"word": build_lm(TEXTS, level="word", order=3).write_arpa(folder / "word.arpa"),
            "char": build_lm(TEXTS, level="char", order=5).write_arpa(folder / "char.arpa")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_summing_alignments_beats_the_best_path(backend: str) -> None:
    # Two frames, P(blank) = 0.6, P(a) = 0.4 each. Best path: blank blank -> "" (0.36).
    # But "a" has three paths: a a (0.16) + a blank (0.24) + blank a (0.24) = 0.64 > 0.36.
    frame = torch.tensor([0.6, 1e-6, 0.4, 1e-6]).log()
    log_probs = torch.stack([frame, frame])[None]
    lengths = torch.tensor([2])
    assert greedy_decode(log_probs, lengths, SMALL) == [""]
    decoder = make_decoder("beam", 4, vocab=SMALL, backend=backend)  # type: ignore[arg-type]
    assert decoder.decode(log_probs, lengths) == ["a"]


def test_prefix_beam_search_finds_the_most_probable_labelling() -> None:
    # Small random posteriors over {a, b} (the space made impossible): compare with brute force.
    torch.manual_seed(0)
    frames = 5
    for trial in range(20):
        logits = torch.randn(frames, 4) * 1.5
        logits[:, 1] = -80.0
        log_probs = logits.log_softmax(-1)
        candidates = [list(seq) for n in range(frames + 1) for seq in itertools.product((2, 3), repeat=n)]
        scores = [labelling_log_prob(c, log_probs) for c in candidates]
        best = candidates[max(range(len(candidates)), key=scores.__getitem__)]
        ids, score = prefix_beam_search(log_probs, LMFusion(SMALL), beam_size=64)
        assert ids == best, trial
        assert score == pytest.approx(max(scores), abs=1e-4)
        path = collapse_best_path(log_probs)
        assert labelling_log_prob(ids, log_probs) >= labelling_log_prob(path, log_probs) - 1e-6


def collapse_best_path(log_probs: torch.Tensor) -> list[int]:
    from asrlab.decoding.greedy import collapse

    return collapse(log_probs.argmax(-1).tolist())


@pytest.mark.parametrize("backend", BACKENDS)
def test_beam_one_is_greedy_on_peaky_posteriors(backend: str) -> None:
    # With the best token above ~0.9 in every frame a width-1 beam follows the best path. (On
    # flat posteriors it need not: it keeps the best prefix, summed over its paths.)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, len(VOCAB), (6, 60), generator=gen)
    logits = F.one_hot(ids, len(VOCAB)).float() * 8 + torch.randn(6, 60, len(VOCAB), generator=gen) * 0.5
    log_probs = logits.log_softmax(-1)
    lengths = torch.tensor([60, 55, 40, 31, 1, 0])
    decoder = make_decoder("beam", 1, backend=backend)  # type: ignore[arg-type]
    assert decoder.decode(log_probs, lengths) == greedy_decode(log_probs, lengths, VOCAB)


@needs_flashlight
@pytest.mark.parametrize("lm", [None, "char", "word"])
def test_python_and_flashlight_agree(lms, lm: str | None) -> None:
    # flashlight keeps "prefix ending in blank" and "ending in its character" as separate beam
    # entries, so it gets the wider beam.
    path = lms[lm] if lm else None
    python = make_decoder("beam", 16, path, lm_weight=1.0, backend="python")
    flashlight = make_decoder("beam", 64, path, lm_weight=1.0, backend="flashlight")
    assert isinstance(python, PrefixBeamDecoder) and isinstance(flashlight, FlashlightDecoder)
    for text in SPOKEN:
        for seed in range(4):
            log_probs = noisy_posteriors(text, seed, sharpness=5.0, noise=1.0)[None]
            lengths = torch.tensor([log_probs.shape[1]])
            assert python.decode(log_probs, lengths) == flashlight.decode(log_probs, lengths), (text, seed)


@needs_flashlight
def test_backends_agree_on_random_batches_with_lengths() -> None:
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(0, len(VOCAB), (4, 30), generator=gen)
    logits = F.one_hot(ids, len(VOCAB)).float() * 4 + torch.randn(4, 30, len(VOCAB), generator=gen)
    log_probs = logits.log_softmax(-1)
    lengths = torch.tensor([30, 21, 9, 0])
    python = make_decoder("beam", 16, backend="python").decode(log_probs, lengths)
    assert python == make_decoder("beam", 64, backend="flashlight").decode(log_probs, lengths)
    assert python[3] == ""


def counted(function, calls: list):
    """``function`` that also appends its first argument to ``calls``."""
    def wrapper(*args, **kwargs):
        calls.append(args[0])
        return function(*args, **kwargs)
    return wrapper


@pytest.fixture
def kenlm_reads(monkeypatch) -> list[str]:
    """Paths that KenLM reads from now on (the model cache starts empty)."""
    reads: list[str] = []
    fl._cached_kenlm.cache_clear()
    monkeypatch.setattr(fl, "_read_kenlm", counted(fl._read_kenlm, reads))
    yield reads
    fl._cached_kenlm.cache_clear()  # no model loaded through the counter outlives the test


@needs_flashlight
def test_decoders_share_one_kenlm_model_per_file_and_dictionary(lms, kenlm_reads, tmp_path: Path) -> None:
    log_probs = noisy_posteriors(SPOKEN[0], seed=0)[None]
    lengths = torch.tensor([log_probs.shape[1]])
    a = FlashlightDecoder(VOCAB, 8, lms["char"], lm_weight=0.5, word_score=0.0)
    b = FlashlightDecoder(VOCAB, 16, lms["char"], lm_weight=1.5, word_score=2.0)
    assert len(kenlm_reads) == 1 and a._decoder.lm is b._decoder.lm
    # a word LM with a lexicon maps other words: its own model; another lexicon, another dictionary
    FlashlightDecoder(VOCAB, 8, lms["word"], lexicon=["the", "cat", "sat"])
    FlashlightDecoder(VOCAB, 8, lms["word"], lm_weight=2.0, lexicon=["the", "cat", "sat"])
    FlashlightDecoder(VOCAB, 8, lms["word"], lexicon=["the", "dog"])
    assert len(kenlm_reads) == 3
    # a rewritten file is read again
    path = build_lm(TEXTS[:3], level="char", order=3).write_arpa(tmp_path / "lm.arpa")
    FlashlightDecoder(VOCAB, 8, path)
    build_lm(TEXTS, level="char", order=4).write_arpa(path)
    FlashlightDecoder(VOCAB, 8, path)
    assert len(kenlm_reads) == 5
    # each decoder keeps its model alive once the cache lets it go
    before = a.decode(log_probs, lengths)
    fl._cached_kenlm.cache_clear()
    gc.collect()
    assert a.decode(log_probs, lengths) == before


@needs_flashlight
def test_loading_kenlm_writes_nothing_to_fd2(kenlm_reads, tmp_path: Path, capfd) -> None:
    path = build_lm(TEXTS, level="char", order=5).write_arpa(tmp_path / "char.arpa")
    capfd.readouterr()
    FlashlightDecoder(VOCAB, 8, path, lm_weight=1.0)
    assert kenlm_reads == [str(path.resolve())]
    assert capfd.readouterr().err == ""  # no "Reading ...", no progress bar of asterisks


@needs_flashlight
def test_a_corrupt_arpa_is_named_and_fd2_restored(kenlm_reads, tmp_path: Path, capfd) -> None:
    bad = tmp_path / "broken.arpa"
    bad.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<s>\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.arpa"):
        FlashlightDecoder(VOCAB, 8, bad)
    os.write(2, b"fd 2 is back\n")
    assert "fd 2 is back" in capfd.readouterr().err


@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_search_reads_each_lm_once_and_matches_fresh_decoders(lms, kenlm_reads, monkeypatch,
                                                                   backend: str) -> None:
    import asrlab.decoding.factory as factory
    import asrlab.lm.arpa as arpa

    scans, parses = [], []
    monkeypatch.setattr(factory, "read_vocabulary", counted(factory.read_vocabulary, scans))
    parse = counted(arpa.read_arpa, parses)
    monkeypatch.setattr(factory, "read_arpa", parse)
    monkeypatch.setattr(arpa, "read_arpa", parse)
    log_probs = [noisy_posteriors(text, seed) for seed, text in enumerate(SPOKEN)]
    weights, scores = (0.0, 1.0), (0.0, 1.0)
    result = grid_search(log_probs, SPOKEN, lms["word"], lm_weights=weights, word_scores=scores, beam_size=8,
                         backend=backend)
    # one scan of the word list; KenLM once (flashlight); the Python model twice, as the first
    # weight, 0, keeps no LM and the next point parses the file once more (not once per point)
    assert len(scans) == 1
    assert (len(kenlm_reads), len(parses)) == ((1, 0) if backend == "flashlight" else (0, 2))
    for point, (weight, score) in zip(result["grid"], itertools.product(weights, scores)):
        fresh = make_decoder("beam", 8, lms["word"], weight, score, backend=backend)  # type: ignore[arg-type]
        rates = error_rates(SPOKEN, decode_all(fresh, log_probs))
        assert (point["lm_weight"], point["word_score"], point["wer"], point["cer"]) == \
            (weight, score, rates.wer, rates.cer)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("level", ["word", "char"])
def test_lm_fusion_fixes_a_homophone_like_confusion(tmp_path: Path, backend: str, level: str) -> None:
    # "we read a book" / "the red car": one frame between "re" and "d" says blank 0.55, "a" 0.45,
    # so the acoustics alone prefer "we red a book"; the LM knows people read books.
    texts = ["we read a book", "they read a book", "we read the news", "the red car", "a red car is fast"] * 4
    lm_path = build_lm(texts, level=level).write_arpa(tmp_path / "lm.arpa")
    spelled = "we re?d a book"
    rows = []
    for ch in spelled:
        if ch == "?":
            rows.append({0: 0.55, VOCAB.symbols.index("a"): 0.45})
        else:
            index = VOCAB.symbols.index(ch)
            rows += [{index: 0.97, 0: 0.03}, {0: 0.97, index: 0.03}]
    probs = torch.full((len(rows), len(VOCAB)), 1e-6)
    for t, row in enumerate(rows):
        for index, value in row.items():
            probs[t, index] = value
    log_probs = (probs / probs.sum(-1, keepdim=True)).log()[None]
    lengths = torch.tensor([len(rows)])
    assert greedy_decode(log_probs, lengths, VOCAB) == ["we red a book"]
    plain = make_decoder("beam", 8, backend=backend)  # type: ignore[arg-type]
    assert plain.decode(log_probs, lengths) == ["we red a book"]
    fused = make_decoder("beam", 8, lm_path, lm_weight=1.0, backend=backend)  # type: ignore[arg-type]
    assert fused.decode(log_probs, lengths) == ["we read a book"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_lexicon_constrains_the_words(backend: str, tmp_path: Path) -> None:
    log_probs = noisy_posteriors("the kat sat", seed=0, sharpness=6.0)[None]
    lengths = torch.tensor([log_probs.shape[1]])
    plain = make_decoder("beam", 8, backend=backend)  # type: ignore[arg-type]
    assert plain.decode(log_probs, lengths) == ["the kat sat"]
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("the\ncat\nsat\nhat\n")
    constrained = make_decoder("beam", 8, lexicon=lexicon, backend=backend)  # type: ignore[arg-type]
    assert constrained.decode(log_probs, lengths) == ["the cat sat"]


def test_padding_frames_are_ignored() -> None:
    a = noisy_posteriors("the cat", seed=1)
    b = noisy_posteriors("a dog sat", seed=2)
    junk = torch.randn(len(a) + len(b), len(VOCAB)).log_softmax(-1)
    batch = torch.stack([torch.cat([a, junk[: len(b)]]), torch.cat([b, junk[: len(a)]])])
    lengths = torch.tensor([len(a), len(b)])
    decoder = PrefixBeamDecoder(VOCAB, 8)
    assert decoder.decode(batch, lengths) == [decoder.decode(a[None], lengths[:1])[0],
                                              decoder.decode(b[None], lengths[1:])[0]]


def test_bad_inputs_and_settings_are_refused(lms) -> None:
    decoder = PrefixBeamDecoder(VOCAB, 4)
    with pytest.raises(ValueError, match="classes"):
        decoder.decode(torch.zeros(1, 5, 10), torch.tensor([5]))
    with pytest.raises(ValueError, match="lengths"):
        decoder.decode(torch.zeros(2, 5, len(VOCAB)), torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="beam"):
        make_decoder("greedy", lm_path=lms["word"])
    with pytest.raises(ValueError, match="kind"):
        make_decoder("viterbi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beam_size"):
        PrefixBeamDecoder(VOCAB, 0)
    assert isinstance(make_decoder(), GreedyDecoder)
    # a character LM with a lexicon runs in Python (torchaudio's decoder cannot)
    assert isinstance(make_decoder("beam", 4, lms["char"], lexicon=["the", "cat"]), PrefixBeamDecoder)


def test_evaluate_and_cli_take_a_decoder(tiny_manifest: Path, lms, tmp_path: Path) -> None:
    from asrlab.cli import _decoder, build_parser, main
    from asrlab.config import FeatureConfig, ModelConfig
    from asrlab.evaluate import evaluate
    from asrlab.models import build_model
    from asrlab.recipes import make_dataset

    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="ds2", n_mels=40, hidden=16, num_layers=1, conv_channels=4, dropout=0.0))
    dataset = make_dataset([tiny_manifest], FeatureConfig(n_mels=40), cache=False)
    default = evaluate(model, dataset)
    assert evaluate(model, dataset, decoder=GreedyDecoder()).hypotheses == default.hypotheses
    beam = evaluate(model, dataset, decoder=make_decoder("beam", 2, backend="python"))
    assert len(beam.hypotheses) == len(default.hypotheses)

    args = build_parser().parse_args(["eval", "--model", "m", "--manifest", "x", "--decoder", "beam",
                                      "--lm", str(lms["word"]), "--lm-weight", "0.8", "--backend", "python"])
    decoder = _decoder(args)
    assert isinstance(decoder, PrefixBeamDecoder) and decoder.fusion.lm_weight == 0.8
    assert _decoder(build_parser().parse_args(["transcribe", "--model", "m", "a.wav"])) is None
    assert main(["eval", "--model", "m", "--manifest", str(tiny_manifest), "--lm", str(lms["word"])]) == 2

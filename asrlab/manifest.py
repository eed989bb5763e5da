"""JSONL manifests: one utterance per line.

Each line is a JSON object with at least ``audio`` (a path relative to the manifest's folder, or
absolute), ``text``, ``duration`` (seconds), ``domain``, ``speaker`` and ``split``. Other keys
(``engine``, ``voice``, ``style``, ``shift``, ``language``...) are kept in :attr:`Utterance.extra`;
a line in another language than English says so in ``language`` (:attr:`Utterance.language`). A corpus
keeps each domain's split at :func:`manifest_path` ``(corpus, domain, split)``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from asrlab.errors import ManifestError
from asrlab.files import atomic_write

REQUIRED_KEYS = ("audio", "text", "duration", "domain", "speaker", "split")


@dataclass(frozen=True)
class Utterance:
    """One manifest line, with ``audio`` resolved to an absolute path.

    ``extra`` holds the line's other keys; keys starting with ``_`` are private (``_where``, the
    manifest file and line it came from) and are not written back.
    """

    audio: str
    text: str
    duration: float
    domain: str
    speaker: str
    split: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        """The language of the speech: the line's ``language`` key, ``"en"`` where it has none.

        Read a manifest with ``CharVocabulary.for_language(utt.language)``.
        """
        return str(self.extra.get("language", "en"))

    @property
    def id(self) -> str:
        """A stable identifier: the audio file's stem."""
        return Path(self.audio).stem

    def to_json(self, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
        """The manifest line, with ``audio`` relative to ``relative_to`` when given."""
        row = asdict(self)
        extra = row.pop("extra")
        if relative_to is not None:
            row["audio"] = os.path.relpath(self.audio, relative_to)
        row.update({k: v for k, v in extra.items() if not k.startswith("_")})
        return row


def manifest_row(line: str, where: str) -> dict[str, Any]:
    """One manifest line as a JSON object; ``where`` (file:line) is named in the
    :class:`~asrlab.errors.ManifestError` raised for anything else."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc.msg}); fix or delete the line") from exc
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def parse_line(line: str, where: str, base_dir: Path) -> Utterance:
    """Parse one manifest line; ``where`` (file:line) is named in every error."""
    row = manifest_row(line, where)
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise ManifestError(f"{where}: missing keys {missing}; every line needs {list(REQUIRED_KEYS)}")
    try:
        duration = float(row["duration"])
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{where}: duration {row['duration']!r} is not a number") from exc
    if not math.isfinite(duration) or duration <= 0:
        raise ManifestError(f"{where}: duration must be a positive number of seconds, got {duration}")
    if not isinstance(row["text"], str):
        raise ManifestError(f"{where}: text must be a string, got {row['text']!r}")
    audio = Path(str(row["audio"]))
    if not audio.is_absolute():
        audio = base_dir / audio
    extra = {k: v for k, v in row.items() if k not in REQUIRED_KEYS}
    extra["_where"] = where  # private: named in later errors, never written back
    return Utterance(
        audio=str(audio), text=row["text"], duration=duration, domain=str(row["domain"]),
        speaker=str(row["speaker"]), split=str(row["split"]), extra=extra,
    )


def manifest_path(corpus: str | os.PathLike, domain: str, split: str) -> Path:
    """Where a corpus keeps a domain's split: ``<corpus>/<domain>/<split>.jsonl``.

    >>> manifest_path("data/corpus", "accent", "dev").as_posix()
    'data/corpus/accent/dev.jsonl'
    """
    return Path(corpus) / domain / f"{split}.jsonl"


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSONL manifest; blank lines are allowed, malformed ones raise ManifestError."""
    path = Path(path)
    if path.is_dir():
        raise ManifestError(f"{path} is a directory; a manifest is a .jsonl file (e.g. {path / 'test.jsonl'})")
    if not path.is_file():
        raise ManifestError(
            f"manifest not found: {path}. Build the corpus first: `asrlab corpus build --out DIR`."
        )
    base_dir = path.resolve().parent
    utterances = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                utterances.append(parse_line(line, f"{path}:{number}", base_dir))
    return utterances


def read_manifests(paths: Iterable[str | os.PathLike]) -> list[Utterance]:
    """The utterances of several manifests, in order (see :func:`read_manifest`)."""
    return [u for p in paths for u in read_manifest(p)]


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> Path:
    """Write utterances as JSONL with audio paths relative to the manifest, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base_dir = path.resolve().parent
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for utt in utterances:
            handle.write(json.dumps(utt.to_json(relative_to=base_dir), ensure_ascii=False) + "\n")
    return path


def total_minutes(utterances: Iterable[Utterance]) -> float:
    """Total audio duration in minutes."""
    return sum(u.duration for u in utterances) / 60.0

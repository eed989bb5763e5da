"""Run records: each training run's result kept as a small JSON file, reused while its settings match.

A full-size notebook trains for hours, longer than a work session on a small machine. Each run's
result goes to ``<cache_dir>/<name>.json`` as ``{"settings": ..., "result": ...}``; a later run
with the same name and *equal* settings reads it back instead of training again, so a stopped
notebook resumes where it stopped (at full size ``cache_dir`` is under the committed
``results/runs/``: :attr:`asrlab.course.setup.Course.runs`). Settings that differ in anything
retrain and overwrite the record.

The settings must name everything the result depends on: the knobs, a fingerprint of the initial
model's weights (:func:`asrlab.layers.model_key`), and which utterances were read
(:func:`utterances_key`). They should leave out what only says *where* a run happened (the device,
checkpoint intervals, worker processes), so that a run started on one machine resumes on another.

Example::

    row = cached(runs, f"scratch-s{seed}", {"lr": lr, "seed": seed, "model": key}, lambda: train_and_score())
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from asrlab.files import finite_json, save_json

if TYPE_CHECKING:
    from asrlab.datasets import SpeechDataset
    from asrlab.models.checkpoint import LoadedModel

__all__ = ["WHERE", "RecordWarning", "cached", "dataset_key", "fingerprint", "keep", "model_fingerprint", "read_record",
           "recall", "record_path", "round_trip", "utterances_key", "without"]

#: Training settings that say where a run happened, not what it computed: left out of run
#: records, so a run started on one machine (or device) resumes on another.
WHERE = ("device", "checkpoint_every", "checkpoint_seconds", "num_workers")

#: What a record file's name may hold besides letters and digits; anything else becomes ``-``.
_UNSAFE = re.compile(r"[^a-z0-9.+]+")


class RecordWarning(UserWarning):
    """A run record could not be read (a torn or hand-edited file): the run is made again."""


def record_path(cache_dir: str | Path, name: str) -> Path:
    """Where the record called ``name`` lives: ``cache_dir/<name>.json``, the name lower-cased and
    every run of other characters (spaces, commas, slashes) turned into one ``-``.

    Raises:
        ValueError: nothing of ``name`` is left for a file name.
    """
    slug = _UNSAFE.sub("-", name.lower()).strip("-.")
    if not slug:
        raise ValueError(f"record name {name!r} has no letters or digits to name a file with")
    return Path(cache_dir) / f"{slug}.json"


def round_trip(value: Any) -> Any:
    """``value`` as it reads back from JSON: tuples become lists, NaN and infinities None.

    Raises:
        TypeError: ``value`` holds something JSON cannot store (a Path, a tensor...).
    """
    try:
        return json.loads(json.dumps(finite_json(value)))
    except TypeError as error:
        raise TypeError(f"a run record holds only JSON values (str, number, bool, None, list, dict): {error}") from None


def read_record(path: str | Path, key: str = "result") -> dict[str, Any] | None:
    """The record at ``path``: a dict with ``settings`` and ``key`` (a dict), or None when there is
    no file. A file that is not such a record (cut short, hand-edited) warns (:class:`RecordWarning`)
    and gives None, so the run is made again and the file rewritten.

    Args:
        path: the record's file.
        key: the name its result is stored under (``"result"``; older chapters' records use
            ``"record"`` or ``"run"``).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        warnings.warn(f"run record {path} cannot be read ({error}); the run is made again", RecordWarning, stacklevel=3)
        return None
    if not isinstance(stored, dict) or "settings" not in stored or not isinstance(stored.get(key), dict):
        warnings.warn(f"run record {path} is not a record (no settings and {key}); the run is made again",
                      RecordWarning, stacklevel=3)
        return None
    return stored


def recall(path: str | Path, settings: Mapping[str, Any], key: str = "result") -> dict[str, Any] | None:
    """The result kept at ``path`` when it was made with equal ``settings`` (compared after a JSON
    round trip), else None: no file, other settings, or a file that is not a record (which warns).

    Args:
        path: the record's file (:func:`record_path`, or a chapter's own name).
        settings: everything the result depends on (JSON values).
        key: the name the result is stored under (:func:`read_record`).
    """
    stored = read_record(path, key)
    if stored is None or stored["settings"] != round_trip(dict(settings)):
        return None
    return stored[key]


def keep(path: str | Path, settings: Mapping[str, Any], result: Mapping[str, Any], key: str = "result") -> dict[str, Any]:
    """Write ``{"settings": ..., key: result}`` to ``path`` atomically (NaNs stored as None) and
    return the result as it reads back (:func:`round_trip`)."""
    kept = round_trip(dict(result))
    save_json(path, {"settings": round_trip(dict(settings)), key: kept})
    return kept


def cached(cache_dir: str | Path | None, name: str, settings: Mapping[str, Any],
           compute: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
    """The record's result when ``cache_dir/<name>.json`` was made with equal ``settings``, else
    ``compute()``'s, written there (atomically) for the next time.

    Settings are compared after a JSON round trip (:func:`round_trip`), so ``(1, 2)`` equals
    ``[1, 2]``. The result is returned as it reads back from JSON whether it was computed or
    reused, so a resumed run sees exactly what the first one saw.

    Args:
        cache_dir: the records' folder; None: no records, ``compute()`` every time.
        name: the run's name, unique within ``cache_dir`` (:func:`record_path`).
        settings: everything the result depends on (JSON values).
        compute: makes the run; returns a JSON-able mapping (its NaNs are stored as None).

    Returns:
        The run's result.
    """
    if cache_dir is None:
        return round_trip(dict(compute()))
    path = record_path(cache_dir, name)
    stored = recall(path, settings)
    if stored is not None:
        return stored
    return keep(path, settings, compute())


def fingerprint(parts: Iterable[Any], length: int = 16) -> str:
    """A short hex digest (sha1) of ``parts``' JSON: equal parts, equal fingerprint."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(json.dumps(finite_json(part), sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:length]


def utterances_key(utterances: Sequence[Any]) -> dict[str, Any]:
    """Which utterances a run read: how many, their seconds, and a :func:`fingerprint` of each one's
    id (its audio file's stem, not the machine's path), transcript and duration.

    Args:
        utterances: :class:`~asrlab.manifest.Utterance` objects (anything with ``id``, ``text``
            and ``duration``).
    """
    return {"utterances": len(utterances), "seconds": round(sum(u.duration for u in utterances), 2),
            "digest": fingerprint((u.id, u.text, round(u.duration, 3)) for u in utterances)}


def without(settings: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``settings`` less ``keys`` (e.g. a training config's ``device``: where a run happened)."""
    return {k: v for k, v in settings.items() if k not in keys}


def model_fingerprint(model: LoadedModel) -> str:
    """The initial model's key in run records (:func:`asrlab.layers.model_key`): its name and a
    digest of its weights and input features, so a retrained ``asrlab-source`` never reuses the
    records of the old one."""
    from asrlab.layers import model_key  # torch: only when a record is made

    name = str(model.meta.get("name") or "model").replace("/", "-").replace("\\", "-")
    return model_key(model.model, model.features, name)


def dataset_key(dataset: SpeechDataset | None) -> dict[str, Any] | None:
    """Which utterances a run read and the alphabet it wrote them in, for run records (None: none)."""
    if dataset is None:
        return None
    return {**utterances_key(dataset.utterances), "vocab": fingerprint(dataset.vocab.symbols)}

"""The one audio I/O entry point: load, check, resample and save mono 16 kHz waveforms.

Reading uses soundfile (WAV/FLAC without ffmpeg); resampling uses scipy's polyphase filter.
Every failure names the file and says what to do.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from asrlab.errors import AudioError, AudioWriteError
from asrlab.files import atomic_write

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a ``(samples,)`` float waveform from ``orig_sr`` to ``target_sr`` Hz."""
    if orig_sr == target_sr:
        return wave
    ratio = Fraction(target_sr, orig_sr).limit_denominator(1000)
    return resample_poly(wave, ratio.numerator, ratio.denominator).astype(np.float32)


def _wav_missing_bytes(path: Path) -> int:
    """Bytes a RIFF/WAVE file's ``data`` chunk declares beyond the end of the file (0 if whole).

    libsndfile reads a truncated WAV without complaint (it shortens the data to what is there),
    so a file cut off by a crash or a partial copy would otherwise load as shorter audio.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk = handle.read(8)
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                if length in (0, 0xFFFFFFFF):  # streamed WAV: length unknown
                    return 0
                return max(0, position + 8 + length - size)
            position += 8 + length + (length & 1)
    return 0


def check_complete(path: str | os.PathLike) -> None:
    """Raise :class:`AudioError` when a WAV file is shorter than its header says (cut off by a
    crash, a full disk or a partial copy); other files and streamed WAVs pass.
    """
    missing = _wav_missing_bytes(Path(path))
    if missing:
        raise AudioError(
            f"audio file {path} is truncated: its header promises {missing} more bytes of samples "
            "than the file holds. Delete it and rebuild it, or remove its line from the manifest."
        )


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
    *,
    multichannel: Literal["error", "mix"] = "mix",
) -> np.ndarray:
    """Read an audio file as a mono float32 waveform at ``sample_rate``.

    Args:
        path: a file soundfile can read (WAV, FLAC, OGG).
        sample_rate: the rate to return; other rates are resampled.
        multichannel: ``"mix"`` (the default, as Whisper and torchaudio's pipelines do) averages
            the channels into mono, with a note in the log (INFO); ``"error"`` rejects such files.

    Returns:
        ``(samples,)`` float32 array in [-1, 1].

    Raises:
        AudioError: the file is missing, unreadable or truncated, holds no samples, has several
            channels (with ``multichannel="error"``), or holds NaN/inf samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(
            f"audio file not found: {path}. Check the 'audio' field of the manifest (it is "
            "relative to the manifest's folder) or rebuild the corpus with `asrlab corpus build`."
        )
    try:
        wave, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, ValueError...
        raise AudioError(
            f"cannot read audio file {path}: {exc}. The file is corrupt, truncated or not audio; "
            "delete it and rebuild it, or remove its line from the manifest."
        ) from exc
    check_complete(path)
    if wave.shape[0] == 0:
        raise AudioError(f"audio file {path} holds no samples: remove it from the manifest.")
    if wave.shape[1] > 1:
        if multichannel == "error":
            raise AudioError(
                f"audio file {path} has {wave.shape[1]} channels; asrlab expects mono. Convert it "
                "(e.g. `sox in.wav -c 1 out.wav`) or load with multichannel='mix' (the default)."
            )
        log.info("%s has %d channels: mixed down to mono", path, wave.shape[1])
        wave = wave.mean(axis=1, keepdims=True)
    wave = wave[:, 0]
    if not np.isfinite(wave).all():
        bad = int((~np.isfinite(wave)).sum())
        raise AudioError(f"audio file {path} holds {bad} NaN/inf samples: regenerate or re-encode it.")
    return resample(wave, file_sr, sample_rate)


def save_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a ``(samples,)`` float waveform as 16-bit PCM WAV, atomically (temp file + rename).

    Raises:
        AudioWriteError: the file could not be written (an ``OSError``; the message names the
            file and says when the disk is full). The old file, if any, is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"save_audio expects a (samples,) waveform, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise AudioError(f"refusing to write {path}: the waveform holds NaN/inf samples")
    # the temp name ends in .tmp, not .wav (format= says WAV): a cleaner globbing *.wav in this
    # folder (the corpus builder's stale-audio cleaner) never takes a file still being written
    with atomic_write(path, keep_suffix=False) as tmp:
        try:
            sf.write(str(tmp), np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
        except Exception as exc:  # LibsndfileError("System error."), OSError...
            raise _write_error(path, exc, needed=44 + 2 * wave.size) from exc


def _write_error(path: Path, exc: Exception, needed: int) -> AudioWriteError:
    """An error that names the file and, when the disk is full, says so.

    libsndfile reports a failed write as a bare "System error." without the errno, so a full disk
    is also recognised by the free space left beside the file (its partial temp file still there).
    """
    codes = {getattr(e, "errno", None) for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if codes & {errno.ENOSPC, errno.EDQUOT} or (free is not None and free < needed):
        space = f" ({free} bytes free, the file needs {needed})" if free is not None else ""
        return AudioWriteError(
            f"cannot write {path}: the disk is full{space}. Free some space on the disk that holds "
            f"{path.parent} (or write to another disk) and run again; a corpus build keeps the "
            "files it finished."
        )
    return AudioWriteError(f"cannot write {path}: {type(exc).__name__}: {exc}")


def audio_duration(path: str | os.PathLike) -> float:
    """Duration in seconds from the file header (no decoding)."""
    try:
        return float(sf.info(str(path)).duration)
    except Exception as exc:
        raise AudioError(f"cannot read the header of {path}: {exc}") from exc

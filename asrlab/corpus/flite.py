"""Synthesis with CMU Flite, an optional Debian package (``apt-get install flite``).

Flite's voices (kal, awb, rms, slt...) come from recorded speakers and sound unlike espeak-ng.
Without the binary the corpus builder leaves flite voices out and says so.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asrlab.audio import SAMPLE_RATE, load_audio
from asrlab.errors import MissingDependencyError

#: Voices built into Debian's flite binary.
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")


@dataclass(frozen=True)
class FliteVoiceSpec:
    """A flite voice and its speaking rate (``duration_stretch`` > 1 is slower)."""

    voice: str = "slt"
    duration_stretch: float = 1.0

    @property
    def speaker_id(self) -> str:
        return f"flite:{self.voice}"


def flite_available() -> bool:
    """Whether the ``flite`` binary is on PATH."""
    return shutil.which("flite") is not None


class FliteSynthesizer:
    """Runs the flite binary once per utterance and reads its WAV back."""

    def __init__(self) -> None:
        binary = shutil.which("flite")
        if binary is None:
            raise MissingDependencyError(
                "flite voices need the Debian package flite: sudo apt-get install -y flite"
            )
        self._binary = binary
        self._tmp = Path(tempfile.mkdtemp(prefix="asrlab-flite-"))

    def synthesize(self, text: str, spec: FliteVoiceSpec, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Speak ``text``; returns a ``(samples,)`` float32 waveform at ``sample_rate``."""
        if spec.voice not in FLITE_VOICES:
            raise ValueError(f"unknown flite voice {spec.voice!r}; known: {FLITE_VOICES}")
        out = self._tmp / "utt.wav"
        command = [self._binary, "-voice", spec.voice, "--setf",
                   f"duration_stretch={spec.duration_stretch}", "-t", text, "-o", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or not out.is_file():
            raise RuntimeError(f"flite failed on {text!r} with {spec.voice}: {result.stderr.strip()}")
        return load_audio(out, sample_rate)

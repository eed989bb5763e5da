"""Moving a CTC model onto another alphabet: a new output layer for a new vocabulary.

A character CTC model's encoder knows nothing of letters; only its output layer (``head``, one
row of weights and one bias per symbol) does. :func:`replace_vocabulary` gives a copy of a model
with a head of one row per symbol of the new vocabulary:

* symbols the two vocabularies share (blank, space, a-z, apostrophe for English and
  :meth:`~asrlab.text.CharVocabulary.for_language`) can keep their trained rows
  (``copy_shared=True``), so the model still spells what it could spell before;
* new letters start either from a random row (``init_new="random"``: ``nn.Linear``'s own
  initialisation, seeded) or from a copy of their base letter's row (``init_new="base_letter"``:
  ``ñ`` from ``n``, ``ü`` from ``u``, ``ß`` from ``s``, see :func:`base_letter`), so that a new
  letter starts out sounding like the letter it is written on.
"""
from __future__ import annotations

import copy
import unicodedata
import torch
from torch import nn

from asrlab.config import NEW_ROWS, NewRows
from asrlab.models.base import CTCModel
from asrlab.text import CharVocabulary

#: Base letters of letters that Unicode does not decompose into a letter and a mark.
_LIGATURE_BASES = {"\u00df": "s", "\u00e6": "a", "\u0153": "o", "\u00f8": "o", "\u0111": "d", "\u0142": "l"}


def base_letter(symbol: str) -> str | None:
    """The letter ``symbol`` is written on: ``"ñ"`` -> ``"n"``, ``"ü"`` -> ``"u"``, ``"ß"`` -> ``"s"``.

    Returns:
        The base letter, or None for a symbol that has none other than itself (ASCII letters,
        the space, the blank, letters of other scripts).
    """
    if len(symbol) != 1 or symbol.isascii():
        return None
    if symbol in _LIGATURE_BASES:
        return _LIGATURE_BASES[symbol]
    stripped = "".join(c for c in unicodedata.normalize("NFD", symbol) if not unicodedata.combining(c))
    return stripped if stripped != symbol and len(stripped) == 1 else None


def replace_vocabulary(model: CTCModel, old_vocab: CharVocabulary, new_vocab: CharVocabulary, *,
                       copy_shared: bool = True, init_new: NewRows = "random", seed: int = 0) -> CTCModel:
    """A copy of ``model`` whose output layer has one row per symbol of ``new_vocab``.

    The encoder (and everything else) is copied unchanged; ``model`` is left untouched. The new
    head is an ``nn.Linear(D, len(new_vocab))`` initialised from ``seed`` (torch's global random
    state is left as it was); then:

    * with ``copy_shared``, the weight row and bias of every symbol in both vocabularies are
      copied from the old head (wherever the symbol sits in each), so the model's outputs for
      those symbols start where they were;
    * with ``init_new="base_letter"``, a new letter with a base letter in the old vocabulary
      (:func:`base_letter`: ``ñ`` <- ``n``) gets a copy of that letter's old row; other new
      symbols keep their random row (``"random"``: every new symbol does).

    The copy's ``config["vocab_size"]`` is ``len(new_vocab)``, so a checkpoint of it
    (:func:`~asrlab.models.save_model` with ``new_vocab``) rebuilds and reloads. Every parameter
    of the new head trains (``requires_grad``), whatever the old head's setting.

    Args:
        model: a CTC model whose head has ``len(old_vocab)`` outputs.
        old_vocab: the vocabulary ``model`` was trained with.
        new_vocab: the vocabulary of the copy.
        copy_shared: keep the trained rows of the shared symbols.
        init_new: ``"random"`` or ``"base_letter"``, for the symbols ``old_vocab`` lacks.
        seed: initialises the new head.

    Returns:
        The new model, on the device and in the dtype of ``model``'s head.

    Raises:
        ValueError: ``model``'s head does not have ``len(old_vocab)`` outputs, or ``init_new``
            is unknown.
    """
    if model.head.out_features != len(old_vocab):
        raise ValueError(f"the model's head has {model.head.out_features} outputs but old_vocab has "
                         f"{len(old_vocab)} symbols: pass the vocabulary the model was trained with "
                         "(LoadedModel.vocab)")
    if init_new not in NEW_ROWS:
        raise ValueError(f"unknown init_new {init_new!r}; use one of {', '.join(NEW_ROWS)}")
    old = model.head
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(old.in_features, len(new_vocab))
    head = head.to(device=old.weight.device, dtype=old.weight.dtype)
    old_index = {s: i for i, s in enumerate(old_vocab.symbols)}
    with torch.no_grad():
        for row, symbol in enumerate(new_vocab.symbols):
            source = old_index.get(symbol) if copy_shared else None
            if source is None and symbol not in old_index and init_new == "base_letter":
                source = old_index.get(base_letter(symbol) or "")
            if source is not None:
                head.weight[row].copy_(old.weight[source])
                head.bias[row].copy_(old.bias[source])
    new = copy.deepcopy(model)
    new.head = head
    new.config = {**model.config, "vocab_size": len(new_vocab)}
    return new


def shared_symbols(old_vocab: CharVocabulary, new_vocab: CharVocabulary) -> list[str]:
    """The symbols of ``new_vocab`` that ``old_vocab`` has too, in ``new_vocab``'s order."""
    old = set(old_vocab.symbols)
    return [s for s in new_vocab.symbols if s in old]


__all__ = ["NEW_ROWS", "NewRows", "base_letter", "replace_vocabulary", "shared_symbols"]

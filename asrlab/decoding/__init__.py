"""CTC decoders behind one interface: greedy, prefix beam search (pure Python, with n-gram LM
shallow fusion) and torchaudio's flashlight ``ctc_decoder``; :func:`make_decoder` picks one.

:func:`asrlab.decoding.greedy.greedy_decode` is the plain best-path function the others build on;
:mod:`asrlab.decoding.tune` grid-searches a beam decoder's LM weight and word score on dev data.
"""
from __future__ import annotations

from asrlab.decoding.base import Decoder, GreedyDecoder, decode_all
from asrlab.decoding.factory import load_lexicon, make_decoder
from asrlab.decoding.flashlight import FlashlightDecoder, flashlight_available
from asrlab.decoding.fusion import LMFusion
from asrlab.decoding.prefix_beam import PrefixBeamDecoder, prefix_beam_search

__all__ = [
    "Decoder", "FlashlightDecoder", "GreedyDecoder", "LMFusion", "PrefixBeamDecoder", "decode_all",
    "flashlight_available", "load_lexicon", "make_decoder", "prefix_beam_search",
]

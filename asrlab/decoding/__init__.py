"""CTC decoders behind one interface: greedy, prefix beam search (pure Python, with n-gram LM
shallow fusion) and torchaudio's flashlight ``ctc_decoder``; :func:`make_decoder` picks one.

``asrlab.decode.greedy_decode`` stays the plain best-path function; this package adds search.
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

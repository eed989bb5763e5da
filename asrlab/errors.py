"""Exceptions that name the offending file and say what to do about it, and asrlab's warnings."""
from __future__ import annotations


class AsrlabError(Exception):
    """Base class of asrlab's own errors."""


class AudioError(AsrlabError, ValueError):
    """An audio file is missing, unreadable, empty, or holds invalid samples."""


class AudioWriteError(AsrlabError, OSError):
    """An audio file could not be written (the message names it, and says when the disk is full)."""


class ManifestError(AsrlabError, ValueError):
    """A manifest line is malformed or refers to unusable data."""


class TranscriptError(AsrlabError, ValueError):
    """A transcript is empty, holds characters outside the vocabulary, or is too long for CTC."""


class VocabularyError(AsrlabError, ValueError):
    """A vocabulary file or name is malformed or unknown (the message names the file and line)."""


class CheckpointError(AsrlabError, ValueError):
    """A checkpoint does not match the model it is loaded into, or is not an asrlab checkpoint."""


class OutputError(AsrlabError, OSError):
    """An output file or folder cannot be written: read-only, no space left, a file in the way..."""


class MissingDependencyError(AsrlabError, RuntimeError):
    """An optional engine or data package is not installed."""


class BlankOutputWarning(UserWarning):
    """A CTC model's transcripts are all (or nearly all) empty: the blank wins every frame.

    Not an error: the evaluation is valid (WER 100% or close to it), but it usually means that
    training has not yet left CTC's blank-first plateau or went wrong; the message says what to try.
    """

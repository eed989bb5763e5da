"""Google Colab conveniences for the course notebooks (used only on Colab).

A Colab session forgets its files when it is reset, and building the full corpus takes minutes:
:func:`keep_data_on_drive` puts asrlab's data folder (corpus, caches, runs) on the learner's
Google Drive instead, so that it survives. Installing asrlab itself cannot live here (this
module needs asrlab installed): the first cell of every notebook does that with ``pip``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["on_colab", "keep_data_on_drive"]

#: Where Colab mounts Google Drive, and the folder asrlab uses there.
DRIVE_MOUNT = Path(os.sep, "content", "drive")
DRIVE_FOLDER = "asrlab-data"


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab kernel."""
    return "google.colab" in sys.modules


def keep_data_on_drive(folder: str = DRIVE_FOLDER) -> Path:
    """Mount Google Drive and point ``ASRLAB_DATA`` at ``MyDrive/<folder>`` (created if needed).

    Call it before anything builds the corpus; it asks the learner to authorise Drive access.

    Returns:
        The data folder now in use.

    Raises:
        RuntimeError: not running on Colab.
    """
    if not on_colab():
        raise RuntimeError("keep_data_on_drive() works on Google Colab only; elsewhere set ASRLAB_DATA yourself")
    from google.colab import drive  # type: ignore[import-not-found]

    drive.mount(str(DRIVE_MOUNT))
    data = DRIVE_MOUNT / "MyDrive" / folder
    data.mkdir(parents=True, exist_ok=True)
    os.environ["ASRLAB_DATA"] = str(data)
    return data

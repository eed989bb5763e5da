"""A matplotlib figure that shows itself as a picture in Jupyter.

asrlab draws with the object-oriented API (``Figure()``, never ``pyplot``), so no global state
changes and nothing pops up. A plain :class:`matplotlib.figure.Figure` has no rich display of its
own, though: unless the inline backend happens to be active, a notebook cell that ends with one
shows the text ``<Figure size 900x340 with 2 Axes>``. :class:`Figure` adds ``_repr_png_``, so a
figure from any asrlab plotting function displays as an image under any backend or magic.
"""
from __future__ import annotations

import io

import matplotlib.figure

__all__ = ["Figure", "DISPLAY_DPI"]

#: Resolution of the image a notebook shows (what ``%matplotlib inline`` uses by default).
DISPLAY_DPI = 100


class Figure(matplotlib.figure.Figure):
    """:class:`matplotlib.figure.Figure` with a PNG display for Jupyter; otherwise identical."""

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, for IPython's display machinery."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DISPLAY_DPI, facecolor="white")
        return buffer.getvalue()

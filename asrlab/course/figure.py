"""A matplotlib figure that shows itself as a picture in Jupyter.

asrlab draws with the object-oriented API (``Figure()``, never ``pyplot``), so no global state
changes and nothing pops up. A plain :class:`matplotlib.figure.Figure` has no rich display of its
own, though: unless the inline backend happens to be active, a notebook cell that ends with one
shows the text ``<Figure size 900x340 with 2 Axes>``. :class:`Figure` adds ``_repr_png_``, so a
figure from any asrlab plotting function displays as an image under any backend or magic.
"""
from __future__ import annotations

import io
from typing import Sequence

import matplotlib.figure
from matplotlib.axis import Axis
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

__all__ = ["Figure", "DISPLAY_DPI", "ticks_at"]

#: Resolution of the image a notebook shows (what ``%matplotlib inline`` uses by default).
DISPLAY_DPI = 100


class Figure(matplotlib.figure.Figure):
    """:class:`matplotlib.figure.Figure` with a PNG display for Jupyter; otherwise identical."""

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, for IPython's display machinery."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DISPLAY_DPI, facecolor="white")
        return buffer.getvalue()


def ticks_at(axis: Axis, values: Sequence[float]) -> None:
    """Put an axis's ticks at exactly the measured ``values``, written plainly (``2``, ``30``), not
    as powers of ten, and no minor ticks: on a log scale with few points matplotlib would otherwise
    label only the decades, so a sweep of lambda 10 and 30 shows one tick ("10^1")."""
    ordered = sorted(set(float(v) for v in values))
    axis.set_major_locator(FixedLocator(ordered))
    axis.set_major_formatter(FixedFormatter([f"{v:g}" for v in ordered]))
    axis.set_minor_locator(NullLocator())

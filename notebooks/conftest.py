"""Checks on what a learner sees, run on every notebook cell that nbval executes.

nbval (``pytest --nbval-lax notebooks/``) runs each cell and asserts nothing about its outputs
unless told to. These hooks read the outputs nbval collected and fail the cell when a learner
would meet something broken:

- a figure that shows as the text ``<Figure size 900x340 with 2 Axes>`` instead of a picture.
"""
from __future__ import annotations

from typing import Any, Iterable

import pytest

FIGURE_TEXT = "<Figure size"


def figures_without_image(outputs: Iterable[Any]) -> list[str]:
    """The text of every rich output that is a matplotlib figure's repr with no image beside it."""
    bare = []
    for out in outputs:
        data = out.get("data") or {}
        text = data.get("text/plain", "")
        if isinstance(text, list):
            text = "".join(text)
        if text.startswith(FIGURE_TEXT) and not any(key.startswith("image/") for key in data):
            bare.append(text)
    return bare


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval for each executed cell
    if outputs:
        bare = figures_without_image(outputs)
        assert not bare, (f"{item.name}: a figure displays as text ({bare[0]!r}) instead of an image; build "
                          "figures with asrlab.course.figure.Figure, which has a PNG display")
    return result

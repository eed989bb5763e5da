"""The course's size comes from the environment: ASRLAB_SIZE, else ASRLAB_SMOKE, else lab."""
from __future__ import annotations

import pytest

from asrlab.utils import course_size, smoke_mode


@pytest.mark.parametrize("size, smoke, expected", [
    (None, None, "lab"), (None, "1", "smoke"), (None, "0", "lab"), ("full", None, "full"),
    ("lab", "1", "lab"), (" Smoke ", None, "smoke"),
])
def test_course_size_reads_the_environment(monkeypatch, size, smoke, expected) -> None:
    for name, value in (("ASRLAB_SIZE", size), ("ASRLAB_SMOKE", smoke)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert course_size() == expected
    assert smoke_mode() == (expected == "smoke")


def test_an_unknown_size_is_refused_with_the_choices(monkeypatch) -> None:
    monkeypatch.setenv("ASRLAB_SIZE", "medium")
    with pytest.raises(ValueError, match="ASRLAB_SIZE='medium': use one of smoke, lab, full"):
        course_size()

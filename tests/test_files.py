"""asrlab.files: atomic writes, with temp names that let concurrent writers each rename a whole copy."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from asrlab.files import atomic_write, temporary_sibling
from asrlab.report import save_json


def test_temporary_sibling_keeps_folder_and_suffix_and_differs_per_thread(tmp_path: Path) -> None:
    target = tmp_path / "corpus.json"
    names: list[Path] = []
    thread = threading.Thread(target=lambda: names.append(temporary_sibling(target)))
    thread.start()
    thread.join()
    mine = temporary_sibling(target)
    assert mine.parent == tmp_path and mine.suffix == ".json" and mine != target
    assert names[0] != mine and names[0].suffix == ".json"


def test_concurrent_atomic_writes_of_one_file_never_collide(tmp_path: Path) -> None:
    # with one shared temp name, a writer's os.replace finds its temp file already renamed away
    target = tmp_path / "corpus.json"
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(40):
                save_json(target, {"worker": worker, "i": i, "pad": "x" * 2000})
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:1]
    assert json.loads(target.read_text())["i"] == 39
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.json"]  # no temp file left behind


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "model.pt"
    with atomic_write(target) as tmp:  # creates the folder
        tmp.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["model.pt"]

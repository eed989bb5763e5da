"""asrlab.files: atomic writes, with temp names that let concurrent writers each rename a whole copy."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from asrlab.files import atomic_write, save_json, temporary_sibling


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


def test_save_json_writes_indented_json_with_a_final_newline(tmp_path: Path) -> None:
    path = save_json(tmp_path / "deep" / "out.json", {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n "b": 1,\n "a": [\n  1,\n  2\n ]\n}\n'  # key order kept
    save_json(path, {"x": 1}, indent=None)
    assert path.read_text() == '{"x": 1}\n'


def test_finite_json_replaces_nan_and_infinities() -> None:
    from asrlab.files import finite_json

    assert finite_json({"a": float("nan"), "b": [1.0, float("inf"), (2, float("-inf"))], "c": "x"}) == {
        "a": None, "b": [1.0, None, [2, None]], "c": "x"}


def test_sha256_of_a_file_follows_changes(tmp_path: Path) -> None:
    import hashlib
    import os

    from asrlab.files import sha256_of

    path = tmp_path / "blob.bin"
    path.write_bytes(b"abc")
    assert sha256_of(path) == hashlib.sha256(b"abc").hexdigest()
    path.write_bytes(b"abcd")
    os.utime(path, ns=(1, 1))  # a new size and time: hashed again, not taken from the cache
    assert sha256_of(str(path)) == hashlib.sha256(b"abcd").hexdigest()
    with pytest.raises(FileNotFoundError):
        sha256_of(tmp_path / "missing.bin")


# --------------------------------------------------------------------------- check_writable
def test_check_writable_creates_the_folder_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from asrlab.files import check_writable

    out = tmp_path / "runs" / "a"
    assert check_writable(out, "--out") == out
    assert out.is_dir() and list(out.iterdir()) == []
    target = tmp_path / "results" / "eval.json"
    assert check_writable(target, "--save", file=True) == target
    assert target.parent.is_dir() and not target.exists()


def test_check_writable_names_the_path_when_a_file_is_in_the_way(tmp_path: Path) -> None:
    # a regular file where a folder should be: fails for root too, unlike chmod
    from asrlab.errors import AsrlabError, OutputError
    from asrlab.files import check_writable

    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="not a folder") as caught:
        check_writable(tmp_path / "afile" / "out", "--out")
    assert str(tmp_path / "afile") in str(caught.value) and "--out" in str(caught.value)
    assert isinstance(caught.value, AsrlabError)
    with pytest.raises(OutputError, match="not a folder"):
        check_writable(tmp_path / "afile", "--out")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path / "adir", "--save", file=True)


def test_check_writable_reports_a_read_only_folder(tmp_path: Path) -> None:
    import os

    from asrlab.errors import OutputError
    from asrlab.files import check_writable

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes")
        with pytest.raises(OutputError, match="permission denied") as caught:
            check_writable(locked / "run", "--out")
        assert str(locked) in str(caught.value)
    finally:
        locked.chmod(0o755)


def test_check_writable_reports_a_full_disk(tmp_path: Path, monkeypatch) -> None:
    import errno

    from asrlab.errors import OutputError
    from asrlab.files import check_writable

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError, match="no space left") as caught:
        check_writable(tmp_path / "run", "--out")
    assert str(tmp_path / "run") in str(caught.value)
    assert list((tmp_path / "run").iterdir()) == []  # no probe file left behind

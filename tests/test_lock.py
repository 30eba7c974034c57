"""The warehouse lock: one writer at a time, a dead holder's lock taken over, other file systems left alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from c360.errors import C360Error
from c360.lock import LOCK, holding


def test_a_second_writer_fails_naming_the_holder(tmp_path: Path) -> None:
    with holding(str(tmp_path), "run", "20261206T120000.000Z-aaaa"):
        with pytest.raises(C360Error, match=r"busy: run 20261206T120000.000Z-aaaa holds .* process"):
            with holding(str(tmp_path), "erase", "e1"):
                pass
    assert not (tmp_path / LOCK).exists()
    with holding(str(tmp_path), "erase", "e2"):  # free again
        assert json.loads((tmp_path / LOCK).read_text())["what"] == "erase"


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK).write_text(json.dumps({"what": "run", "id": "old", "host": socket.gethostname(),
                                             "pid": int(dead.stdout)}))
    with holding(str(tmp_path), "maintain", "m1"):
        assert json.loads((tmp_path / LOCK).read_text())["id"] == "m1"


def test_other_file_systems_are_not_locked_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for warehouse in ("s3://bucket/wh", "dbfs:/mnt/wh", "abfss://c@a.dfs.core.windows.net/wh"):
        with holding(warehouse, "run", "r"):
            pass
    assert list(tmp_path.iterdir()) == []

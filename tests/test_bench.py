"""scripts/bench.py's own arithmetic: the bytes a run's commits moved, read from real Delta logs, which of
them rewrote a whole table, growth slopes, and when a stopped size may be taken up."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench  # noqa: E402
from bench import Deliveries, Progress, bytes_moved, held_bytes, log_versions, slope, whole_rewrites, with_rewrites  # noqa: E402


def test_bytes_moved_and_whole_rewrites_from_the_delta_log(tmp_path: Path) -> None:
    rows = pa.table({"id": list(range(1000)), "name": [f"person {i}" for i in range(1000)]})
    before = log_versions(tmp_path)
    write_deltalake(str(tmp_path / "silver" / "people"), rows)
    write_deltalake(str(tmp_path / "gold" / "profiles"), rows)
    after = log_versions(tmp_path)
    first = {"run": "first", "bytes": bytes_moved(tmp_path, before, after)}
    assert after == {"silver.people": 0, "gold.profiles": 0} and all(m["added_bytes"] for m in first["bytes"].values())

    write_deltalake(str(tmp_path / "silver" / "people"), rows, mode="overwrite")  # every file replaced
    write_deltalake(str(tmp_path / "gold" / "profiles"), rows.slice(0, 10), mode="append")  # one file added
    second = {"run": "second", "bytes": bytes_moved(tmp_path, after, log_versions(tmp_path))}
    moved = second["bytes"]
    assert moved["silver.people"]["removed_bytes"] == first["bytes"]["silver.people"]["added_bytes"]
    assert moved["silver.people"]["added_files"] == 1
    assert moved["gold.profiles"]["removed_files"] == 0 and moved["gold.profiles"]["added_bytes"] > 0
    assert whole_rewrites(moved, held_bytes([first])) == ["silver.people"]
    assert bytes_moved(tmp_path, log_versions(tmp_path), log_versions(tmp_path)) == {}, "no commit, nothing moved"

    write_deltalake(str(tmp_path / "silver" / "people"), rows.slice(0, 10), mode="append")
    third = {"run": "third", "bytes": bytes_moved(tmp_path, {"silver.people": 1}, log_versions(tmp_path))}
    held = held_bytes([first, second])
    assert held["silver.people"] == second["bytes"]["silver.people"]["added_bytes"], \
        "the live files only: the folder still holds the replaced ones"
    assert [r["whole_rewrites"] for r in with_rewrites([first, second, third])] == [[], ["silver.people"], []]


def test_slopes() -> None:
    assert slope(10, 100, 1_000, 10_000) == 1.0
    assert slope(10, 20, 1_000, 10_000) == 0.301
    assert slope(0, 20, 1_000, 10_000) is None, "a time with nothing left after the fixed costs has no slope"


def test_a_stopped_size_goes_on_after_its_last_finished_run_and_only_then(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "warehouse" / "silver" / "people"
    ran = []

    def c360_run(config: Path, label: str, earlier: list) -> dict:
        write_deltalake(str(table), pa.table({"run": [label]}), mode="append")  # what a run commits
        ran.append(label)
        return {"run": label}

    monkeypatch.setattr(bench, "c360_run", c360_run)
    first = Progress(tmp_path, again=False)
    first.run(tmp_path / "c360.yaml", "first load", lambda row: row.update(quality=1.0))
    first.run(tmp_path / "c360.yaml", "nothing to do")

    taken_up = Progress(tmp_path, again=False)
    taken_up.run(tmp_path / "c360.yaml", "first load")
    taken_up.run(tmp_path / "c360.yaml", "batch")
    assert ran == ["first load", "nothing to do", "batch"], "finished runs are not run again"
    assert [r["run"] for r in taken_up.runs] == ["first load", "nothing to do", "batch"]
    assert taken_up.runs[0]["quality"] == 1.0

    write_deltalake(str(table), pa.table({"run": ["half a run"]}), mode="append")  # a run stopped half way
    (tmp_path / "landing").mkdir()
    assert Progress(tmp_path, again=False).runs == [] and not table.exists(), "the size starts over"
    assert not (tmp_path / "landing").exists(), "from an empty landing"
    first = Progress(tmp_path, again=False)
    first.run(tmp_path / "c360.yaml", "first load")
    assert Progress(tmp_path, again=True).runs == [], "--again starts over"


def test_batches_are_generated_once_and_delivered_one_at_a_time(tmp_path: Path) -> None:
    deliveries = Deliveries(tmp_path, people=30, seed=7)
    deliveries.batch(1, None)
    landed = {p.relative_to(tmp_path / "landing").as_posix() for p in (tmp_path / "landing").rglob("*") if p.is_file()}
    assert "truth/manifest_b01.json" in landed and all("_b01" in name for name in landed)

    deliveries.batch(2, 0.1)
    assert (tmp_path / "landing" / "truth" / "manifest_b02.json").exists()
    generated = (tmp_path / "generated" / "truth" / "manifest_b02.json").stat()
    Deliveries(tmp_path, people=30, seed=7).batch(2, 0.1)
    assert (tmp_path / "generated" / "truth" / "manifest_b02.json").stat().st_mtime_ns == generated.st_mtime_ns, \
        "a batch is generated once"

"""Report folders: written and read through the warehouse's file system, the newest N runs kept."""

from __future__ import annotations

from pathlib import Path

from c360.report import files


def test_write_read_and_list(tmp_path: Path) -> None:
    folder = str(tmp_path / "r" / "20260101T000000.000000Z-a")
    assert files.write_text(folder, "summary.json", "{}") == f"{folder}/summary.json"
    assert files.read_text(folder, "summary.json") == "{}" and files.read_text(folder, "missing.json") is None
    assert files.exists(folder, "summary.json") and files.file_names(folder) == ["summary.json"]
    assert files.read_text(f"file://{folder}", "summary.json") == "{}", "a file URI is the same folder"


def test_prune_keeps_the_newest_runs_and_the_shared_assets(tmp_path: Path) -> None:
    root = str(tmp_path)
    runs = [f"2026010{d}T000000.000000Z-x" for d in range(1, 6)]
    for run in runs:
        files.write_text(f"{root}/{run}", "summary.json", "{}")
    files.write_text(f"{root}/{files.ASSETS}", "plotly.js", "")
    assert files.prune(root, keep=2) == runs[:3]
    assert files.run_ids(root) == runs[3:]
    assert (tmp_path / files.ASSETS / "plotly.js").exists()


def test_latest_run_is_the_newest_with_a_summary(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert files.latest_run(root) is None
    files.write_text(f"{root}/20260101T000000.000000Z-a", "summary.json", "{}")
    (tmp_path / "20260102T000000.000000Z-b").mkdir()   # a run that died before its report
    assert files.latest_run(root) == "20260101T000000.000000Z-a"


def test_staged_is_the_folder_itself_when_local(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "run"
    with files.staged(str(target)) as local:
        assert Path(local) == target and target.is_dir()

"""Search every file under a folder for values: raw bytes, and every Parquet file decoded (its pages are
compressed, so a byte search alone would miss what they hold)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def _decoded(path: Path) -> str:
    """A Parquet file's rows as text (nested values included); empty when it is no readable Parquet file."""
    try:
        return repr(pq.read_table(path).to_pylist())
    except Exception:  # noqa: BLE001 - a partial or non-Parquet file: its raw bytes are searched anyway
        return ""


def files_holding(root: str | Path, values: list[str]) -> dict[str, list[str]]:
    """File (relative to `root`) -> the `values` found in it, raw or decoded; empty when none holds any."""
    found: dict[str, list[str]] = {}
    wanted = [v for v in values if v]
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        raw = path.read_bytes()
        text = raw.decode("utf-8", "replace") + (_decoded(path) if path.suffix == ".parquet" else "")
        hits = [v for v in wanted if v in text or v.encode() in raw]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found

"""Versioned model files."""

from __future__ import annotations

from pathlib import Path

from c360.silver import model as model_store


def test_model_versions_count_up(tmp_path: Path) -> None:
    assert model_store.latest(tmp_path) is None
    first = model_store.save(tmp_path, {"link_type": "dedupe_only"}, {"records": 10})
    second = model_store.save(tmp_path, {"link_type": "dedupe_only"}, {"records": 20})
    assert (first.version, second.version) == (1, 2)
    assert model_store.latest(tmp_path) == second
    assert second.load() == {"link_type": "dedupe_only"} and second.metadata()["records"] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["person_linkage_v0001.json", "person_linkage_v0002.json"]

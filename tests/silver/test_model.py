"""Versioned model files: versions count up, one is current, a held-back retrain never becomes current by
itself, a rollback points back, and a folder given as a URI works like a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c360.errors import C360Error
from c360.silver import model as model_store


def test_model_versions_count_up(tmp_path: Path) -> None:
    assert model_store.latest(tmp_path) is None
    first = model_store.save(tmp_path, {"link_type": "dedupe_only"}, {"records": 10})
    second = model_store.save(tmp_path, {"link_type": "dedupe_only"}, {"records": 20})
    assert (first.version, second.version) == (1, 2)
    assert model_store.latest(tmp_path) == second
    assert second.load() == {"link_type": "dedupe_only"} and second.metadata()["records"] == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.json", "person_linkage_v0001.json",
                                                          "person_linkage_v0002.json"]
    assert json.loads((tmp_path / "current.json").read_text())["version"] == 2


def test_a_candidate_becomes_current_only_when_made_so(tmp_path: Path) -> None:
    model_store.save(tmp_path, {}, {"records": 10})
    candidate = model_store.save(tmp_path, {}, {"records": 30}, current=False)
    assert model_store.latest(tmp_path).version == 1, "a candidate waits for the churn check"
    candidate.annotate(held_back="it would move 9% of customers")
    assert candidate.metadata() == {"records": 30, "version": 2, "held_back": "it would move 9% of customers"}
    third = model_store.save(tmp_path, {}, {"records": 40}, current=False)
    model_store.make_current(third, "retrained")
    assert model_store.latest(tmp_path) == third
    left, now = model_store.rollback(tmp_path)
    assert (left.version, now.version) == (3, 1), "the held-back version is passed over"
    with pytest.raises(C360Error, match="first version"):
        model_store.rollback(tmp_path)


def test_a_folder_without_a_pointer_uses_its_newest_version_not_held_back(tmp_path: Path) -> None:
    model_store.save(tmp_path, {}, {"records": 10})
    model_store.save(tmp_path, {}, {"records": 20, "held_back": "churn"})
    (tmp_path / "current.json").unlink()
    assert model_store.latest(tmp_path).version == 1
    with pytest.raises(C360Error, match=r"version 7 does not exist .*versions: 1, 2"):
        model_store.version(tmp_path, 7)


def test_a_model_folder_given_as_a_uri(tmp_path: Path) -> None:
    folder = f"file://{tmp_path}/models"
    saved = model_store.save(folder, {"link_type": "link_only"}, {"records": 5})
    assert saved.path == f"{folder}/person_linkage_v0001.json"
    assert model_store.latest(folder).load() == {"link_type": "link_only"}
    assert (tmp_path / "models" / "person_linkage_v0001.json").is_file()

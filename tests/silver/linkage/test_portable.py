"""One saved model on both backends: rendered for either dialect with its parameters, refused when its
levels are not what this version builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.errors import C360Error
from c360.silver import model as model_store
from c360.silver.linkage.portable import for_dialect
from tests.silver.linkage.conftest import DATA, stored_spec


def test_a_saved_model_renders_for_either_dialect_with_its_parameters(project_root: Path) -> None:
    model = model_store.latest(DATA)
    assert model is not None
    saved, spec = model.load(), stored_spec(project_root)
    there = for_dialect(saved, spec, "duckdb")
    back = for_dialect(there, spec, "spark")
    assert there["sql_dialect"] == "duckdb" and back["sql_dialect"] == "spark"
    assert "`" not in str(there["comparisons"]), "no Spark quoting left in DuckDB's SQL"
    for ours, theirs in zip(back["comparisons"], saved["comparisons"]):
        assert [lvl.get("m_probability") for lvl in ours["comparison_levels"]] == [
            lvl.get("m_probability") for lvl in theirs["comparison_levels"]]
        assert [lvl.get("u_probability") for lvl in ours["comparison_levels"]] == [
            lvl.get("u_probability") for lvl in theirs["comparison_levels"]]
    assert back["probability_two_random_records_match"] == saved["probability_two_random_records_match"]


def test_a_model_with_other_levels_is_refused(project_root: Path) -> None:
    model = model_store.latest(DATA)
    assert model is not None
    saved = model.load()
    saved["comparisons"][0]["comparison_levels"].pop(2)
    with pytest.raises(C360Error, match="other levels"):
        for_dialect(saved, stored_spec(project_root), "duckdb")

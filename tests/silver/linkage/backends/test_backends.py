"""The backend seam: `choose` and its reasons, and the same pairs from both backends on the same records
with the same model (Spark's similarity functions come from Splink's jar,
DuckDB's are built in, so pairs within 0.01 of the threshold may differ)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360.config import LinkageSettings
from c360.datagen.crm_pairs import crm_pairs
from c360.silver import model as model_store
from c360.silver.linkage.backends import choose
from tests.silver.test_stage_shapes import FIELDS, run_silver

THRESHOLD = 0.8


def test_auto_links_on_duckdb_under_a_local_master_and_on_spark_beyond_the_record_limit(spark: SparkSession) -> None:
    backend, why = choose(spark, LinkageSettings(), 1_000)
    with backend:
        assert backend.name == "duckdb" and "local Spark master" in why
    backend, why = choose(spark, LinkageSettings(duckdb_max_records=10), 1_000)
    with backend:
        assert backend.name == "spark" and "duckdb_max_records" in why
    backend, why = choose(spark, LinkageSettings(backend="spark"), 1_000)
    with backend:
        assert backend.name == "spark" and why == "silver.linkage.backend"


@pytest.mark.slow
def test_both_backends_give_the_same_pairs_with_the_same_model(spark: SparkSession, tmp_path: Path) -> None:
    frames, _ = crm_pairs(700, seed=8)
    pairs = {}
    for name in ("spark", "duckdb"):  # the first run trains the model, the second predicts with it
        summary, store = run_silver(spark, tmp_path, frames, FIELDS, linkage={"backend": name})
        assert summary["linkage"]["backend"]["name"] == name and summary["model_version"] == 1
        if name == "spark":
            model = model_store.latest(tmp_path / "warehouse" / "_models" / "person_linkage")
            assert model is not None and model.metadata()["trained_on"] == "duckdb", "Spark's model trains in the driver"
        rows = store.read("silver.match_pairs").where("method = 'splink'").collect()
        pairs[name] = {(r.record_key_l, r.record_key_r): r.match_probability for r in rows}
    assert len(pairs["spark"]) > 100
    near = {p for name in pairs for p, prob in pairs[name].items() if abs(prob - THRESHOLD) < 0.01}
    assert set(pairs["spark"]) - near == set(pairs["duckdb"]) - near
    for pair in set(pairs["spark"]) & set(pairs["duckdb"]):
        assert abs(pairs["spark"][pair] - pairs["duckdb"][pair]) < 0.01, pair

"""Bronze against a damaged landing's manifest: every damaged record quarantined with the manifest's reason,
nothing else quarantined, every good record in bronze, and a second run over the landing commits nothing."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from c360 import pipeline
from c360.config import load_config
from c360.datagen.damage import WAYS, reconcile, write_damaged
from c360.session import EngineChoice
from c360.storage import open_store


def test_bronze_reconciles_with_the_damage_manifest(tmp_path: Path, spark: SparkSession) -> None:
    manifest = write_damaged(tmp_path, 3000, seed=3)
    assert set(manifest["ways"]) == set(WAYS) and 0.01 <= manifest["damaged_share"] < 0.03
    config = load_config(tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)

    def bronze() -> dict:
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        return pipeline.run(ctx, "bronze")["bronze"]

    first = bronze()
    found = reconcile(store, manifest)
    assert found["ok"], found
    assert found["matched"] == len(manifest["damages"]), first
    versions = {t: store.version(t) for t in store.list_tables("bronze")}
    bronze()
    assert {t: store.version(t) for t in store.list_tables("bronze")} == versions, "a second run commits nothing"

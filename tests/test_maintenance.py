"""`c360 maintain`: small files compacted, the customer tables clustered by customer id, old files vacuumed,
on both engines; no data changes, so incremental runs and the change data feed see nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360.cli import main
from c360.maintenance import maintain
from c360.storage import TableStore, open_store

CDF = {"delta.enableChangeDataFeed": "true"}


def pile_up(store: TableStore, spark: SparkSession) -> None:
    """Three runs' worth of small appends to a timeline and a silver table."""
    for run in range(3):
        events = spark.createDataFrame([(f"C{run}", f"e{run}{i}") for i in range(3)], "customer_id string, event_id string")
        store.append(events, "gold.customer_interactions", properties=CDF)
        store.append(spark.createDataFrame([(run,)], "n int"), "silver.runs_like")


def test_maintain_compacts_clusters_and_vacuums(store: TableStore, spark: SparkSession) -> None:
    pile_up(store, spark)
    before = store.version("gold.customer_interactions")
    done = maintain(store, ("silver", "gold"), zorder=True, retain_hours=0)
    timeline = done["gold.customer_interactions"]
    assert timeline["files_removed"] >= 3 and timeline["files_added"] >= 1 and timeline["files_vacuumed"] >= 3, timeline
    assert done["silver.runs_like"]["files_added"] == 1
    assert store.read("gold.customer_interactions").count() == 9
    assert store.changes("gold.customer_interactions", before + 1).count() == 0, "compaction changes no data"
    maintain(store, ("gold",), retain_hours=0)
    settled = maintain(store, ("gold",), retain_hours=0)["gold.customer_interactions"]
    assert (settled["files_removed"], settled["files_added"], settled["files_vacuumed"]) == (0, 0, 0), settled


def test_maintain_command_prints_what_it_did(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c360.yaml"
    config.write_text(yaml.safe_dump({"warehouse": str(tmp_path / "wh"), "engine": "delta-rs"}))
    pile_up(open_store(spark, "delta-rs", str(tmp_path / "wh")), spark)
    assert main(["maintain", "--config", str(config), "--layers", "gold"]) == 0
    done = json.loads(capsys.readouterr().out)["maintained"]
    assert list(done) == ["gold.customer_interactions"] and done["gold.customer_interactions"]["files_added"] == 1

"""`c360 maintain`: small files compacted, the customer tables clustered by customer id, old files vacuumed,
on both engines; no data changes, so incremental runs and the change data feed see nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.cli import main
from c360.maintenance import maintain
from c360.storage import TableStore, open_store

CDF = {"delta.enableChangeDataFeed": "true"}


def pile_up(store: TableStore, spark: SparkSession) -> None:
    """Three runs' worth of small appends to a timeline (each run an event of every customer, so a customer's
    rows lie in every file) and a silver table."""
    for run in range(3):
        events = spark.createDataFrame([(f"C{i}", f"e{run}{i}") for i in range(3)], "customer_id string, event_id string")
        store.append(events, "gold.customer_interactions", properties=CDF)
        store.append(spark.createDataFrame([(run,)], "n int"), "silver.runs_like")


def runs_per_customer(store: TableStore, table: str) -> int:
    """How many runs of consecutive rows the customers' rows form across the table's files, in file order:
    the number of customers when every customer's rows lie together."""
    rows = store.read(table).select("customer_id", F.input_file_name().alias("file")).collect()
    runs, previous = 0, None
    for row in rows:
        if (row.file, row.customer_id) != previous:
            runs, previous = runs + 1, (row.file, row.customer_id)
    return runs


def test_maintain_compacts_clusters_and_vacuums(store: TableStore, spark: SparkSession) -> None:
    pile_up(store, spark)
    assert runs_per_customer(store, "gold.customer_interactions") == 9, "appended run by run, every customer is spread"
    before = store.version("gold.customer_interactions")
    # Delta's Z-order range-partitions rows into files of optimize.maxFileSize (with random noise against skew)
    # and leaves the order inside a file alone: a small size and no noise make these nine rows span files as a
    # large table's do, deterministically
    conf = {"spark.databricks.delta.optimize.maxFileSize": "1000", "spark.databricks.io.skipping.mdc.addNoise": "false"}
    kept = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        done = maintain(store, ("silver", "gold"), zorder=True, retain_hours=0)
    finally:
        for key, value in kept.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    timeline = done["gold.customer_interactions"]
    assert timeline["files_removed"] >= 3 and timeline["files_added"] >= 1 and timeline["files_vacuumed"] >= 3, timeline
    assert done["silver.runs_like"]["files_added"] == 1
    assert store.read("gold.customer_interactions").count() == 9
    assert runs_per_customer(store, "gold.customer_interactions") == 3, "each customer's rows lie together"
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

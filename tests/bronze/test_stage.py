"""The bronze stage over the generator's demo data: every record lands, counts reconcile with the
generator's manifest per source, a re-run commits nothing, a delta batch adds exactly its records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from c360 import pipeline
from c360.config import parse_config
from c360.datagen.generate import generate
from c360.session import EngineChoice
from c360.storage import open_store
from tests.conftest import TEST_SPARK_CONF


def demo_config(project_root: Path, root: Path, engine: str = "delta-rs", sources: Sequence[str] = ()) -> dict:
    """conf/demo.yaml over `root`'s landing folder and warehouse; with `sources`, only those sources (and gold
    settings that name no other)."""
    doc = yaml.safe_load((project_root / "conf" / "demo.yaml").read_text())
    for source in doc["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(root / "landing"))
    doc.update(warehouse=str(root / "warehouse"), engine=engine)
    doc["spark"]["conf"] = dict(TEST_SPARK_CONF)
    if sources:
        doc["sources"] = [s for s in doc["sources"] if s["name"] in sources]
        gold = doc["gold"]
        if gold.get("accounts", {}).get("source") not in sources:
            gold.pop("accounts", None)
        for rule in gold["survivorship"].values():
            kept = [s for s in rule.pop("sources", ()) if s in sources]
            if kept:
                rule["sources"] = kept
    return doc


def test_demo_data_lands_completely(project_root: Path, tmp_path: Path, spark: SparkSession) -> None:
    generate(150, tmp_path / "landing", seed=9)
    config = parse_config(demo_config(project_root, tmp_path), tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)

    def run() -> dict:
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        return pipeline.run(ctx, "bronze")["bronze"]["sources"]

    def reconcile(batch: int, result: dict) -> None:
        manifest = json.loads((tmp_path / "landing" / "truth" / f"manifest_b{batch:02d}.json").read_text())
        for name, info in manifest["sources"].items():
            assert result[name]["records"] == result[name]["written"] == info["records"], name

    reconcile(1, run())
    versions = {t: store.version(t) for t in store.list_tables("bronze")}
    again = run()
    assert {s["status"] for s in again.values()} == {"up to date"}
    assert {t: store.version(t) for t in store.list_tables("bronze")} == versions
    generate(150, tmp_path / "landing", seed=9, batch=2)
    reconcile(2, run())
    total = sum(json.loads((tmp_path / "landing" / "truth" / f"manifest_b0{b}.json").read_text())
                ["sources"]["web_events"]["records"] for b in (1, 2))
    assert store.read("bronze.web_events").count() == total


def test_backlog_of_two_batches_lands_in_one_run(project_root: Path, tmp_path: Path, spark: SparkSession) -> None:
    generate(80, tmp_path / "landing", seed=4)
    generate(80, tmp_path / "landing", seed=4, batch=2)
    config = parse_config(demo_config(project_root, tmp_path), tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)
    ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
    result = pipeline.run(ctx, "bronze")["bronze"]["sources"]
    manifests = [json.loads((tmp_path / "landing" / "truth" / f"manifest_b0{b}.json").read_text()) for b in (1, 2)]
    for name in manifests[0]["sources"]:
        expected = sum(m["sources"][name]["records"] for m in manifests)
        assert result[name]["written"] == expected and "quarantined" not in result[name], name

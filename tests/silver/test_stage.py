"""The silver stage on the generator's data: trains and saves a model when there is none, writes every
silver table, links well against the generator's truth, and a re-run of unchanged input commits nothing."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.cli import main
from c360.config import parse_config
from c360.datagen.generate import generate
from c360.session import EngineChoice
from c360.silver import model as model_store
from c360.silver.identity_map import COLUMNS
from c360.storage import open_store
from tests.bronze.test_stage import demo_config


def test_silver_stage_end_to_end(project_root: Path, tmp_path: Path, spark: SparkSession, capsys) -> None:  # noqa: ANN001
    generate(800, tmp_path / "landing", seed=5)
    doc = demo_config(project_root, tmp_path)
    (tmp_path / "c360.yaml").write_text(yaml.safe_dump(doc))
    config = parse_config(doc, tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)

    def run(stage: str) -> dict:
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        return pipeline.run(ctx, stage)[stage]

    run("bronze")
    summary = run("silver")
    model = model_store.latest(model_store.model_dir(config))
    assert model is not None and model.version == summary["model_version"] == 1
    assert {"match_weights.html", "m_u_parameters.html", "waterfall_sample.html", "cluster_studio.html"} <= {
        p.name for p in Path(summary["charts"]).iterdir()}
    assert summary["linkage"]["backend"]["name"] == "duckdb", "auto: a local master links on DuckDB"
    assert {"person records", "match keys", "model", "comparison counts", "predict", "clustering", "customer ids",
            "charts", "writes", "interactions"} <= set(summary["seconds_per_step"])
    assert set(summary["write_seconds"]) == {"silver.person_records", "silver.match_pairs", "silver.scored_pairs",
                                             "silver.hub_identifiers", "silver.identity_map", "silver.graph_components",
                                             "silver.customer_id_redirects"}, "each person table's write is timed"
    identity = store.read("silver.identity_map")
    assert tuple(identity.columns) == COLUMNS
    assert identity.count() == store.read("silver.person_records").count() == summary["person_records"]
    assert identity.select("record_key").distinct().count() == identity.count()
    assert store.read("silver.interactions").select("event_id", "source").distinct().count() == summary["interactions"]

    versions = {t: store.version(t) for t in store.list_tables("silver")}
    ids = {r.record_key: r.customer_id for r in identity.collect()}
    assert run("silver")["status"].startswith("unchanged")
    assert {t: store.version(t) for t in store.list_tables("silver")} == versions
    assert {r.record_key: r.customer_id for r in store.read("silver.identity_map").collect()} == ids

    truth = str(tmp_path / "landing" / "truth" / "person_records_b*.csv")
    capsys.readouterr()
    assert main(["evaluate", "--config", str(tmp_path / "c360.yaml"), "--truth", truth,
                 "--json", str(tmp_path / "eval.json")]) == 0
    assert "pairwise F1" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["records_only_in_truth"] == 0 and result["records_only_in_identity_map"] == 0
    assert result["precision"] >= 0.9 and result["f1"] >= 0.85, result

    # an earlier run that had split one customer in two: this run merges them back and says so
    customer = identity.groupBy("customer_id").count().where("count >= 3").orderBy("customer_id").first()["customer_id"]
    first_key = identity.where(f"customer_id = '{customer}'").agg({"record_key": "min"}).first()[0]
    split = identity.withColumn("customer_id", F.when(F.col("record_key") == first_key, F.lit("Cold")).otherwise(F.col("customer_id")))
    store.overwrite(split, "silver.identity_map")
    ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id(), full_refresh=True)
    summary = pipeline.run(ctx, "silver")["silver"]
    assert summary["churn"] == {"customers_created": 0, "customers_merged": 1, "customers_split": 0,
                                "customers_retired": 0, "records_reassigned": 1, "customers_moved_by_steward": 0}
    redirects = [(r.old_customer_id, r.new_customer_id, r.kind, r.run_id) for r in store.read("silver.customer_id_redirects").collect()]
    assert redirects == [("Cold", customer, "merge", ctx.run_id)]
    assert {r.record_key: r.customer_id for r in store.read("silver.identity_map").collect()} == ids
    run("gold")
    assert [(r.old_customer_id, r.new_customer_id) for r in store.read("gold.customer_id_redirects").collect()] == [("Cold", customer)]

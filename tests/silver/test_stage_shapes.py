"""Silver end to end on person data shaped unlike the demo's (c360.datagen.crm_pairs, an independent
generator with its own noise model) and on degenerate input: each run completes, gives every record a
customer id, and says in its summary what linkage had to work with. None ends in a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from c360 import pipeline
from c360.config import parse_config
from c360.datagen.crm_pairs import Noise, crm_pairs
from c360.errors import C360Error
from c360.session import EngineChoice
from c360.silver.evaluation import evaluate
from c360.storage import open_store

FIELDS = {"first_name": "first_name", "last_name": "last_name", "date_of_birth": "birth_date", "email": "email",
          "phone": "phone", "street": "street", "city": "city", "postcode": "postcode", "country": "country"}
NO_DUPLICATES = Noise(dup_a=0.0, dup_b=0.0)

pytestmark = pytest.mark.slow


def run_silver(spark: SparkSession, tmp_path: Path, frames: dict[str, pd.DataFrame], fields: dict,
               unique: bool = False, linkage: dict | None = None) -> tuple[dict, object]:
    """Land `frames` as Parquet person sources, run bronze and silver (`linkage`: silver.linkage settings);
    (silver summary, store)."""
    sources = []
    for name, frame in frames.items():
        path = tmp_path / "landing" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.astype("string").to_parquet(path, index=False)
        sources.append({"name": name, "kind": "person", "format": "parquet", "path": str(path), "id": "id",
                        "no_duplicates": unique, "fields": fields})
    config = parse_config({"warehouse": str(tmp_path / "warehouse"), "engine": "delta-rs", "sources": sources,
                           "silver": {"linkage": linkage or {}}}, tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)
    for stage in ("bronze", "silver"):
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        summary = pipeline.run(ctx, stage)[stage]
    identity = store.read("silver.identity_map")
    assert identity.count() == sum(len(f) for f in frames.values()), "every record has a customer id"
    assert identity.where("customer_id is null").count() == 0
    return summary, store


def quality(store, truth: pd.DataFrame, spark: SparkSession) -> dict:  # noqa: ANN001
    keyed = pd.DataFrame({"record_key": truth.source + ":" + truth.source_record_id, "true_id": truth.true_id.astype(str)})
    return evaluate(store.read("silver.identity_map"), spark.createDataFrame(keyed))


def test_names_birth_dates_and_addresses_only(spark: SparkSession, tmp_path: Path) -> None:
    frames, truth = crm_pairs(700, seed=3)
    fields = {k: v for k, v in FIELDS.items() if k not in ("email", "phone")}
    summary, store = run_silver(spark, tmp_path, frames, fields)
    assert summary["linkage"]["spec"]["fields"] == ["city", "date_of_birth", "first_name", "last_name", "postcode", "street"]
    assert "warning" not in summary["linkage"]
    result = quality(store, truth, spark)
    assert result["precision"] >= 0.95 and result["recall"] >= 0.8, result


def test_names_and_email_only(spark: SparkSession, tmp_path: Path) -> None:
    frames, truth = crm_pairs(700, seed=4)
    summary, store = run_silver(spark, tmp_path, frames, {"first_name": "first_name", "last_name": "last_name", "email": "email"})
    assert [c["kind"] for c in summary["linkage"]["spec"]["comparisons"]] == ["name", "email"]
    assert quality(store, truth, spark)["precision"] >= 0.9


def test_one_source_deduplicated_against_itself(spark: SparkSession, tmp_path: Path) -> None:
    frames, truth = crm_pairs(700, seed=5, noise=Noise(dup_a=0.3))
    summary, store = run_silver(spark, tmp_path, {"crm_a": frames["crm_a"]}, FIELDS)
    assert summary["customers"] < len(frames["crm_a"]), "duplicates inside the source were linked"
    assert quality(store, truth[truth.source == "crm_a"], spark)["precision"] >= 0.95


def test_two_sources_linked_never_deduplicated_inside(spark: SparkSession, tmp_path: Path) -> None:
    frames, truth = crm_pairs(700, seed=6, noise=NO_DUPLICATES)
    summary, store = run_silver(spark, tmp_path, frames, FIELDS, unique=True)
    assert summary["linkage"]["spec"]["unique_sources"] == ["crm_a", "crm_b"]
    sources_per_customer = store.read("silver.identity_map").groupBy("customer_id", "source").count()
    assert sources_per_customer.where("count > 1").count() == 0, "no customer holds two records of one source"
    assert quality(store, truth, spark)["f1"] >= 0.85


def test_a_source_of_three_records(spark: SparkSession, tmp_path: Path) -> None:
    frames, _ = crm_pairs(700, seed=7)
    summary, _ = run_silver(spark, tmp_path, {"tiny": frames["crm_a"].head(3)}, FIELDS)
    assert summary["customers"] == 3
    assert "linked by shared identifiers only" in summary["linkage"]["warning"]


def test_a_source_whose_names_are_all_empty(spark: SparkSession, tmp_path: Path) -> None:
    frames, _ = crm_pairs(700, seed=8)
    blank = frames["crm_a"].assign(first_name="", last_name=" ")
    summary, _ = run_silver(spark, tmp_path, {"crm_a": blank}, FIELDS)
    assert "name" not in [c["kind"] for c in summary["linkage"]["spec"]["comparisons"]]
    assert any("first_name" in n and "left out" in n for n in summary["linkage"]["notes"])


def test_a_set_with_no_true_pair(spark: SparkSession, tmp_path: Path) -> None:
    frames, _ = crm_pairs(400, seed=9, noise=NO_DUPLICATES)
    summary, _ = run_silver(spark, tmp_path, {"crm_a": frames["crm_a"]}, FIELDS)
    assert summary["customers"] == len(frames["crm_a"])


def test_a_model_built_for_other_fields_is_retrained_or_refused(spark: SparkSession, tmp_path: Path) -> None:
    frames, _ = crm_pairs(500, seed=10)
    fields = {k: v for k, v in FIELDS.items() if k != "email"}
    first, store = run_silver(spark, tmp_path, frames, fields)
    assert first["model_version"] == 1
    # the sources now map e-mail too: the saved model was built without it
    sources = [{"name": n, "kind": "person", "format": "parquet", "path": str(tmp_path / "landing" / f"{n}.parquet"),
                "id": "id", "fields": FIELDS} for n in frames]
    for policy in ("fail", "retrain"):
        config = parse_config({"warehouse": str(tmp_path / "warehouse"), "engine": "delta-rs", "sources": sources,
                               "silver": {"linkage": {"on_model_mismatch": policy}}}, tmp_path / "c360.yaml")
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        if policy == "fail":
            with pytest.raises(C360Error, match="model v1 was built for other fields.*on_model_mismatch"):
                pipeline.run(ctx, "silver")
        else:
            summary = pipeline.run(ctx, "silver")["silver"]
            assert summary["model_version"] == 2 and "email" in summary["linkage"]["spec"]["fields"]

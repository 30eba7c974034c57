"""Data-quality gates: each one fails on its own kind of bad gold, with a message naming the gate."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.config import GOLDEN_FIELDS, QualitySettings
from c360.gold.quality import check


def tables(spark: SparkSession, profile_ids: list[str], xref_ids: list[str], event_ids: list[str]):  # noqa: ANN201
    profiles = spark.createDataFrame([(i,) for i in profile_ids], "customer_id string")
    for name in GOLDEN_FIELDS:
        profiles = profiles.withColumn(name, F.when(F.col("customer_id") == "A", F.lit("x")).cast("string"))
    xref = spark.createDataFrame([(i,) for i in xref_ids], "customer_id string")
    events = spark.createDataFrame([(i,) for i in event_ids], "customer_id string")
    return profiles, xref, events


def test_good_gold_passes_and_reports_completeness(spark: SparkSession) -> None:
    report = check(*tables(spark, ["A", "B"], ["A", "B", "B"], ["A"]), QualitySettings())
    assert report.passed and report.completeness["first_name"] == 0.5


def test_each_gate_fails_on_its_own(spark: SparkSession) -> None:
    cases = {
        "duplicate customer_id": (["A", "A"], ["A"], []),
        "profile without a source record": (["A", "B"], ["A"], []),
        "source record without a profile": (["A"], ["A", "Z"], []),
        "interaction without a profile": (["A"], ["A"], ["Z"]),
    }
    for gate, data in cases.items():
        report = check(*tables(spark, *data), QualitySettings())
        assert [f.split(":")[0] for f in report.failures] == [gate], (gate, report.failures)
    report = check(*tables(spark, ["A", "B"], ["A", "B"], []), QualitySettings(min_completeness={"email": 0.9}))
    assert report.failures == ["completeness of email: 50.00% < required 90.00%"]

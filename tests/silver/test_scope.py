"""The part of the graph an incremental run clusters again: whole components, before and after, that hold a
record whose edges changed."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from c360.silver.clustering.driver import DriverClusterer
from c360.silver.clustering.spark import SparkClusterer
from c360.silver.scope import affected, within

EDGE = "record_key_l string, record_key_r string"


def keys(spark: SparkSession, text: str):  # noqa: ANN201 - DataFrame
    return spark.createDataFrame([(k,) for k in text.split()], "record_key string")


@pytest.mark.parametrize("engine", ["spark", "driver"])
def test_components_before_and_after_that_hold_the_focus(spark: SparkSession, engine: str) -> None:
    clusterer = SparkClusterer() if engine == "spark" else DriverClusterer(spark)
    # now: a-b-c linked, d alone, e-f, g-h; before: d was linked to a deleted record x, which linked to e
    records = keys(spark, "a b c d e f g h")
    now = spark.createDataFrame([("a", "b"), ("b", "c"), ("e", "f"), ("g", "h")], EDGE)
    before = spark.createDataFrame([("a", "b"), ("d", "x"), ("e", "x"), ("e", "f"), ("g", "h")], EDGE)
    found = affected(clusterer, records, now, before, keys(spark, "c x"))
    assert sorted(r.record_key for r in found.collect()) == ["a", "b", "c", "d", "e", "f"]


def test_within_keeps_rows_whose_keys_all_lie_in_scope(spark: SparkSession) -> None:
    pairs = spark.createDataFrame([("a", "b"), ("b", "z"), ("z", "y")], EDGE)
    kept = within(pairs, keys(spark, "a b"), "record_key_l", "record_key_r")
    assert [tuple(r) for r in kept.collect()] == [("a", "b")]

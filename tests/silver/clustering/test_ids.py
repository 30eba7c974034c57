"""Stable customer ids across re-runs, merges and splits."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.clustering import assign_customer_ids
from c360.silver.clustering.spark import connected_components
from tests.silver.clustering.conftest import nodes

EDGE = "record_key_l string, record_key_r string"


def test_ids_are_opaque_and_stable(spark: SparkSession) -> None:
    edges = spark.createDataFrame([("a", "b"), ("c", "d")], EDGE)
    first = assign_customer_ids(connected_components(nodes(spark, "a b c d"), edges), None, "run1")
    ids = {r["record_key"]: r["customer_id"] for r in first.collect()}
    assert ids["a"] == ids["b"] != ids["c"] == ids["d"]
    assert all(i.startswith("C") and len(i) == 21 and i[1:] != "a" for i in ids.values())
    again = assign_customer_ids(connected_components(nodes(spark, "a b c d"), edges), first, "run2")
    assert {r["record_key"]: r["customer_id"] for r in again.collect()} == ids


def test_merge_keeps_the_larger_side_and_split_keeps_the_majority(spark: SparkSession) -> None:
    before = spark.createDataFrame([("a", "C1"), ("b", "C1"), ("c", "C1"), ("d", "C2")], "record_key string, customer_id string")
    merged = connected_components(nodes(spark, "a b c d e"),
                                  spark.createDataFrame([("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")], EDGE))
    after = {r["record_key"]: r["customer_id"] for r in assign_customer_ids(merged, before, "r").collect()}
    assert set(after.values()) == {"C1"}, "the merged cluster keeps the id most of its records had"
    split = connected_components(nodes(spark, "a b c"), spark.createDataFrame([("b", "c")], EDGE))
    after = {r["record_key"]: r["customer_id"] for r in assign_customer_ids(split, before, "r").collect()}
    assert after["b"] == after["c"] == "C1" and after["a"] not in ("C1", "C2")


def test_new_id_never_reuses_a_taken_one(spark: SparkSession) -> None:
    first = assign_customer_ids(connected_components(nodes(spark, "a b c"),
                                                     spark.createDataFrame([("a", "b"), ("b", "c")], EDGE)), None, "r1")
    old = first.first()["customer_id"]
    # 'a' splits off; the piece {b, c} keeps the old id, and 'a' (whose key seeded it) gets another one
    split = connected_components(nodes(spark, "a b c"), spark.createDataFrame([("b", "c")], EDGE))
    after = {r["record_key"]: r["customer_id"] for r in assign_customer_ids(split, first, "r2").collect()}
    assert after["b"] == after["c"] == old and after["a"] != old

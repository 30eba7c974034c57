"""A table written by one engine is read, merged into and vacuumed by the other (needs the Delta jars)."""

from __future__ import annotations

import itertools

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.storage import MergeSpec, TableStore, Txn

SCHEMA = "id long, name string, score int"
PAIRS = list(itertools.permutations(("delta-rs", "delta-spark")))


def _rows(spark: SparkSession, data: list[tuple]):
    return spark.createDataFrame(data, SCHEMA)


def _same(actual, expected) -> None:
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


@pytest.mark.parametrize(("writer", "other"), PAIRS)
def test_written_by_one_engine_maintained_by_the_other(
    stores: dict[str, TableStore], spark: SparkSession, writer: str, other: str
) -> None:
    first, second = stores[writer], stores[other]
    first.append(_rows(spark, [(1, "a", 10), (2, "b", 20)]), "gold.x", properties={"delta.enableChangeDataFeed": "true"})
    first.overwrite(_rows(spark, [(1, "a", 11), (2, "b", 21)]), "gold.x")
    _same(second.read("gold.x"), _rows(spark, [(1, "a", 11), (2, "b", 21)]))

    second.merge(_rows(spark, [(2, "B", 22), (3, "c", 30)]), "gold.x", MergeSpec(keys=("id",)), txn=Txn("app", 1))
    expected = _rows(spark, [(1, "a", 11), (2, "B", 22), (3, "c", 30)])
    _same(first.read("gold.x"), expected)
    assert first.txn_version("gold.x", "app") == 1
    assert first.merge(_rows(spark, [(2, "x", 0)]), "gold.x", MergeSpec(keys=("id",)), txn=Txn("app", 1)).skipped

    removed = second.vacuum("gold.x", retention_hours=0)
    assert removed, "the overwritten files should be vacuumed"
    _same(first.read("gold.x"), expected)
    _same(second.read("gold.x"), expected)
    appended = first.append(_rows(spark, [(4, "d", 40)]), "gold.x")
    assert second.read("gold.x").count() == 4
    # Versions before the vacuum lost their change files (as Delta intends); read the feed from the append.
    changes = second.changes("gold.x", starting_version=appended.version).select("id", "_change_type").collect()
    assert (4, "insert") in {(r["id"], r["_change_type"]) for r in changes}


def test_partitioned_table_from_delta_spark_reads_in_delta_rs(stores: dict[str, TableStore], spark: SparkSession) -> None:
    native, embedded = stores["delta-spark"], stores["delta-rs"]
    df = spark.createDataFrame([(1, "a", 10), (2, "b", 20), (3, "a", 30)], SCHEMA)
    df.write.format("delta").partitionBy("name").save(native.path("gold.parts"))
    _same(embedded.read("gold.parts"), df)
    embedded.merge(_rows(spark, [(1, "a", 11)]), "gold.parts", MergeSpec(keys=("id",)))
    _same(native.read("gold.parts"), _rows(spark, [(1, "a", 11), (2, "b", 20), (3, "a", 30)]))


@pytest.mark.parametrize(("writer", "other"), PAIRS)
def test_column_descriptions_written_by_one_engine_are_read_by_the_other(
    stores: dict[str, TableStore], spark: SparkSession, writer: str, other: str
) -> None:
    first, second = stores[writer], stores[other]
    first.append(_rows(spark, [(1, "a", 10)]), "gold.described")
    first.describe_columns("gold.described", {"name": "Name as written."})
    assert second.column_comments("gold.described")["name"] == "Name as written."
    second.merge(_rows(spark, [(1, "b", 11)]), "gold.described", MergeSpec(keys=("id",)))
    assert first.column_comments("gold.described")["name"] == "Name as written."
    assert second.describe_columns("gold.described", {"name": "Name as written."}) == []

"""The part of the graph an incremental run clusters again: whole components, before and after, that hold a
record whose edges changed."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.scope import affected, within

EDGE = "record_key_l string, record_key_r string"


def keys(spark: SparkSession, text: str):  # noqa: ANN201 - DataFrame
    return spark.createDataFrame([(k,) for k in text.split()], "record_key string")


def components(spark: SparkSession, text: str):  # noqa: ANN201 - DataFrame
    """(record_key, component) from "a:a b:a ..."."""
    return spark.createDataFrame([tuple(p.split(":")) for p in text.split()], "record_key string, component string")


def test_components_before_and_after_that_hold_the_focus(spark: SparkSession) -> None:
    # now: a-b-c linked, d alone, e-f, g-h; before: a-b, and d was linked to a deleted record x, which linked
    # to e; c is new
    records = keys(spark, "a b c d e f g h")
    now = spark.createDataFrame([("a", "b"), ("b", "c"), ("e", "f"), ("g", "h")], EDGE)
    before = components(spark, "a:a b:a d:d x:d e:d f:d g:g h:g")
    found = affected(records, now, before, keys(spark, "c x"))
    assert sorted(r.record_key for r in found.collect()) == ["a", "b", "c", "d", "e", "f"]


def test_a_new_edge_reaches_the_partner_s_whole_component(spark: SparkSession) -> None:
    # before: p-q-r one component; now the changed record c links to r: p and q may move with it
    now = spark.createDataFrame([("p", "q"), ("q", "r"), ("c", "r")], EDGE)
    found = affected(keys(spark, "c p q r s"), now, components(spark, "c:c p:p q:p r:p s:s"), keys(spark, "c"))
    assert sorted(r.record_key for r in found.collect()) == ["c", "p", "q", "r"]


def test_within_keeps_rows_whose_keys_all_lie_in_scope(spark: SparkSession) -> None:
    pairs = spark.createDataFrame([("a", "b"), ("b", "z"), ("z", "y")], EDGE)
    kept = within(pairs, keys(spark, "a b"), "record_key_l", "record_key_r")
    assert [tuple(r) for r in kept.collect()] == [("a", "b")]

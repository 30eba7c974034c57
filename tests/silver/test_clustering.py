"""Connected components and stable customer ids across re-runs, merges and splits."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.clustering import assign_customer_ids, best_link_clusters, connected_components, split_oversized

EDGE = "record_key_l string, record_key_r string"


def nodes(spark: SparkSession, keys: str):  # noqa: ANN201
    return spark.createDataFrame([(k,) for k in keys.split()], "record_key string")


def as_groups(df, key: str = "customer_id") -> set[frozenset[str]]:  # noqa: ANN001
    groups: dict[str, set[str]] = {}
    for row in df.collect():
        groups.setdefault(row[key], set()).add(row["record_key"])
    return {frozenset(g) for g in groups.values()}


def test_components_follow_chains(spark: SparkSession) -> None:
    edges = spark.createDataFrame([("a", "b"), ("c", "b"), ("c", "d"), ("d", "e"), ("x", "y")], EDGE)
    comps = connected_components(nodes(spark, "a b c d e x y z"), edges)
    assert as_groups(comps, "component") == {frozenset("abcde"), frozenset("xy"), frozenset("z")}
    assert {r["component"] for r in comps.collect()} == {"a", "x", "z"}


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


SCORED = "record_key_l string, record_key_r string, match_weight double"


def test_mutual_best_links_merge_and_ambiguous_records_stay_alone(spark: SparkSession) -> None:
    start = connected_components(nodes(spark, "g1 g2 h s t u"), spark.createDataFrame([("g1", "g2")], EDGE))
    scored = spark.createDataFrame([
        ("g1", "s", 20.0), ("h", "s", 19.0),  # 's' fits two people equally well: it joins neither
        ("t", "u", 25.0), ("g2", "t", 5.0),   # 't' and 'u' are each other's clear best
    ], SCORED)
    clusters, _ = best_link_clusters(start, scored, min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset({"g1", "g2"}), frozenset({"h"}), frozenset({"s"}),
                                                  frozenset({"t", "u"})}


def test_links_below_the_threshold_are_ignored(spark: SparkSession) -> None:
    start = connected_components(nodes(spark, "a b"), spark.createDataFrame([], EDGE))
    clusters, _ = best_link_clusters(start, spark.createDataFrame([("a", "b", 2.0)], SCORED), min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset("a"), frozenset("b")}


def test_giant_cluster_is_split_along_its_strongest_links(spark: SparkSession) -> None:
    chain = [("a", "b", 9.0), ("b", "c", 8.0), ("c", "d", 1.0), ("d", "e", 7.0), ("e", "f", 9.0), ("x", "y", 5.0)]
    edges = spark.createDataFrame(chain, "record_key_l string, record_key_r string, strength double")
    comps = connected_components(nodes(spark, "a b c d e f x y"), edges.drop("strength"))
    split, report = split_oversized(comps, edges, max_size=3)
    assert as_groups(split, "component") == {frozenset("abc"), frozenset("def"), frozenset("xy")}
    assert report == [{"component": "a", "size": 6, "pieces": 2}]
    unchanged, none = split_oversized(comps, edges, max_size=6)
    assert none == [] and as_groups(unchanged, "component") == as_groups(comps, "component")

"""Connected components and stable customer ids across re-runs, merges and splits."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.silver.clustering import (assign_customer_ids, best_link_clusters, connected_components, dates_compatible,
                                    split_oversized)

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


def test_a_star_of_duplicates_merges_when_its_tips_lean_to_one_person(spark: SparkSession) -> None:
    """A record and two duplicates, each mistyped differently: the tips score below the threshold against each
    other but above even odds, so neither is the other's rival; two namesakes (no link) still are."""
    start = connected_components(nodes(spark, "o d1 d2 s g h"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("o", "d1", 10.0), ("o", "d2", 9.5), ("d1", "d2", 1.0),
                                    ("s", "g", 12.0), ("s", "h", 11.0)], SCORED)
    clusters, _ = best_link_clusters(start, scored, min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset({"o", "d1", "d2"}), frozenset({"s"}), frozenset({"g"}),
                                                  frozenset({"h"})}


def test_candidates_whose_birth_dates_agree_are_no_rivals_and_namesakes_born_apart_are(spark: SparkSession) -> None:
    start = connected_components(nodes(spark, "o d1 d2 s g h"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("o", "d1", 10.0), ("o", "d2", 9.5), ("s", "g", 12.0), ("s", "h", 11.0)], SCORED)
    born = date(1961, 5, 2)
    guards = spark.createDataFrame([("o", born), ("d1", born), ("d2", date(1961, 2, 5)), ("s", None),
                                    ("g", date(1980, 1, 1)), ("h", date(1975, 6, 30))], "record_key string, date_of_birth date")
    clusters, _ = best_link_clusters(start, scored, min_weight=3.0, margin=3.0, guards=guards)
    assert as_groups(clusters, "component") == {frozenset({"o", "d1", "d2"}), frozenset({"s"}), frozenset({"g"}),
                                                  frozenset({"h"})}


def test_birth_dates_one_typo_or_swap_apart_are_compatible(spark: SparkSession) -> None:
    pairs = [("1985-03-12", "1985-03-12", True), ("1985-03-12", "1985-03-13", True),  # equal, one digit
             ("1985-03-12", "1958-03-12", True), ("1985-03-12", "1985-12-03", True),  # transposed, day/month swap
             ("1985-03-12", "1962-07-30", False), ("1985-03-12", "1985-04-13", False)]
    frame = spark.createDataFrame(pairs, "a string, b string, expected boolean").selectExpr(
        "to_date(a) as a", "to_date(b) as b", "expected")
    got = frame.withColumn("got", dates_compatible(F.col("a"), F.col("b")))
    assert [r.got for r in got.collect()] == [r.expected for r in got.collect()]


def test_clusters_whose_birth_dates_conflict_or_that_share_a_no_duplicates_source_never_merge(spark: SparkSession) -> None:
    # 'a' and 'a2' are one person (stitched); 'b' links strongly to 'a2', which has no birth date, but
    # contradicts 'a''s; 'x' and 'y' link strongly although born years apart (father and son at one address)
    start = connected_components(nodes(spark, "a a2 b c d e f x y"), spark.createDataFrame([("a", "a2")], EDGE))
    scored = spark.createDataFrame([("a2", "b", 20.0), ("c", "d", 20.0), ("e", "f", 20.0), ("x", "y", 20.0)], SCORED)
    guards = spark.createDataFrame([
        ("a", date(1985, 3, 12), None), ("a2", None, None), ("b", date(1962, 7, 30), None),  # two people
        ("c", date(1985, 3, 12), None), ("d", date(1985, 12, 3), None),        # one person, day/month swapped
        ("e", None, "febrl_a"), ("f", None, "febrl_a"),                        # one file holds each person once
        ("x", date(1985, 3, 12), None), ("y", date(1962, 7, 30), None)],
        "record_key string, date_of_birth date, unique_source string")
    clusters, _ = best_link_clusters(start, scored, min_weight=3.0, margin=3.0, guards=guards)
    assert as_groups(clusters, "component") == {frozenset({"a", "a2"}), frozenset("b"), frozenset("cd"), frozenset("e"),
                                                  frozenset("f"), frozenset("x"), frozenset("y")}


def test_clusters_holding_namesake_handles_never_merge(spark: SparkSession) -> None:
    # 'p' and 'q': two profiles whose handles spell one name with other digits (namesakes); 'r' and 's':
    # one profile whose handle has no digits and one with, which may be one person's
    start = connected_components(nodes(spark, "p q r s"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("p", "q", 20.0), ("r", "s", 20.0)], SCORED)
    guards = spark.createDataFrame([("p", "gavingreen", "50"), ("q", "gavingreen", "17"), ("r", "annalee", None),
                                    ("s", "annalee", "84")], "record_key string, handle_key string, handle_digits string")
    clusters, _ = best_link_clusters(start, scored, min_weight=3.0, margin=3.0,
                                     guards=guards.withColumn("date_of_birth", F.lit(None).cast("date")))
    assert as_groups(clusters, "component") == {frozenset("p"), frozenset("q"), frozenset("rs")}


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

"""The clustering contract, run on each engine: components, mutual best links and their guards, splits."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.silver.clustering import Clusterer, ClusterRules
from tests.silver.clustering.conftest import as_groups, nodes

EDGE = "record_key_l string, record_key_r string"


def test_components_follow_chains(spark: SparkSession, clusterer: Clusterer) -> None:
    edges = spark.createDataFrame([("a", "b"), ("c", "b"), ("c", "d"), ("d", "e"), ("x", "y")], EDGE)
    comps = clusterer.connected_components(nodes(spark, "a b c d e x y z"), edges)
    assert as_groups(comps, "component") == {frozenset("abcde"), frozenset("xy"), frozenset("z")}
    assert {r["component"] for r in comps.collect()} == {"a", "x", "z"}


SCORED = "record_key_l string, record_key_r string, match_weight double"


def test_mutual_best_links_merge_and_ambiguous_records_stay_alone(spark: SparkSession, clusterer: Clusterer) -> None:
    start = clusterer.connected_components(nodes(spark, "g1 g2 h s t u"), spark.createDataFrame([("g1", "g2")], EDGE))
    scored = spark.createDataFrame([
        ("g1", "s", 20.0), ("h", "s", 19.0),  # 's' fits two people equally well: it joins neither
        ("t", "u", 25.0), ("g2", "t", 5.0),   # 't' and 'u' are each other's clear best
    ], SCORED)
    clusters, _ = clusterer.best_link_clusters(start, scored, min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset({"g1", "g2"}), frozenset({"h"}), frozenset({"s"}),
                                                  frozenset({"t", "u"})}


def test_a_star_of_duplicates_merges_when_its_tips_lean_to_one_person(spark: SparkSession, clusterer: Clusterer) -> None:
    """A record and two duplicates, each mistyped differently: the tips score below the threshold against each
    other but above even odds, so neither is the other's rival; two namesakes (no link) still are."""
    start = clusterer.connected_components(nodes(spark, "o d1 d2 s g h"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("o", "d1", 10.0), ("o", "d2", 9.5), ("d1", "d2", 1.0),
                                    ("s", "g", 12.0), ("s", "h", 11.0)], SCORED)
    clusters, _ = clusterer.best_link_clusters(start, scored, min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset({"o", "d1", "d2"}), frozenset({"s"}), frozenset({"g"}),
                                                  frozenset({"h"})}


def test_candidates_whose_birth_dates_agree_are_no_rivals_and_namesakes_born_apart_are(spark: SparkSession, clusterer: Clusterer) -> None:
    start = clusterer.connected_components(nodes(spark, "o d1 d2 s g h"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("o", "d1", 10.0), ("o", "d2", 9.5), ("s", "g", 12.0), ("s", "h", 11.0)], SCORED)
    born = date(1961, 5, 2)
    guards = spark.createDataFrame([("o", born), ("d1", born), ("d2", date(1961, 2, 5)), ("s", None),
                                    ("g", date(1980, 1, 1)), ("h", date(1975, 6, 30))], "record_key string, date_of_birth date")
    clusters, _ = clusterer.best_link_clusters(start, scored, min_weight=3.0, margin=3.0, guards=guards)
    assert as_groups(clusters, "component") == {frozenset({"o", "d1", "d2"}), frozenset({"s"}), frozenset({"g"}),
                                                  frozenset({"h"})}


def test_clusters_whose_birth_dates_conflict_or_that_share_a_no_duplicates_source_never_merge(spark: SparkSession, clusterer: Clusterer) -> None:
    # 'a' and 'a2' are one person (stitched); 'b' links strongly to 'a2', which has no birth date, but
    # contradicts 'a''s; 'x' and 'y' link strongly although born years apart (father and son at one address)
    start = clusterer.connected_components(nodes(spark, "a a2 b c d e f x y"), spark.createDataFrame([("a", "a2")], EDGE))
    scored = spark.createDataFrame([("a2", "b", 20.0), ("c", "d", 20.0), ("e", "f", 20.0), ("x", "y", 20.0)], SCORED)
    guards = spark.createDataFrame([
        ("a", date(1985, 3, 12), None), ("a2", None, None), ("b", date(1962, 7, 30), None),  # two people
        ("c", date(1985, 3, 12), None), ("d", date(1985, 12, 3), None),        # one person, day/month swapped
        ("e", None, "febrl_a"), ("f", None, "febrl_a"),                        # one file holds each person once
        ("x", date(1985, 3, 12), None), ("y", date(1962, 7, 30), None)],
        "record_key string, date_of_birth date, unique_source string")
    clusters, _ = clusterer.best_link_clusters(start, scored, min_weight=3.0, margin=3.0, guards=guards)
    assert as_groups(clusters, "component") == {frozenset({"a", "a2"}), frozenset("b"), frozenset("cd"), frozenset("e"),
                                                  frozenset("f"), frozenset("x"), frozenset("y")}


def test_clusters_holding_namesake_handles_never_merge(spark: SparkSession, clusterer: Clusterer) -> None:
    # 'p' and 'q': two profiles whose handles spell one name with other digits (namesakes); 'r' and 's':
    # one profile whose handle has no digits and one with, which may be one person's
    start = clusterer.connected_components(nodes(spark, "p q r s"), spark.createDataFrame([], EDGE))
    scored = spark.createDataFrame([("p", "q", 20.0), ("r", "s", 20.0)], SCORED)
    guards = spark.createDataFrame([("p", "gavingreen", "50"), ("q", "gavingreen", "17"), ("r", "annalee", None),
                                    ("s", "annalee", "84")], "record_key string, handle_key string, handle_digits string")
    clusters, _ = clusterer.best_link_clusters(start, scored, min_weight=3.0, margin=3.0,
                                     guards=guards.withColumn("date_of_birth", F.lit(None).cast("date")))
    assert as_groups(clusters, "component") == {frozenset("p"), frozenset("q"), frozenset("rs")}


def test_links_below_the_threshold_are_ignored(spark: SparkSession, clusterer: Clusterer) -> None:
    start = clusterer.connected_components(nodes(spark, "a b"), spark.createDataFrame([], EDGE))
    clusters, _ = clusterer.best_link_clusters(start, spark.createDataFrame([("a", "b", 2.0)], SCORED), min_weight=3.0, margin=3.0)
    assert as_groups(clusters, "component") == {frozenset("a"), frozenset("b")}


def test_giant_cluster_is_split_along_its_strongest_links(spark: SparkSession, clusterer: Clusterer) -> None:
    chain = [("a", "b", 9.0), ("b", "c", 8.0), ("c", "d", 1.0), ("d", "e", 7.0), ("e", "f", 9.0), ("x", "y", 5.0)]
    edges = spark.createDataFrame(chain, "record_key_l string, record_key_r string, strength double")
    comps = clusterer.connected_components(nodes(spark, "a b c d e f x y"), edges.drop("strength"))
    split, report = clusterer.split_oversized(comps, edges, max_size=3)
    assert as_groups(split, "component") == {frozenset("abc"), frozenset("def"), frozenset("xy")}
    assert report == [{"component": "a", "size": 6, "pieces": 2}]
    unchanged, none = clusterer.split_oversized(comps, edges, max_size=6)
    assert none == [] and as_groups(unchanged, "component") == as_groups(comps, "component")


def test_the_whole_algorithm_stitches_links_and_splits(spark: SparkSession, clusterer: Clusterer) -> None:
    # a-b stitched, c links to b: one cluster of three; x-y-z grow over two rounds; both pass max_size 2 and
    # split along their strongest links; p-q stays below the threshold
    exact = spark.createDataFrame([("a", "b")], EDGE)
    links = [("b", "c", 12.0), ("x", "y", 15.0), ("y", "z", 5.0), ("p", "q", 1.0)]
    scored = spark.createDataFrame(links, SCORED)
    strength = spark.createDataFrame([("a", "b", 1000.0), *links[:3]], "record_key_l string, record_key_r string, strength double")
    guards = spark.createDataFrame([("a", date(1970, 1, 2)), ("c", date(1970, 2, 1)), ("z", None)],
                                   "record_key string, date_of_birth date")
    found = clusterer.cluster(nodes(spark, "a b c x y z p q"), exact, scored, strength, guards,
                              ClusterRules(min_weight=3.0, margin=3.0, max_size=2))
    assert as_groups(found.components, "component") == {frozenset("ab"), frozenset("c"), frozenset("xy"), frozenset("z"),
                                                        frozenset("p"), frozenset("q")}
    assert found.rounds == 3
    assert found.oversized == [{"component": "a", "size": 3, "pieces": 2}, {"component": "x", "size": 3, "pieces": 2}]
    # the graph read: every link from the weakest weight a rule reads (p-q at 1.0 >= 0), labelled by its smallest key
    assert {(r.record_key, r.component) for r in found.graph.collect()} == {
        ("a", "a"), ("b", "a"), ("c", "a"), ("x", "x"), ("y", "x"), ("z", "x"), ("p", "p"), ("q", "p")}


def test_a_stewards_must_link_overrides_a_guard_and_a_cannot_link_splits_a_cluster(spark: SparkSession,
                                                                                   clusterer: Clusterer) -> None:
    """Labels on either engine: `a`-`b` are born years apart (the guard would keep them apart) but a steward
    says one person; `c`-`e` share an e-mail (a deterministic chain c-d-e) but a steward says two people."""
    from c360.silver.clustering.constraints import MUST_STRENGTH, keep_apart, with_must_links

    exact = spark.createDataFrame([("c", "d", "exact:email"), ("d", "e", "exact:email")], f"{EDGE}, method string")
    must = spark.createDataFrame([("a", "b")], EDGE)
    cannot = spark.createDataFrame([("c", "e")], EDGE)
    guards = spark.createDataFrame([("a", date(1950, 1, 1)), ("b", date(1990, 6, 6))], "record_key string, date_of_birth date")
    scored = spark.createDataFrame([("a", "b", 12.0), ("d", "e", 2.0)], SCORED)
    linked = with_must_links(exact, must)
    found = clusterer.cluster(nodes(spark, "a b c d e"), linked, scored, linked.select(
        "record_key_l", "record_key_r", F.when(F.col("method") == "steward", MUST_STRENGTH).otherwise(1000.0).alias("strength")),
        guards, ClusterRules(min_weight=3.0, margin=3.0, max_size=50))
    strength = spark.createDataFrame([("a", "b", MUST_STRENGTH), ("c", "d", 1000.0), ("d", "e", 1000.0)],
                                     f"{EDGE}, strength double")
    apart, report = keep_apart(found.components, strength, cannot)
    assert as_groups(apart, "component") == {frozenset("ab"), frozenset("cd"), frozenset("e")}
    assert report == [{"component": "c", "size": 3, "pieces": 2}]

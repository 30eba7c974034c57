"""Cannot-links split the clusters that hold both their records; must-links join records as deterministic links."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.frames import local_frame
from c360.silver.clustering.constraints import keep_apart, with_must_links
from c360.silver.clustering.pieces import apart_pieces

COMPONENTS = "record_key string, component string"
PAIRS = "record_key_l string, record_key_r string"


def test_a_cluster_is_split_along_its_strongest_links_so_no_piece_holds_a_cannot_link() -> None:
    of = dict.fromkeys("abcde", "a")
    edges = [("a", "b", 10.0), ("b", "c", 2.0), ("c", "d", 9.0), ("d", "e", 1.0), ("a", "e", 3.0)]
    piece, report = apart_pieces(of, edges, [("a", "d")])
    assert piece == {"a": "a", "b": "a", "e": "a", "c": "c", "d": "c"}
    assert report == [{"component": "a", "size": 5, "pieces": 2}]


def test_keep_apart_touches_only_the_clusters_holding_a_cannot_link(spark: SparkSession) -> None:
    components = local_frame(spark, [("a", "a"), ("b", "a"), ("c", "a"), ("x", "x"), ("y", "x")], COMPONENTS)
    edges = local_frame(spark, [("a", "b", 1e6), ("b", "c", 5.0), ("x", "y", 5.0)],
                        "record_key_l string, record_key_r string, strength double")
    apart = local_frame(spark, [("a", "c"), ("c", "x")], PAIRS)
    out, report = keep_apart(components, edges, apart)
    expected = local_frame(spark, [("a", "a"), ("b", "a"), ("c", "c"), ("x", "x"), ("y", "x")], COMPONENTS)
    assert_df_equality(out.orderBy("record_key"), expected, ignore_nullable=True)
    assert report == [{"component": "a", "size": 3, "pieces": 2}]


def test_must_links_join_the_deterministic_links_once(spark: SparkSession) -> None:
    exact = local_frame(spark, [("a", "b", "exact:email")], f"{PAIRS}, method string")
    must = local_frame(spark, [("a", "b"), ("c", "d")], PAIRS)
    out = with_must_links(exact, must).orderBy("record_key_l")
    assert_df_equality(out, local_frame(spark, [("a", "b", "exact:email"), ("c", "d", "steward")], f"{PAIRS}, method string"),
                       ignore_nullable=True)

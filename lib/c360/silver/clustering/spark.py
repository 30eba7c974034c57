"""The Spark clustering engine: any number of edges, on a cluster.

Components come from min-label propagation: every record starts with its own key as label and takes the
smallest label among itself and its neighbours until nothing changes (iterations ~ the longest chain;
lineage is cut every few rounds). Mutual best links run as joins and window ranks per round.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.checkpoint import checkpoint
from c360.errors import C360Error
from c360.frames import local_frame
from c360.silver.clustering.base import Clusterer
from c360.silver.clustering.pieces import Splitter, split_pieces

log = logging.getLogger(__name__)


def connected_components(nodes: DataFrame, edges: DataFrame, max_iterations: int = 60,
                         checkpoint_every: int = 4) -> DataFrame:
    """(record_key, component) for every node; `component` is the smallest record key of its component."""
    links = edges.select(F.col("record_key_l").alias("src"), F.col("record_key_r").alias("dst"))
    # materialised once: the edges are usually a deep plan (stitching, linkage) and every round reads them
    links = checkpoint(links.unionByName(links.select(F.col("dst").alias("src"), F.col("src").alias("dst"))).distinct())
    labels = checkpoint(nodes.select("record_key").distinct().withColumn("component", F.col("record_key")))
    for iteration in range(1, max_iterations + 1):
        offered = (links.join(labels.withColumnRenamed("record_key", "src"), "src")
                   .groupBy(F.col("dst").alias("record_key")).agg(F.min("component").alias("offer")))
        updated = (labels.join(offered, "record_key", "left")
                   .select("record_key", F.least("component", F.coalesce("offer", "component")).alias("component")))
        updated = checkpoint(updated) if iteration % checkpoint_every == 0 else updated.cache()
        before = labels.withColumnRenamed("component", "before")
        changed = updated.join(before, "record_key").where(F.col("component") != F.col("before")).count()
        labels.unpersist()
        labels = updated
        if changed == 0:
            return labels
    raise C360Error(f"clustering did not converge in {max_iterations} rounds (a very long chain of matches?)")


def _relabel(components: DataFrame, merges: DataFrame) -> DataFrame:
    """Apply (old, new) component renames."""
    renamed = components.join(merges.withColumnRenamed("old", "component"), "component", "left")
    return renamed.select("record_key", F.coalesce("new", "component").alias("component"))


def dates_compatible(a: Column, b: Column) -> Column:
    """Two birth dates that may be one person's: equal, one character off, two characters transposed
    ('1985' / '1958'), or day and month swapped. Anything else is two people, whatever the names say."""
    x, y = F.date_format(a, "yyyyMMdd"), F.date_format(b, "yyyyMMdd")
    transposed = (F.levenshtein(x, y) == 2) & (F.array_sort(F.split(x, "")) == F.array_sort(F.split(y, "")))
    swapped = (F.year(a) == F.year(b)) & (F.month(a) == F.dayofmonth(b)) & (F.dayofmonth(a) == F.month(b))
    return (F.levenshtein(x, y) <= 1) | transposed | swapped


def _cluster_guards(labels: DataFrame, guards: DataFrame | None) -> DataFrame | None:
    """(component, dobs, uniq, handles): each cluster's known birth dates, no-duplicates sources and
    handles that carry digits (handle_key, handle_digits), once per round."""
    if guards is None:
        return None
    for column in ("unique_source", "handle_key", "handle_digits"):
        if column not in guards.columns:
            guards = guards.withColumn(column, F.lit(None).cast("string"))
    numbered = F.when(F.col("handle_digits").isNotNull(), F.struct("handle_key", "handle_digits"))
    return (labels.join(guards, "record_key")
            .groupBy("component").agg(F.collect_set("date_of_birth").alias("dobs"),
                                      F.collect_set("unique_source").alias("uniq"),
                                      F.collect_set(numbered).alias("handles"))
            .where((F.size("dobs") > 0) | (F.size("uniq") > 0) | (F.size("handles") > 0)))


def _handles_conflict(a: Column, b: Column) -> Column:
    """Some handle of one cluster spells the same letters as one of the other's with other digits:
    '@gavingreen50' and '@gavingreen17' are two accounts, and namesakes' handles look just like that."""
    return F.exists(a, lambda x: F.exists(b, lambda y: (x["handle_key"] == y["handle_key"])
                                          & (x["handle_digits"] != y["handle_digits"])))


def _conflict_free(pairs: DataFrame, facts: DataFrame | None) -> DataFrame:
    """Drop cluster pairs that cannot be one person: no birth date of one is compatible with one of the
    other's (see dates_compatible), both hold a record of the same no-duplicates source, or their handles
    conflict (see _handles_conflict). A link scored high despite different dates is vetoed too: father and
    son at one address look just like a date replaced in one source, and a wrong merge costs more than a
    miss. `facts`: see _cluster_guards."""
    if facts is None:
        return pairs
    a = facts.select(F.col("component").alias("a"), F.col("dobs").alias("dobs_a"), F.col("uniq").alias("uniq_a"),
                     F.col("handles").alias("handles_a"))
    b = facts.select(F.col("component").alias("b"), F.col("dobs").alias("dobs_b"), F.col("uniq").alias("uniq_b"),
                     F.col("handles").alias("handles_b"))
    checked = pairs.join(a, "a", "left").join(b, "b", "left")
    some_date = F.exists("dobs_a", lambda x: F.exists("dobs_b", lambda y: dates_compatible(x, y)))

    def empty(c: str) -> Column:
        return F.col(c).isNull() | (F.size(c) == 0)
    dates_ok = empty("dobs_a") | empty("dobs_b") | some_date
    sources_ok = empty("uniq_a") | empty("uniq_b") | ~F.arrays_overlap("uniq_a", "uniq_b")
    handles_ok = empty("handles_a") | empty("handles_b") | ~_handles_conflict(F.col("handles_a"), F.col("handles_b"))
    return checked.where(dates_ok & sources_ok & handles_ok).select("a", "b", "w")


def _choices(pairs: DataFrame, related: DataFrame, facts: DataFrame | None, margin: float) -> DataFrame:
    """Each cluster's best partner (a, b), kept when it beats by `margin` every rival: another partner c that
    may be someone else. c is no rival when it is related to b (`related`: their best link leans to one
    person) or when both have known birth dates and some agree (`facts`: see _cluster_guards). A record and two
    duplicates mistyped differently form such a star: the tips score low against each other, yet their
    dates agree; two namesakes a social profile fits equally well are told apart by theirs."""
    rank = Window.partitionBy("a").orderBy(F.desc("w"), "b")
    top = pairs.withColumn("n", F.row_number().over(rank)).where("n = 1").select("a", "b", "w")
    others = (pairs.withColumnRenamed("b", "c").withColumnRenamed("w", "w2").join(top, "a")
              .where(F.col("c") != F.col("b")))
    linked = related.select(F.col("a").alias("b"), F.col("b").alias("c"))
    rivals = others.join(linked, ["b", "c"], "left_anti")
    if facts is not None:
        of_b = facts.select(F.col("component").alias("b"), F.col("dobs").alias("dobs_b"))
        of_c = facts.select(F.col("component").alias("c"), F.col("dobs").alias("dobs_c"))
        agree = F.exists("dobs_b", lambda x: F.exists("dobs_c", lambda y: dates_compatible(x, y)))
        rivals = rivals.join(of_b, "b", "left").join(of_c, "c", "left").where(~F.coalesce(agree, F.lit(False)))
    rivals = rivals.groupBy("a").agg(F.max("w2").alias("rival"))
    return top.join(rivals, "a", "left").where(
        F.col("rival").isNull() | (F.col("w") - F.col("rival") >= margin)).select("a", "b")


def best_link_clusters(components: DataFrame, scored: DataFrame, min_weight: float, margin: float,
                       guards: DataFrame | None = None, max_rounds: int = 30,
                       related_weight: float = 0.0) -> tuple[DataFrame, int]:
    """Grow clusters from `components` (record_key, component) with scored edges (record_key_l,
    record_key_r, match_weight): two clusters merge only when each is the other's best partner, that
    partner beats the next-best unrelated one by `margin` (log2 odds), and they do not contradict each other
    (`guards`: record_key, date_of_birth, unique_source, handle_key and handle_digits; see _conflict_free).

    Plain connected components on probabilistic links chain people together: a social profile that only
    says 'Gavin' and '@gavingreen50' matches both Gavin Greens of a city, and would merge them. Mutual best
    links with a margin leave such an ambiguous record on its own. Links from `related_weight` (0: even
    odds) up only decide who is a rival (see _choices). Returns the components and the rounds.
    """
    edges = checkpoint(scored.where(F.col("match_weight") >= min(min_weight, related_weight)).select(
        "record_key_l", "record_key_r", "match_weight"))
    labels = checkpoint(components)
    for round_no in range(1, max_rounds + 1):  # noqa: B007 - returned: how many rounds it took
        left = labels.select(F.col("record_key").alias("record_key_l"), F.col("component").alias("a"))
        right = labels.select(F.col("record_key").alias("record_key_r"), F.col("component").alias("b"))
        between = edges.join(left, "record_key_l").join(right, "record_key_r").where(F.col("a") != F.col("b"))
        both = between.select("a", "b", "match_weight").unionByName(
            between.select(F.col("b").alias("a"), F.col("a").alias("b"), "match_weight"))
        pairs = both.groupBy("a", "b").agg(F.max("match_weight").alias("w"))
        facts = _cluster_guards(labels, guards)
        facts = checkpoint(facts) if facts is not None else None
        related = checkpoint(_conflict_free(pairs, facts))
        choice = _choices(related.where(F.col("w") >= min_weight), related.where(F.col("w") >= related_weight),
                          facts, margin)
        mutual = choice.alias("x").join(choice.alias("y"), (F.col("x.a") == F.col("y.b")) & (F.col("x.b") == F.col("y.a")))
        merges = checkpoint(mutual.where(F.col("x.a") > F.col("x.b")).select(
            F.col("x.a").alias("old"), F.col("x.b").alias("new")))
        merged = merges.count()
        log.info("clustering: round %d of mutual best links merges %d clusters", round_no, merged)
        if merged == 0:
            break
        labels = checkpoint(_relabel(labels, merges))
    return labels, round_no


def split_on_driver(components: DataFrame, clusters: DataFrame, edges: DataFrame, split: Splitter
                    ) -> tuple[DataFrame, list[dict]]:
    """`components` (record_key, component) with the `clusters` (component) split by `split` (see pieces):
    their members and inner `edges` (record_key_l, record_key_r, strength) are collected to the driver, the
    other clusters stay as they are. Returns the components and `split`'s report rows."""
    members = components.join(clusters, "component").select("record_key", "component").collect()
    if not members:
        return components, []
    of = {row.record_key: row.component for row in members}
    keys = local_frame(components.sparkSession, [(k,) for k in of], "record_key string")
    inner = edges.join(keys.withColumnRenamed("record_key", "record_key_l"), "record_key_l").join(
        keys.withColumnRenamed("record_key", "record_key_r"), "record_key_r")
    piece, report = split(of, ((r.record_key_l, r.record_key_r, r.strength) for r in inner.collect()))
    relabel = local_frame(components.sparkSession, list(piece.items()), "record_key string, _piece string")
    out = components.join(relabel, "record_key", "left").select(
        "record_key", F.coalesce("_piece", "component").alias("component"))
    return out, report


def split_oversized(components: DataFrame, edges: DataFrame, max_size: int) -> tuple[DataFrame, list[dict]]:
    """Split clusters above `max_size` along their strongest links (edges: record_key_l, record_key_r,
    strength; see pieces.split_pieces)."""
    sizes = components.groupBy("component").agg(F.count("*").alias("size"))
    big = sizes.where(F.col("size") > max_size).select("component")
    return split_on_driver(components, big, edges, lambda of, inner: split_pieces(of, inner, max_size))


class SparkClusterer(Clusterer):
    """Clustering as Spark jobs (see the module functions)."""

    name = "spark"

    def connected_components(self, nodes: DataFrame, edges: DataFrame) -> DataFrame:
        return connected_components(nodes, edges)

    def best_link_clusters(self, components: DataFrame, scored: DataFrame, min_weight: float, margin: float,
                           guards: DataFrame | None = None, max_rounds: int = 30,
                           related_weight: float = 0.0) -> tuple[DataFrame, int]:
        return best_link_clusters(components, scored, min_weight, margin, guards, max_rounds, related_weight)

    def split_oversized(self, components: DataFrame, edges: DataFrame, max_size: int) -> tuple[DataFrame, list[dict]]:
        return split_oversized(components, edges, max_size)

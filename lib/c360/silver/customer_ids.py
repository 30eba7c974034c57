"""The customer id lifecycle: which cluster keeps which id, and where every id that moved went.

Ids are opaque and stable. Each run matches the new clusters to the previous run's ids by how many records
they share, greedily from the largest overlap (ties: the id created first, then the smaller id; for one id
between two clusters, the cluster with the smaller label):

* a cluster made of one earlier customer's records, plus new ones, keeps that id;
* a cluster that bridges several earlier customers (a **merge**) keeps the id with the most records in it,
  then the one created first; the others redirect to it;
* a customer whose records now sit in several clusters (a **split**) keeps its id on the part with most of
  them; every other part takes an id of its own (another earlier id it holds more of, or a new one);
* a cluster with no earlier id gets a new one (`C` and 20 hex digits of a hash of its smallest record key,
  salted with the run id when that id was ever used before, so an id is never handed out twice);
* an id whose records are all gone is **retired**.

`silver.customer_id_redirects` (old_customer_id, new_customer_id, kind, run_id, at) records every change:
`merge` (the old id is gone and its records now carry the new one; when they went to several customers, the
one holding most of them is the merge and the rest are splits), `split` (some of the old id's records now
carry the new id, the old id lives on), `retire` (no records left and no successor; new_customer_id null).
Chains are collapsed: when a customer that earlier ids point at is merged in turn, they point at its
successor; when it is retired, merges into it become retirements and splits into it are dropped. So every
old id leads in one step to the ids that hold its records now; `run_id` and `at` say when the old id moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.frames import local_frame

ID_PREFIX = "C"
IDS_SCHEMA = "record_key string, customer_id string, customer_created_at timestamp"
KEPT_SCHEMA = "component string, prev string, created timestamp"
REDIRECT_COLUMNS = ("old_customer_id", "new_customer_id", "kind", "run_id", "at", "by")
REDIRECT_SCHEMA = "old_customer_id string, new_customer_id string, kind string, run_id string, at timestamp, by string"
BY_C360, BY_STEWARD = "c360", "steward"  # who moved an id: the linkage, or a steward's labels
SPARK_ROUNDS = 5
"""Rounds of mutual best matches on Spark; what is left after them (rare chains of conflicts) is matched on
the driver, where it is a few rows."""


@dataclass
class IdChanges:
    """A run's ids per record (record_key, customer_id, customer_created_at), the redirects it made, the
    whole collapsed redirect table, and its churn (customers created, merged, split, retired, records whose
    id changed)."""

    ids: DataFrame
    redirects: DataFrame
    table: DataFrame
    churn: dict[str, int]


def _new_id(seed: Column) -> Column:
    """An opaque id from a seed string: 'C' and 20 hex digits of its sha256."""
    return F.concat(F.lit(ID_PREFIX), F.substring(F.sha2(seed, 256), 1, 20))


def previous_ids(previous: DataFrame) -> DataFrame:
    """(record_key, customer_id, created) of a previous identity map; an id's creation time is its
    `customer_created_at`, or for maps written before that column, the earliest `assigned_at` of its records."""
    created = (F.col("customer_created_at") if "customer_created_at" in previous.columns else
               F.min("assigned_at").over(Window.partitionBy("customer_id")) if "assigned_at" in previous.columns else
               F.lit(None).cast("timestamp"))
    return previous.select("record_key", "customer_id", created.alias("created"))


def _mutual_best(candidates: DataFrame) -> DataFrame:
    """The candidates marked `won` where (component, prev) are each other's first choice, and `open` where
    neither side won anything this round (the rest lost to a winner). A component prefers the id with most
    of its records, then the one created first, then the smaller id; an id prefers the component with most of
    its records, then the smaller label. Both orders are one total order seen from either side, so repeating
    this on the open candidates gives exactly the greedy matching from the largest overlap down."""
    by_component = Window.partitionBy("component")
    by_prev = Window.partitionBy("prev")
    ranked = (candidates
              .withColumn("_c", F.row_number().over(by_component.orderBy(F.desc("n"), F.asc_nulls_last("created"), "prev")))
              .withColumn("_p", F.row_number().over(by_prev.orderBy(F.desc("n"), "component")))
              .withColumn("won", (F.col("_c") == 1) & (F.col("_p") == 1)))
    decided = F.max("won").over(by_prev) | F.max("won").over(by_component)
    return ranked.withColumn("open", ~decided).drop("_c", "_p")


def _greedy(rows: list) -> list[tuple]:
    """The greedy matching of a few leftover candidates on the driver, in the order `_mutual_best` uses."""
    ordered = sorted(rows, key=lambda r: (-r["n"], r["created"] is None, r["created"] or datetime.min, r["prev"], r["component"]))
    components: set[str] = set()
    prevs: set[str] = set()
    won = []
    for row in ordered:
        if row["component"] not in components and row["prev"] not in prevs:
            components.add(row["component"])
            prevs.add(row["prev"])
            won.append((row["component"], row["prev"], row["created"]))
    return won


def overlaps(components: DataFrame, previous: DataFrame) -> DataFrame:
    """(component, prev, created, n): how many records of each new cluster had each earlier id. Every later
    step reads these few rows per cluster instead of joining the records again."""
    return (components.join(previous_ids(previous).withColumnRenamed("customer_id", "prev"), "record_key")
            .groupBy("component", "prev", "created").agg(F.count("*").alias("n")))


def match_previous(candidates: DataFrame) -> DataFrame:
    """(component, prev, created): the earlier id each cluster keeps, from the `overlaps` (see the module)."""
    spark = candidates.sparkSession
    won: list[DataFrame] = []
    for _ in range(SPARK_ROUNDS):
        if candidates.isEmpty():
            break
        ranked = _mutual_best(candidates).localCheckpoint()
        won.append(ranked.where("won").select("component", "prev", "created"))
        candidates = ranked.where("open").drop("won", "open")
    else:
        rest = _greedy(candidates.collect())
        if rest:
            won.append(local_frame(spark, rest, KEPT_SCHEMA))
    return reduce(DataFrame.unionByName, won, local_frame(spark, [], KEPT_SCHEMA))


def name_clusters(components: DataFrame, kept: DataFrame, taken: DataFrame | None, run_id: str,
                  now: datetime) -> DataFrame:
    """(component, customer_id, customer_created_at, fresh) per cluster: the earlier id it keeps (`kept`) or
    a new one that is not among `taken` (customer_id: every id handed out before)."""
    clusters = components.select("component").distinct().join(kept, "component", "left")
    clusters = clusters.withColumn("_fresh", F.when(F.col("prev").isNull(), _new_id(F.col("component"))))
    if taken is not None:
        clusters = clusters.join(taken.select(F.col("customer_id").alias("_fresh"), F.lit(True).alias("_taken")).distinct(),
                                 "_fresh", "left")
    else:
        clusters = clusters.withColumn("_taken", F.lit(None).cast("boolean"))
    salted = _new_id(F.concat(F.col("component"), F.lit(f"#{run_id}")))
    return clusters.select(
        "component", F.coalesce("prev", F.when(F.col("_taken").isNull(), F.col("_fresh")).otherwise(salted)).alias("customer_id"),
        F.coalesce(F.when(F.col("prev").isNotNull(), F.col("created")), F.lit(now)).cast("timestamp").alias("customer_created_at"),
        F.col("prev").isNull().alias("fresh"))


def _taken(earlier: DataFrame | None, used: DataFrame | None) -> DataFrame | None:
    """Every id handed out before: the previous map's (`earlier`) and those only the redirects still name."""
    frames = [f.select("customer_id") for f in (earlier, used) if f is not None]
    return reduce(DataFrame.union, frames) if frames else None


def _no_match(components: DataFrame) -> DataFrame:
    return local_frame(components.sparkSession, [], KEPT_SCHEMA)


def run_redirects(candidates: DataFrame, named: DataFrame, earlier: DataFrame, run_id: str, now: datetime,
                  steward: DataFrame | None = None) -> DataFrame:
    """This run's redirects (see the module) from the `overlaps`, the clusters' ids (`named`) and every id of
    the previous map (`earlier`: distinct customer_id): where the records of each earlier id that lost some went;
    `by` is the steward's for the ids in `steward` (customer_id: those holding a record of a new label)."""
    moved = (candidates.join(named.select("component", F.col("customer_id").alias("new_customer_id")), "component")
             .where("prev <> new_customer_id")
             .groupBy(F.col("prev").alias("old_customer_id"), "new_customer_id").agg(F.sum("n").alias("n")))
    alive = named.select(F.col("customer_id").alias("old_customer_id")).withColumn("alive", F.lit(True))
    first = F.row_number().over(Window.partitionBy("old_customer_id").orderBy(F.desc("n"), "new_customer_id"))
    moves = (moved.join(alive, "old_customer_id", "left").withColumn("_r", first)
             .select("old_customer_id", "new_customer_id",
                     F.when(F.col("alive").isNull() & (F.col("_r") == 1), "merge").otherwise("split").alias("kind")))
    gone = (earlier.select(F.col("customer_id").alias("old_customer_id"))
            .join(candidates.select(F.col("prev").alias("old_customer_id")), "old_customer_id", "left_anti")
            .select("old_customer_id", F.lit(None).cast("string").alias("new_customer_id"), F.lit("retire").alias("kind")))
    stamp = [F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("at")]
    rows = moves.unionByName(gone).select("*", *stamp)
    if steward is None:
        return rows.withColumn("by", F.lit(BY_C360)).select(*REDIRECT_COLUMNS)
    marked = steward.select(F.col("customer_id").alias("old_customer_id"), F.lit(BY_STEWARD).alias("by")).distinct()
    return rows.join(marked, "old_customer_id", "left").withColumn("by", F.coalesce("by", F.lit(BY_C360))).select(*REDIRECT_COLUMNS)


def collapse(history: DataFrame | None, new: DataFrame, run_id: str, now: datetime) -> DataFrame:
    """The redirect table after run `run_id`: earlier rows re-pointed through its merges and retirements
    (see the module; a merge that became a retirement is stamped with this run), its rows (`new`) added; no
    id points at itself, one row per (old, new) pair (the newest)."""
    if history is None:
        return new
    if "by" not in history.columns:  # a table an earlier c360 wrote: every move was the linkage's
        history = history.withColumn("by", F.lit(BY_C360))
    successor = new.where("kind = 'merge'").select(F.col("old_customer_id").alias("_via"), F.col("new_customer_id").alias("_to"))
    retired = new.where("kind = 'retire'").select(F.col("old_customer_id").alias("_via"), F.lit(True).alias("_retired"))
    via = history.join(successor, history["new_customer_id"] == successor["_via"], "left").drop("_via")
    via = via.join(retired, via["new_customer_id"] == retired["_via"], "left")
    retire_row = F.col("_retired") & (F.col("kind") == "merge")
    updated = via.where(F.col("_retired").isNull() | (F.col("kind") == "merge")).select(
        "old_customer_id",
        F.when(retire_row, F.lit(None)).otherwise(F.coalesce("_to", "new_customer_id")).alias("new_customer_id"),
        F.when(retire_row, F.lit("retire")).otherwise(F.col("kind")).alias("kind"),
        F.when(retire_row, F.lit(run_id)).otherwise(F.col("run_id")).alias("run_id"),
        F.when(retire_row, F.lit(now).cast("timestamp")).otherwise(F.col("at")).alias("at"),
        F.when(retire_row, F.lit(BY_C360)).otherwise(F.col("by")).alias("by"))
    rows = updated.unionByName(new.select(*REDIRECT_COLUMNS)).where(
        F.col("new_customer_id").isNull() | (F.col("old_customer_id") != F.col("new_customer_id")))
    newest = Window.partitionBy("old_customer_id", F.coalesce("new_customer_id", F.lit(""))).orderBy(F.desc("at"), F.desc("run_id"))
    return rows.withColumn("_r", F.row_number().over(newest)).where("_r = 1").select(*REDIRECT_COLUMNS)


def churn(candidates: DataFrame, named: DataFrame, redirects: DataFrame) -> dict[str, int]:
    """A run's churn: customers created, merged away, split, retired, and records whose id changed."""
    kinds = {r["kind"]: r["n"] for r in redirects.groupBy("kind").agg(F.countDistinct("old_customer_id").alias("n")).collect()}
    moved = (candidates.join(named.select("component", "customer_id"), "component")
             .where("prev <> customer_id").agg(F.sum("n")).first()[0])
    steward = redirects.where(F.col("by") == BY_STEWARD).select("old_customer_id").distinct().count()
    return {"customers_created": named.where("fresh").count(), "customers_merged": kinds.get("merge", 0),
            "customers_split": kinds.get("split", 0), "customers_retired": kinds.get("retire", 0),
            "records_reassigned": int(moved or 0), "customers_moved_by_steward": steward}


def lifecycle(components: DataFrame, previous: DataFrame | None, history: DataFrame | None, run_id: str,
              now: datetime, elsewhere: DataFrame | None = None, touched: DataFrame | None = None) -> IdChanges:
    """Ids for `components`, this run's redirects, the collapsed redirect table and the churn, from the
    previous identity map and redirect table (None on a first run). An incremental run passes the part of
    the previous map its clusters cover and the ids of the rest (`elsewhere`: customer_id), which stay as
    they are and are never handed out again. The moves of customers holding a record of `touched`
    (record_key: those of labels given since the last run) are marked as the steward's."""
    used = history.select(F.col("old_customer_id").alias("customer_id")) if history is not None else None
    if elsewhere is not None:
        used = elsewhere.select("customer_id") if used is None else used.unionByName(elsewhere.select("customer_id"))
    if previous is None:
        candidates = _no_match(components).withColumn("n", F.lit(0).cast("long"))
        kept, earlier = _no_match(components), None
    else:
        candidates = overlaps(components, previous).localCheckpoint()
        kept = match_previous(candidates)
        earlier = previous.select("customer_id").distinct().localCheckpoint()
    named = name_clusters(components, kept, _taken(earlier, used), run_id, now).localCheckpoint()
    ids = components.join(named, "component").select("record_key", "customer_id", "customer_created_at")
    if earlier is None:
        redirects = local_frame(components.sparkSession, [], REDIRECT_SCHEMA)
    else:
        steward = None if touched is None else previous.join(touched, "record_key", "left_semi")
        redirects = run_redirects(candidates, named, earlier, run_id, now, steward).localCheckpoint()
    return IdChanges(ids, redirects, collapse(history, redirects, run_id, now).localCheckpoint(),
                     churn(candidates, named, redirects))

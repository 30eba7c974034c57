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

ID_PREFIX = "C"
IDS_SCHEMA = "record_key string, customer_id string, customer_created_at timestamp"
REDIRECT_COLUMNS = ("old_customer_id", "new_customer_id", "kind", "run_id", "at")
REDIRECT_SCHEMA = "old_customer_id string, new_customer_id string, kind string, run_id string, at timestamp"
SPARK_ROUNDS = 5
"""Rounds of mutual best matches on Spark; what is left after them (rare chains of conflicts) is matched on
the driver, where it is a few rows."""


@dataclass
class IdChanges:
    """A run's ids per record (record_key, customer_id, customer_created_at), the redirects it made, and the
    whole collapsed redirect table."""

    ids: DataFrame
    redirects: DataFrame
    table: DataFrame


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
    """The (component, prev) candidates that are each other's first choice: a component prefers the id with
    most of its records, then the one created first, then the smaller id; an id prefers the component with
    most of its records, then the smaller label. Both orders are one total order seen from either side, so
    repeating this on what is left gives exactly the greedy matching from the largest overlap down."""
    by_component = Window.partitionBy("component").orderBy(F.desc("n"), F.asc_nulls_last("created"), "prev")
    by_prev = Window.partitionBy("prev").orderBy(F.desc("n"), "component")
    return (candidates.withColumn("_c", F.row_number().over(by_component)).withColumn("_p", F.row_number().over(by_prev))
            .where("_c = 1 and _p = 1").select("component", "prev", "created"))


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


def match_previous(components: DataFrame, previous: DataFrame) -> DataFrame:
    """(component, prev, created): the earlier id each cluster keeps, if any (see the module's rules)."""
    spark = components.sparkSession
    candidates = (components.join(previous_ids(previous).withColumnRenamed("customer_id", "prev"), "record_key")
                  .groupBy("component", "prev", "created").agg(F.count("*").alias("n")))
    won: list[DataFrame] = []
    for _ in range(SPARK_ROUNDS):
        if candidates.isEmpty():
            break
        best = _mutual_best(candidates).localCheckpoint()
        won.append(best)
        candidates = (candidates.join(best.select("component"), "component", "left_anti")
                      .join(best.select("prev"), "prev", "left_anti").localCheckpoint())
    else:
        rest = _greedy(candidates.collect())
        if rest:
            won.append(spark.createDataFrame(rest, "component string, prev string, created timestamp"))
    empty = spark.createDataFrame([], "component string, prev string, created timestamp")
    return reduce(DataFrame.unionByName, won, empty)


def assign(components: DataFrame, previous: DataFrame | None, used: DataFrame | None, run_id: str,
           now: datetime) -> DataFrame:
    """(record_key, customer_id, customer_created_at) for every record of `components` (record_key,
    component): earlier ids kept by the matching, new ids for the rest. `used` (customer_id) holds every id
    handed out before that `previous` no longer shows (the redirect table's old ids)."""
    spark = components.sparkSession
    if previous is None:
        previous = spark.createDataFrame([], "record_key string, customer_id string")
    kept = match_previous(components, previous)
    clusters = components.select("component").distinct().join(kept, "component", "left")
    taken = previous.select(F.col("customer_id").alias("taken"))
    if used is not None:
        taken = taken.union(used.select("customer_id"))
    fresh = _new_id(F.col("component"))
    clusters = clusters.withColumn("_fresh", F.when(F.col("prev").isNull(), fresh))
    clusters = clusters.join(taken.distinct(), clusters["_fresh"] == F.col("taken"), "left")
    salted = _new_id(F.concat(F.col("component"), F.lit(f"#{run_id}")))
    clusters = clusters.select(
        "component", F.coalesce("prev", F.when(F.col("taken").isNull(), F.col("_fresh")).otherwise(salted)).alias("customer_id"),
        F.when(F.col("prev").isNull(), F.lit(now)).otherwise(F.coalesce("created", F.lit(now))).cast("timestamp")
        .alias("customer_created_at"))
    return components.join(clusters, "component").select("record_key", "customer_id", "customer_created_at")


def run_redirects(previous: DataFrame | None, ids: DataFrame, run_id: str, now: datetime) -> DataFrame:
    """This run's redirects: every earlier id that lost records, by where they went (see the module)."""
    spark = ids.sparkSession
    if previous is None:
        return spark.createDataFrame([], REDIRECT_SCHEMA)
    before = previous.select("record_key", F.col("customer_id").alias("old_customer_id"))
    moved = (before.join(ids.select("record_key", F.col("customer_id").alias("new_customer_id")), "record_key")
             .where("old_customer_id <> new_customer_id")
             .groupBy("old_customer_id", "new_customer_id").agg(F.count("*").alias("n")))
    alive = ids.select(F.col("customer_id").alias("old_customer_id")).distinct().withColumn("alive", F.lit(True))
    first = F.row_number().over(Window.partitionBy("old_customer_id").orderBy(F.desc("n"), "new_customer_id"))
    moves = (moved.join(alive, "old_customer_id", "left").withColumn("_r", first)
             .select("old_customer_id", "new_customer_id",
                     F.when(F.col("alive").isNull() & (F.col("_r") == 1), "merge").otherwise("split").alias("kind")))
    gone = (before.select("old_customer_id").distinct()
            .join(alive, "old_customer_id", "left_anti").join(moved.select("old_customer_id"), "old_customer_id", "left_anti")
            .select("old_customer_id", F.lit(None).cast("string").alias("new_customer_id"), F.lit("retire").alias("kind")))
    stamp = [F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("at")]
    return moves.unionByName(gone).select("*", *stamp).select(*REDIRECT_COLUMNS)


def collapse(history: DataFrame | None, new: DataFrame, run_id: str, now: datetime) -> DataFrame:
    """The redirect table after run `run_id`: earlier rows re-pointed through its merges and retirements
    (see the module; a merge that became a retirement is stamped with this run), its rows (`new`) added; no
    id points at itself, one row per (old, new) pair (the newest)."""
    if history is None:
        return new
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
        F.when(retire_row, F.lit(now).cast("timestamp")).otherwise(F.col("at")).alias("at"))
    rows = updated.unionByName(new.select(*REDIRECT_COLUMNS)).where(
        F.col("new_customer_id").isNull() | (F.col("old_customer_id") != F.col("new_customer_id")))
    newest = Window.partitionBy("old_customer_id", F.coalesce("new_customer_id", F.lit(""))).orderBy(F.desc("at"), F.desc("run_id"))
    return rows.withColumn("_r", F.row_number().over(newest)).where("_r = 1").select(*REDIRECT_COLUMNS)


def churn(previous: DataFrame | None, ids: DataFrame, redirects: DataFrame) -> dict[str, int]:
    """A run's churn: customers created, merged away, split, retired, and records whose id changed."""
    kinds = {r["kind"]: r["n"] for r in redirects.groupBy("kind").agg(F.countDistinct("old_customer_id").alias("n")).collect()}
    before = previous.select("record_key", F.col("customer_id").alias("_old")) if previous is not None else None
    old_ids = before.select(F.col("_old").alias("customer_id")).distinct() if before is not None else None
    now_ids = ids.select("customer_id").distinct()
    created = now_ids.count() if old_ids is None else now_ids.join(old_ids, "customer_id", "left_anti").count()
    reassigned = 0 if before is None else ids.join(before, "record_key").where("customer_id <> _old").count()
    return {"customers_created": created, "customers_merged": kinds.get("merge", 0), "customers_split": kinds.get("split", 0),
            "customers_retired": kinds.get("retire", 0), "records_reassigned": reassigned}


def lifecycle(components: DataFrame, previous: DataFrame | None, history: DataFrame | None, run_id: str,
              now: datetime) -> IdChanges:
    """Ids for `components`, this run's redirects and the collapsed redirect table, from the previous
    identity map and redirect table (None on a first run)."""
    used = history.select(F.col("old_customer_id").alias("customer_id")) if history is not None else None
    ids = assign(components, previous, used, run_id, now).localCheckpoint()
    redirects = run_redirects(previous, ids, run_id, now).localCheckpoint()
    return IdChanges(ids, redirects, collapse(history, redirects, run_id, now).localCheckpoint())

"""`silver.identity_map` and `silver.match_pairs`: pure transforms from clusters and the links behind them."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

COLUMNS = ("source", "source_record_id", "record_key", "customer_id", "customer_created_at", "match_method",
           "match_probability", "assigned_at")
PAIR_COLUMNS = ("record_key_l", "record_key_r", "match_probability", "match_weight", "method")


def match_pairs(exact: DataFrame, scored: DataFrame, threshold: float) -> DataFrame:
    """Deterministic links (probability 1, method exact:<identifier>) and Splink pairs at or above
    `threshold` (method splink); a pair found both ways keeps its exact method."""
    certain = exact.select("record_key_l", "record_key_r", F.lit(1.0).alias("match_probability"),
                           F.lit(None).cast("double").alias("match_weight"), "method")
    likely = scored.where(F.col("match_probability") >= threshold).select(
        "record_key_l", "record_key_r", "match_probability", "match_weight", F.lit("splink").alias("method"))
    likely = likely.join(certain.select("record_key_l", "record_key_r"), ["record_key_l", "record_key_r"], "left_anti")
    return certain.unionByName(likely).select(*PAIR_COLUMNS)


def identity_map(records: DataFrame, ids: DataFrame, pairs: DataFrame, previous: DataFrame | None,
                 now: datetime) -> DataFrame:
    """One row per person record with its customer id (`ids`: record_key, customer_id, customer_created_at)
    and how it got there: `match_method` is the strongest link it has inside its cluster (exact:<identifiers>,
    splink, or single), `match_probability` that link's probability. `assigned_at` changes only when the
    record's customer id does."""
    both = pairs.select(F.col("record_key_l").alias("record_key"), F.col("record_key_r").alias("other"),
                        "match_probability", "method")
    both = both.unionByName(pairs.select(F.col("record_key_r").alias("record_key"), F.col("record_key_l").alias("other"),
                                         "match_probability", "method"))
    inside = (both.join(ids, "record_key")
              .join(ids.select(F.col("record_key").alias("other"), F.col("customer_id").alias("other_id")), "other")
              .where(F.col("customer_id") == F.col("other_id")))
    best = inside.groupBy("record_key").agg(
        F.max("match_probability").alias("match_probability"),
        F.max(F.struct(F.col("method").startswith("exact").alias("exact"), "match_probability", "method")).alias("_best"))
    out = (records.select("source", "source_record_id", "record_key").join(ids, "record_key")
           .join(best, "record_key", "left")
           .select("source", "source_record_id", "record_key", "customer_id", "customer_created_at",
                   F.coalesce(F.col("_best.method"), F.lit("single")).alias("match_method"),
                   F.coalesce("match_probability", F.lit(None).cast("double")).alias("match_probability")))
    stamp = F.lit(now).cast("timestamp")
    if previous is None:
        return out.withColumn("assigned_at", stamp).select(*COLUMNS)
    before = previous.select("record_key", F.col("customer_id").alias("_prev"), F.col("assigned_at").alias("_at"))
    out = out.join(before, "record_key", "left")
    return out.withColumn("assigned_at", F.when(F.col("_prev") == F.col("customer_id"), F.col("_at")).otherwise(stamp)
                          ).select(*COLUMNS)

"""Stable, opaque customer ids for clusters of records.

A cluster keeps the id that most of its records had before (a split leaves the id with the piece that holds
most of its records; a merge keeps the id of the larger side); only clusters with no previous id get a new
one, a hash of their smallest record key, salted with the run id if that hash is already taken.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

ID_PREFIX = "C"


def _new_id(seed: Column) -> Column:
    """An opaque id from a seed string: 'C' and 20 hex digits of its sha256."""
    return F.concat(F.lit(ID_PREFIX), F.substring(F.sha2(seed, 256), 1, 20))


def assign_customer_ids(components: DataFrame, previous: DataFrame | None, run_id: str) -> DataFrame:
    """(record_key, customer_id): previous ids carried over per cluster, new ids only for new clusters."""
    if previous is None:
        previous = components.sparkSession.createDataFrame([], "record_key string, customer_id string")
    votes = (components.join(previous.select("record_key", F.col("customer_id").alias("prev")), "record_key")
             .groupBy("component", "prev").agg(F.count("*").alias("n")))
    # each previous id goes to the component holding most of its records ...
    by_id = Window.partitionBy("prev").orderBy(F.desc("n"), "component")
    won = votes.withColumn("r", F.row_number().over(by_id)).where("r = 1").drop("r")
    # ... and each component keeps the biggest id it won
    by_component = Window.partitionBy("component").orderBy(F.desc("n"), "prev")
    kept = won.withColumn("r", F.row_number().over(by_component)).where("r = 1").select(
        "component", F.col("prev").alias("customer_id"))
    clusters = components.select("component").distinct().join(kept, "component", "left")
    fresh = _new_id(F.col("component"))
    taken = previous.select(F.col("customer_id").alias("taken")).union(kept.select("customer_id")).distinct()
    clusters = clusters.withColumn("_fresh", F.when(F.col("customer_id").isNull(), fresh))
    clusters = clusters.join(taken, clusters["_fresh"] == taken["taken"], "left")
    salted = _new_id(F.concat(F.col("component"), F.lit(f"#{run_id}")))
    clusters = clusters.select("component", F.coalesce(
        "customer_id", F.when(F.col("taken").isNull(), F.col("_fresh")).otherwise(salted)).alias("customer_id"))
    return components.join(clusters, "component").select("record_key", "customer_id")

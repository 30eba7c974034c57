"""The linkage figures a silver run records in its summary for the run report: the match-weight histogram
and the cluster sizes. They change only when silver writes, so silver computes them once per run instead
of every stage's report scanning the pair and identity tables again. Small aggregates; no record value."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def histogram(values: DataFrame, column: str, width: float) -> list[list[float]]:
    """[bin start, count] of a numeric column in bins of `width`."""
    bins = values.select((F.floor(F.col(column) / width) * width).alias("bin")).where("bin is not null")
    return [[float(r["bin"]), int(r["count"])] for r in bins.groupBy("bin").count().orderBy("bin").collect()]


def cluster_sizes(identity: DataFrame) -> list[list[int]]:
    """[records per customer, customers] over the identity map."""
    sizes = identity.groupBy("customer_id").count().groupBy(F.col("count").alias("size")).count().orderBy("size")
    return [[int(r["size"]), int(r["count"])] for r in sizes.collect()]


def linkage_figures(match_pairs: DataFrame | None, identity: DataFrame | None) -> dict[str, list]:
    """The report's linkage figures of the tables as they stand (an absent table gives no figure)."""
    found: dict[str, list] = {}
    if match_pairs is not None:
        found["match_weights"] = histogram(match_pairs, "match_weight", 1.0)
    if identity is not None:
        found["cluster_sizes"] = cluster_sizes(identity)
    return found

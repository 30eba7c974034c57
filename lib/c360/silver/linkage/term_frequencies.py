"""Term-frequency tables that belong to a model version, so a pair scores the same in every run.

Splink adjusts an exact match on a name or a city by how common the value is. Left to itself it counts the
values of whatever records it is given, so the same two records score differently once other records arrive,
and a pair an incremental run kept from an earlier run would disagree with a full refresh over the same
records. Here the frequencies are counted once per model version, over every record of the run that trained
(or first used) it, and saved beside the model; each run hands Splink a lookup of the values its records hold:
the stored frequency, or for a value the counted records did not hold, the frequency of a value seen once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


def columns(settings: dict) -> list[str]:
    """The columns the model's comparison levels adjust by term frequency, in first-use order."""
    found: list[str] = []
    for comparison in settings.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            column = level.get("tf_adjustment_column")
            if column and column not in found:
                found.append(column)
    return found


@dataclass(frozen=True)
class Frequencies:
    """One column's counted values: `table` holds (value, count) of its non-null values; `total` their sum."""

    column: str
    table: pa.Table
    total: int

    @property
    def unseen(self) -> float:
        """The frequency a value the counted records did not hold is given: that of a value seen once."""
        return 1.0 / max(self.total, 1)


def count(keys: DataFrame, column: str) -> Frequencies:
    """How often each non-null value of `column` occurs in the match keys."""
    counted = keys.where(F.col(column).isNotNull()).groupBy(F.col(column).alias("value")).count()
    table = counted.select("value", F.col("count").cast("long")).toArrow()
    return Frequencies(column, table, int(pa.compute.sum(table["count"]).as_py() or 0))


def lookup(spark: SparkSession, keys: DataFrame, frequencies: Frequencies) -> DataFrame:
    """Splink's lookup for one column over the values `keys` hold: (<column>, tf_<column>), from the stored
    counts, and the frequency of a value seen once for values the counted records did not hold."""
    column = frequencies.column
    stored = spark.createDataFrame(frequencies.table).withColumnRenamed("value", column)
    held = keys.where(F.col(column).isNotNull()).select(column).distinct()
    tf = F.coalesce(F.col("count") / F.lit(float(max(frequencies.total, 1))), F.lit(frequencies.unseen))
    return held.join(stored, column, "left").select(column, tf.cast("double").alias(f"tf_{column}"))

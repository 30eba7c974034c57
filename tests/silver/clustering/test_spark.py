"""What only the Spark engine has: its birth-date rule as a Spark column."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.silver.clustering.spark import dates_compatible
from tests.silver.clustering.test_driver import DATE_CASES


def test_birth_dates_one_typo_or_swap_apart_are_compatible(spark: SparkSession) -> None:
    frame = spark.createDataFrame(DATE_CASES, "a string, b string, expected boolean").selectExpr(
        "to_date(a) as a", "to_date(b) as b", "expected")
    got = frame.withColumn("got", dates_compatible(F.col("a"), F.col("b")))
    assert [r.got for r in got.collect()] == [r.expected for r in got.collect()]

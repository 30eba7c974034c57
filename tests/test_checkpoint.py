"""checkpoint: a materialised frame whose size estimate does not grow with the loop that made it."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.checkpoint import checkpoint


def _estimate_digits(frame: DataFrame) -> int:
    return len(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))  # noqa: SLF001


def test_a_loop_of_self_joins_keeps_its_rows_and_a_bounded_estimate(spark: SparkSession) -> None:
    start = spark.createDataFrame([(str(i), str(i % 3)) for i in range(30)], "record_key string, component string")
    frames = {"local": start, "fresh": start}
    for _ in range(5):
        for how, frame in frames.items():
            sizes = frame.groupBy("component").agg(F.count("*").alias("n"))
            step = frame.join(sizes, "component").join(frame.select("record_key"), "record_key").select("record_key", "component")
            frames[how] = step.localCheckpoint() if how == "local" else checkpoint(step)
    assert_df_equality(frames["fresh"], start, ignore_row_order=True, ignore_nullable=True)
    assert _estimate_digits(frames["local"]) > 40, "Spark's own localCheckpoint multiplies the estimate each round"
    assert _estimate_digits(frames["fresh"]) <= 20

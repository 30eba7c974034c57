"""Materialising a DataFrame in an iterative job without carrying its plan's size estimate forward.

`DataFrame.localCheckpoint()` keeps the statistics of the plan it cut, and Spark estimates a join's size as
the product of its sides' sizes. A loop that joins its own checkpointed output each round (label
propagation, mutual best links, a hierarchy walk) multiplies those estimates round after round: the number
of digits grows geometrically, and by the fifth round of clustering 150k records the planner spent minutes
multiplying big integers before running anything. `checkpoint` cuts the plan and starts the estimate afresh
(Spark's default size; adaptive execution still plans joins from the real sizes at run time).
"""

from __future__ import annotations

from pyspark.sql import DataFrame


def checkpoint(frame: DataFrame) -> DataFrame:
    """`frame` computed once and kept in executor memory, with a plan that knows nothing of how it was made."""
    cut = frame.localCheckpoint()
    spark = frame.sparkSession
    fresh = spark._jsparkSession.createDataFrame(cut._jdf.javaRDD(), cut._jdf.schema())  # noqa: SLF001
    return DataFrame(fresh, spark)

"""Small DataFrames from rows held in the driver, sent to the JVM as Arrow.

`SparkSession.createDataFrame` over Python rows builds a Python RDD: the first job that reads one starts
Spark's Python workers, 3 to 4 seconds per process on 2 cores, to pass a handful of rows (an empty list
too). An Arrow table goes to the JVM as it is, so a run that needs no Python UDF starts no Python worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import DataType, StructType


def struct(schema: str | StructType) -> StructType:
    """`schema` as a StructType (a DDL string such as "a string, b int" is parsed)."""
    return schema if isinstance(schema, StructType) else DataType.fromDDL(schema)


def local_frame(spark: SparkSession, rows: Iterable[Sequence], schema: str | StructType) -> DataFrame:
    """A DataFrame of `rows` (tuples in the order of `schema`'s fields). Timestamps are read as UTC when
    they carry no time zone."""
    spark_schema = struct(schema)
    arrow = to_arrow_schema(spark_schema, timezone="UTC")
    columns = list(zip(*rows)) or [() for _ in arrow]
    table = pa.Table.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(columns, arrow)], schema=arrow)
    return spark.createDataFrame(table, schema=spark_schema)

"""c360.frames: small DataFrames from driver rows, as Arrow."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from c360.frames import local_frame, struct

SCHEMA = "a string, b map<string,string>, c array<string>, d timestamp, e bigint, f date, g double, h boolean"


def test_rows_and_types_as_createDataFrame_gives_them(spark: SparkSession) -> None:
    rows = [("x", {"k": "v"}, ["a", None], dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc), 7,
             dt.date(2024, 1, 2), 0.5, True),
            (None, None, None, None, None, None, None, None)]
    got = local_frame(spark, rows, SCHEMA)
    assert got.schema == spark.createDataFrame(rows, SCHEMA).schema
    assert got.orderBy("e").collect() == spark.createDataFrame(rows, SCHEMA).orderBy("e").collect()


def test_no_rows_give_an_empty_frame_of_the_schema(spark: SparkSession) -> None:
    got = local_frame(spark, [], "record_key string, n int")
    assert_df_equality(got, spark.createDataFrame([], "record_key string, n int"))
    assert local_frame(spark, iter([]), got.schema).count() == 0


def test_a_declared_schema_is_parsed_from_its_ddl(spark: SparkSession) -> None:
    assert struct("id STRING NOT NULL, `odd name` int, tags array<string>") == T.StructType([
        T.StructField("id", T.StringType(), False), T.StructField("odd name", T.IntegerType()),
        T.StructField("tags", T.ArrayType(T.StringType()))])

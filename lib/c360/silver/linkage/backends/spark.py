"""Splink on Spark: the backend for clusters, where the records do not fit one machine."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from splink import Linker, SettingsCreator, SparkAPI

from c360.silver.linkage.backends.base import LinkageBackend, kept_columns


class SparkBackend(LinkageBackend):
    """Splink's Spark API on the stage's session; intermediate tables go to Parquet under the session's
    checkpoint folder (breaking Spark's lineage between Splink's steps)."""

    name = "spark"
    dialect = "spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def linker(self, keys: DataFrame, model: SettingsCreator | dict) -> Linker:
        api = SparkAPI(spark_session=self.spark, break_lineage_method="parquet")
        return Linker(api.register(keys), model, log_level=logging.WARNING)

    def pairs(self, predictions: object, columns: list[str] | None = None) -> DataFrame:
        scored = predictions.as_spark_dataframe()  # type: ignore[attr-defined]
        return scored.select(*(columns or kept_columns(scored.columns)))

    def small_table(self, frame: DataFrame) -> object:
        return frame

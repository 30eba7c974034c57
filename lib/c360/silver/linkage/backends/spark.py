"""Splink on Spark: the backend for clusters, where the records do not fit one machine."""

from __future__ import annotations

import logging
import os

import duckdb
from pyspark.sql import DataFrame, SparkSession
from splink import DuckDBAPI, Linker, SettingsCreator, SparkAPI

from c360.silver.linkage.backends.base import PARTNERS_VIEW, LinkageBackend, kept_columns
from c360.silver.linkage.backends.duckdb import connection


class SparkBackend(LinkageBackend):
    """Splink's Spark API on the stage's session; intermediate tables go to Parquet under the session's
    checkpoint folder (breaking Spark's lineage between Splink's steps)."""

    name = "spark"
    dialect = "spark"

    def __init__(self, spark: SparkSession, training_memory_limit: str = "4GB") -> None:
        self.spark = spark
        self.training_memory_limit = training_memory_limit
        self._training: duckdb.DuckDBPyConnection | None = None

    def training_linker(self, sample: DataFrame, model: SettingsCreator | dict) -> Linker:
        """Training runs on DuckDB in the driver, over an Arrow copy of the sample: the sample is bounded
        (train_max_records), EM and u sampling are many small queries that cost Spark a job and a Parquet
        write each (minutes where DuckDB takes seconds), and a saved model serves both backends (portable)."""
        if self._training is None:
            self._training = connection(os.cpu_count() or 1, self.training_memory_limit)
        api = DuckDBAPI(connection=self._training)
        return Linker(api.register(self._training.from_arrow(sample.toArrow())), model, log_level=logging.WARNING)

    def close(self) -> None:
        if self._training is not None:
            self._training.close()
            self._training = None

    def register(self, table: object, model: SettingsCreator | dict) -> Linker:
        api = SparkAPI(spark_session=self.spark, break_lineage_method="parquet")
        return Linker(api.register(table), model, log_level=logging.WARNING)

    def query(self, table: object, sql: str) -> object:
        # spark.sql puts a DataFrame passed by name where the query says {name}
        return self.spark.sql(sql.replace(PARTNERS_VIEW, "{" + PARTNERS_VIEW + "}"), **{PARTNERS_VIEW: table}).localCheckpoint()

    def pairs(self, predictions: object, columns: list[str] | None = None) -> DataFrame:
        scored = predictions.as_spark_dataframe()  # type: ignore[attr-defined]
        return scored.select(*(columns or kept_columns(scored.columns)))

    def small_table(self, frame: DataFrame) -> object:
        return frame

    def table(self, frame: DataFrame) -> object:
        return frame

    def register_term_frequencies(self, linker: Linker, column: str, lookup: DataFrame) -> None:
        # materialised once: Splink's queries read the lookup several times
        super().register_term_frequencies(linker, column, lookup.localCheckpoint())

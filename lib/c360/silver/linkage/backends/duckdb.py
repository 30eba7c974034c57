"""Splink on DuckDB: the embedded backend for one machine, many times faster than Spark in local mode.

The match keys go from Spark to DuckDB as Parquet files in a scratch folder (Spark writes them, DuckDB scans
them), and the predictions come back the same way (DuckDB writes Parquet, Spark reads it): no rows pass
through Python objects and no pandas copy is made. DuckDB's threads and memory are capped beside the JVM,
and it spills to the scratch folder beyond its memory limit.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from pathlib import Path

import duckdb
from pyspark.sql import DataFrame, SparkSession
from splink import DuckDBAPI, Linker, SettingsCreator

from c360.silver.linkage.backends.base import PARTNERS_VIEW, LinkageBackend, kept_columns


def connection(threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection capped at `threads` and `memory_limit` (DuckDB's syntax, e.g. '4GB')."""
    con = duckdb.connect()
    con.execute(f"SET threads TO {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


class DuckDBBackend(LinkageBackend):
    """Splink's DuckDB API on an in-memory connection with `threads` and `memory_limit` (DuckDB's syntax,
    e.g. '4GB'); needs a Spark master on this machine (the scratch folder is local)."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, spark: SparkSession, threads: int, memory_limit: str, scratch: str | None = None) -> None:
        self.spark = spark
        self.scratch = Path(tempfile.mkdtemp(prefix="c360-linkage-", dir=scratch))
        self.con = connection(threads, memory_limit)
        self.con.execute(f"SET temp_directory = '{self.scratch / 'spill'}'")
        self.con.execute("SET preserve_insertion_order = false")
        self._names = itertools.count(1)

    def _folder(self, kind: str) -> Path:
        return self.scratch / f"{kind}-{next(self._names)}"

    def register(self, table: object, model: SettingsCreator | dict) -> Linker:
        return Linker(DuckDBAPI(connection=self.con).register(table), model, log_level=logging.WARNING)

    def query(self, table: object, sql: str) -> object:
        name = f"c360_query_{next(self._names)}"
        table.query(PARTNERS_VIEW, sql).create(name)  # type: ignore[attr-defined]
        return self.con.table(name)

    def table(self, frame: DataFrame) -> object:
        """`frame` written by Spark as Parquet into the scratch folder, scanned by DuckDB."""
        folder = self._folder("table")
        frame.write.parquet(folder.as_uri())
        return self.con.read_parquet(str(folder / "*.parquet"))

    def pairs(self, predictions: object, columns: list[str] | None = None) -> DataFrame:
        relation = predictions.as_duckdbpyrelation()  # type: ignore[attr-defined]
        folder = self._folder("pairs")
        folder.mkdir(parents=True)
        wanted = ", ".join(columns or kept_columns(relation.columns))
        relation.query("p", f"select {wanted} from p").write_parquet(str(folder / "pairs.parquet"))
        return self.spark.read.parquet(folder.as_uri())

    def small_table(self, frame: DataFrame) -> object:
        return frame.toArrow()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

"""Delta table storage behind one seam (`TableStore`) with two engines: delta-rs and delta-spark."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.storage.base import Commit, MergeSpec, TableStore, Txn, WriteResult

__all__ = ["Commit", "MergeSpec", "TableStore", "Txn", "WriteResult", "open_store"]


def open_store(spark: SparkSession, engine: str, warehouse: str) -> TableStore:
    """The store for `engine` ("delta-rs" or "delta-spark", as resolved by `session.choose_engine`)."""
    if engine == "delta-rs":
        from c360.storage.delta_rs import DeltaRsStore

        return DeltaRsStore(spark, warehouse)
    if engine == "delta-spark":
        from c360.storage.delta_spark import DeltaSparkStore

        return DeltaSparkStore(spark, warehouse)
    raise ValueError(f"unknown engine {engine!r}")

"""Linkage backends: Splink on DuckDB (embedded, one machine) or on Spark (a cluster); `choose` picks one."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession

from c360.config import LinkageSettings
from c360.errors import C360Error
from c360.silver.linkage.backends.base import LinkageBackend

if TYPE_CHECKING:
    from c360.pipeline import RunContext

log = logging.getLogger(__name__)


def _local(spark: SparkSession) -> bool:
    return spark.sparkContext.master.startswith("local")


def _local_threads(spark: SparkSession) -> int:
    """The cores the local Spark master may use (DuckDB gets as many, never more than the machine has)."""
    return max(1, min(spark.sparkContext.defaultParallelism, os.cpu_count() or 1))


def choose(spark: SparkSession, settings: LinkageSettings, records: int) -> tuple[LinkageBackend, str]:
    """The backend `settings.backend` asks for ('auto': DuckDB when the Spark master is local and the
    records are at most `duckdb_max_records`, Spark otherwise), and why."""
    from c360.silver.linkage.backends.duckdb import DuckDBBackend
    from c360.silver.linkage.backends.spark import SparkBackend

    local = _local(spark)
    wanted = settings.backend
    if wanted == "auto":
        if not local:
            wanted, why = "spark", "the Spark master is a cluster"
        elif records > settings.duckdb_max_records:
            wanted, why = "spark", f"{records:,} records > silver.linkage.duckdb_max_records"
        else:
            wanted, why = "duckdb", f"local Spark master, {records:,} records"
    else:
        why = "silver.linkage.backend"
    if wanted == "duckdb":
        if not local:
            raise C360Error("silver.linkage.backend: duckdb runs on the driver's machine and needs a local Spark "
                            f"master (this one is {spark.sparkContext.master}); use spark or auto")
        return DuckDBBackend(spark, _local_threads(spark), settings.duckdb_memory_limit), why
    return SparkBackend(spark, settings.duckdb_memory_limit), why


@contextmanager
def linkage_backend(ctx: RunContext, keys: DataFrame) -> Iterator[tuple[LinkageBackend, str]]:
    """The run's linkage backend (silver.linkage.backend) for these match keys and why it was chosen, closed
    when the block ends."""
    backend, why = choose(ctx.spark, ctx.config.silver.linkage, keys.count())
    log.info("silver: linkage on %s (%s)", backend.name, why)
    with backend:
        yield backend, why

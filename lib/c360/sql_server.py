"""`c360 sql-server`: Spark's Thrift JDBC/ODBC server over the gold tables, for BI tools and `beeline`.

The server runs in one Spark session (single-session mode) whose global temporary database is named after
the layer it serves (`gold`, or `analytics`: gold's pseudonymised copies, for analysts who may not see
names), and every table of that layer is registered there as a view of its current Delta snapshot, read
through the table store; so `SELECT ... FROM gold.customer_profile` works the same over JDBC as in `c360
sql`, on both Delta engines and without a metastore. A server serves one layer, so analysts given the
analytics server reach no table with names in it. It serves each table as the last completed gold run left
it (see snapshots; `latest`: as it stands), and every `refresh_seconds` it re-registers the views whose
version moved, so a completed run's tables are served without a restart and a run in progress is never
served half written.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from pyspark.sql import SparkSession

from c360 import snapshots
from c360.config import C360Config
from c360.storage import TableStore

log = logging.getLogger(__name__)
LAYERS = ("gold", "analytics")


def server_conf(config: C360Config, host: str, port: int, layer: str = "gold") -> C360Config:
    """The config with the session settings the Thrift server needs (static ones, so set before start)."""
    from c360.session import delta_jars, splink_jar

    # The Thrift server's handler threads load classes from the JVM's own class path, not from spark.jars:
    # jars the session's catalog needs (Delta's, when configured) must be on the driver class path too.
    classpath = os.pathsep.join([*delta_jars(config.spark), splink_jar(), *config.spark.jars])
    conf = {**config.spark.conf, "spark.sql.globalTempDatabase": layer, "spark.driver.extraClassPath": classpath,
            "spark.sql.hive.thriftServer.singleSession": "true",
            "spark.hive.server2.thrift.bind.host": host, "spark.hive.server2.thrift.port": str(port),
            "spark.ui.enabled": "false"}
    return config.model_copy(update={"spark": config.spark.model_copy(update={"conf": conf})})


def register_snapshots(store: TableStore, known: dict[str, int | None], layer: str = "gold",
                       latest: bool = False) -> list[str]:
    """(Re-)register the tables of `layer` whose served version differs from `known` as global temp views
    (the last completed run's version, or the current one with `latest`); returns them."""
    pinned = None if latest else snapshots.completed(store)
    changed = []
    for table in store.list_tables(layer):
        version = (pinned or {}).get(table, store.version(table))
        if known.get(table) != version:  # read at the version looked up, not at whatever is newest by then
            snapshots.read(store, table, {table: version})[0].createOrReplaceGlobalTempView(table.split(".", 1)[1])
            known[table] = version
            changed.append(table)
    return changed


def start(spark: SparkSession, host: str, port: int) -> None:
    """Start HiveThriftServer2 on this session (returns once it listens)."""
    spark.conf.set("hive.server2.thrift.bind.host", host)
    spark.conf.set("hive.server2.thrift.port", str(port))
    jvm = spark.sparkContext._jvm
    jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(spark._jsparkSession.sqlContext())


def serve(spark: SparkSession, store: TableStore, host: str, port: int, refresh_seconds: float,
          announce: Callable[[str], None] = print, rounds: int | None = None, layer: str = "gold",
          latest: bool = False) -> None:
    """Register the views of `layer`, start the server and keep the views current until interrupted."""
    known: dict[str, int | None] = {}
    tables = register_snapshots(store, known, layer, latest)
    if not tables:
        log.warning("sql-server: the warehouse has no %s tables yet (the gold stage writes them%s); serving none",
                    layer, "" if layer == "gold" else " for gold.pseudonymised")
    start(spark, host, port)
    announce(f"c360 sql-server: listening on jdbc:hive2://{host}:{port}/ serving {', '.join(tables) or 'no tables'}")
    done = 0
    while rounds is None or done < rounds:
        time.sleep(refresh_seconds)
        for table in register_snapshots(store, known, layer, latest):
            announce(f"c360 sql-server: {table} now serves version {known[table]}")
        done += 1

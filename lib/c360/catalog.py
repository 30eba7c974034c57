"""`c360 register`: the warehouse's tables in a metastore, as views pinned to the last completed run.

On a cluster with a metastore (Hive, Unity Catalog, Glue) analysts then query `c360.customer_profile` from
`spark-sql`, notebooks or BI tools. Each entry is a view `SELECT * FROM delta.`<path>` VERSION AS OF <n>`
at the version the last completed silver or gold run left the table (see snapshots), so a query never joins
one run's identity map to another's profiles; every run and erasure re-points the views it finds at its end
(`repoint`). Tables no run pins (bronze, steward) are views of the current version. Gold tables keep their
names; tables of other configured layers are named `<layer>_<table>`. Registration is idempotent; an entry
of the same name that reads another location is an error naming both (never silently re-pointed), and a
table entry at the same location (what earlier versions of c360 registered) is replaced by the view.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pyspark.sql import SparkSession

from c360 import snapshots
from c360.config import CatalogSettings
from c360.errors import C360Error
from c360.storage import TableStore

log = logging.getLogger(__name__)


def qualified(settings: CatalogSettings, table: str) -> str:
    """`layer.table` -> its metastore name, e.g. `spark_catalog`.`c360`.`customer_profile`."""
    layer, name = table.split(".", 1)
    parts = [settings.catalog] if settings.catalog else []
    parts += [settings.schema_name, name if layer == "gold" else f"{layer}_{name}"]
    return ".".join(f"`{p}`" for p in parts)


def _schema(settings: CatalogSettings) -> str:
    return ".".join(f"`{p}`" for p in ([settings.catalog] if settings.catalog else []) + [settings.schema_name])


def _norm(path: str) -> str:
    return path.removeprefix("file:").rstrip("/")


@dataclass(frozen=True)
class Entry:
    """A metastore entry: its type (VIEW, EXTERNAL or MANAGED), the location it reads (a view: the Delta path
    in its text, '' when it reads none) and a view's text ('' for a table)."""

    kind: str
    where: str
    text: str = ""


def _entry(spark: SparkSession, name: str) -> Entry | None:
    """The metastore entry called `name`, or None."""
    if not spark.catalog.tableExists(name.replace("`", "")):
        return None
    rows = {r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()}
    kind = (rows.get("Type") or "").upper()
    if kind == "VIEW":
        text = rows.get("View Text") or ""
        found = re.search(r"delta\.`([^`]+)`", text)
        return Entry(kind, _norm(found.group(1)) if found else "", text)
    return Entry(kind, _norm(rows.get("Location") or ""))


def _view_text(store: TableStore, table: str, version: int | None) -> str:
    pinned = f" VERSION AS OF {version}" if version is not None else ""
    return f"SELECT * FROM delta.`{store.path(table)}`{pinned}"


def _point(spark: SparkSession, store: TableStore, name: str, table: str, version: int | None,
           entry: Entry | None) -> str:
    """Create or re-point the view `name` (now `entry`) on `table` at `version`: 'created', 'repointed',
    'replaced' (a table entry at the same place became the view) or 'exists' (already there)."""
    path = _norm(store.path(table))
    if entry is not None and entry.where != path:
        raise C360Error(f"c360 register: {name} already exists and reads {entry.where or 'no Delta path'}, not "
                        f"{path}; drop it or choose another catalog.schema")
    text = _view_text(store, table, version)
    if entry is not None and entry.kind == "VIEW" and entry.text.strip() == text:
        return "exists"
    if entry is not None and entry.kind == "MANAGED":
        raise C360Error(f"c360 register: {name} is a managed table at {path}; c360 never drops one")
    if entry is not None and entry.kind != "VIEW":
        spark.sql(f"DROP TABLE {name}")  # an external table's entry: its files stay
    spark.sql(f"CREATE OR REPLACE VIEW {name} AS {text}")
    return "created" if entry is None else "repointed" if entry.kind == "VIEW" else "replaced"


def _require_delta_spark(store: TableStore) -> None:
    if store.engine != "delta-spark":
        raise C360Error("c360 register needs the delta-spark engine (Delta's connector on the classpath: "
                        "C360_DELTA_JARS, --packages io.delta:delta-spark_2.13:4.4.1, or Databricks)")


def _tables(store: TableStore, settings: CatalogSettings) -> list[str]:
    # bookkeeping tables (_runs, _quarantine ...) stay unregistered
    return [t for layer in settings.layers for t in store.list_tables(layer) if not t.split(".", 1)[1].startswith("_")]


def register_tables(spark: SparkSession, store: TableStore, settings: CatalogSettings,
                    latest: bool = False) -> dict[str, str]:
    """Register every table of the configured layers as a view pinned to the last completed run (`latest`:
    views of the current versions, never pinned); returns metastore name -> what happened (see `_point`)."""
    _require_delta_spark(store)
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {_schema(settings)}")
    pinned = {} if latest else snapshots.completed(store)
    names = {t: qualified(settings, t) for t in _tables(store, settings)}
    return {name: _point(spark, store, name, t, pinned.get(t), _entry(spark, name)) for t, name in names.items()}


def repoint(spark: SparkSession, store: TableStore, settings: CatalogSettings) -> dict[str, str]:
    """At the end of a run or an erasure: move the registered views of this warehouse to the versions its
    last completed runs left (views not registered, or of another warehouse, are left alone)."""
    if store.engine != "delta-spark" or not spark.catalog.databaseExists(_schema(settings).replace("`", "")):
        return {}
    pinned, moved = snapshots.completed(store), {}
    for table in _tables(store, settings):
        name = qualified(settings, table)
        entry = _entry(spark, name)
        if entry and entry.kind == "VIEW" and entry.where == _norm(store.path(table)) and " VERSION AS OF " in entry.text:
            moved[name] = _point(spark, store, name, table, pinned.get(table), entry)
    if any(v != "exists" for v in moved.values()):
        log.info("metastore views re-pointed at the last completed runs: %s",
                 ", ".join(n for n, v in moved.items() if v != "exists"))
    return moved

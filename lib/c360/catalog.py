"""`c360 register`: the warehouse's tables as metastore tables (`CREATE TABLE ... USING DELTA LOCATION`).

On a cluster with a metastore (Hive, Unity Catalog, Glue) analysts then query `c360.customer_profile` from
`spark-sql`, notebooks or BI tools, and always see the table's current Delta version, because the metastore
entry only points at the Delta folder. Gold tables keep their names; tables of other configured layers are
named `<layer>_<table>`. Registration is idempotent: an existing entry at the same location is left alone,
one pointing elsewhere is an error naming both locations (never silently re-pointed).
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.config import CatalogSettings
from c360.errors import C360Error
from c360.storage import TableStore


def qualified(settings: CatalogSettings, table: str) -> str:
    """`layer.table` -> its metastore name, e.g. `spark_catalog`.`c360`.`customer_profile`."""
    layer, name = table.split(".", 1)
    parts = [settings.catalog] if settings.catalog else []
    parts += [settings.schema_name, name if layer == "gold" else f"{layer}_{name}"]
    return ".".join(f"`{p}`" for p in parts)


def _location(spark: SparkSession, name: str) -> str | None:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()
    found = [r.data_type for r in rows if r.col_name == "Location"]
    return found[0] if found else None


def _same_place(a: str | None, b: str) -> bool:
    def norm(p: str) -> str:
        return p.removeprefix("file:").rstrip("/")
    return a is not None and norm(a) == norm(b)


def register_tables(spark: SparkSession, store: TableStore, settings: CatalogSettings) -> dict[str, str]:
    """Register every table of the configured layers; returns metastore name -> 'created' | 'exists'."""
    if store.engine != "delta-spark":
        raise C360Error("c360 register needs the delta-spark engine (Delta's connector on the classpath: "
                        "C360_DELTA_JARS, --packages io.delta:delta-spark_2.13:4.4.1, or Databricks)")
    schema = ".".join(f"`{p}`" for p in ([settings.catalog] if settings.catalog else []) + [settings.schema_name])
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    result: dict[str, str] = {}
    for layer in settings.layers:
        for table in store.list_tables(layer):
            if table.split(".", 1)[1].startswith("_"):
                continue  # bookkeeping tables (_runs, _quarantine ...) stay unregistered
            name, path = qualified(settings, table), store.path(table)
            if spark.catalog.tableExists(name.replace("`", "")):
                where = _location(spark, name)
                if not _same_place(where, path):
                    raise C360Error(f"c360 register: {name} already exists at {where}, not at {path}; "
                                    "drop it or choose another catalog.schema")
                result[name] = "exists"
                continue
            spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{path}'")
            result[name] = "created"
    return result

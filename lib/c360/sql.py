"""Spark SQL over the warehouse: tables are addressed as ``bronze.<t>``, ``silver.<t>``, ``gold.<t>``.

Each table is registered as a temporary view (through the table store, so it works on both engines without
a metastore) of the version the last completed run left it at (see snapshots), or of its current version
with `latest`; ``layer.table`` references outside string literals and comments are pointed at those views
before Spark parses the query.
"""

from __future__ import annotations

import re

from pyspark.sql import DataFrame

from c360 import snapshots
from c360.storage import TableStore

_TOKENS = re.compile(r"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*|/\*.*?\*/)|"
                     r"(?<![\w.`])`?(?P<layer>[a-z_][a-z0-9_]*)`?\.`?(?P<table>[a-z_][a-z0-9_]*)`?(?![\w`])",
                     re.DOTALL | re.IGNORECASE)


def view_name(table: str) -> str:
    """The temporary view that stands for `layer.table`."""
    return "c360__" + table.replace(".", "__")


def register_views(store: TableStore, latest: bool = False, tables: list[str] | None = None) -> list[str]:
    """Register the warehouse's tables (or just `tables`) as temporary views, of the last completed runs'
    versions (or the current ones with `latest`); returns the table names."""
    pinned = None if latest else snapshots.completed(store)
    tables = store.list_tables() if tables is None else tables
    for table in tables:
        snapshots.read(store, table, pinned)[0].createOrReplaceTempView(view_name(table))
    return tables


def referenced(query: str, tables: list[str]) -> list[str]:
    """The tables of `tables` that `query` names outside string literals and comments."""
    known = {t.lower(): t for t in tables}
    names = {f"{m['layer']}.{m['table']}".lower() for m in _TOKENS.finditer(query) if m.group(1) is None}
    return [known[n] for n in sorted(names) if n in known]


def rewrite(query: str, tables: list[str]) -> str:
    """Point ``layer.table`` references at their views; literals, comments and unknown names stay as they are."""
    known = {t.lower() for t in tables}

    def swap(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(0)
        name = f"{match['layer']}.{match['table']}".lower()
        return f"`{view_name(name)}`" if name in known else match.group(0)

    return _TOKENS.sub(swap, query)


def query(store: TableStore, sql: str, latest: bool = False) -> DataFrame:
    """Run `sql` over the warehouse's tables (as the last completed runs left them, or as they stand with
    `latest`) and return the result."""
    # only the tables the query names: reading each table's snapshot is the cost of a query on small data
    tables = register_views(store, latest, referenced(sql, store.list_tables()))
    return store.spark.sql(rewrite(sql, tables))

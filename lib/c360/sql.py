"""Spark SQL over the warehouse: tables are addressed as ``bronze.<t>``, ``silver.<t>``, ``gold.<t>``.

Each table's current snapshot is registered as a temporary view (through the table store, so it works on
both engines without a metastore); ``layer.table`` references outside string literals and comments are
pointed at those views before Spark parses the query.
"""

from __future__ import annotations

import re

from pyspark.sql import DataFrame

from c360.storage import TableStore

_TOKENS = re.compile(r"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*|/\*.*?\*/)|"
                     r"(?<![\w.`])`?(?P<layer>[a-z_][a-z0-9_]*)`?\.`?(?P<table>[a-z_][a-z0-9_]*)`?(?![\w`])",
                     re.DOTALL | re.IGNORECASE)


def view_name(table: str) -> str:
    """The temporary view that stands for `layer.table`."""
    return "c360__" + table.replace(".", "__")


def register_views(store: TableStore) -> list[str]:
    """Register every table of the warehouse as a temporary view; returns the table names."""
    tables = store.list_tables()
    for table in tables:
        store.read(table).createOrReplaceTempView(view_name(table))
    return tables


def rewrite(query: str, tables: list[str]) -> str:
    """Point ``layer.table`` references at their views; literals, comments and unknown names stay as they are."""
    known = {t.lower() for t in tables}

    def swap(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(0)
        name = f"{match['layer']}.{match['table']}".lower()
        return f"`{view_name(name)}`" if name in known else match.group(0)

    return _TOKENS.sub(swap, query)


def query(store: TableStore, sql: str) -> DataFrame:
    """Run `sql` over the warehouse's tables and return the result."""
    return store.spark.sql(rewrite(sql, register_views(store)))

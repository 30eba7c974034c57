"""The part of the identity graph an incremental run clusters again.

Clustering reads edges only (deterministic links, and scored pairs from the weakest link any of its rules
reads), so the clusters inside one connected component of that graph depend on its edges alone. A change can
only move records of a component, before or after it, that holds a record whose edges changed (the `focus`:
new, changed and deleted records, and those holding an identifier value that became a hub or stopped being
one). Clustering the components of the union of both graphs that hold the focus, and leaving every other
record's customer as it was, gives the clusters a full run would; the earlier customers of the records in
scope lie wholly inside it, since a customer never spans two components.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.silver.clustering import Clusterer

PAIR = ("record_key_l", "record_key_r")


def affected(engine: Clusterer, records: DataFrame, edges_now: DataFrame, edges_before: DataFrame,
             focus: DataFrame) -> DataFrame:
    """(record_key) of the current `records` in a component of `edges_now` or `edges_before` (record_key_l,
    record_key_r) that holds a record of `focus`."""
    nodes = records.select("record_key").unionByName(focus.select("record_key")).distinct()
    edges = edges_now.select(*PAIR).unionByName(edges_before.select(*PAIR))
    components = engine.connected_components(nodes, edges)
    hit = components.join(focus, "record_key", "left_semi").select("component").distinct()
    return (components.join(hit, "component", "left_semi").join(records, "record_key", "left_semi")
            .select("record_key"))


def within(frame: DataFrame, scope: DataFrame, *columns: str) -> DataFrame:
    """The rows of `frame` whose `columns` (record keys) all lie in `scope` (record_key)."""
    out = frame
    for column in columns:
        out = out.join(scope.select(F.col("record_key").alias(column)), column, "left_semi")
    return out.select(*frame.columns)

"""The part of the identity graph an incremental run clusters again.

Clustering reads edges only (deterministic links, and scored pairs from the weakest link any of its rules
reads), so the clusters inside one connected component of that graph depend on its edges alone. A change can
only move records of a component, before or after it, that holds a record whose edges changed (the `focus`:
new, changed and deleted records, and those holding an identifier value that became a hub or stopped being
one). Clustering the components of the union of both graphs that hold the focus, and leaving every other
record's customer as it was, gives the clusters a full run would; the earlier customers of the records in
scope lie wholly inside it, since a customer never spans two components.

The last run keeps its graph's components (silver.graph_components), so that union is found by key, without
a pass over the whole graph: every edge that is new has a focus record at one end, hence the union's
components that hold the focus are the last run's components of the focus records and of their neighbours
now.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.silver.clustering.base import PAIR


def neighbours(edges: DataFrame, focus: DataFrame) -> DataFrame:
    """(record_key) of the records an edge of `edges` (record_key_l, record_key_r) joins to a `focus` record."""
    ends = []
    for near, far in (PAIR, PAIR[::-1]):
        ends.append(edges.join(focus.select(F.col("record_key").alias(near)), near, "left_semi")
                    .select(F.col(far).alias("record_key")))
    return ends[0].unionByName(ends[1])


def affected(records: DataFrame, edges_now: DataFrame, components_before: DataFrame, focus: DataFrame) -> DataFrame:
    """(record_key) of the current `records` in a component of the graph now (`edges_now`: record_key_l,
    record_key_r) or of the last run's (`components_before`: record_key, component) that holds a record of
    `focus`."""
    seeds = focus.select("record_key").unionByName(neighbours(edges_now, focus)).distinct()
    hit = components_before.join(seeds, "record_key", "left_semi").select("component").distinct()
    members = components_before.join(hit, "component", "left_semi").select("record_key")
    return seeds.unionByName(members).distinct().join(records, "record_key", "left_semi")


def within(frame: DataFrame, scope: DataFrame, *columns: str) -> DataFrame:
    """The rows of `frame` whose `columns` (record keys) all lie in `scope` (record_key)."""
    out = frame
    for column in columns:
        out = out.join(scope.select(F.col("record_key").alias(column)), column, "left_semi")
    return out.select(*frame.columns)

"""A steward's labels in clustering: must-links join records, cannot-links keep them apart.

A `match` label is a must-link: it joins the deterministic links, so its records start in one cluster
before any scored pair or guard is read (a steward's word overrides the guards). A `non-match` label is a
cannot-link: after either engine has clustered, every cluster that holds both records of one is split along
its strongest links (must-links first, then deterministic links, then scored pairs by weight) into pieces
that never hold both, so a cannot-link wins over every link, a steward's must-links included. The split
happens after both engines alike, over the few clusters concerned, on the driver.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.frames import local_frame
from c360.silver.clustering.pieces import apart_pieces
from c360.silver.clustering.spark import split_on_driver

PAIR = ("record_key_l", "record_key_r")
MUST_STRENGTH = 1e6  # above every link: a steward's must-link is the last to be cut


def with_must_links(exact: DataFrame, must: DataFrame) -> DataFrame:
    """The deterministic links with the must-links (record_key_l, record_key_r) added, method `steward`."""
    steward = must.select(*PAIR, F.lit("steward").alias("method"))
    known = exact.select(*PAIR)
    return exact.unionByName(steward.join(known, list(PAIR), "left_anti"), allowMissingColumns=True)


def keep_apart(components: DataFrame, edges: DataFrame, apart: DataFrame) -> tuple[DataFrame, list[dict]]:
    """`components` (record_key, component) with every cluster that holds both records of a pair in `apart`
    (record_key_l, record_key_r) split along its `edges` (record_key_l, record_key_r, strength); and one
    report row per split cluster (component, size, pieces)."""
    sides = apart.join(components.select(F.col("record_key").alias("record_key_l"), F.col("component").alias("c_l")),
                       "record_key_l").join(
        components.select(F.col("record_key").alias("record_key_r"), F.col("component").alias("c_r")), "record_key_r")
    broken = sides.where(F.col("c_l") == F.col("c_r")).select(*PAIR, F.col("c_l").alias("component")).collect()
    if not broken:
        return components, []
    clusters = local_frame(components.sparkSession, sorted({(r.component,) for r in broken}), "component string")
    pairs = [(r.record_key_l, r.record_key_r) for r in broken]
    return split_on_driver(components, clusters, edges, lambda of, inner: apart_pieces(of, inner, pairs))

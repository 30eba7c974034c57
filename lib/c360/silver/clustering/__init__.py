"""Clusters of records and their stable customer ids; `choose` picks the clustering engine.

Engines (see base): on the driver over Arrow arrays when the edges fit its memory, on Spark otherwise; the
same clusters either way. Ids: see ids.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.config import ClusteringSettings
from c360.silver.clustering.base import Clusterer, ClusterRules, Clusters

__all__ = ["Clusterer", "ClusterRules", "Clusters", "choose"]


def choose(spark: SparkSession, settings: ClusteringSettings, edges: int) -> tuple[Clusterer, str]:
    """The engine `settings.engine` asks for ('auto': the driver for at most `driver_max_edges` edges,
    Spark beyond), and why."""
    from c360.silver.clustering.driver import DriverClusterer
    from c360.silver.clustering.spark import SparkClusterer

    if settings.engine == "auto":
        if edges <= settings.driver_max_edges:
            return DriverClusterer(spark), f"{edges:,} edges fit the driver"
        return SparkClusterer(), f"{edges:,} edges > silver.clustering.driver_max_edges"
    why = "silver.clustering.engine"
    return (DriverClusterer(spark), why) if settings.engine == "driver" else (SparkClusterer(), why)

"""`gold.customer_xref`: golden id <-> every source id, for lookups in both directions.

A source system finds its customer's golden id by (source, source_record_id); the golden id finds every
source record. `linked_by` says how the record joined its customer (exact:<identifier>, splink, or single
for a customer of one record), `linked_at` when it was linked to this customer id.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

COLUMNS = ("customer_id", "source", "source_record_id", "record_key", "linked_by", "match_probability", "linked_at")


def customer_xref(identity_map: DataFrame) -> DataFrame:
    """gold.customer_xref from the identity map: each source record with its customer and how it linked."""
    return identity_map.select("customer_id", "source", "source_record_id", "record_key",
                               F.col("match_method").alias("linked_by"), "match_probability",
                               F.col("assigned_at").alias("linked_at"))

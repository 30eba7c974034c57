"""`gold.customer_interactions`: one timeline per customer across every interaction source.

Pure transform of attributed events. The table is clustered by customer: rows are range-partitioned on
`customer_id` into files of about `rows_per_file` rows and sorted by (customer_id, occurred_at) inside each,
so every file's min/max statistics cover a narrow id range and reading one customer's timeline touches one
file (and within it one row group) instead of scanning the table.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame

COLUMNS = ("customer_id", "occurred_at", "source", "channel", "event_type", "event_id", "amount", "currency",
           "summary", "attributes", "resolved_by", "stitched_by")
SCHEMA = ("customer_id string, occurred_at timestamp, source string, channel string, event_type string, event_id string, "
          "amount double, currency string, summary string, attributes string, resolved_by string, stitched_by string")


def timeline(attributed: DataFrame) -> DataFrame:
    """The timeline rows (event attributes kept as the source gave them, e.g. an order with its lines)."""
    return attributed.select(*COLUMNS)


def clustered(rows: DataFrame, count: int, rows_per_file: int) -> DataFrame:
    """`rows` laid out for fast per-customer reads (see module doc)."""
    files = max(1, math.ceil(count / rows_per_file))
    return rows.repartitionByRange(files, "customer_id").sortWithinPartitions("customer_id", "occurred_at", "event_id")

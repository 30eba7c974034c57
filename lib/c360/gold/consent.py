"""Consent: per channel, the most recent explicit statement wins.

Sources state consent as yes/no on a record (`consent_email`, `consent_phone`, `consent_tracking` in
`silver.person_records`; null means the record says nothing). The golden flag per channel is the value of the
newest record that makes a statement (ties: source priority, then record key), with that record as lineage,
so an opt-out in the shop last week beats an opt-in the CRM recorded years ago, and silence never revokes.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

CHANNELS = ("consent_email", "consent_phone", "consent_tracking")
LATEST = 2**62


def _statement(channel: str) -> F.Column:
    return F.when(F.col(channel).isNotNull(), F.struct(
        F.coalesce(-F.unix_micros("updated_at"), F.lit(LATEST)).alias("k1"),
        F.col("source_priority").cast("long").alias("k2"), F.col("record_key").alias("k3"),
        F.col(channel).alias("value"),
        F.struct("source", "record_key", "updated_at", F.lit("most_recent_statement").alias("rule")).alias("lineage")))


def consent_flags(records: DataFrame) -> DataFrame:
    """customer_id, one boolean per channel (null: no statement anywhere), and `consent_lineage`."""
    picked = records.groupBy("customer_id").agg(*[F.min(_statement(c)).alias(f"_{c}") for c in CHANNELS])
    lineage = []
    for channel in CHANNELS:
        lineage += [F.lit(channel), F.col(f"_{channel}.lineage")]
    return picked.select("customer_id", *[F.col(f"_{c}.value").alias(c) for c in CHANNELS],
                         F.map_filter(F.create_map(*lineage), lambda _, v: v.isNotNull()).alias("consent_lineage"))

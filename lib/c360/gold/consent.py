"""Consent: per channel, the most recent explicit statement wins.

Sources state consent as yes/no on a record (`consent_email`, `consent_phone`, `consent_tracking` in
`silver.person_records`; null means the record says nothing). The golden flag per channel is the value of the
newest record that makes a statement (ties: source priority, then record key), with that record as lineage,
so an opt-out in the shop last week beats an opt-in the CRM recorded years ago, and silence never revokes.

Tracking consent also acts on the timeline (`withheld_tracking`): an event of a tracking channel (the web
clickstream) dated after a statement that says no, with no later statement saying yes before it, stays out.
A withdrawal acts for the future only: earlier clicks stay, and so do orders and tickets of any date, which
need no tracking consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

CHANNELS = ("consent_email", "consent_phone", "consent_tracking")
# contact channel -> (its consent flag, the golden field holding the address)
CONTACT = {"email": ("consent_email", "email"), "phone": ("consent_phone", "phone")}
LATEST = 2**62
# a statement without a time says nothing of when it was made: it counts from the start
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)


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


def contact_permissions(profiles: DataFrame) -> DataFrame:
    """gold.contact_permissions: per contact channel, every customer who may be contacted there now (their
    golden consent says yes and they have a golden address for it), with the address and the statement that
    gave the consent. Consent is the person's for the channel, whichever of their records the golden
    address came from."""
    parts = []
    for channel, (flag, field) in CONTACT.items():
        statement = F.col("consent_lineage")[flag]
        parts.append(profiles.where(F.col(flag) & F.col(field).isNotNull()).select(
            "customer_id", F.lit(channel).alias("channel"), F.col(field).alias("address"),
            statement["updated_at"].alias("consented_at"), statement["source"].alias("consent_source"),
            statement["record_key"].alias("consent_record_key")))
    return reduce(DataFrame.unionByName, parts)


def withheld_tracking(rows: DataFrame, records: DataFrame, channels: Sequence[str]) -> DataFrame:
    """(source, event_id) of the timeline `rows` (customer_id, source, event_id, occurred_at, channel) that
    consent withholds: an event of one of `channels` whose customer's latest tracking statement (of their
    `records`: customer_id, updated_at, consent_tracking) at or before the event says no; on a tie, no wins."""
    keys = ["source", "event_id"]
    if not channels:
        return rows.select(*keys).limit(0)
    statements = records.where(F.col("consent_tracking").isNotNull()).select(
        F.col("customer_id").alias("_customer"), F.coalesce("updated_at", F.lit(EARLIEST).cast("timestamp")).alias("_at"),
        (~F.col("consent_tracking")).alias("_refused"))
    tracking = rows.where(F.col("channel").isin(list(channels))).select("customer_id", *keys, "occurred_at")
    latest = (tracking.join(statements, (F.col("customer_id") == F.col("_customer")) & (F.col("_at") <= F.col("occurred_at")))
              .groupBy(*keys).agg(F.max(F.struct("_at", "_refused")).alias("_last")))
    return latest.where(F.col("_last._refused")).select(*keys)

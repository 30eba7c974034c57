"""`gold.customer_profile`: one row per customer_id, assembled from golden values and everything known.

Pure transforms. Beside the golden fields and their `lineage` a profile holds every known e-mail, phone,
handle, login and loyalty id (arrays, sorted), the sources and number of records behind it, first and last
seen (person-record updates and interactions), consent per channel, its B2B account links and household.

`profile_version` counts changes of the profile's content (golden values, lineage, arrays, consent, links;
not the seen timestamps, which move with every event): it starts at 1, and a run that changes the content
adds 1 and sets `updated_at`; an unchanged profile keeps both, so consumers can pick up changed profiles.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import GOLDEN_FIELDS
from c360.gold.consent import CHANNELS

ARRAYS = {"emails": "email", "phones": "phone_e164", "social_handles": "social_handle", "login_ids": "login_id",
          "loyalty_ids": "loyalty_id", "sources": "source"}
COLUMNS = ("customer_id", *GOLDEN_FIELDS, "lineage", *ARRAYS, "source_record_count", "account_ids", "household_id",
           *CHANNELS, "consent_lineage", "first_seen_at", "last_seen_at", "content_hash", "profile_version", "updated_at")
UNVERSIONED = ("first_seen_at", "last_seen_at", "content_hash", "profile_version", "updated_at")


def record_facts(records: DataFrame, account_identifier: str | None) -> DataFrame:
    """Per customer: the identifier arrays, record count, record time span and account links."""
    accounts = (F.array_sort(F.collect_set(F.col("identifiers")[account_identifier])) if account_identifier
                else F.array().cast("array<string>"))
    return records.groupBy("customer_id").agg(
        *[F.array_sort(F.collect_set(col)).alias(name) for name, col in ARRAYS.items()],
        F.count("*").alias("source_record_count"), accounts.alias("account_ids"),
        F.min("updated_at").alias("_records_first"), F.max("updated_at").alias("_records_last"))


def event_span(timeline: DataFrame) -> DataFrame:
    """Per customer: the first and last event time, for the profile's first and last seen."""
    return timeline.groupBy("customer_id").agg(F.min("occurred_at").alias("_events_first"),
                                               F.max("occurred_at").alias("_events_last"))


def assemble(golden: DataFrame, facts: DataFrame, consent: DataFrame, span: DataFrame, households: DataFrame) -> DataFrame:
    """The profile's content (no version yet); customers come from `facts`, so each has a source record."""
    out = (facts.join(golden, "customer_id", "left").join(consent, "customer_id", "left")
           .join(span, "customer_id", "left").join(households, "customer_id", "left"))
    first = F.least("_records_first", "_events_first")
    last = F.greatest("_records_last", "_events_last")
    content = [c for c in COLUMNS if c not in UNVERSIONED]
    out = out.select(*content, first.alias("first_seen_at"), last.alias("last_seen_at"))
    return out.withColumn("content_hash", F.sha2(F.to_json(F.struct(*content)), 256))


def versioned(profiles: DataFrame, previous: DataFrame | None, now: datetime) -> DataFrame:
    """Set profile_version and updated_at against the previous gold profile (see module doc)."""
    stamp = F.lit(now).cast("timestamp")
    if previous is None:
        return profiles.select("*", F.lit(1).cast("long").alias("profile_version"), stamp.alias("updated_at")).select(*COLUMNS)
    before = previous.select("customer_id", F.col("content_hash").alias("_hash"),
                             F.col("profile_version").alias("_version"), F.col("updated_at").alias("_updated"))
    joined = profiles.join(before, "customer_id", "left")
    same = F.col("_hash") == F.col("content_hash")
    return joined.select(
        "*", F.when(same, F.col("_version")).otherwise(F.coalesce(F.col("_version"), F.lit(0)) + 1).cast("long")
        .alias("profile_version"), F.when(same, F.col("_updated")).otherwise(stamp).alias("updated_at")).select(*COLUMNS)

"""Which columns of a table may have min/max statistics in the Delta log.

Every commit records, per data file, the smallest and largest value of its columns; Delta readers skip files
by them. For a column holding a name, an e-mail or a phone number those values are personal data, and they
live in `_delta_log` (commits and checkpoints) apart from the data files, where deleting a row does not reach
them. So tables keep statistics only for the columns that carry no person field: keys, dates, amounts,
codes. Delta's `delta.dataSkippingStatsColumns` table property says which; delta-spark honours it when it
writes, and so do delta-rs's own writes and c360's statistics for the files Spark writes (storage.delta_rs).

A column is allowed by name: c360's keys and bookkeeping columns and the non-personal columns of its tables.
Every other column, and so every column a source brings into bronze, gets no statistics: a new column is
personal until it is listed here.
"""

from __future__ import annotations

from pyspark.sql import types as T

STATS_COLUMNS = "delta.dataSkippingStatsColumns"
"""The Delta table property listing the columns that get file statistics."""

NON_PERSONAL = frozenset({
    # bronze bookkeeping (a source's own columns are never listed)
    "_run_id", "_ingested_at", "_source_file", "_file_checksum", "_record_ref", "_record_id", "_record_hash",
    "_updated_at", "source", "source_file", "file_checksum", "record_ref", "record_hash", "reason", "run_id",
    "quarantined_at", "file_path", "file_size", "modified_at", "checksum", "file_version", "ingested_at",
    "records", "written", "quarantined", "status",
    # a steward's labels
    "label_id", "label", "origin", "labelled_at", "by", "queue", "stratum", "weight", "first_names_conflict",
    # keys and ids
    "record_key", "record_key_l", "record_key_r", "source_record_id", "customer_id", "old_customer_id",
    "new_customer_id", "component", "event_id", "household_id", "account_id", "parent_account_id",
    "ultimate_parent_account_id", "identifier",
    # times, kinds, scores and amounts
    "updated_at", "customer_created_at", "assigned_at", "linked_at", "occurred_at", "at", "as_of",
    "first_seen_at", "last_seen_at", "first_order_at", "last_order_at", "finished_at", "kind", "method",
    "match_method", "linked_by", "resolved_by", "stitched_by", "match_probability", "match_weight",
    "source_priority", "channel", "event_type", "amount", "currency", "profile_version", "content_hash",
    "orders_count", "revenue_total", "reporting_currency", "avg_order_value", "orders_without_rate",
    "recency_days", "r_score", "f_score", "m_score", "rfm_score", "segment", "open_tickets", "social_posts",
    "interactions_total", "days_since_last_seen", "members", "hierarchy_depth", "hierarchy_issue",
    "source_record_count", "model_version", "fingerprint", "country", "gender", "consent_email",
    "consent_phone", "consent_tracking", "consented_at", "consent_source", "consent_record_key",
})
_STATS_TYPES = (T.StringType, T.NumericType, T.DateType, T.TimestampType, T.TimestampNTZType)


def stats_columns(schema: T.StructType) -> list[str]:
    """The columns of `schema` that may have file statistics: flat, of a type Delta keeps them for, and
    named in NON_PERSONAL."""
    return [f.name for f in schema.fields if f.name in NON_PERSONAL and isinstance(f.dataType, _STATS_TYPES)]


def stats_property(schema: T.StructType) -> dict[str, str]:
    """The table property that limits statistics to `stats_columns` (every c360 table has at least one: a
    key or a bookkeeping column; an empty value would read as "every column")."""
    allowed = stats_columns(schema)
    return {STATS_COLUMNS: ",".join(allowed)} if allowed else {}


def listed(value: str | None) -> set[str] | None:
    """The column names a `delta.dataSkippingStatsColumns` value lists (None: the property is not set)."""
    if value is None:
        return None
    return {part.strip().strip("`") for part in value.split(",") if part.strip()}

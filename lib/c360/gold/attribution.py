"""Which customer each interaction belongs to, through the identifiers it carries.

An event carries identifiers (a shop customer number, a login, a loyalty card, a social handle, an e-mail, a
phone). A value identifies a customer when the person records carrying it all belong to that one customer;
a value shared by several customers (a family e-mail, an office phone) is ambiguous and never used. The
event goes to the customer of its strongest identifier, in `PRIORITY` order (free identifiers first: a
customer number is more specific than an e-mail). Events no identifier resolves are returned separately
with the reason, so nothing disappears from the timeline silently.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.silver.standardise import e164_local

# (kind, column on person records, column on events); free identifiers ("id:<name>") rank before all.
# phone_local last: the digits of an event's number written without a country code, which was read in the
# default country and may name the caller's number in another one (see standardise.phone_local)
STANDARD = (("login_id", "login_id", "login_id"), ("loyalty_id", "loyalty_id", "loyalty_id"),
            ("social_handle", "social_handle", "social_handle"), ("email", "email_key", "email_key"),
            ("phone", "phone_e164", "phone"), ("phone_local", "_phone_local", "phone_local"))
PRIORITY = {kind: i + 1 for i, (kind, _, _) in enumerate(STANDARD)}
UNRESOLVED_COLUMNS = ("event_id", "source", "occurred_at", "event_type", "reason", "identifiers_seen")


def _pairs(frame: DataFrame, id_col: str, columns: dict[str, str]) -> DataFrame:
    """(id, kind, value, rank) for every non-empty identifier of every row."""
    if "_phone_local" in columns.values() and "_phone_local" not in frame.columns:  # person records
        frame = frame.withColumn("_phone_local", e164_local(F.col("phone_e164")))
    if "phone_local" in columns.values() and "phone_local" not in frame.columns:  # events of an older silver
        frame = frame.withColumn("phone_local", F.lit(None).cast("string"))
    entries = [F.struct(F.lit(kind).alias("kind"), F.col(col).cast("string").alias("value"),
                        F.lit(PRIORITY[kind]).alias("rank")) for kind, col in columns.items()]
    free = F.transform(F.map_entries("identifiers"), lambda e: F.struct(
        F.concat(F.lit("id:"), e["key"]).alias("kind"), e["value"].alias("value"), F.lit(0).alias("rank")))
    every = F.concat(F.array(*entries), free)
    return (frame.select(F.col(id_col).alias("_id"), F.explode(every).alias("e"))
            .select("_id", "e.kind", "e.value", "e.rank").where(F.col("value").isNotNull() & (F.col("value") != "")))


PERSON_COLUMNS = {kind: col for kind, col, _ in STANDARD}
EVENT_COLUMNS = {kind: col for kind, _, col in STANDARD}


def record_identifiers(records: DataFrame) -> DataFrame:
    """(kind, value) of every identifier value person records carry, once each."""
    return _pairs(records.withColumn("_rk", F.lit(None)), "_rk", PERSON_COLUMNS).select("kind", "value").distinct()


def record_identifier_values(records: DataFrame) -> DataFrame:
    """(record_key, kind, value) of every identifier value each person record carries (as events are
    matched to it)."""
    return _pairs(records, "record_key", PERSON_COLUMNS).select(F.col("_id").alias("record_key"), "kind", "value")


def event_identifiers(events: DataFrame) -> DataFrame:
    """(source, event_id, kind, value) of every identifier value each event carries."""
    keyed = events.withColumn("_key", F.struct("source", "event_id"))
    return _pairs(keyed, "_key", EVENT_COLUMNS).select("_id.source", "_id.event_id", "kind", "value")


def identifier_index(records: DataFrame, values: DataFrame | None = None) -> DataFrame:
    """(kind, value, customer_id, customers): each identifier value with the customer it names; `customers`
    > 1 marks an ambiguous value. With `values` (kind, value), only those values are indexed: an incremental
    run needs the entries of the events it attributes again, and every record holding them."""
    pairs = _pairs(records.withColumn("_cid", F.col("customer_id")), "_cid", PERSON_COLUMNS)
    if values is not None:
        pairs = pairs.join(values.select("kind", "value").distinct(), ["kind", "value"], "left_semi")
    owners = pairs.select("kind", "value", F.col("_id").alias("customer_id")).distinct()
    count = F.count("*").over(Window.partitionBy("kind", "value"))
    return owners.withColumn("customers", count)


def attribute_events(events: DataFrame, index: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(events with customer_id and resolved_by, unresolved events with a reason).

    `resolved_by` is the identifier kind that decided (e.g. ``id:shop_customer_no``, ``login_id``)."""
    keyed = events.withColumn("_key", F.concat_ws("\u0001", "source", "event_id"))
    seen = _pairs(keyed, "_key", EVENT_COLUMNS)
    matched = seen.join(index, ["kind", "value"], "left")
    best = matched.groupBy("_id").agg(
        F.min(F.when(F.col("customers") == 1, F.struct("rank", "kind", "customer_id"))).alias("_best"),
        F.max(F.col("customers") > 1).alias("_ambiguous"),
        F.array_sort(F.collect_set("kind")).alias("identifiers_seen"))
    joined = keyed.join(best.withColumnRenamed("_id", "_key"), "_key", "left")
    resolved = (joined.where(F.col("_best").isNotNull())
                .withColumn("customer_id", F.col("_best.customer_id"))
                .withColumn("resolved_by", F.col("_best.kind")).drop("_key", "_best", "_ambiguous", "identifiers_seen"))
    unresolved = joined.where(F.col("_best").isNull()).select(
        "event_id", "source", "occurred_at", "event_type", _reason(),
        F.coalesce("identifiers_seen", F.array().cast("array<string>")).alias("identifiers_seen"))
    return resolved, unresolved


def _reason() -> Column:
    return (F.when(F.col("identifiers_seen").isNull() & F.col("cookie_id").isNotNull(), F.lit("anonymous_session"))
            .when(F.col("identifiers_seen").isNull(), F.lit("no_identifier"))
            .when(F.col("_ambiguous"), F.lit("ambiguous_identifier"))
            .otherwise(F.lit("no_matching_customer")).alias("reason"))

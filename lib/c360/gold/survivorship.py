"""Survivorship: the golden value of each canonical field among a customer's records, and where it came from.

Pure transform of `silver.person_records` rows that carry their `customer_id`. Each *unit* (one field, or a
group of fields that survive together such as an address) is chosen by its configured rule:

- ``source_priority``: the best source wins (by the rule's `sources` order, else each source's `priority`);
- ``first_non_null``: only the listed sources count, the first in list order that has a value;
- ``most_recent``: the newest record by `updated_at`;
- ``most_frequent``: the value most of the customer's records agree on (compared by its match key, so
  'PETER' and 'Peter' count as one value);
- ``longest``: the most complete value (for a group: most fields filled, then most characters).

Ties always fall to source priority, then the newer record, then the smaller record key, so the result never
depends on row order. Units are decided by aggregation: each candidate row becomes a struct whose leading fields
are its sort key, and `min` over those structs per customer picks the winner.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config import GOLDEN_FIELDS, GoldSettings, SurvivorshipRule

# The column a golden field takes its value from (phones: the E.164 form), and the key it is compared by.
VALUE_COLUMN = {"phone": "phone_e164"}
MATCH_KEY = {"first_name": "first_name_key", "last_name": "last_name_key", "email": "email_key",
             "street": "street_key", "city": "city_key", "postcode": "postcode_key", "company": "company_key",
             "full_name": "full_name"}
LATEST = 2**62  # sorts after every real timestamp (microseconds)
UNITS_PER_AGGREGATION = 4


@dataclass(frozen=True)
class Unit:
    """Fields chosen together from one record, by one rule."""

    name: str
    fields: tuple[str, ...]
    rule: SurvivorshipRule


def units(settings: GoldSettings) -> list[Unit]:
    """Every golden field in exactly one unit: the configured groups, then single fields."""
    grouped = {f for fields in settings.groups.values() for f in fields}
    out = [Unit(name, tuple(fields), settings.survivorship.get(name, settings.default_rule))
           for name, fields in settings.groups.items()]
    out += [Unit(f, (f,), settings.survivorship.get(f, settings.default_rule)) for f in GOLDEN_FIELDS if f not in grouped]
    return out


def _value(field: str) -> Column:
    return F.col(VALUE_COLUMN.get(field, field))


def _present(unit: Unit) -> Column:
    """A record is a candidate for a unit when it has any of the unit's fields."""
    checks = [_value(f).isNotNull() & (F.trim(_value(f).cast("string")) != "") for f in unit.fields]
    out = checks[0]
    for check in checks[1:]:
        out = out | check
    return out


def _newest_first() -> Column:
    return F.coalesce(-F.unix_micros("updated_at"), F.lit(LATEST))


def _match_key(unit: Unit) -> Column:
    keys = [F.coalesce(F.col(MATCH_KEY.get(f, VALUE_COLUMN.get(f, f))).cast("string"), F.lit("")) for f in unit.fields]
    return F.concat_ws("\u0001", *keys)


def _primary_key(unit: Unit, frequency: str) -> Column:
    """The rule's own sort key (smaller wins); None-free so struct ordering is total."""
    rule = unit.rule
    if rule.rule in ("source_priority", "first_non_null"):
        if rule.sources:
            order = F.array_position(F.array(*[F.lit(s) for s in rule.sources]), F.col("source"))
            # unlisted sources come after the listed ones (source_priority) or never (filtered out)
            return F.when(order > 0, order).otherwise(F.lit(10**6) + F.col("source_priority")).cast("long")
        return F.col("source_priority").cast("long")
    if rule.rule == "most_recent":
        return _newest_first()
    if rule.rule == "most_frequent":
        return -F.col(frequency).cast("long")
    filled = sum((F.when(_value(f).isNotNull(), 1).otherwise(0) for f in unit.fields), F.lit(0))
    length = sum((F.coalesce(F.length(_value(f).cast("string")), F.lit(0)) for f in unit.fields), F.lit(0))
    return -(filled.cast("long") * 100_000 + length)


def _candidate(unit: Unit) -> Column:
    """The unit's winner-picking struct: sort keys first, then the values and their lineage."""
    frequency = f"_freq_{unit.name}"
    eligible = _present(unit)
    if unit.rule.rule == "first_non_null":
        eligible = eligible & F.col("source").isin(*unit.rule.sources)
    lineage = F.struct(F.col("source"), F.col("record_key"), F.col("updated_at"), F.lit(unit.rule.rule).alias("rule"))
    return F.when(eligible, F.struct(
        _primary_key(unit, frequency).alias("k1"), F.col("source_priority").cast("long").alias("k2"),
        _newest_first().alias("k3"), F.col("record_key").alias("k4"),
        F.struct(*[_value(f).alias(f) for f in unit.fields]).alias("value"), lineage.alias("lineage"),
    ))


def golden_values(records: DataFrame, settings: GoldSettings) -> DataFrame:
    """One row per customer_id: every golden field, and `lineage` (field -> source, record_key, updated_at,
    rule of the record it came from; fields without any value have no entry)."""
    chosen = units(settings)
    frame = records
    for unit in chosen:
        if unit.rule.rule == "most_frequent":
            same = Window.partitionBy("customer_id", _match_key(unit))
            frame = frame.withColumn(f"_freq_{unit.name}", F.when(_present(unit), F.count("*").over(same)))
    # a few units per aggregation: one aggregation over all of them outgrows Java's 64 KB method limit
    # in Spark's generated code (Spark then falls back to slow interpreted evaluation, with a logged error)
    best = None
    for start in range(0, len(chosen), UNITS_PER_AGGREGATION):
        part = frame.groupBy("customer_id").agg(
            *[F.min(_candidate(u)).alias(f"_u_{u.name}") for u in chosen[start:start + UNITS_PER_AGGREGATION]])
        best = part if best is None else best.join(part, "customer_id")
    values: dict[str, Column] = {}
    lineage: list[Column] = []
    for unit in chosen:
        for field in unit.fields:
            value = F.col(f"_u_{unit.name}.value.{field}")
            values[field] = value.alias(field)
            lineage += [F.lit(field), F.when(value.isNotNull(), F.col(f"_u_{unit.name}.lineage"))]
    return best.select("customer_id", *[values[f] for f in GOLDEN_FIELDS],
                       F.map_filter(F.create_map(*lineage), lambda _, v: v.isNotNull()).alias("lineage"))

"""What changed in silver since the last gold run, and which customers and events that reaches.

Silver writes its person records, identity map and interactions as the rows that changed, with Delta's
change data feed on (see storage.publish), so the feed between the silver versions the last gold run read
and now holds exactly the records, ids and events that moved. A gold run recomputes from all their silver
rows only the customers those reach:

- every customer id on either side of an identity-map change (a merge, a split, a new or deleted record),
  and the customer of every changed person record;
- every event whose attribution may have moved: a changed event, an event on an affected customer's
  timeline, and an event carrying an identifier value that an affected customer's records hold now or a
  changed record held before (an e-mail that moved makes its events ambiguous, or someone else's);
- the customers those events belonged to and belong to now;
- customers whose household changed with the golden addresses of the others.

A run takes only the changes when the last gold run read the same silver tables with the same gold
settings and every gold table it continues is there; anything else (first run, `--full-refresh`, changed
gold settings or accounts source, interactions that appeared, a change feed that cannot be read any more,
e.g. vacuumed) recomputes every customer, and the run summary says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.gold.attribution import event_identifiers, record_identifiers
from c360.storage import TableStore

# the change types that carry a row's content before the change
BEFORE = ("update_preimage", "delete")
# commits whose change data feed holds only the rows that changed (silver's incremental writes)
ROW_LEVEL = ("MERGE", "DELETE", "OPTIMIZE", "VACUUM START", "VACUUM END")


@dataclass(frozen=True)
class Plan:
    """Per silver table, the version the last gold run read (None: recompute every customer), and why."""

    since: dict[str, int] | None
    why: str

    @property
    def incremental(self) -> bool:
        return self.since is not None


@dataclass(frozen=True)
class SilverChanges:
    """The silver change feed since the last gold run: identity-map rows (`record_key`, `customer_id`, both
    sides of an update), person-record rows (every column and `_change_type`), and changed events
    (`source`, `event_id`)."""

    identity: DataFrame
    records: DataFrame
    events: DataFrame


def plan(last: Mapping | None, settings: str, versions: Mapping[str, int | None], full_refresh: bool,
         missing: Iterable[str]) -> Plan:
    """Whether this gold run may take only what changed since the `last` run's summary (`settings`: this
    run's gold settings fingerprint; `versions`: the silver tables' versions now; `missing`: gold tables an
    incremental run would continue that do not exist)."""
    if full_refresh:
        return Plan(None, "--full-refresh")
    if last is None or "inputs" not in last:
        return Plan(None, "no earlier gold run to continue from")
    if last.get("settings") != settings:
        return Plan(None, "gold settings or the accounts source changed")
    before = last["inputs"]
    for table, version in versions.items():
        if (before.get(table) is None) != (version is None):
            return Plan(None, f"{table} appeared or went away since the last run")
        if version is not None and version < before[table]:
            return Plan(None, f"{table} is at an older version than the last run read")
    gone = sorted(missing)
    if gone:
        return Plan(None, f"{', '.join(gone)} missing")
    return Plan({t: v for t, v in before.items() if t in versions and v is not None}, "only what changed in silver")


def rewritten(store: TableStore, table: str, since: int) -> str | None:
    """Why `table`'s changes after version `since` are not row-level (a full silver run overwrites it, and
    its feed then lists every row); None when they are (a MERGE, DELETE or append: see storage.publish)."""
    commit = store.refused_since(table, since, lambda c: c.operation.startswith(ROW_LEVEL) or c.appended)
    return commit and (f"{table} was written whole or restored since the last run "
                       f"({commit.operation} at version {commit.version})")


def changed_customers(identity: DataFrame, records: DataFrame, identity_map: DataFrame) -> DataFrame:
    """customer_id of every customer on either side of an identity-map change, and of every changed record's
    customer now."""
    moved = identity.select("customer_id")
    touched = records.select("record_key").distinct().join(identity_map.select("record_key", "customer_id"), "record_key")
    return moved.unionByName(touched.select("customer_id")).where(F.col("customer_id").isNotNull()).distinct()


def identifiers_in_play(customer_records: DataFrame, customers: DataFrame, records: DataFrame) -> DataFrame:
    """(kind, value) of every identifier the `customers`' records hold now or a changed record held before."""
    now = record_identifiers(customer_records.join(customers, "customer_id", "left_semi"))
    before = record_identifiers(records.where(F.col("_change_type").isin(*BEFORE)))
    return now.unionByName(before).distinct()


def events_in_scope(events: DataFrame, changed: DataFrame, timeline: DataFrame, customers: DataFrame,
                    identifiers: DataFrame) -> DataFrame:
    """The `events` (silver.interactions rows) whose attribution may have moved (see module doc)."""
    on_timeline = timeline.join(customers, "customer_id", "left_semi").select("source", "event_id")
    carrying = (event_identifiers(events).join(F.broadcast(identifiers), ["kind", "value"], "left_semi")
                .select("source", "event_id"))
    keys = changed.select("source", "event_id").unionByName(on_timeline).unionByName(carrying).distinct()
    return events.join(keys, ["source", "event_id"], "left_semi")


def household_moves(before: DataFrame, after: DataFrame) -> DataFrame:
    """customer_id of every customer whose household_id differs between `before` and `after`
    (customer_id, household_id; a customer absent from a side has none there)."""
    old = before.select("customer_id", F.col("household_id").alias("_old"))
    new = after.select("customer_id", F.col("household_id").alias("_new"))
    both = old.join(new, "customer_id", "full")
    return both.where(~F.col("_old").eqNullSafe(F.col("_new"))).select("customer_id")

"""What changed in the person sources since the last silver run, and whether a run may take only that.

Bronze only ever appends (each version of a record is a row; see person_records.latest_versions), so the
records that changed since the bronze versions the last silver run read are those with a row committed
after them: their ids are read once, their newest version is standardised again, and the result replaces
them in `silver.person_records` (a record whose newest version meets the source's `deleted` condition
leaves). A run takes only the changes when the last run read the same person sources with the same
settings and model and every bronze table since then was only appended to; anything else (a new source,
changed field mappings or silver settings, a new model version, a bronze table rewritten, a missing silver
table, `--full-refresh`) recomputes every record, and the run summary says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import SourceConfig
from c360.silver.person_records import person_records
from c360.storage import TableStore

# the silver tables an incremental run starts from
BASE_TABLES = ("silver.person_records", "silver.identity_map", "silver.scored_pairs")


@dataclass(frozen=True)
class Plan:
    """The bronze versions the last run read (None: recompute every record) and why."""

    since: dict[str, int] | None
    why: str

    @property
    def incremental(self) -> bool:
        return self.since is not None


@dataclass(frozen=True)
class Increment:
    """The person records that changed: `upserts` (their new rows) and `changed` (record_key of every changed
    record, deleted ones included)."""

    upserts: DataFrame
    changed: DataFrame

    def apply(self, records: DataFrame) -> DataFrame:
        """`records` (silver.person_records as it stands) with the changed records replaced or removed."""
        return records.join(self.changed, "record_key", "left_anti").unionByName(self.upserts)


def _appended_only(store: TableStore, table: str, since: int) -> str | None:
    """Why `table` cannot be read as appends after version `since`; None when it can."""
    for commit in store.history(table):
        mode = commit.parameters.get("mode", "").lower()
        if commit.version <= since or (commit.operation == "WRITE" and "append" in mode) \
                or commit.operation.startswith(("OPTIMIZE", "VACUUM")):
            continue
        return f"{table} was rewritten after the last run ({commit.operation} at version {commit.version})"
    return None


def plan(store: TableStore, last: Mapping | None, settings: str, versions: Mapping[str, int],
         full_refresh: bool) -> Plan:
    """Whether this run may take only the person records that changed since the `last` run's summary
    (`settings`: this run's settings fingerprint; `versions`: the person sources' bronze versions now)."""
    if full_refresh:
        return Plan(None, "--full-refresh")
    if last is None or "bronze_versions" not in last:
        return Plan(None, "no earlier silver run to continue from")
    if last.get("settings_fingerprint") != settings:
        return Plan(None, "field mappings, silver settings or the model version changed since the last run")
    before = last["bronze_versions"]
    if set(before) != set(versions):
        return Plan(None, "the person sources changed since the last run")
    missing = [t for t in BASE_TABLES if not store.exists(t)]
    if missing:
        return Plan(None, f"{', '.join(missing)} missing")
    for table, version in before.items():
        why = (f"{table} is older than the last run read" if versions[table] < version
               else _appended_only(store, table, version))
        if why:
            return Plan(None, why)
    return Plan(dict(before), "only the bronze rows added since the last run")


def changed_ids(store: TableStore, table: str, since: int) -> DataFrame:
    """(_record_id) of the records with a row committed to bronze `table` after version `since`: rows of
    bronze runs that version did not hold."""
    earlier = store.read(table, version=since).select("_run_id").distinct()
    return store.read(table).join(F.broadcast(earlier), "_run_id", "left_anti").select("_record_id").distinct()


def increment(store: TableStore, sources: list[SourceConfig], since: Mapping[str, int], default_country: str) -> Increment:
    """The person records of `sources` that changed after the bronze versions `since`, standardised."""
    upserts, changed = [], []
    for source in sources:
        table = f"bronze.{source.name}"
        ids = changed_ids(store, table, since[table]).localCheckpoint()
        rows = store.read(table).join(ids, "_record_id", "left_semi")
        upserts.append(person_records(rows, source, default_country))
        changed.append(ids.select(F.concat(F.lit(f"{source.name}:"), F.col("_record_id")).alias("record_key")))
    out_upserts, out_changed = upserts[0], changed[0]
    for frame, keys in zip(upserts[1:], changed[1:]):
        out_upserts, out_changed = out_upserts.unionByName(frame), out_changed.unionByName(keys)
    return Increment(out_upserts, out_changed)

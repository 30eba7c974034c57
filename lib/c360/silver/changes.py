"""What changed in the person sources since the last silver run, and whether a run may take only that.

Bronze only ever appends (each version of a record is a row; see person_records.latest_versions), so the
records that changed since the bronze versions the last silver run read are those with a row committed
after them, told by the bronze run that wrote it (`_run_id`; a compaction keeps it): their ids are read
once, their newest version is standardised again, and the result replaces
them in `silver.person_records` (a record whose newest version meets the source's `deleted` condition,
or has a tombstone of one of its deletions sources at or after it, leaves; a new tombstone changes its record). A run takes only the changes when the last run read the same person sources with the same
settings and model and every bronze table since then was only appended to; anything else (a new source,
changed field mappings or silver settings, a new model version, a bronze table rewritten, a missing silver
table, `--full-refresh`) recomputes every record, and the run summary says why. Events (interaction sources)
are followed the same way, on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import SourceConfig
from c360.silver.person_records import PHONES_HERE_MAX, person_records
from c360.storage import Commit, TableStore

# the silver tables an incremental run starts from, and where a run's summary keeps the bronze versions it read
BASE_TABLES = {"person": ("silver.person_records", "silver.identity_map", "silver.scored_pairs",
                          "silver.graph_components"),
               "event": ("silver.interactions",)}
VERSIONS = {"person": "bronze_versions", "event": "event_versions"}
# the bronze columns of a deletions source's rows that silver reads (see person_records.tombstoned)
TOMBSTONE = ("_record_id", "_updated_at", "_ingested_at")


@dataclass(frozen=True)
class Plan:
    """Per bronze table, the bronze runs whose rows the last run had read (None: recompute every record), and
    why."""

    since: dict[str, tuple[str, ...]] | None
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
    commit = store.refused_since(table, since, _appends)
    return commit and f"{table} was rewritten after the last run ({commit.operation} at version {commit.version})"


def _appends(commit: Commit) -> bool:
    """An append, or a compaction or vacuum (which leave the rows as they were)."""
    return commit.appended or commit.operation.startswith(("OPTIMIZE", "VACUUM"))


def plan(store: TableStore, last: Mapping | None, settings: str, versions: Mapping[str, int],
         full_refresh: bool, kind: str = "person") -> Plan:
    """Whether this run may take only the `kind` records (person or event) that changed since the `last`
    run's summary (`settings`: this run's settings fingerprint; `versions`: those sources' bronze versions
    now)."""
    key = VERSIONS[kind]
    if full_refresh:
        return Plan(None, "--full-refresh")
    if last is None or key not in last:
        return Plan(None, "no earlier silver run to continue from")
    if last.get("settings_fingerprint") != settings:
        return Plan(None, "field mappings, silver settings or the model version changed since the last run")
    before = last[key]
    if set(before) - set(versions):
        return Plan(None, f"the {kind} sources changed since the last run")
    missing = [t for t in BASE_TABLES[kind] if not store.exists(t)]
    if missing:
        return Plan(None, f"{', '.join(missing)} missing")
    for table, version in before.items():
        why = (f"{table} is older than the last run read" if versions[table] < version
               else _appended_only(store, table, version))
        if why:
            return Plan(None, why)
    runs, why = _runs_read(store, before)
    if runs is None:
        return Plan(None, why)
    # a configured source whose first rows landed since the last run (its files came later): all of them are new
    return Plan(runs | {t: () for t in versions if t not in before}, why)


def _runs_read(store: TableStore, versions: Mapping[str, int]) -> tuple[dict[str, tuple[str, ...]] | None, str]:
    """The bronze runs each table held at the version the last run read (a run id per bronze commit, a few
    hundred at most), or None and why when such a version can no longer be read (vacuumed after a compaction)."""
    runs = {}
    for table, version in versions.items():
        try:
            found = store.read(table, version=version).select("_run_id").distinct().collect()
        except Exception as exc:  # noqa: BLE001 - either engine's error for files vacuumed away
            return None, f"{table} at version {version} can no longer be read ({str(exc).splitlines()[0][:200]})"
        runs[table] = tuple(sorted(r["_run_id"] for r in found))
    return runs, "only the bronze rows added since the last run"


def changed_ids(store: TableStore, table: str, earlier: tuple[str, ...]) -> DataFrame:
    """(_record_id) of the records with a row in bronze `table` from a bronze run not among `earlier`."""
    return store.read(table).where(~F.col("_run_id").isin(*earlier)).select("_record_id").distinct()


def changed_rows(store: TableStore, table: str, earlier: tuple[str, ...]) -> tuple[DataFrame, DataFrame]:
    """Every bronze row (all versions) of the records of `table` with a row from a bronze run not among
    `earlier`, and their ids (_record_id)."""
    ids = changed_ids(store, table, earlier).localCheckpoint()
    return store.read(table).join(ids, "_record_id", "left_semi"), ids


def increment(store: TableStore, sources: list[SourceConfig], since: Mapping[str, tuple[str, ...]],
              default_country: str, tombstones: Mapping[str, list[str]] | None = None) -> Increment:
    """The person records of `sources` with a row, or a tombstone, from a bronze run the last run had not
    read (`since`: the runs it had read, per table), standardised; `tombstones`: the bronze tables of each
    person source's deletions sources."""
    upserts, changed = [], []
    for source in sources:
        table = f"bronze.{source.name}"
        deletions = (tombstones or {}).get(source.name, [])
        ids = reduce(DataFrame.union, [changed_ids(store, t, since[t]) for t in (table, *deletions)])
        ids = ids.distinct().localCheckpoint()
        stones = (reduce(DataFrame.unionByName, [store.read(t).select(*TOMBSTONE) for t in deletions])
                  .join(ids, "_record_id", "left_semi") if deletions else None)
        rows = store.read(table).join(ids, "_record_id", "left_semi")
        upserts.append(person_records(rows, source, default_country, stones, ids.count() <= PHONES_HERE_MAX))
        changed.append(ids.select(F.concat(F.lit(f"{source.name}:"), F.col("_record_id")).alias("record_key")))
    return Increment(reduce(DataFrame.unionByName, upserts), reduce(DataFrame.unionByName, changed))

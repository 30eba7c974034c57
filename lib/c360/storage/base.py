"""The table store seam: every layer reads and writes Delta tables through `TableStore`.

Tables are named ``layer.table`` and live at ``<warehouse>/<layer>/<table>``. Two engines implement the
same contract (`delta_rs.DeltaRsStore`, `delta_spark.DeltaSparkStore`); both write real Delta tables the
other can read. Writes can carry a `Txn` (Delta's application transaction: app id + version) so a retried
write of the same run is recognised and skipped instead of applied twice.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360 import faults
from c360.errors import C360Error, TableNotFoundError
from c360.frames import local_frame
from c360.fs import filesystem
from c360.storage.statistics import stats_property

TABLE_NAME = re.compile(r"^(?P<layer>[a-z_][a-z0-9_]*)\.(?P<table>[a-z_][a-z0-9_]*)$")


LOG_ENTRY = re.compile(r"^(?P<version>\d{20})(\.(?P<last>\d{20}))?\.(json|crc|checkpoint\b.*|compacted\.json)(\.crc)?$")
"""A `_delta_log` entry of one version (or a compacted range): commit, checksum, checkpoint (parts)."""

COMMENT_OPERATIONS = frozenset({"UPDATE FIELD METADATA", "CHANGE COLUMN", "CHANGE COLUMNS"})
"""The commit operations of a column description (delta-rs, delta-spark): they change no row."""

@dataclass(frozen=True)
class Txn:
    """A Delta application transaction: a write with (app_id, version) <= the recorded one is skipped."""

    app_id: str
    version: int


@dataclass(frozen=True)
class MergeSpec:
    """An upsert: match source rows to target rows on equal `keys`, then apply the clauses.

    Conditions are SQL over the aliases ``t`` (target) and ``s`` (source) and must stay in the portable
    subset both engines parse (comparisons, AND/OR/NOT, IS NULL, IS [NOT] DISTINCT FROM, IN, COALESCE): Spark
    SQL for delta-spark, DataFusion SQL for delta-rs.
    """

    keys: tuple[str, ...]
    nullable_keys: tuple[str, ...] = ()
    """Keys among `keys` that may be null: they match null-safely (IS NOT DISTINCT FROM)."""
    update: Literal["all"] | Mapping[str, str] | None = "all"
    update_condition: str | None = None
    insert: bool = True
    insert_condition: str | None = None
    delete_condition: str | None = None
    delete_not_matched_by_source: bool | str = False

    def predicate(self) -> str:
        """The MERGE's join condition: every key equal, nullable keys null-safely."""
        if not self.keys:
            raise C360Error("a merge needs at least one key column")
        return " AND ".join(f"t.`{k}` IS NOT DISTINCT FROM s.`{k}`" if k in self.nullable_keys else f"t.`{k}` = s.`{k}`"
                            for k in self.keys)


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the table version it produced, or `skipped` when its Txn was already committed."""

    table: str
    version: int | None
    skipped: bool = False
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Commit:
    """One entry of a table's history, the same shape from both engines."""

    version: int
    timestamp: datetime
    operation: str
    parameters: dict[str, str]

    @property
    def appended(self) -> bool:
        """Whether the commit only added rows (a WRITE in append mode, as both engines record it)."""
        return self.operation == "WRITE" and "append" in str(self.parameters.get("mode", "")).lower()


# Widening casts an append or merge applies silently; anything else is a schema error naming the column.
_WIDENING: dict[type, tuple[type, ...]] = {
    T.ByteType: (T.ShortType, T.IntegerType, T.LongType, T.DoubleType, T.DecimalType),
    T.ShortType: (T.IntegerType, T.LongType, T.DoubleType, T.DecimalType),
    T.IntegerType: (T.LongType, T.DoubleType, T.DecimalType),
    T.LongType: (T.DecimalType, T.DoubleType),
    T.FloatType: (T.DoubleType,),
    T.DateType: (T.TimestampType,),
    T.NullType: (T.DataType,),
}


def _widens(source: T.DataType, target: T.DataType) -> bool:
    allowed = _WIDENING.get(type(source), ())
    return any(isinstance(target, t) for t in allowed)


def align_to_table(df: DataFrame, table_schema: T.StructType, table: str) -> DataFrame:
    """Cast the DataFrame's columns to the table's types where that only widens; new columns stay (they are
    added to the table), missing ones are left out (they read as null). Incompatible types raise."""
    target = {f.name.lower(): f for f in table_schema.fields}
    columns = []
    for fld in df.schema.fields:
        existing = target.get(fld.name.lower())
        # the same type whatever its nested fields' nullability and metadata (comments nested fields bring
        # along when read through delta-spark)
        if existing is None or existing.dataType.simpleString() == fld.dataType.simpleString():
            columns.append(F.col(f"`{fld.name}`"))
        elif _widens(fld.dataType, existing.dataType):
            columns.append(F.col(f"`{fld.name}`").cast(existing.dataType).alias(fld.name))
        else:
            raise C360Error(
                f"table {table}: column {fld.name!r} is {existing.dataType.simpleString()} in the table but "
                f"{fld.dataType.simpleString()} in the data; cast it or overwrite the table"
            )
    return df.select(*columns)


def as_nullable(schema: T.StructType) -> T.StructType:
    """Every field nullable, recursively: both engines then accept later data with nulls in any column."""

    def fix(dt: T.DataType) -> T.DataType:
        if isinstance(dt, T.StructType):
            return T.StructType([T.StructField(f.name, fix(f.dataType), True, f.metadata) for f in dt.fields])
        if isinstance(dt, T.ArrayType):
            return T.ArrayType(fix(dt.elementType), True)
        if isinstance(dt, T.MapType):
            return T.MapType(fix(dt.keyType), fix(dt.valueType), True)
        return dt

    return fix(schema)  # type: ignore[return-value]


class Fence(Protocol):
    """The writer's lock as a table store sees it (see lock.lease): checked before each commit, recorded in it."""

    def check(self) -> None:
        """Raise when the lock is no longer this writer's."""

    def metadata(self) -> dict[str, str]:
        """What each commit carries of the lock (its epoch and holder)."""


class TableStore(ABC):
    """Delta tables of one warehouse, read as Spark DataFrames and written through one engine."""

    engine: str = "abstract"

    def __init__(self, spark: SparkSession, warehouse: str) -> None:
        self.spark = spark
        self.warehouse = warehouse.rstrip("/")
        self.fence: Fence | None = None
        """The lock of the writer using this store (set while it holds it: see lock.holding)."""

    def _fenced(self, table: str) -> dict[str, str]:
        """Before a commit to `table`: make sure the writer still holds the warehouse's lock (a writer that
        lost it stops here, before writing), and return what the commit records of it."""
        faults.reached("write", table)
        if self.fence is None:
            return {}
        self.fence.check()
        return self.fence.metadata()

    def _lock_metadata(self) -> dict[str, str]:
        """What a commit records of the writer's lock (checked by _fenced before)."""
        return self.fence.metadata() if self.fence is not None else {}

    # --- naming -------------------------------------------------------------------------------------
    def path(self, table: str) -> str:
        """Where `layer.table` lives: ``<warehouse>/<layer>/<table>``."""
        match = TABLE_NAME.match(table)
        if not match:
            raise C360Error(f"table name {table!r} must look like 'layer.table' (lower case, digits, _)")
        return f"{self.warehouse}/{match['layer']}/{match['table']}"

    def list_tables(self, layer: str | None = None) -> list[str]:
        """Every Delta table in the warehouse (or one layer), as ``layer.table`` names, sorted."""
        fs, root = filesystem(self.warehouse)
        layers = [layer] if layer else [
            i.base_name for i in fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
            if i.type == pafs.FileType.Directory and TABLE_NAME.match(f"{i.base_name}.x")
        ]
        found = []
        for lay in layers:
            for info in fs.get_file_info(pafs.FileSelector(f"{root}/{lay}", allow_not_found=True)):
                log = fs.get_file_info(f"{info.path}/_delta_log")
                if info.type == pafs.FileType.Directory and log.type == pafs.FileType.Directory:
                    found.append(f"{lay}.{info.base_name}")
        return sorted(found)

    def require(self, table: str) -> None:
        """Raise TableNotFoundError naming the table and its path when it does not exist."""
        if not self.exists(table):
            raise TableNotFoundError(f"table {table} does not exist yet (expected at {self.path(table)})")

    def read_or_empty(self, table: str, schema: T.StructType) -> DataFrame:
        """The table, or an empty DataFrame of `schema` before its first write."""
        return self.read(table) if self.exists(table) else local_frame(self.spark, [], schema)

    # --- the contract -------------------------------------------------------------------------------
    @abstractmethod
    def exists(self, table: str) -> bool:
        """Whether `table` is a Delta table in the warehouse."""

    @abstractmethod
    def read(self, table: str, version: int | None = None) -> DataFrame:
        """The table (or an older `version` of it) as a Spark DataFrame."""

    @abstractmethod
    def version(self, table: str) -> int | None:
        """The table's current version; None when it does not exist."""

    def row_count(self, table: str) -> int:
        """Rows in the table's current version. An engine whose log holds each file's row count answers from
        it, without a Spark job (the run report counts every table after every stage)."""
        return self.read(table).count()

    @abstractmethod
    def schema(self, table: str) -> T.StructType:
        """The table's current schema, as Spark reads it."""

    @abstractmethod
    def txn_version(self, table: str, app_id: str) -> int | None:
        """The last committed version of application `app_id` on this table, or None."""

    def commit_transactions(self, table: str, version: int) -> dict[str, int]:
        """The application transactions (app id: version) that commit `version` of `table` carries, read
        from its JSON commit in `_delta_log` (the same file on both engines); empty for a commit without
        one, or one whose file was cleaned from the log."""
        fs, root = filesystem(self.path(table))
        found: dict[str, int] = {}
        try:
            with fs.open_input_stream(f"{root}/_delta_log/{version:020d}.json") as stream:
                lines = stream.read().decode("utf-8").splitlines()
        except (FileNotFoundError, OSError):
            return found
        for line in lines:
            action = json.loads(line) if line.strip() else {}
            if "txn" in action:
                found[action["txn"]["appId"]] = int(action["txn"]["version"])
        return found

    def append(self, df: DataFrame, table: str, *, txn: Txn | None = None,
               properties: Mapping[str, str] | None = None) -> WriteResult:
        """Add the rows; new columns are added to the table. Creates the table with `properties` if new."""
        return self._skip(table, txn) or self._write(df, table, "append", txn, properties)

    def overwrite(self, df: DataFrame, table: str, *, txn: Txn | None = None,
                  properties: Mapping[str, str] | None = None) -> WriteResult:
        """Replace all rows and the schema in one commit (older versions stay readable until vacuum)."""
        return self._skip(table, txn) or self._write(df, table, "overwrite", txn, properties)

    def merge(self, df: DataFrame, table: str, spec: MergeSpec, *, txn: Txn | None = None) -> WriteResult:
        """Upsert `df` per `spec`; creates the table from `df` when it does not exist yet."""
        if not self.exists(table):
            return self.overwrite(df, table, txn=txn)
        return self._skip(table, txn) or self._merge(align_to_table(df, self.schema(table), table), table, spec, txn)

    def delete_keys(self, table: str, keys: DataFrame, *, txn: Txn | None = None) -> WriteResult:
        """Delete every row whose columns named by `keys` equal one of its rows, by one MERGE with the keys
        staged as data: the commit's log entry records the join, never a value (a DELETE's literal predicate
        is written into `commitInfo`, where an erased e-mail would outlive the row). No commit without keys."""
        self.require(table)
        keys = keys.distinct().localCheckpoint()
        if keys.isEmpty():
            return WriteResult(table, self.version(table), metrics={"deleted": 0})
        spec = MergeSpec(keys=tuple(keys.columns), update=None, insert=False, delete_condition="TRUE")
        return self.merge(keys, table, spec, txn=txn)

    def delete(self, table: str, predicate: str, *, txn: Txn | None = None) -> WriteResult:
        """Delete the rows matching a portable SQL predicate."""
        self.require(table)
        return self._skip(table, txn) or self._delete(table, predicate, txn)

    @abstractmethod
    def _write(self, df: DataFrame, table: str, mode: str, txn: Txn | None,
               properties: Mapping[str, str] | None) -> WriteResult:
        """Append or overwrite (`mode`), committing `txn` with the data."""

    @abstractmethod
    def _merge(self, df: DataFrame, table: str, spec: MergeSpec, txn: Txn | None) -> WriteResult:
        """Merge a source already aligned to the existing table's types."""

    @abstractmethod
    def _delete(self, table: str, predicate: str, txn: Txn | None) -> WriteResult: ...

    @abstractmethod
    def history(self, table: str, limit: int | None = None) -> list[Commit]:
        """Commits, newest first."""

    def refused_since(self, table: str, since: int, fits: Callable[[Commit], bool]) -> Commit | None:
        """The oldest commit after version `since` that `fits` refuses, or None: whether an incremental stage
        can read what happened to one of its inputs since its last run (appends only, row-level changes)."""
        return next((c for c in sorted(self.history(table), key=lambda c: c.version)
                     if c.version > since and not fits(c)), None)

    @abstractmethod
    def vacuum(self, table: str, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        """Delete files no version within the retention needs; returns their paths relative to the table."""

    @abstractmethod
    def compact(self, table: str, zorder_by: tuple[str, ...] = ()) -> dict[str, int]:
        """Rewrite the table's small files into large ones or, with `zorder_by`, every file with rows
        clustered by those columns (reads of one customer then skip most files). Rows, versions before it and
        the change data feed are untouched (a compaction changes no data). Returns {"files_removed": n,
        "files_added": n}; a table with nothing to compact gets no commit."""

    @abstractmethod
    def _restore(self, table: str, version: int) -> None: ...

    def purge(self, table: str) -> dict[str, int]:
        """Remove every file of `table` that holds a row its current version does not: the files of older
        versions and `_change_data` (a vacuum with zero retention), rows only marked deleted (an engine that
        writes deletion vectors rewrites their files first), and the `_delta_log` entries before a new
        checkpoint, whose file statistics and commit details describe rows that are gone. Time travel to
        any earlier version ends here. Returns {"files_removed": n, "log_entries_removed": n}."""
        self.require(table)
        self._fenced(table)
        self._purge_deletion_vectors(table)
        removed = self.vacuum(table, retention_hours=0)
        checkpoint = self._checkpoint(table)
        return {"files_removed": len(removed), "log_entries_removed": self._clean_log(table, checkpoint)}

    def _purge_deletion_vectors(self, table: str) -> None:
        """Rewrite the files that carry deletion vectors without their deleted rows (none by default)."""

    @abstractmethod
    def _checkpoint(self, table: str) -> int:
        """Write a checkpoint of the current version; returns that version."""

    def _clean_log(self, table: str, checkpoint: int) -> int:
        """Delete every `_delta_log` entry of a version before `checkpoint` (commits, checksums, older
        checkpoints, compacted logs, and the file systems' hidden checksum files); returns how many."""
        fs, root = filesystem(self.path(table))
        removed = 0
        for info in fs.get_file_info(pafs.FileSelector(f"{root}/_delta_log", allow_not_found=True)):
            name = info.base_name.lstrip(".")
            match = LOG_ENTRY.match(name)
            if info.type == pafs.FileType.File and match and int(match["last"] or match["version"]) < checkpoint:
                fs.delete_file(info.path)
                removed += 1
        return removed

    def limit_statistics(self, table: str) -> bool:
        """Give an existing table the `delta.dataSkippingStatsColumns` property c360's tables are created
        with (see storage.statistics); True when it committed. Files written before keep their statistics
        until they are rewritten."""
        wanted = stats_property(self.schema(table))
        return bool(wanted) and self.set_properties(table, wanted)

    def restore(self, table: str, version: int) -> bool:
        """Make `table` hold what it held at `version` again (one RESTORE commit; later versions stay in its
        history); True when it committed, False when the table is at that version already. A run that died
        between two of its writes is undone this way before the next run redoes it."""
        self.require(table)
        if self.version(table) == version:
            return False
        self._fenced(table)
        self._restore(table, version)
        return True

    @abstractmethod
    def properties(self, table: str) -> dict[str, str]:
        """The table's properties (e.g. ``delta.enableChangeDataFeed``)."""

    @abstractmethod
    def _set_properties(self, table: str, properties: Mapping[str, str]) -> None: ...

    def set_properties(self, table: str, properties: Mapping[str, str]) -> bool:
        """Give `table` these properties (one commit) unless it has them already; True when it committed.
        Tables created before a property mattered (e.g. the change data feed) get it this way."""
        self.require(table)
        current = self.properties(table)
        if all(current.get(k) == v for k, v in properties.items()):
            return False
        self._fenced(table)
        self._set_properties(table, properties)
        return True

    @abstractmethod
    def column_comments(self, table: str) -> dict[str, str | None]:
        """Column -> the comment in the table's schema (None where there is none)."""

    @abstractmethod
    def _set_column_comments(self, table: str, comments: Mapping[str, str]) -> None: ...

    def describe_columns(self, table: str, comments: Mapping[str, str]) -> list[str]:
        """Write `comments` into the table's schema where a column of the table has another one or none (a
        metadata commit, per column on delta-rs; none when all are there already, so a re-run commits nothing); returns
        the columns changed. An overwrite that replaces the schema drops comments, so callers apply them
        after their writes."""
        self.require(table)
        current = self.column_comments(table)
        changed = [c for c, text in comments.items() if c in current and current[c] != text]
        if changed:
            self._fenced(table)
            self._set_column_comments(table, {c: comments[c] for c in changed})
        return changed

    @abstractmethod
    def changes(self, table: str, starting_version: int, ending_version: int | None = None) -> DataFrame:
        """The change data feed (rows plus _change_type, _commit_version, _commit_timestamp); the table must
        have been created with ``delta.enableChangeDataFeed=true``."""

    # --- shared helpers for the engines -------------------------------------------------------------
    @staticmethod
    def _creation_properties(df: DataFrame, properties: Mapping[str, str] | None) -> dict[str, str]:
        """The properties a new table is created with: the caller's, and file statistics limited to the
        columns without person fields (see storage.statistics) unless the caller says otherwise."""
        return {**stats_property(df.schema), **dict(properties or {})}

    def _skip(self, table: str, txn: Txn | None) -> WriteResult | None:
        """A WriteResult(skipped=True) when `txn` is already committed on `table` (every write asks first, so
        the lock is checked here: see _fenced)."""
        self._fenced(table)
        if txn is None or not self.exists(table):
            return None
        done = self.txn_version(table, txn.app_id)
        if done is not None and done >= txn.version:
            return WriteResult(table, self.version(table), skipped=True)
        return None

    @staticmethod
    def _normalise_changes(df: DataFrame) -> DataFrame:
        return df.withColumn("_commit_version", F.col("_commit_version").cast("long")).withColumn(
            "_commit_timestamp", F.col("_commit_timestamp").cast("timestamp")
        )

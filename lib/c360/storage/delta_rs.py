"""The embedded engine: Spark computes, delta-rs (the `deltalake` package) commits. Needs no jars.

Appends and overwrites never pass data through the driver: Spark writes Parquet files into a fresh folder
inside the table, the driver reads only their footers (row counts and min/max/null statistics) and commits
them as one Delta transaction. Reads hand Spark the current snapshot's file list with the Delta schema, so
older files without a later-added column read it as null. MERGE and DELETE run in delta-rs itself; a MERGE
source is staged as Parquet by Spark and streamed to delta-rs, so it is not collected either.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import TableNotFoundError as DeltaRsTableNotFound
from deltalake.transaction import AddAction, CommitProperties, Transaction, create_table_with_add_actions
from pyspark.sql import DataFrame
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from c360.errors import C360Error
from c360.frames import local_frame
from c360.fs import decoded, filesystem
from c360.storage.base import Commit, MergeSpec, TableStore, Txn, WriteResult, align_to_table, as_nullable
from c360.storage.statistics import STATS_COLUMNS, listed

STRING_STATS_MAX = 32  # longer strings get no min/max (exact bounds only; Delta truncates, we omit)
UNSUPPORTED_READER_FEATURES = {"columnMapping", "deletionVectors", "v2Checkpoint"}


def _commit_properties(txn: Txn | None, metadata: dict[str, str]) -> CommitProperties | None:
    """A commit's application transaction and metadata (the writer's lock), or None without either."""
    if txn is None and not metadata:
        return None
    return CommitProperties(custom_metadata=metadata or None,
                            app_transactions=[Transaction(txn.app_id, txn.version)] if txn else None)


def spark_to_delta_schema(schema: T.StructType) -> Schema:
    """Spark schema -> Delta schema via Arrow (TimestampType is Delta `timestamp`, UTC)."""
    return Schema.from_arrow(to_arrow_schema(as_nullable(schema), timezone="UTC"))


def delta_to_spark_schema(schema: Schema) -> T.StructType:
    """A delta-rs schema as Spark's (timestamps without zone read as Spark's TIMESTAMP_NTZ where so)."""
    return from_arrow_schema(pa.schema(schema.to_arrow()), prefer_timestamp_ntz=True)


def plain_arrow_type(kind: pa.DataType) -> pa.DataType:
    """delta-rs returns Arrow view types (string_view ...) that Spark cannot convert; map them to plain ones."""
    if pa.types.is_unsigned_integer(kind):
        return pa.int64()
    if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_list_view(kind) or pa.types.is_large_list(kind) or pa.types.is_large_list_view(kind) or pa.types.is_list(kind):
        return pa.list_(plain_arrow_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(plain_arrow_type(f.type)) for f in kind])
    if pa.types.is_map(kind):
        return pa.map_(plain_arrow_type(kind.key_type), plain_arrow_type(kind.item_type))
    return kind


def _stat_value(value: Any, kind: pa.DataType, is_max: bool) -> Any:
    """A Parquet statistic as Delta's JSON stats value, or None where no exact bound can be given."""
    if pa.types.is_integer(kind):
        return int(value)
    if pa.types.is_date32(kind):
        return value.isoformat()
    if pa.types.is_timestamp(kind):
        # Delta stats have millisecond precision: floor the min, round the max up so both stay bounds.
        ts = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        floored = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
        if is_max and floored != ts:
            floored += timedelta(milliseconds=1)
        return floored.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if pa.types.is_string(kind) and isinstance(value, str) and len(value) <= STRING_STATS_MAX:
        return value
    return None


def file_stats(meta: pq.FileMetaData, columns: set[str] | None = None) -> dict[str, Any]:
    """Delta file statistics from a Parquet footer: numRecords, and min/max/nullCount of flat columns (of
    `columns` only, when given: the table's `delta.dataSkippingStatsColumns`)."""
    stats: dict[str, Any] = {"numRecords": meta.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    schema = meta.schema.to_arrow_schema()
    for col_index in range(meta.num_columns):
        path = meta.row_group(0).column(col_index).path_in_schema if meta.num_row_groups else None
        if path is None or "." in path or (columns is not None and path not in columns):
            continue  # nested or unlisted columns: no stats (readers then simply do not skip on them)
        kind = schema.field(path).type
        lows, highs, nulls, complete = [], [], 0, True
        for rg in range(meta.num_row_groups):
            st = meta.row_group(rg).column(col_index).statistics
            if st is None or not st.has_null_count:
                complete = False
                break
            nulls += st.null_count
            if st.has_min_max:
                lows.append(st.min)
                highs.append(st.max)
        if not complete:
            continue
        stats["nullCount"][path] = nulls
        if lows and nulls < meta.num_rows:
            low, high = _stat_value(min(lows), kind, False), _stat_value(max(highs), kind, True)
            if low is not None and high is not None:
                stats["minValues"][path] = low
                stats["maxValues"][path] = high
    return stats


class DeltaRsStore(TableStore):
    """TableStore on delta-rs; see the module docstring for how data moves."""

    engine = "delta-rs"

    # --- reading ------------------------------------------------------------------------------------
    def _table(self, table: str, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.path(table), version=version)
        except DeltaRsTableNotFound:
            self.require(table)
            raise

    def exists(self, table: str) -> bool:
        return DeltaTable.is_deltatable(self.path(table))

    def version(self, table: str) -> int | None:
        return self._table(table).version() if self.exists(table) else None

    def schema(self, table: str) -> T.StructType:
        return delta_to_spark_schema(self._table(table).schema())

    def txn_version(self, table: str, app_id: str) -> int | None:
        return self._table(table).transaction_version(app_id)

    def row_count(self, table: str) -> int:
        """From the add actions' `num_records` (c360's tables carry no deletion vectors: a table with any is
        unreadable here); a file written without statistics sends the count to Spark."""
        self.require(table)
        dt = self._table(table)
        self._check_readable(dt, table)
        counts = pa.table(dt.get_add_actions(flatten=True)).column("num_records")
        if counts.null_count:
            return super().row_count(table)
        return int(pc.sum(counts).as_py() or 0)

    def read(self, table: str, version: int | None = None) -> DataFrame:
        self.require(table)
        dt = self._table(table, version)
        self._check_readable(dt, table)
        schema = delta_to_spark_schema(dt.schema())
        partitions = dt.metadata().partition_columns
        if not partitions:
            files = [decoded(f) for f in dt.file_uris()]
            if not files:
                return local_frame(self.spark, [], schema)
            return self.spark.read.schema(schema).parquet(*files)
        return self._read_partitioned(dt, schema, partitions)

    def _read_partitioned(self, dt: DeltaTable, schema: T.StructType, partitions: list[str]) -> DataFrame:
        """Partition values live in the log, not the files: read each partition's files and add them back."""
        from pyspark.sql import functions as F

        data_schema = T.StructType([f for f in schema.fields if f.name not in partitions])
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
        groups: dict[tuple, list[str]] = {}
        for action in actions:
            key = tuple(action.get(f"partition.{p}") for p in partitions)
            groups.setdefault(key, []).append(decoded(f"{dt.table_uri.rstrip('/')}/{action['path']}"))
        frames = []
        for key, files in groups.items():
            frame = self.spark.read.schema(data_schema).parquet(*files)
            for name, value in zip(partitions, key):
                frame = frame.withColumn(name, F.lit(value).cast(schema[name].dataType))
            frames.append(frame.select(*schema.fieldNames()))
        if not frames:
            return local_frame(self.spark, [], schema)
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame)
        return out

    @staticmethod
    def _check_readable(dt: DeltaTable, table: str) -> None:
        features = set(dt.protocol().reader_features or [])
        blocked = features & UNSUPPORTED_READER_FEATURES
        if "deletionVectors" in blocked and dt.deletion_vectors().read_all().num_rows == 0:
            blocked.discard("deletionVectors")
        if blocked:
            raise C360Error(
                f"table {table} uses {', '.join(sorted(blocked))}, which the delta-rs engine's Spark reader "
                "cannot apply; use engine delta-spark for this warehouse"
            )

    # --- writing ------------------------------------------------------------------------------------
    def _stage(self, df: DataFrame, table: str, stats_columns: set[str] | None) -> list[AddAction]:
        """Spark writes the rows as Parquet into a new folder of the table; returns their add actions, with
        statistics of `stats_columns` only (None: every flat column)."""
        root = self.path(table)
        folder = f"c360-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        df.write.mode("errorifexists").parquet(f"{root}/{folder}")
        fs, base = filesystem(root)
        actions = []
        for info in fs.get_file_info(pafs.FileSelector(f"{base}/{folder}", recursive=True)):
            if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
                continue
            with fs.open_input_file(info.path) as handle:
                meta = pq.read_metadata(handle)
            if meta.num_rows == 0:
                fs.delete_file(info.path)
                continue
            rel = info.path[len(base) + 1:]
            actions.append(
                AddAction(rel, info.size, {}, int(info.mtime.timestamp() * 1000), True,
                          json.dumps(file_stats(meta, stats_columns)))
            )
        return actions

    def _write(self, df: DataFrame, table: str, mode: str, txn: Txn | None,
               properties: Mapping[str, str] | None) -> WriteResult:
        exists = self.exists(table)
        if exists and mode == "append":
            dt = self._table(table)
            if dt.metadata().partition_columns:
                raise C360Error(f"table {table} is partitioned; the delta-rs engine appends to unpartitioned tables only")
            df = align_to_table(df, delta_to_spark_schema(dt.schema()), table)
        configuration = self._creation_properties(df, properties) if not exists \
            else self._table(table).metadata().configuration
        actions = self._stage(df, table, listed(configuration.get(STATS_COLUMNS)))
        if not exists:
            create_table_with_add_actions(
                self.path(table), spark_to_delta_schema(df.schema), actions, mode="error",
                configuration=configuration, commit_properties=_commit_properties(txn, self._lock_metadata()),
            )
            return WriteResult(table, self.version(table), metrics={"files": len(actions)})
        dt = self._table(table)
        if mode == "append":
            self._add_new_columns(dt, df.schema)
            schema = dt.schema()
        else:
            schema = spark_to_delta_schema(df.schema)
        dt.create_write_transaction(actions, mode, schema, commit_properties=_commit_properties(txn, self._lock_metadata()))
        return WriteResult(table, self.version(table), metrics={"files": len(actions)})

    @staticmethod
    def _add_new_columns(dt: DeltaTable, schema: T.StructType) -> None:
        known = {f.name.lower() for f in dt.schema().fields}
        new = T.StructType([f for f in schema.fields if f.name.lower() not in known])
        if new.fields:
            dt.alter.add_columns(list(spark_to_delta_schema(new).fields))
            dt.update_incremental()

    def _merge(self, df: DataFrame, table: str, spec: MergeSpec, txn: Txn | None) -> WriteResult:
        dt = self._table(table)
        staging = f"{self.warehouse}/_staging/merge-{uuid.uuid4().hex}"
        df.write.parquet(staging)
        fs, base = filesystem(staging)
        try:
            import pyarrow.dataset as ds

            source = ds.dataset(base, filesystem=fs, format="parquet", schema=to_arrow_schema(df.schema, timezone="UTC"))
            merger = dt.merge(
                source.scanner().to_reader(), spec.predicate(), source_alias="s", target_alias="t",
                merge_schema=True, commit_properties=_commit_properties(txn, self._lock_metadata()),
            )
            metrics = self._apply_clauses(merger, spec).execute()
        finally:
            fs.delete_dir(base)
        return WriteResult(table, self.version(table), metrics={k: int(v) for k, v in metrics.items() if isinstance(v, int)})

    @staticmethod
    def _apply_clauses(merger: Any, spec: MergeSpec) -> Any:
        if spec.delete_condition:
            merger = merger.when_matched_delete(predicate=spec.delete_condition)
        if spec.update == "all":
            merger = merger.when_matched_update_all(predicate=spec.update_condition)
        elif spec.update:
            merger = merger.when_matched_update(updates=dict(spec.update), predicate=spec.update_condition)
        if spec.insert:
            merger = merger.when_not_matched_insert_all(predicate=spec.insert_condition)
        if spec.delete_not_matched_by_source:
            condition = None if spec.delete_not_matched_by_source is True else spec.delete_not_matched_by_source
            merger = merger.when_not_matched_by_source_delete(predicate=condition)
        return merger

    def _delete(self, table: str, predicate: str, txn: Txn | None) -> WriteResult:
        metrics = self._table(table).delete(predicate, commit_properties=_commit_properties(txn, self._lock_metadata()))
        return WriteResult(table, self.version(table), metrics={k: int(v) for k, v in metrics.items() if isinstance(v, int)})

    # --- maintenance --------------------------------------------------------------------------------
    def history(self, table: str, limit: int | None = None) -> list[Commit]:
        self.require(table)
        commits = []
        for entry in self._table(table).history(limit):
            params = entry.get("operationParameters") or {}
            commits.append(Commit(
                version=int(entry["version"]),
                timestamp=datetime.fromtimestamp(entry["timestamp"] / 1000, tz=timezone.utc),
                operation=str(entry.get("operation", "")),
                parameters={k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()},
            ))
        return commits

    def compact(self, table: str, zorder_by: tuple[str, ...] = ()) -> dict[str, int]:
        self.require(table)
        done = _commit_properties(None, self._fenced(table))
        dt = self._table(table)
        metrics = dt.optimize.z_order(list(zorder_by), commit_properties=done) if zorder_by else \
            dt.optimize.compact(commit_properties=done)
        return {"files_removed": int(metrics.get("numFilesRemoved", 0)), "files_added": int(metrics.get("numFilesAdded", 0))}

    def vacuum(self, table: str, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        self.require(table)
        dt = self._table(table)
        # full: list the folder like delta-spark does, so files of failed, uncommitted writes go too.
        planned = dt.vacuum(retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False, full=True)
        fs, base = filesystem(decoded(dt.table_uri).rstrip("/"))
        relative = sorted({p[len(base) + 1:] if p.startswith(base + "/") else p.lstrip("/")
                           for p in (filesystem(decoded(x))[1] for x in planned)})
        # delta-rs also lists tombstones whose files an earlier vacuum already deleted
        relative = [r for r in relative if fs.get_file_info(f"{base}/{r}").type == pafs.FileType.File]
        if not dry_run and relative:
            dt.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False, full=True,
                      commit_properties=_commit_properties(None, self._fenced(table)))
        return relative

    def _restore(self, table: str, version: int) -> None:
        self._table(table).restore(version, commit_properties=_commit_properties(None, self._lock_metadata()))

    def _checkpoint(self, table: str) -> int:
        dt = self._table(table)
        dt.create_checkpoint()
        return dt.version()

    def properties(self, table: str) -> dict[str, str]:
        self.require(table)
        return dict(self._table(table).metadata().configuration)

    def _set_properties(self, table: str, properties: Mapping[str, str]) -> None:
        self._table(table).alter.set_table_properties(dict(properties),
                                                      commit_properties=_commit_properties(None, self._lock_metadata()))

    def column_comments(self, table: str) -> dict[str, str | None]:
        self.require(table)
        return {f.name: f.metadata.get("comment") for f in self._table(table).schema().fields}

    def _set_column_comments(self, table: str, comments: Mapping[str, str]) -> None:
        dt = self._table(table)
        for column, comment in comments.items():  # delta-rs sets one column's metadata per commit
            field = next(f for f in dt.schema().fields if f.name == column)
            dt.alter.set_column_metadata(column, {**{k: str(v) for k, v in field.metadata.items()}, "comment": comment},
                                         commit_properties=_commit_properties(None, self._lock_metadata()))

    def changes(self, table: str, starting_version: int, ending_version: int | None = None) -> DataFrame:
        self.require(table)
        dt = self._table(table)
        if dt.metadata().configuration.get("delta.enableChangeDataFeed") != "true":
            raise C360Error(f"table {table} has no change data feed (create it with delta.enableChangeDataFeed=true)")
        # The change feed of a bounded range of versions is small next to the table; delta-rs reads it.
        changes = pa.table(dt.load_cdf(starting_version=starting_version, ending_version=ending_version).read_all())
        plain = pa.schema([f.with_type(plain_arrow_type(f.type)) for f in changes.schema])
        return self._normalise_changes(self.spark.createDataFrame(changes.cast(plain)))

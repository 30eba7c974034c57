"""The native engine: Delta's Spark connector (`DeltaTable`, MERGE INTO) for clusters and Databricks.

Chosen by `engine: auto` when the connector is on the classpath. Idempotent writes use Delta's own
application transactions: the `txnAppId`/`txnVersion` writer options for appends and overwrites, and the
`spark.databricks.delta.write.txnAppId/txnVersion` session settings for MERGE and DELETE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timezone

import pyarrow.fs as pafs
from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from c360.fs import filesystem
from c360.storage.base import Commit, MergeSpec, TableStore, Txn, WriteResult, align_to_table

TXN_APP = "spark.databricks.delta.write.txnAppId"
TXN_VERSION = "spark.databricks.delta.write.txnVersion"
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"  # recorded in each commit's commitInfo
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


class DeltaSparkStore(TableStore):
    """TableStore on delta-spark."""

    engine = "delta-spark"

    def _table(self, table: str) -> DeltaTable:
        self.require(table)
        return DeltaTable.forPath(self.spark, self.path(table))

    def _snapshot(self, table: str):  # noqa: ANN202 - a py4j Snapshot
        jvm = self.spark._jvm  # type: ignore[union-attr]
        log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(self.spark._jsparkSession, self.path(table))
        return log.update(False, jvm.scala.Option.empty(), jvm.scala.Option.empty())

    def exists(self, table: str) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path(table))

    def version(self, table: str) -> int | None:
        # the log's snapshot answers without a Spark job (history() runs one per call)
        found = int(self._snapshot(table).version())
        return found if found >= 0 else None

    def schema(self, table: str) -> T.StructType:
        return self.read(table).schema

    def txn_version(self, table: str, app_id: str) -> int | None:
        found = self._snapshot(table).transactions().get(app_id)
        return int(found.get()) if found.isDefined() else None

    def read(self, table: str, version: int | None = None) -> DataFrame:
        self.require(table)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(table))

    def _fenced(self, table: str) -> dict[str, str]:
        """The lock is checked as on every engine; Delta's connector takes a commit's metadata from the
        session (userMetadata), so it is set here, before each commit, or unset without a lock."""
        metadata = super()._fenced(table)
        if metadata:
            self.spark.conf.set(USER_METADATA, json.dumps(metadata, sort_keys=True))
        else:
            self.spark.conf.unset(USER_METADATA)
        return metadata

    def _write(self, df: DataFrame, table: str, mode: str, txn: Txn | None,
               properties: Mapping[str, str] | None) -> WriteResult:
        exists = self.exists(table)
        if mode == "append" and exists:
            df = align_to_table(df, self.schema(table), table)
        writer = df.write.format("delta").mode(mode)
        if not exists:
            # delta.* writer options become table properties of the creating commit.
            writer = writer.options(**self._creation_properties(df, properties))
        writer = writer.option("mergeSchema", "true") if mode == "append" else writer.option("overwriteSchema", "true")
        if txn:
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", str(txn.version))
        writer.save(self.path(table))
        return WriteResult(table, self.version(table))

    @contextmanager
    def _dml_txn(self, txn: Txn | None) -> Iterator[None]:
        """Delta reads these settings for the next DML command and records the transaction in its commit."""
        if txn is None:
            yield
            return
        self.spark.conf.set(TXN_APP, txn.app_id)
        self.spark.conf.set(TXN_VERSION, str(txn.version))
        try:
            yield
        finally:
            self.spark.conf.unset(TXN_APP)
            self.spark.conf.unset(TXN_VERSION)

    def _merge(self, df: DataFrame, table: str, spec: MergeSpec, txn: Txn | None) -> WriteResult:
        builder = self._table(table).alias("t").merge(df.alias("s"), spec.predicate()).withSchemaEvolution()
        if spec.delete_condition:
            builder = builder.whenMatchedDelete(condition=spec.delete_condition)
        if spec.update == "all":
            builder = builder.whenMatchedUpdateAll(condition=spec.update_condition)
        elif spec.update:
            builder = builder.whenMatchedUpdate(condition=spec.update_condition, set=dict(spec.update))
        if spec.insert:
            builder = builder.whenNotMatchedInsertAll(condition=spec.insert_condition)
        if spec.delete_not_matched_by_source:
            condition = None if spec.delete_not_matched_by_source is True else spec.delete_not_matched_by_source
            builder = builder.whenNotMatchedBySourceDelete(condition=condition)
        with self._dml_txn(txn):
            builder.execute()
        return WriteResult(table, self.version(table))

    def _delete(self, table: str, predicate: str, txn: Txn | None) -> WriteResult:
        with self._dml_txn(txn):
            self._table(table).delete(predicate)
        return WriteResult(table, self.version(table))

    def history(self, table: str, limit: int | None = None) -> list[Commit]:
        rows = self._table(table).history(limit).select("version", "timestamp", "operation", "operationParameters")
        return [
            Commit(
                version=int(r["version"]),
                timestamp=r["timestamp"].replace(tzinfo=timezone.utc),
                operation=r["operation"],
                parameters=dict(r["operationParameters"] or {}),
            )
            for r in rows.collect()
        ]

    def compact(self, table: str, zorder_by: tuple[str, ...] = ()) -> dict[str, int]:
        self.require(table)
        self._fenced(table)
        builder = self._table(table).optimize()
        done = builder.executeZOrderBy(*zorder_by) if zorder_by else builder.executeCompaction()
        metrics = done.select("metrics.numFilesAdded", "metrics.numFilesRemoved").first()
        return {"files_removed": int(metrics["numFilesRemoved"] or 0), "files_added": int(metrics["numFilesAdded"] or 0)}

    def vacuum(self, table: str, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        path = self.path(table)
        self.require(table)
        if not dry_run:
            self._fenced(table)
        with self._retention_check(retention_hours):
            if dry_run:
                listed = self.spark.sql(f"VACUUM delta.`{path}` RETAIN {int(retention_hours)} HOURS DRY RUN").collect()
                return sorted(self._relative(path, r[0]) for r in listed)
            # what went is told by listing the folder before and after: one vacuum, not a dry run and a vacuum
            before = self._data_files(path)
            self._table(table).vacuum(float(retention_hours))
            return sorted(before - self._data_files(path))

    @staticmethod
    def _data_files(path: str) -> set[str]:
        """Every file under the table's folder but its log, relative to it."""
        fs, root = filesystem(path)
        found = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        return {f.path[len(root):].lstrip("/") for f in found if f.type == pafs.FileType.File
                and not f.path[len(root):].lstrip("/").startswith("_delta_log")}

    @contextmanager
    def _retention_check(self, retention_hours: int) -> Iterator[None]:
        """Delta refuses a vacuum under a week's retention unless its safety check is off: a purge asks
        for zero on purpose (a reader still on an older version then loses it)."""
        if retention_hours >= 168:
            yield
            return
        self.spark.conf.set(RETENTION_CHECK, "false")
        try:
            yield
        finally:
            self.spark.conf.unset(RETENTION_CHECK)

    def _purge_deletion_vectors(self, table: str) -> None:
        """REORG ... APPLY (PURGE): the files whose rows a DELETE or MERGE only marked deleted are rewritten
        without them (the marked rows are still in the old files until the vacuum after it)."""
        self.spark.sql(f"REORG TABLE delta.`{self.path(table)}` APPLY (PURGE)")

    def _checkpoint(self, table: str) -> int:
        jvm = self.spark._jvm  # type: ignore[union-attr]
        log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(self.spark._jsparkSession, self.path(table))
        log.checkpoint()
        return int(self.version(table))

    @staticmethod
    def _relative(root: str, file: str) -> str:
        for prefix in (f"file:{root}/", f"file://{root}/", f"{root}/"):
            if file.startswith(prefix):
                return file[len(prefix):]
        return file

    def properties(self, table: str) -> dict[str, str]:
        self.require(table)
        return dict(DeltaTable.forPath(self.spark, self.path(table)).detail().first()["properties"] or {})

    def _restore(self, table: str, version: int) -> None:
        self._table(table).restoreToVersion(version)

    def _set_properties(self, table: str, properties: Mapping[str, str]) -> None:
        listed = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
        self.spark.sql(f"ALTER TABLE delta.`{self.path(table)}` SET TBLPROPERTIES ({listed})")

    def column_comments(self, table: str) -> dict[str, str | None]:
        self.require(table)
        return {f.name: f.metadata.get("comment") for f in self.read(table).schema.fields}

    def _set_column_comments(self, table: str, comments: Mapping[str, str]) -> None:
        def quoted(text: str) -> str:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

        changes = ", ".join(f"`{column}` COMMENT {quoted(text)}" for column, text in comments.items())
        self.spark.sql(f"ALTER TABLE delta.`{self.path(table)}` ALTER COLUMN {changes}")

    def changes(self, table: str, starting_version: int, ending_version: int | None = None) -> DataFrame:
        self.require(table)
        reader = self.spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", starting_version)
        if ending_version is not None:
            reader = reader.option("endingVersion", ending_version)
        return self._normalise_changes(reader.load(self.path(table)))

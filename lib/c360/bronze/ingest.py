"""Bronze ingestion of one source: new files in, every record accounted for, nothing written twice.

For each source: list and checksum the landing files, keep only files the ledger does not know (or whose
content changed), read them against the frozen schema, apply the contract, and then, unless the share of
bad records passes the limit, commit the good records to ``bronze.<source>``, the bad ones to
``bronze._quarantine`` and the files to ``bronze._ingest_log``. Each commit carries the run's Delta
transaction id, so retrying a run with the same run id does not repeat a commit that already happened.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360.bronze import ledger as ledger_mod
from c360.bronze.contract import REASONS, apply_contract, bronze_rows, quarantine_rows
from c360.bronze.landing import LandedFile, checksum, land
from c360.bronze.readers import (infer_json, jdbc_location, merge_schema, read_csv, read_jdbc, read_json_documents,
                                 read_ndjson, read_parquet)
from c360.config import SourceConfig
from c360.errors import C360Error
from c360.frames import local_frame, struct
from c360.privacy import suppression
from c360.privacy.suppression import SUPPRESSED_REASON
from c360.storage import Txn

EMPTY_SCHEMA = T.StructType([T.StructField("_unparsed", T.StringType())])
PLAIN_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
PART_BYTES = 16 * 1024 * 1024  # input bytes per part of the duplicate check (see _partitions)
IN_MEMORY_BYTES = 64 * 1024 * 1024  # input bytes up to which a delivery's checked records stay in memory (see _kept)


@dataclass
class SourceResult:
    """What ingesting one source did in one run."""

    source: str
    status: str = "up to date"
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_recovered: int = 0
    files_duplicate: dict[str, str] = field(default_factory=dict)  # a file sent again under another name -> the first
    files_vanished: list[str] = field(default_factory=list)
    records: int = 0
    written: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    new_columns: list[str] = field(default_factory=list)
    suppressed: int = 0  # re-delivered records of erased people, dropped (see privacy.suppression)
    deleted: int | None = None  # records a database source no longer holds, given a tombstone (detect_deletions)
    error: str | None = None
    seconds: float = 0.0

    def summary(self) -> dict:
        """The result as the run summary shows it: empty fields left out."""
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {})}


def bronze_table(source: str) -> str:
    """The bronze table a source lands in: `bronze.<source>`."""
    return f"bronze.{source}"


def frozen_schema(store, source: SourceConfig) -> T.StructType | None:  # noqa: ANN001 - TableStore
    """The bronze table's data columns (its schema is the contract), else the declared schema, else None."""
    table = bronze_table(source.name)
    if store.exists(table):
        return T.StructType([f for f in store.schema(table).fields if not f.name.startswith("_")])
    if source.schema_ddl:
        return struct(source.schema_ddl)
    return None


def read_records(spark, source: SourceConfig, files: list[str], frozen: T.StructType | None,  # noqa: ANN001
                 sampling: float) -> DataFrame | None:
    """The files' records, parsed per the source's format against the frozen schema."""
    if source.format in ("ndjson", "json"):
        multi = source.format == "json"
        schema = merge_schema(frozen, infer_json(spark, files, multi, sampling))
        schema = schema if schema.fields else EMPTY_SCHEMA
        return (read_json_documents if multi else read_ndjson)(spark, files, schema)
    if source.format == "csv":
        id_column = source.id if _plain(source.id) else None
        return read_csv(spark, files, dict(source.options), frozen, id_column)
    if source.format == "parquet":
        return read_parquet(spark, files, frozen)
    raise C360Error(f"source {source.name}: format {source.format!r} is not file-based")


def _plain(expression: str) -> bool:
    return bool(re.match(PLAIN_NAME, expression))


def _with_checksums(df: DataFrame, files: list[LandedFile]) -> DataFrame:
    sums = local_frame(df.sparkSession, [(f.path, f.checksum) for f in files], "_source_file string, _file_checksum string")
    return df.join(F.broadcast(sums), "_source_file", "left")


def _vanished_file(files: list[LandedFile]) -> str | None:
    return next((f.path for f in files if checksum(f.path) is None), None)


def _failure_message(source: SourceConfig, checked: DataFrame, bad: int, total: int, limit: float) -> str:
    examples = (checked.where(F.col("_reason").isNotNull()).groupBy("_reason")
                .agg(F.count("*").alias("n"), F.min_by(F.struct("_source_file", "_record_ref", "_detail"),
                                                       F.struct("_source_file", "_record_ref")).alias("first"))
                .orderBy(F.desc("n")).collect())
    lines = [f"source {source.name}: {bad:,} of {total:,} records ({bad / total:.1%}) break the source contract "
             f"(limit {limit:.0%}); nothing was written for this source in this run:"]
    for row in examples:
        first = row["first"]
        detail = f" ({first['_detail']})" if first["_detail"] else ""
        lines.append(f"  {row['_reason']}: {row['n']:,}, first in {first['_source_file']} at {first['_record_ref']}{detail}")
    return "\n".join(lines)


def ingest_source(ctx, source: SourceConfig, landed: list[LandedFile] | None = None,  # noqa: ANN001
                  known: dict[str, tuple[str, int]] | None = None) -> SourceResult:
    """Ingest the new files of one source (see the module docstring); `landed` overrides the listing, `known`
    (the source's ledger entries: ledger.known_files) saves reading the ledger again."""
    if source.format == "jdbc":
        return ingest_jdbc(ctx, source)
    started = time.monotonic()
    store, settings = ctx.store, ctx.config.bronze
    result = SourceResult(source.name)
    if landed is None:
        landed, result.files_vanished = land(source.path or "")
    if known is None:
        known = ledger_mod.known_files(store, [source.name])[source.name]
    todo = ledger_mod.plan(landed, known)
    result.files_unchanged, result.files_changed = len(todo.unchanged), len(todo.changed)
    if todo.changed and settings.on_changed_file == "error":
        raise C360Error(f"source {source.name}: file(s) changed content under the same name: "
                        f"{', '.join(todo.changed)} (bronze.on_changed_file is 'error')")
    result.files_duplicate = todo.duplicates
    recovered = ledger_mod.already_landed(store, source.name, [f for f, _ in todo.new])
    entries = [_entry(f, v, Counter(ok=counts[0], quarantined=counts[1]), "recovered") for f, v in todo.new
               if (counts := recovered.get((f.path, f.checksum)))]
    entries += [_entry(f, 1, Counter(), "duplicate") for f in landed if f.path in todo.duplicates]
    fresh = [(f, v) for f, v in todo.new if (f.path, f.checksum) not in recovered]
    result.files_recovered, result.files_new = len(entries), len(fresh) - len(todo.changed)
    if fresh:
        entries += _ingest_files(ctx, source, [f for f, _ in fresh], dict((f.path, v) for f, v in fresh), result)
        if result.error:
            result.seconds = round(time.monotonic() - started, 2)
            return result
    if entries:
        _log(ctx, source, entries)
        result.status = "ingested" if len(entries) > len(todo.duplicates) else "up to date"
    result.seconds = round(time.monotonic() - started, 2)
    return result


def jdbc_options(source: SourceConfig) -> dict[str, str]:
    """Spark's JDBC options for a source, with credentials read from the environment variables it names."""
    jdbc = source.jdbc
    assert jdbc is not None
    options = {"url": jdbc.url, **jdbc.properties}
    options["dbtable" if jdbc.table else "query"] = jdbc.table or jdbc.query or ""
    if jdbc.driver:
        options["driver"] = jdbc.driver
    for key, env in (("user", jdbc.user_env), ("password", jdbc.password_env)):
        if env:
            if env not in os.environ:
                raise C360Error(f"source {source.name}: environment variable {env} (jdbc.{key}_env) is not set")
            options[key] = os.environ[env]
    return options


def ingest_jdbc(ctx, source: SourceConfig) -> SourceResult:  # noqa: ANN001
    """Ingest a database table: rows changed since the last run's watermark (all rows without `updated_at`),
    minus rows bronze already holds unchanged (same id and record hash), so re-runs add nothing."""
    started = time.monotonic()
    result = SourceResult(source.name)
    jdbc = source.jdbc
    assert jdbc is not None
    location = jdbc_location(jdbc.url, jdbc.table, jdbc.query)
    previous = ledger_mod.last_watermark(ctx.store, source.name, location)
    try:
        present = present_ids(ctx.spark, jdbc_options(source), source.id).localCheckpoint() \
            if source.vanished_table else None
        records = read_jdbc(ctx.spark, jdbc_options(source), location, _rows_wanted(ctx, source, previous, present))
        checked = _suppress(ctx, source, apply_contract(records.withColumn("_file_checksum", F.lit(None).cast("string")),
                                                        source, ctx.config.bronze))
    except C360Error:
        raise
    except Exception as exc:  # noqa: BLE001 - driver and connection errors, reported without credentials
        first = str(exc).strip().splitlines()[0][:300]
        raise C360Error(f"source {source.name}: cannot read {location}: {first}") from None
    table = bronze_table(source.name)
    if ctx.store.exists(table):
        # rows bronze holds already, unless their record was deleted since (it came back: land it again)
        held = ctx.store.read(table).join(tombstoned_ids(ctx.store, source), "_record_id", "left_anti")
        checked = checked.join(held.select("_record_hash"), "_record_hash", "left_anti")
    if ctx.store.exists(ledger_mod.QUARANTINE):
        held = ctx.store.read(ledger_mod.QUARANTINE).where(F.col("source") == source.name)
        checked = checked.join(held.select(F.col("record_hash").alias("_record_hash")), "_record_hash", "left_anti")
    # a table's size is unknown until it is read: its rows are kept on disk, as a large delivery's are (see _kept)
    checked = checked.persist(StorageLevel.DISK_ONLY)
    try:
        per_file = _tally(checked, source, ctx.config.bronze, result)
        total = result.records
        if per_file is not None and total:
            _commit(ctx, source, checked, sum(result.quarantined.values()))
            watermark = checked.agg(F.max("_updated_at")).first()[0]
            table_state = LandedFile(location, total, watermark or datetime.now(timezone.utc), f"run:{ctx.run_id}")
            _log(ctx, source, [_entry(table_state, 1, per_file[location], "ingested")])
            result.status, result.files_new = "ingested", 1
    finally:
        checked.unpersist()
    if present is not None:
        result.deleted = mark_vanished(ctx, source, present, location)
        result.status = "ingested" if result.deleted else result.status
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _rows_wanted(ctx, source: SourceConfig, since: str | None, present: DataFrame | None) -> Column | None:  # noqa: ANN001
    """Which rows of a database table to read: every row the first time or without `updated_at`; then the
    rows changed since the watermark, and the rows of records deleted in bronze that the table holds again,
    whatever their `updated_at` (a row restored from a backup keeps its old one). When any came back, the
    filter on their ids is not pushed down and Spark reads the rows older than the watermark too."""
    if not (source.updated_at and since):
        return None
    wanted = F.expr(source.updated_at) >= F.lit(since).cast("timestamp")
    if present is None:
        return wanted
    back = [r["_record_id"] for r in present.join(tombstoned_ids(ctx.store, source), "_record_id", "left_semi").collect()]
    return wanted | _table_record_id(source.id).isin(back) if back else wanted


def _table_record_id(id_expression: str) -> Column:
    """A database row's record id as bronze keeps it (`_record_id`): the id expression as trimmed text."""
    return F.trim(F.expr(id_expression).cast("string"))


def present_ids(spark, options: dict[str, str], id_expression: str) -> DataFrame:  # noqa: ANN001
    """Every record id the database table holds now (Spark reads just the id's columns)."""
    table = spark.read.format("jdbc").options(**options).load()
    ids = table.select(_table_record_id(id_expression).alias("_record_id"))
    return ids.where(F.col("_record_id").isNotNull() & (F.col("_record_id") != "")).distinct()


def tombstoned_ids(store, source: SourceConfig) -> DataFrame:  # noqa: ANN001 - TableStore
    """(_record_id) of the records whose newest tombstone (bronze._vanished_<source>) landed after their
    newest row: deleted at the source."""
    ids = local_frame(store.spark, [], "_record_id string")
    stones = source.vanished_table
    if not stones or not store.exists(stones) or not store.exists(bronze_table(source.name)):
        return ids
    rows = store.read(bronze_table(source.name)).groupBy("_record_id").agg(F.max("_ingested_at").alias("_row"))
    marks = store.read(stones).groupBy("_record_id").agg(F.max("_ingested_at").alias("_mark"))
    return rows.join(marks, "_record_id").where(F.col("_mark") >= F.col("_row")).select("_record_id")


def mark_vanished(ctx, source: SourceConfig, present: DataFrame, location: str) -> int:  # noqa: ANN001
    """Give a tombstone to every record bronze holds (not deleted already) that the table no longer holds;
    refuse, naming the source, when they would be more than jdbc.max_deleted_share of its records."""
    store, table = ctx.store, bronze_table(source.name)
    if not store.exists(table):
        return 0
    held_ids = store.read(table).select("_record_id").distinct()
    alive = held_ids.join(tombstoned_ids(store, source), "_record_id", "left_anti").localCheckpoint()
    gone = alive.join(present, "_record_id", "left_anti").localCheckpoint()
    held, vanished = alive.count(), gone.count()
    limit = source.jdbc.max_deleted_share if source.jdbc else 0.0
    if vanished and vanished > limit * held:
        raise C360Error(f"source {source.name}: {vanished:,} of its {held:,} records are no longer in {location}, more "
                        f"than jdbc.max_deleted_share ({limit:.0%}); none was marked deleted. An empty or broken table "
                        "or view? Raise the share if they really were deleted.")
    if vanished:
        at = F.lit(datetime.now(timezone.utc)).cast("timestamp")
        stones = gone.select("_record_id", F.lit(None).cast("timestamp").alias("_updated_at"), at.alias("_ingested_at"),
                             F.lit(ctx.run_id).alias("_run_id"))
        store.append(stones, source.vanished_table, txn=_txn(ctx, "vanished", source))
    return vanished


def _kept(files: list[LandedFile]) -> StorageLevel:
    """Where the checked records of `files` are kept while they are counted and written: in memory for a
    small delivery, on local disk for a large one, whose records with their raw text would fill a small
    driver's heap (a million people's web events, 1.4 GB of NDJSON, do so in a 4 GB driver)."""
    return StorageLevel.DISK_ONLY if sum(f.size for f in files) > IN_MEMORY_BYTES else StorageLevel.MEMORY_AND_DISK


def _partitions(spark: SparkSession, files: list[LandedFile]) -> int:
    """Parts to spread these files' records over: Spark's shuffle partitions, or one per PART_BYTES of input
    when that is more (a few large files in few parts exhaust a small driver's heap)."""
    configured = int(spark.conf.get("spark.sql.shuffle.partitions") or 1)
    return max(configured, math.ceil(sum(f.size for f in files) / PART_BYTES))


def _ingest_files(ctx, source: SourceConfig, files: list[LandedFile], versions: dict[str, int],  # noqa: ANN001
                  result: SourceResult) -> list[dict]:
    store, settings = ctx.store, ctx.config.bronze
    frozen = frozen_schema(store, source)
    paths = [f.path for f in files]
    try:
        records = read_records(ctx.spark, source, paths, frozen, settings.infer_sampling_ratio)
        if records is None:
            return [_entry(f, versions[f.path], Counter(), "empty") for f in files]
        checked = _suppress(ctx, source, apply_contract(_with_checksums(records, files), source, settings,
                                                        _partitions(ctx.spark, files))).persist(_kept(files))
        checked.count()  # reads the files now, so a file vanishing mid-read is reported here
    except C360Error:
        raise
    except Exception:
        gone = _vanished_file(files)
        if gone:
            raise C360Error(f"source {source.name}: file {gone} disappeared while it was being read; nothing was "
                            "written for this source (the next run ingests it if it is back)") from None
        raise
    try:
        per_file = _tally(checked, source, settings, result)
        if per_file is None:
            return []
        result.new_columns = [c for c in checked.columns if frozen is not None and not c.startswith("_")
                              and c.lower() not in {f.name.lower() for f in frozen.fields}]
        _commit(ctx, source, checked, sum(result.quarantined.values()))
        return [_entry(f, versions[f.path], per_file[f.path], "ingested" if per_file[f.path] else "empty")
                for f in files]
    finally:
        checked.unpersist()


def _tally(checked: DataFrame, source: SourceConfig, settings, result: SourceResult  # noqa: ANN001
           ) -> dict[str, Counter] | None:
    """Count records per file and reason into `result`; None, with `result.error` set, when the share of bad
    records passes the source's limit (then nothing may be written)."""
    per_file: dict[str, Counter] = defaultdict(Counter)
    for row in checked.groupBy("_source_file", "_reason").count().collect():
        per_file[row["_source_file"]][row["_reason"] or "ok"] += row["count"]
    reasons = Counter()
    for counter in per_file.values():
        reasons.update({k: v for k, v in counter.items() if k != "ok"})
    result.suppressed = reasons.pop(SUPPRESSED_REASON, 0)
    total, bad = sum(sum(c.values()) for c in per_file.values()), sum(reasons.values())
    result.records, result.quarantined = total, {r: reasons[r] for r in REASONS if reasons[r]}
    result.written = total - bad - result.suppressed
    limit = source.max_bad_share if source.max_bad_share is not None else settings.max_bad_share
    if total and bad / total > limit:
        result.status, result.error, result.written = "failed", _failure_message(source, checked, bad, total, limit), 0
        return None
    return per_file


def _entry(file: LandedFile, version: int, counts: Counter, status: str) -> dict:
    """One ledger entry: a file (or a database read), its version, its records counted by outcome (ok, a
    quarantine reason, or suppressed as erased earlier) and status."""
    records, suppressed = sum(counts.values()), counts.get(SUPPRESSED_REASON, 0)
    return {"file": file, "version": version, "records": records, "written": counts.get("ok", 0),
            "quarantined": records - counts.get("ok", 0) - suppressed, "suppressed": suppressed, "status": status}


def _suppress(ctx, source: SourceConfig, checked: DataFrame) -> DataFrame:  # noqa: ANN001
    """The checked records with re-delivered records of erased people marked (see privacy.suppression); the
    salt is needed only once the source has such records."""
    hashes = suppression.suppressed_records(ctx.store, source.name)
    if hashes is None:
        return checked
    return suppression.mark_suppressed(checked, source.name, hashes, suppression.salt(ctx.config))


def _txn(ctx, table_kind: str, source: SourceConfig) -> Txn:  # noqa: ANN001
    """The run's Delta application transaction for one source's writes to one kind of table."""
    return Txn(f"c360/{table_kind}/{source.name}", ctx.run_number)


def _log(ctx, source: SourceConfig, entries: list[dict]) -> None:  # noqa: ANN001
    """Append the run's ledger entries for a source (the last of its commits)."""
    rows = ledger_mod.ledger_rows(ctx.store, source.name, entries, ctx.run_id, datetime.now(timezone.utc))
    ctx.store.append(rows, ledger_mod.LEDGER, txn=_txn(ctx, "bronze", source))


def _commit(ctx, source: SourceConfig, checked: DataFrame, bad: int) -> None:  # noqa: ANN001
    at = F.lit(datetime.now(timezone.utc)).cast("timestamp")
    keep_raw = source.format in ("json", "ndjson")
    good = bronze_rows(checked, ctx.run_id, at, keep_raw)
    if [c for c in good.columns if not c.startswith("_")] or ctx.store.exists(bronze_table(source.name)):
        ctx.store.append(good, bronze_table(source.name), txn=_txn(ctx, "bronze", source))
    if bad:
        ctx.store.append(quarantine_rows(checked, source.name, ctx.run_id, at), ledger_mod.QUARANTINE,
                         txn=_txn(ctx, "quarantine", source))

"""The ingest ledger (`bronze._ingest_log`): which file was ingested when, with size, time and checksum.

A file whose path and checksum are in the ledger is not ingested again; a known path with a new checksum is
a changed file (ingested as the next file_version, or an error, per config). Files whose rows reached
bronze or quarantine but not the ledger (a run that died between those commits) are found by their
(_source_file, _file_checksum) and entered as `recovered` instead of being ingested twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360.bronze.landing import LandedFile
from c360.frames import local_frame
from c360.storage import TableStore

LEDGER = "bronze._ingest_log"
QUARANTINE = "bronze._quarantine"
LEDGER_SCHEMA = T.StructType([
    T.StructField("source", T.StringType()), T.StructField("file_path", T.StringType()),
    T.StructField("file_size", T.LongType()), T.StructField("modified_at", T.TimestampType()),
    T.StructField("checksum", T.StringType()), T.StructField("file_version", T.IntegerType()),
    T.StructField("run_id", T.StringType()), T.StructField("ingested_at", T.TimestampType()),
    T.StructField("records", T.LongType()), T.StructField("written", T.LongType()),
    T.StructField("quarantined", T.LongType()), T.StructField("status", T.StringType()),
    T.StructField("suppressed", T.LongType()),
])


@dataclass
class Plan:
    """What to do with each landed file of a source."""

    new: list[tuple[LandedFile, int]] = field(default_factory=list)  # (file, file_version)
    unchanged: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    """A new file whose content (checksum) the source already delivered under another name -> that name."""


def known_files(store: TableStore, sources: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
    """source -> path -> (checksum, file_version) of the newest ledger entry per file of each of `sources`,
    read in one pass (a bronze run plans every source's files from it)."""
    known: dict[str, dict[str, tuple[str, int]]] = {name: {} for name in sources}
    if not store.exists(LEDGER) or not sources:
        return known
    rows = (store.read(LEDGER).where(F.col("source").isin(*sources))
            .groupBy("source", "file_path").agg(F.max_by(F.struct("checksum", "file_version"), "file_version").alias("last"))
            .collect())
    for r in rows:
        known[r["source"]][r["file_path"]] = (r["last"]["checksum"], r["last"]["file_version"])
    return known


def last_watermark(store: TableStore, source: str, location: str) -> str | None:
    """The newest `updated_at` a database source delivered (kept in the ledger's modified_at), as ISO text."""
    if not store.exists(LEDGER):
        return None
    row = (store.read(LEDGER).where((F.col("source") == source) & (F.col("file_path") == location))
           .agg(F.max("modified_at")).first())
    return row[0].strftime("%Y-%m-%d %H:%M:%S.%f") if row and row[0] else None


def plan(files: list[LandedFile], known: dict[str, tuple[str, int]]) -> Plan:
    """Sort the landed files against the ledger (`known`: path -> checksum and version): new files, files
    changed under the same name (their next version) and files already ingested, which are not read again.
    A new file holding exactly what an ingested file, or an earlier new file of this listing, holds (the same
    checksum: one delivery sent twice under two names) is a duplicate and is not read either."""
    result = Plan()
    seen: dict[str, str] = {}
    for path, (checksum, _) in sorted(known.items()):
        seen.setdefault(checksum, path)  # a file with that content, the first by name: the same every run
    for file in sorted(files, key=lambda f: f.path):
        entry = known.get(file.path)
        if entry is None and file.checksum in seen:
            result.duplicates[file.path] = seen[file.checksum]
        elif entry is None:
            seen[file.checksum] = file.path
            result.new.append((file, 1))
        elif entry[0] == file.checksum:
            result.unchanged.append(file.path)
        else:
            result.changed.append(file.path)
            result.new.append((file, entry[1] + 1))
    return result


def already_landed(store: TableStore, source: str, files: list[LandedFile]) -> dict[tuple[str, str], tuple[int, int]]:
    """(path, checksum) -> (rows in bronze, rows in quarantine) for files a previous run wrote but did not log."""
    wanted = [(f.path, f.checksum) for f in files]
    if not wanted:
        return {}
    wanted_df = F.broadcast(local_frame(store.spark, wanted, "f string, c string"))
    found: dict[tuple[str, str], list[int]] = {}
    tables = [(f"bronze.{source}", "_source_file", "_file_checksum", None, 0),
              (QUARANTINE, "source_file", "file_checksum", source, 1)]
    for table, file_col, sum_col, only, slot in tables:
        if not store.exists(table):
            continue
        frame = store.read(table)
        if only is not None:
            frame = frame.where(F.col("source") == only)
        counts = (frame.select(F.col(file_col).alias("f"), F.col(sum_col).alias("c"))
                  .join(wanted_df, ["f", "c"]).groupBy("f", "c").count().collect())
        for row in counts:
            found.setdefault((row["f"], row["c"]), [0, 0])[slot] = row["count"]
    return {k: (v[0], v[1]) for k, v in found.items()}


def ledger_rows(store: TableStore, source: str, entries: list[dict], run_id: str, at: datetime) -> DataFrame:
    """Ledger rows for the files of one run (entries hold file, version, counts and status)."""
    rows = [(source, e["file"].path, e["file"].size, e["file"].modified_at, e["file"].checksum, e["version"],
             run_id, at, e["records"], e["written"], e["quarantined"], e["status"], e["suppressed"]) for e in entries]
    return local_frame(store.spark, rows, LEDGER_SCHEMA)

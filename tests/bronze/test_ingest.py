"""Bronze ingestion on real files, real Spark and real Delta tables: every bad-input case of the contract,
with input records = bronze rows + quarantine rows, and nothing already in bronze changed by a failure."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.bronze.ingest import IN_MEMORY_BYTES, PART_BYTES, SourceResult, _kept, _partitions, ingest_source
from c360.bronze.landing import LandedFile, land
from c360.bronze.ledger import LEDGER, QUARANTINE
from c360.config import parse_config
from c360.errors import C360Error
from c360.pipeline import RunContext, new_run_id
from c360.session import EngineChoice
from c360.storage import TableStore, open_store


class Bronze:
    """A landing folder, a warehouse and one source, ingested run by run."""

    def __init__(self, spark: SparkSession, root: Path, engine: str, source: dict[str, Any],
                 bronze: dict[str, Any] | None = None) -> None:
        self.landing = root / "landing"
        self.landing.mkdir(parents=True, exist_ok=True)
        ext = {"ndjson": "ndjson", "json": "json", "csv": "csv", "parquet": "parquet"}[source["format"]]
        doc = {"warehouse": str(root / "warehouse"), "bronze": bronze or {},
               "sources": [{"name": "src", "kind": "person", "id": "id", "path": f"landing/*.{ext}", **source}]}
        self.config = parse_config(doc, root / "c360.yaml")
        self.source = self.config.sources[0]
        self.store: TableStore = open_store(spark, engine, self.config.warehouse)
        self.spark = spark

    def write(self, name: str, content: bytes | str) -> Path:
        path = self.landing / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def context(self, run_id: str | None = None) -> RunContext:
        return RunContext(self.config, self.spark, self.store, EngineChoice(self.store.engine, "test"),
                          run_id or new_run_id())

    def ingest(self, run_id: str | None = None, landed: list | None = None) -> SourceResult:
        return ingest_source(self.context(run_id), self.source, landed)

    def rows(self) -> int:
        return self.store.read("bronze.src").count() if self.store.exists("bronze.src") else 0

    def quarantine(self) -> list[dict]:
        if not self.store.exists(QUARANTINE):
            return []
        return [r.asDict() for r in self.store.read(QUARANTINE).orderBy("source_file", "record_ref").collect()]


@pytest.fixture
def bronze(spark: SparkSession, tmp_path: Path) -> Callable[..., Bronze]:
    def make(source: dict[str, Any], engine: str = "delta-rs", **bronze_settings: Any) -> Bronze:
        return Bronze(spark, tmp_path, engine, source, bronze_settings or None)

    return make


NDJSON = {"format": "ndjson"}
LENIENT = {"max_bad_share": 1.0}


def accounted(b: Bronze, result: SourceResult, inputs: int, before: int = 0) -> None:
    """Input records = bronze rows + quarantine rows (`before`: rows earlier runs left in both)."""
    assert result.records == inputs
    assert b.rows() + len(b.quarantine()) == before + inputs
    assert result.written + sum(result.quarantined.values()) == inputs


def test_truncated_json_is_quarantined_with_its_line(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON, **LENIENT)
    b.write("a.ndjson", '{"id":"1","n":1}\n{"id":"2",\n{"id":"3","n":3}\n')
    result = b.ingest()
    accounted(b, result, 3)
    [bad] = b.quarantine()
    assert (bad["reason"], bad["record_ref"], bad["raw"]) == ("malformed_record", "line 2", '{"id":"2",')
    assert bad["source"] == "src" and bad["source_file"].endswith("a.ndjson")


def test_json_array_on_one_line_yields_its_elements(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", '[{"id":"1"},{"id":"2"}]\n{"id":"3"}\n')
    accounted(b, b.ingest(), 3)
    refs = {r["_record_id"]: r["_record_ref"] for r in b.store.read("bronze.src").collect()}
    assert refs == {"1": "line 1 element 1", "2": "line 1 element 2", "3": "line 2"}


def test_pretty_printed_array_in_ndjson_source_fails_clearly(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", json.dumps([{"id": str(i)} for i in range(5)], indent=2))
    result = b.ingest()
    assert result.status == "failed" and b.rows() == 0 and b.quarantine() == []
    assert "source src:" in result.error and "malformed_record" in result.error and "a.ndjson" in result.error
    assert "nothing was written" in result.error


def test_json_documents_with_bom_arrays_and_nesting(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "json"})
    b.write("a.json", "\ufeff" + json.dumps([{"id": "1", "contact": {"email": "a@x.de"}}, {"id": "2"}], indent=1))
    b.write("b.json", json.dumps({"id": "3", "contact": {"email": "c@x.de", "web": "x.de"}}))
    accounted(b, b.ingest(), 3)
    table = b.store.read("bronze.src")
    assert table.schema["contact"].dataType.simpleString() == "struct<email:string,web:string>"
    assert {r["_raw"] is not None for r in table.collect()} == {True}


def test_bom_and_invalid_utf8(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON, **LENIENT)
    b.write("a.ndjson", b'\xef\xbb\xbf{"id":"1"}\n{"id":"2\xff\xfe"}\n')
    accounted(b, b.ingest(), 2)
    assert [r["reason"] for r in b.quarantine()] == ["invalid_encoding"]
    assert b.store.read("bronze.src").first()["id"] == "1"


def test_csv_embedded_newlines_and_quotes(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "csv"})
    b.write("a.csv", 'id,name,note\n1,"Schmidt, Peter","line one\nline two"\n2,"O""Brien",plain\n')
    accounted(b, b.ingest(), 2)
    rows = {r["id"]: (r["name"], r["note"]) for r in b.store.read("bronze.src").collect()}
    assert rows == {"1": ("Schmidt, Peter", "line one\nline two"), "2": ('O"Brien', "plain")}


def test_csv_wrong_delimiter_and_duplicated_header(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "csv"})
    b.write("a.csv", "id;name\n1;x\n2;y\n")
    result = b.ingest()
    assert result.status == "failed" and b.rows() == 0
    assert "bad_header" in result.error and "wrong delimiter?" in result.error and "a.csv" in result.error
    (b.landing / "a.csv").unlink()
    b.write("b.csv", "id,name,name\n1,x,y\n")
    result = b.ingest()
    assert "duplicated header column(s): name" in result.error


def test_csv_malformed_rows_are_quarantined(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "csv"}, **LENIENT)
    b.write("a.csv", "id,name\n1,x\n2,y,extra\n3,z\n")
    accounted(b, b.ingest(), 3)
    assert [(r["reason"], r["record_ref"]) for r in b.quarantine()] == [("malformed_record", "record 2")]


def test_empty_zero_byte_and_header_only_files(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "csv"})
    b.write("empty.csv", "\n")
    b.write("zero.csv", b"")
    b.write("header.csv", "id,name\n")
    b.write("data.csv", "id,name\n1,x\n")
    result = b.ingest()
    accounted(b, result, 1)
    assert result.files_new == 4
    log = {Path(r["file_path"]).name: r["status"] for r in b.store.read(LEDGER).collect()}
    assert log == {"empty.csv": "empty", "zero.csv": "empty", "header.csv": "empty", "data.csv": "ingested"}


def test_missing_and_duplicated_record_ids(bronze: Callable[..., Bronze]) -> None:
    b = bronze({**NDJSON, "updated_at": "ts"}, **LENIENT)
    b.write("a.ndjson", '{"id":"1","ts":"2024-01-01T00:00:00Z","v":"a"}\n{"ts":"2024-01-01T00:00:00Z"}\n'
                        '{"id":" ","ts":"2024-01-01T00:00:00Z"}\n{"id":"1","ts":"2024-02-01T00:00:00Z","v":"b"}\n'
                        '{"id":"1","ts":"2024-02-01T00:00:00Z","v":"b"}\n')
    accounted(b, b.ingest(), 5)
    reasons = sorted((r["reason"], r["record_ref"]) for r in b.quarantine())
    assert reasons == [("duplicate_record_id", "line 4"), ("missing_record_id", "line 2"),
                       ("missing_record_id", "line 3")]
    landed = sorted((r["v"], r["_record_ref"]) for r in b.store.read("bronze.src").collect())
    assert landed == [("a", "line 1"), ("b", "line 5")], "both versions of id 1 land; the repeat does not"
    dup = next(r for r in b.quarantine() if r["reason"] == "duplicate_record_id")
    assert "line 5" in dup["detail"] and "same id and time" in dup["detail"]


def test_large_files_are_checked_in_parts_sized_by_their_bytes(spark: SparkSession) -> None:
    # 900 MB of clickstream in Spark's 8 shuffle partitions exhausted a 4 GB driver while being cached
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    now = datetime.now(timezone.utc)
    assert _partitions(spark, [LandedFile("small.ndjson", 1_000, now, "x")]) == configured
    large = [LandedFile(f"clicks_{i}.ndjson", 143_000_000, now, "x") for i in range(7)]
    assert _partitions(spark, large) == math.ceil(7 * 143_000_000 / PART_BYTES) > configured


def test_a_backlog_of_batches_keeps_every_version(bronze: Callable[..., Bronze]) -> None:
    b = bronze({**NDJSON, "updated_at": "ts"})
    b.write("b01.ndjson", '{"id":"1","ts":"2024-01-01T00:00:00Z","email":"old@x.de"}\n')
    b.write("b02.ndjson", '{"id":"1","ts":"2024-03-01T00:00:00Z","email":"new@x.de"}\n')
    b.write("b03.ndjson", '{"id":"1","ts":"2024-03-01T00:00:00Z","email":"newer@x.de"}\n')  # no new timestamp
    result = b.ingest()
    assert result.written == 3 and b.quarantine() == []


def test_timestamps_in_mixed_formats_and_zones(bronze: Callable[..., Bronze]) -> None:
    b = bronze({**NDJSON, "kind": "interaction", "updated_at": "ts", "timezone": "Europe/Berlin"}, **LENIENT)
    lines = {"1": "2024-03-01T10:00:00+02:00", "2": "2024-03-01 10:00:00", "3": "01.03.2024 10:00",
             "4": "1709287200000", "5": "2024-03-01T08:00:00Z", "6": "yesterday", "7": None}
    b.write("a.ndjson", "".join(json.dumps({"id": k, "ts": v}) + "\n" for k, v in lines.items()))
    accounted(b, b.ingest(), 7)
    got = {r["id"]: r["_updated_at"].strftime("%Y-%m-%d %H:%M") for r in b.store.read("bronze.src").collect()}
    assert got == {"1": "2024-03-01 08:00", "2": "2024-03-01 09:00", "3": "2024-03-01 09:00",
                   "4": "2024-03-01 10:00", "5": "2024-03-01 08:00"}
    assert sorted(r["reason"] for r in b.quarantine()) == ["missing_updated_at", "unparsable_updated_at"]


def test_ten_megabyte_line_is_too_large(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON, **LENIENT)
    b.write("a.ndjson", '{"id":"1"}\n' + json.dumps({"id": "2", "blob": "x" * 10_000_000}) + "\n")
    accounted(b, b.ingest(), 2)
    [bad] = b.quarantine()
    assert bad["reason"] == "record_too_large" and bad["record_ref"] == "line 2"


def test_file_vanishing_between_listing_and_reading(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", '{"id":"1"}\n')
    b.ingest()
    b.write("b.ndjson", '{"id":"2"}\n')
    gone = b.write("c.ndjson", '{"id":"3"}\n')
    landed, vanished = land(b.source.path)
    gone.unlink()
    with pytest.raises(C360Error, match=r"file .*c\.ndjson disappeared while it was being read; nothing was written"):
        b.ingest(landed=landed)
    assert b.rows() == 1 and vanished == []
    result = b.ingest()
    assert result.files_new == 1 and b.rows() == 2


def test_schema_evolution_add_remove_and_type_change(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON, **LENIENT)
    b.write("a.ndjson", '{"id":"1","n":1,"old":"x"}\n')
    b.ingest()
    b.write("b.ndjson", '{"id":"2","n":2,"new":true}\n{"id":"3","n":"three"}\n')
    result = b.ingest()
    accounted(b, result, 2, before=1)
    assert result.new_columns == ["new"]
    rows = {r["id"]: (r["n"], r["old"], r["new"]) for r in b.store.read("bronze.src").collect()}
    assert rows == {"1": (1, "x", None), "2": (2, None, True)}
    [bad] = b.quarantine()
    assert bad["reason"] == "wrong_type" and bad["raw"] == '{"id":"3","n":"three"}'


def test_parquet_type_change_is_quarantined_per_record(bronze: Callable[..., Bronze], spark: SparkSession,
                                                        tmp_path: Path) -> None:
    b = bronze({"format": "parquet"}, **LENIENT)
    spark.createDataFrame([("1", 10)], "id string, n int").toPandas().to_parquet(b.landing / "a.parquet")
    b.ingest()
    spark.createDataFrame([("2", "20"), ("3", "x")], "id string, n string").toPandas().to_parquet(b.landing / "b.parquet")
    accounted(b, b.ingest(), 2, before=1)
    assert {r["id"]: r["n"] for r in b.store.read("bronze.src").collect()} == {"1": 10, "2": 20}
    [bad] = b.quarantine()
    assert bad["reason"] == "wrong_type" and "n: string value does not fit int" in bad["detail"]


def test_a_column_of_a_type_spark_cannot_cast_is_quarantined_not_a_traceback(
        bronze: Callable[..., Bronze], spark: SparkSession) -> None:
    b = bronze({"format": "parquet"}, **LENIENT)
    spark.createDataFrame([("1", date(1980, 1, 2))], "id string, born date").toPandas().to_parquet(b.landing / "a.parquet")
    b.ingest()
    # a later file whose column came out as int (a column of nulls, or numbers): Spark casts no int to a date
    pq.write_table(pa.table({"id": ["2", "3"], "born": pa.array([None, 7], pa.int32())}), b.landing / "b.parquet")
    accounted(b, b.ingest(), 2, before=1)
    assert {r["id"]: r["born"] for r in b.store.read("bronze.src").collect()} == {"1": date(1980, 1, 2), "2": None}
    [bad] = b.quarantine()
    assert bad["reason"] == "wrong_type" and "born: int value does not fit date" in bad["detail"]


def test_rerun_ingests_nothing_and_changed_file_is_a_new_version(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", '{"id":"1"}\n')
    b.ingest()
    version = b.store.version("bronze.src")
    again = b.ingest()
    assert again.status == "up to date" and again.files_unchanged == 1
    assert b.store.version("bronze.src") == version
    b.write("a.ndjson", '{"id":"1"}\n{"id":"2"}\n')
    changed = b.ingest()
    assert changed.files_changed == 1 and changed.records == 2 and b.rows() == 3
    versions = sorted(r["file_version"] for r in b.store.read(LEDGER).collect())
    assert versions == [1, 2]


def test_changed_file_can_be_an_error(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON, on_changed_file="error")
    b.write("a.ndjson", '{"id":"1"}\n')
    b.ingest()
    b.write("a.ndjson", '{"id":"9"}\n')
    with pytest.raises(C360Error, match=r"source src: file\(s\) changed content under the same name: .*a\.ndjson"):
        b.ingest()
    assert b.rows() == 1


def test_failed_source_leaves_bronze_untouched(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", '{"id":"1"}\n')
    b.ingest()
    version = b.store.version("bronze.src")
    b.write("b.ndjson", '{"id":"2"}\n{broken\n')
    result = b.ingest()
    assert result.status == "failed" and "1 of 2 records (50.0%)" in result.error
    assert b.store.version("bronze.src") == version and b.quarantine() == []
    assert not any("b.ndjson" in r["file_path"] for r in b.store.read(LEDGER).collect())


def test_crash_between_commits_does_not_duplicate(bronze: Callable[..., Bronze], monkeypatch: pytest.MonkeyPatch) -> None:
    b = bronze(NDJSON, **LENIENT)
    b.write("a.ndjson", '{"id":"1"}\n{bad\n')
    real_append = type(b.store).append

    def die_on_ledger(self, df, table, **kw):  # noqa: ANN001, ANN202 - the process dies before the ledger commit
        if table == LEDGER:
            raise RuntimeError("killed")
        return real_append(self, df, table, **kw)

    monkeypatch.setattr(type(b.store), "append", die_on_ledger)
    run_id = new_run_id()
    with pytest.raises(RuntimeError):
        b.ingest(run_id)
    monkeypatch.setattr(type(b.store), "append", real_append)
    assert b.rows() == 1 and len(b.quarantine()) == 1
    retry = b.ingest(new_run_id())  # a fresh run, as a scheduler's retry would start
    assert retry.files_recovered == 1 and b.rows() == 1 and len(b.quarantine()) == 1
    assert [r["status"] for r in b.store.read(LEDGER).collect()] == ["recovered"]


def test_retry_with_the_same_run_id_skips_committed_writes(bronze: Callable[..., Bronze]) -> None:
    b = bronze(NDJSON)
    b.write("a.ndjson", '{"id":"1"}\n')
    run_id = new_run_id()
    b.ingest(run_id)
    b.store.delete(LEDGER, "source = 'src'")  # as if the ledger commit had been lost
    b.ingest(run_id)
    assert b.rows() == 1
    assert b.store.txn_version("bronze.src", "c360/bronze/src") is not None


def test_bad_id_expression_names_source_and_columns(bronze: Callable[..., Bronze]) -> None:
    b = bronze({**NDJSON, "id": "customer_number"})
    b.write("a.ndjson", '{"id":"1"}\n')
    with pytest.raises(C360Error, match="source src: id 'customer_number' does not fit the source's columns \\(id\\)"):
        b.ingest()


def test_deleted_condition_must_fit_the_columns_and_be_a_condition(bronze: Callable[..., Bronze]) -> None:
    b = bronze({**NDJSON, "deleted": "is_gone"})
    b.write("a.ndjson", '{"id":"1","status":"x"}\n')
    with pytest.raises(C360Error, match="source src: deleted 'is_gone' does not fit the source's columns"):
        b.ingest()
    b = bronze({**NDJSON, "deleted": "upper(status)"})
    with pytest.raises(C360Error, match="deleted 'upper\\(status\\)' must be a condition"):
        b.ingest()
    assert bronze({**NDJSON, "deleted": "status = 'deleted'"}).ingest().written == 1


def test_delta_spark_engine_lands_the_same(bronze: Callable[..., Bronze], delta_spark_available: bool) -> None:
    from tests.conftest import require_delta_spark

    require_delta_spark(delta_spark_available)
    b = bronze(NDJSON, engine="delta-spark", **LENIENT)
    b.write("a.ndjson", '{"id":"1","n":1}\n{"id":"2",\n')
    accounted(b, b.ingest(), 2)
    assert b.ingest().status == "up to date"
    assert b.store.read("bronze.src").select(F.col("_record_id")).first()[0] == "1"


def test_file_names_with_spaces_plus_and_umlauts(spark: SparkSession, tmp_path: Path) -> None:
    b = Bronze(spark, tmp_path / "land ing", "delta-rs", NDJSON)
    b.write("a b+c ü.ndjson", '{"id":"1"}\n')
    result = b.ingest()
    assert result.written == 1
    row = b.store.read("bronze.src").first()
    assert row["_source_file"].endswith("a b+c ü.ndjson") and row["_file_checksum"]
    assert b.ingest().status == "up to date"


def test_a_file_delivered_again_under_another_name_is_recorded_not_read(bronze: Callable[..., Bronze]) -> None:
    b = bronze({"format": "csv"})
    content = "id,name\n1,Ann\n2,Bob\n"
    b.write("a.csv", content)
    b.write("b.csv", content)  # one delivery sent twice in one batch
    first = b.ingest()

    def names(found: dict[str, str]) -> dict[str, str]:
        return {k.rsplit("/", 1)[-1]: v.rsplit("/", 1)[-1] for k, v in found.items()}

    assert (first.files_new, first.written, names(first.files_duplicate)) == (1, 2, {"b.csv": "a.csv"})
    versions = b.store.version("bronze.src")
    b.write("c.csv", content)  # and once more, a run later
    again = b.ingest()
    assert names(again.files_duplicate) == {"c.csv": "a.csv"} and again.status == "up to date"
    assert b.store.version("bronze.src") == versions and b.rows() == 2
    ledger = {r.file_path.rsplit("/", 1)[-1]: r.status for r in b.store.read(LEDGER).collect()}
    assert ledger == {"a.csv": "ingested", "b.csv": "duplicate", "c.csv": "duplicate"}
    assert b.ingest().files_duplicate == {} and b.ingest().files_unchanged == 3, "a re-run reads nothing again"


def test_a_large_delivery_is_kept_on_disk_while_it_is_checked_a_small_one_in_memory() -> None:
    def files(*sizes: int) -> list[LandedFile]:
        return [LandedFile(f"part-{i}.ndjson", size, datetime.now(timezone.utc), "sha") for i, size in enumerate(sizes)]

    assert _kept(files(1_000, IN_MEMORY_BYTES - 1_000)) == StorageLevel.MEMORY_AND_DISK
    assert _kept(files(IN_MEMORY_BYTES, 1)) == StorageLevel.DISK_ONLY, "the delivery's files together count"

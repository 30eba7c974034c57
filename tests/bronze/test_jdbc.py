"""JDBC sources against a real PostgreSQL server started on loopback for this module."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360.bronze.ingest import ingest_source
from c360.config import parse_config
from c360.errors import C360Error
from c360.pipeline import RunContext, new_run_id
from c360.session import EngineChoice
from c360.silver.person_records import person_records
from c360.silver.stage import tombstones
from c360.storage import open_store
from tests.conftest import POSTGRES_JDBC_JAR

PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict]:
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb or not os.path.exists(POSTGRES_JDBC_JAR):
        pytest.skip("PostgreSQL or its JDBC driver is not installed (Debian: postgresql, libpostgresql-jdbc-java)")
    bindir = Path(initdb[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="c360-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    (data / "pw").write_text(PASSWORD)
    if as_user:
        shutil.chown(data, "postgres")
        shutil.chown(data / "pw", "postgres")
    port = _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "c360", "--pwfile",
                    str(data / "pw"), "--auth=scram-sha-256"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"), "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    server = {"port": port, "psql": [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "c360",
                                     "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]}
    try:
        yield server
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def sql(server: dict, statement: str) -> None:
    subprocess.run([*server["psql"], "-c", statement], check=True, capture_output=True,
                   env={**os.environ, "PGPASSWORD": PASSWORD})


@pytest.fixture
def crm_db(postgres: dict, spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    return _crm_db(postgres, spark, tmp_path, monkeypatch, {"updated_at": "modified_at"})


def _crm_db(postgres: dict, spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN202
            source: dict, jdbc: dict | None = None):
    """A contacts table (C1, C2 and a row without id) read as the person source crm_db (`source` and `jdbc`
    settings added); returns (ingest, store, config)."""
    sql(postgres, "DROP TABLE IF EXISTS contacts; CREATE TABLE contacts (contact_id text, first_name text, "
                  "email text, modified_at timestamp);"
                  "INSERT INTO contacts VALUES ('C1', 'Peter', 'p@x.de', '2024-01-01 10:00'),"
                  "('C2', 'Anna', 'a@x.de', '2024-01-02 10:00'), (NULL, 'Nobody', NULL, '2024-01-03 10:00');")
    monkeypatch.setenv("CRM_DB_USER", "c360")
    monkeypatch.setenv("CRM_DB_PASSWORD", PASSWORD)
    doc = {"warehouse": str(tmp_path / "wh"), "bronze": {"max_bad_share": 0.5}, "sources": [{
        "name": "crm_db", "kind": "person", "format": "jdbc", "id": "contact_id", **source,
        "jdbc": {"url": f"jdbc:postgresql://127.0.0.1:{postgres['port']}/postgres", "table": "public.contacts",
                 "driver": "org.postgresql.Driver", "user_env": "CRM_DB_USER", "password_env": "CRM_DB_PASSWORD",
                 **(jdbc or {})}}]}
    config = parse_config(doc, tmp_path / "c360.yaml")
    store = open_store(spark, "delta-rs", config.warehouse)

    def ingest():  # noqa: ANN202
        ctx = RunContext(config, spark, store, EngineChoice("delta-rs", "test"), new_run_id())
        return ingest_source(ctx, config.sources[0])

    return ingest, store, config


def test_jdbc_table_lands_incrementally(crm_db, postgres: dict) -> None:  # noqa: ANN001
    ingest, store, _ = crm_db
    first = ingest()
    assert (first.records, first.written, first.quarantined) == (3, 2, {"missing_record_id": 1})
    assert store.read("bronze.crm_db").count() == 2
    again = ingest()
    assert again.status == "up to date" and store.read("bronze.crm_db").count() == 2
    sql(postgres, "UPDATE contacts SET email = 'peter@new.de', modified_at = '2024-02-01 10:00' WHERE contact_id = 'C1';"
                  "INSERT INTO contacts VALUES ('C3', 'Jo', 'j@x.de', '2024-02-02 10:00');")
    later = ingest()
    assert later.written == 2
    rows = store.read("bronze.crm_db").where("contact_id = 'C1'").orderBy("_updated_at").collect()
    assert [r["email"] for r in rows] == ["p@x.de", "peter@new.de"]
    log = store.read("bronze._ingest_log").collect()
    assert {r["file_path"] for r in log} == {f"jdbc:postgresql://127.0.0.1:{postgres['port']}/postgres#public.contacts"}


def test_jdbc_credentials_come_from_the_environment(crm_db, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ingest, _, _ = crm_db
    monkeypatch.delenv("CRM_DB_PASSWORD")
    with pytest.raises(C360Error, match="environment variable CRM_DB_PASSWORD \\(jdbc.password_env\\) is not set"):
        ingest()
    monkeypatch.setenv("CRM_DB_PASSWORD", "wrong-password")
    with pytest.raises(C360Error) as info:
        ingest()
    assert "source crm_db: cannot read jdbc:postgresql://127.0.0.1" in str(info.value)
    assert "wrong-password" not in str(info.value)


def test_rows_that_vanish_from_a_table_get_tombstones_and_come_back_when_they_return(
        postgres: dict, spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest, store, config = _crm_db(postgres, spark, tmp_path, monkeypatch, {}, {"detect_deletions": True})
    source = config.sources[0]
    ctx = RunContext(config, spark, store, EngineChoice("delta-rs", "test"), new_run_id())

    def live() -> list[str]:
        bronze = store.read("bronze.crm_db")
        return sorted(r.source_record_id for r in person_records(bronze, source, "DE", tombstones(ctx, source)).collect())

    assert ingest().deleted == 0 and live() == ["C1", "C2"]
    sql(postgres, "DELETE FROM contacts WHERE contact_id = 'C2';")
    gone = ingest()
    assert (gone.written, gone.deleted) == (0, 1) and live() == ["C1"]
    assert [r["_record_id"] for r in store.read("bronze._vanished_crm_db").collect()] == ["C2"]
    assert ingest().deleted == 0, "a record already deleted gets no second tombstone"
    sql(postgres, "INSERT INTO contacts VALUES ('C2', 'Anna', 'a@x.de', '2024-01-02 10:00');")
    back = ingest()
    assert (back.written, back.deleted) == (1, 0) and live() == ["C1", "C2"], "the same row, back: landed again"
    sql(postgres, "DELETE FROM contacts WHERE contact_id IS NOT NULL;")
    with pytest.raises(C360Error, match="source crm_db: 2 of its 2 records are no longer in .* jdbc.max_deleted_share"):
        ingest()
    assert live() == ["C1", "C2"], "nothing marked deleted"


def test_a_deleted_row_restored_with_its_old_update_time_lands_again(
        postgres: dict, spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watermark source reads only rows changed since its last run; a row deleted and then restored from a
    backup keeps its old `updated_at`, below the watermark, and must still come back."""
    ingest, store, config = _crm_db(postgres, spark, tmp_path, monkeypatch, {"updated_at": "modified_at"},
                                    {"detect_deletions": True})
    ctx = RunContext(config, spark, store, EngineChoice("delta-rs", "test"), new_run_id())

    def live() -> list[str]:
        bronze = store.read("bronze.crm_db")
        return sorted(r.source_record_id for r in person_records(bronze, config.sources[0], "DE",
                                                                 tombstones(ctx, config.sources[0])).collect())

    ingest()
    sql(postgres, "DELETE FROM contacts WHERE contact_id = 'C2';"
                  "INSERT INTO contacts VALUES ('C3', 'Jo', 'j@x.de', '2024-02-02 10:00');")
    assert ingest().deleted == 1 and live() == ["C1", "C3"]
    sql(postgres, "INSERT INTO contacts VALUES ('C2', 'Anna', 'a@x.de', '2024-01-02 10:00');")
    back = ingest()
    assert (back.written, back.deleted) == (1, 0) and live() == ["C1", "C2", "C3"]
    assert ingest().status == "up to date", "once back, the row is not read again"

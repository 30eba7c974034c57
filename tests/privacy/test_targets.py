"""What an erasure deletes beyond the keyed tables: quarantined text, report pages."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from c360.bronze.contract import QUARANTINE_SCHEMA
from c360.privacy.lookup import Subjects, _quarantined
from c360.privacy.files import scrub_reports


def test_quarantined_records_holding_a_subject_value_as_a_token_are_found(spark: SparkSession) -> None:
    raw = ['CON-17,Anna,"ANNA@EXAMPLE.COM",bad-date', "CON-170,Bert,bert@example.com,x",
           'LM-9;{"phone": "+4930111111"}', "CON-18,Anna,anna@example.com.au,x"]
    quarantine = spark.createDataFrame([("crm", "f.csv", "sum", str(i), "h", r, "malformed_record", "", "run", None)
                                        for i, r in enumerate(raw)], QUARANTINE_SCHEMA)
    person = spark.createDataFrame([("crm:CON-17", "anna@example.com", "030 111111", "+4930111111")],
                                   "record_key string, email string, phone string, phone_e164 string")
    records = spark.createDataFrame([("crm:CON-17", "crm", "CON-17", "C1")],
                                    "record_key string, source string, source_record_id string, customer_id string")
    empty = spark.createDataFrame([], "customer_id string")
    found = Subjects(empty, records, person, spark.createDataFrame([], "source string, event_id string"))
    assert sorted(r["record_ref"] for r in _quarantined(quarantine, found).collect()) == ["0", "2"]


def test_report_files_showing_a_subject_are_deleted(tmp_path: Path) -> None:
    run = tmp_path / "20261206T120000.000Z-a"
    run.mkdir()
    (run / "cluster_studio.html").write_text('{"record": "CON-17", "email": "anna@example.com"}')
    (run / "waterfall_sample.html").write_text('{"record": "CON-170"}')
    (run / "index.html").write_text("<p>42 customers</p>")
    assert scrub_reports(str(tmp_path), ["CON-17", "anna@example.com"]) == [f"{run.name}/cluster_studio.html"]
    assert sorted(p.name for p in run.iterdir()) == ["index.html", "waterfall_sample.html"]

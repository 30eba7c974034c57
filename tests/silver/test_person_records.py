"""silver.person_records from bronze rows: latest version, config mapping, standardisation, flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.config import parse_config
from c360.silver.person_records import COLUMNS, person_records

BRONZE = ("contact_id string, given string, family string, mail string, tel string, born string, addr string, "
          "nr string, zip string, land string, acct string, _record_id string, _updated_at timestamp, "
          "_ingested_at timestamp, _record_hash string")


def source(tmp_path: Path):  # noqa: ANN201
    doc = {"warehouse": "w", "sources": [{
        "name": "crm", "kind": "person", "format": "csv", "path": "x.csv", "id": "contact_id",
        "updated_at": "modified", "priority": 10,
        "fields": {"first_name": "given", "last_name": "family", "email": "mail", "phone": "tel",
                   "date_of_birth": "born", "street": "concat_ws(' ', addr, nr)", "postcode": "zip",
                   "country": "land", "identifiers": {"crm_account_id": "acct"}}}]}
    return parse_config(doc, tmp_path / "c.yaml").sources[0]


def test_person_records_from_bronze(spark: SparkSession, tmp_path: Path) -> None:
    t1, t2 = dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1)
    bronze = spark.createDataFrame([
        ("C1", "PETER", "schmidt", "Pete.Schmidt@Web.de", "0151 23456789", "12.03.1984", "Hauptstraße", "5",
         "10115", "Deutschland", "A1", "C1", t1, t1, "h1"),
        ("C1", "Peter", "Schmidt", "peter@new.de", "0151 23456789", "1984-03-12", "Hauptstr.", "5", "10115",
         "DE", "A1", "C1", t2, t2, "h2"),
        ("C2", "Anna", "Weber", "not-mail", "12", "1984-02-30", None, None, None, None, None, "C2", t1, t1, "h3"),
    ], BRONZE)
    rows = {r["record_key"]: r for r in person_records(bronze, source(tmp_path), "DE").collect()}
    assert set(rows) == {"crm:C1", "crm:C2"}
    peter = rows["crm:C1"]
    assert (peter["first_name"], peter["last_name"], peter["email"], peter["phone_e164"]) == (
        "Peter", "Schmidt", "peter@new.de", "+4915123456789"), "the latest version wins"
    assert (peter["date_of_birth"], peter["street_key"], peter["country"], peter["source_priority"]) == (
        dt.date(1984, 3, 12), "hauptstr 5", "DE", 10)
    assert peter["identifiers"] == {"crm_account_id": "A1"} and peter["dq_flags"] == []
    anna = rows["crm:C2"]
    assert anna["email"] is None and anna["phone_e164"] is None and anna["date_of_birth"] is None
    assert sorted(anna["dq_flags"]) == ["invalid_dob", "invalid_email", "invalid_phone"]
    assert anna["identifiers"] == {}
    assert list(person_records(bronze, source(tmp_path), "DE").columns) == list(COLUMNS)
    assert_df_equality(person_records(bronze, source(tmp_path), "DE", phones_here=True).orderBy("record_key"),
                       person_records(bronze, source(tmp_path), "DE").orderBy("record_key"))


def test_full_names_are_split_when_parts_are_missing(spark: SparkSession, tmp_path: Path) -> None:
    doc = {"warehouse": "w", "sources": [{"name": "shop", "kind": "person", "format": "parquet", "path": "x",
                                          "id": "no", "fields": {"full_name": "name", "social_handle": "h"}}]}
    shop = parse_config(doc, tmp_path / "c.yaml").sources[0]
    t = dt.datetime(2024, 1, 1)
    bronze = spark.createDataFrame([("1", "Schmidt, Peter", "PSchmidt", "1", t, t, "h")],
                                   "no string, name string, h string, _record_id string, _updated_at timestamp, "
                                   "_ingested_at timestamp, _record_hash string")
    row = person_records(bronze, shop, "DE").first()
    assert (row["first_name"], row["last_name"], row["full_name"], row["social_handle"]) == (
        "Peter", "Schmidt", "Schmidt, Peter", "@pschmidt")


def test_a_tombstone_deletes_the_versions_before_it_and_not_a_newer_one(spark: SparkSession, tmp_path: Path) -> None:
    day = [dt.datetime(2024, 1, d) for d in range(1, 6)]
    rows = [("C1", "C1", day[1], day[1]),   # dated tombstone after it: deleted
            ("C2", "C2", day[3], day[3]),   # tombstone dated before this newest version: stays
            ("C3", "C3", None, day[1]),     # no times: the tombstone landed after it: deleted
            ("C4", "C4", day[1], day[1])]   # no tombstone
    bronze = spark.createDataFrame(
        [(c, "Ann", "Lee", None, None, None, None, None, None, None, None, r, at, landed, c) for c, r, at, landed in rows],
        BRONZE)
    stones = spark.createDataFrame([("C1", day[2], day[4]), ("C2", day[2], day[4]), ("C3", None, day[2]), ("C9", None, day[2])],
                                   "_record_id string, _updated_at timestamp, _ingested_at timestamp")
    kept = person_records(bronze, source(tmp_path), "DE", stones).select("record_key").collect()
    assert sorted(r.record_key for r in kept) == ["crm:C2", "crm:C4"]

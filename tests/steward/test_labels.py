"""Label files, the labels in force, and conflicts between must- and cannot-links."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.errors import C360Error
from c360.frames import local_frame
from c360.steward import labels
from c360.steward.labels import Label

HEADER = "source_l,source_record_id_l,source_r,source_record_id_r,label,note\n"


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "review.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_a_review_file_gives_its_labelled_rows_in_key_order(tmp_path: Path) -> None:
    found = labels.read_file(_file(tmp_path, "crm,2,shop,1,Match,same phone\ncrm,3,shop,4,,\nshop,9,crm,3,unsure,\n"))
    assert found == [Label("crm:2", "shop:1", "match", "same phone", 2), Label("crm:3", "shop:9", "unsure", "", 4)]


@pytest.mark.parametrize(("body", "message"), [
    ("crm,1,shop,1,maybe,\n", r"review.csv line 2: unknown label 'maybe'"),
    ("crm,1,crm,1,match,\n", r"line 2: a record cannot be paired with itself \(crm:1\)"),
    ("crm,1,shop,1,match,\nshop,1,crm,1,non-match,\n", r"line 3: shop:1 and crm:1 are labelled non-match here and match on line 2"),
])
def test_a_bad_review_file_is_refused_naming_the_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(C360Error, match=message):
        labels.read_file(_file(tmp_path, body))


def test_a_file_without_the_pair_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(C360Error, match="has no column source_l"):
        labels.read_file(path)


def test_a_chain_of_must_links_across_a_cannot_link_is_a_conflict() -> None:
    found = labels.conflicts([("a", "b"), ("b", "c"), ("x", "y")], [("a", "c"), ("a", "x")])
    assert found == [{"cannot_link": ["a", "c"], "must_links": [["a", "b"], ["b", "c"]]}]


def test_the_newest_label_of_a_pair_is_in_force_unless_its_records_changed(spark: SparkSession) -> None:
    records = local_frame(spark, [("s:1", "Ann", "Lee"), ("s:2", "Anne", "Lee"), ("s:3", "Bob", "Ray"),
                                  ("s:4", "Bo", "Ray")], "record_key string, first_name_key string, last_name_key string")
    now = {r["record_key"]: r["identity"] for r in labels.identities(records).collect()}
    then = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = datetime(2026, 2, 1, tzinfo=timezone.utc)
    given = labels.rows(spark, [Label.of("s:1", "s:2", "non-match")], now, "review", "ann", "f1.csv", then).unionByName(
        labels.rows(spark, [Label.of("s:1", "s:2", "match")], now, "review", "ann", "f2.csv", later)).unionByName(
        labels.rows(spark, [Label.of("s:3", "s:4", "match")], {**now, "s:4": "as it was"}, "review", "ann", "f1.csv", then))
    found = labels.in_force(given, records)
    pair = "record_key_l string, record_key_r string"
    assert_df_equality(found.must, local_frame(spark, [("s:1", "s:2")], pair), ignore_nullable=True)
    assert found.cannot.isEmpty()
    assert [(r.record_key_l, r.record_key_r) for r in found.stale.collect()] == [("s:3", "s:4")]

"""Finding the people erasure requests name, on small inline frames."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.privacy.subjects import Request, candidates, customers_named, requests_frame, subject_events

IDS = "record_key string, customer_id string"
RECORDS = ("record_key string, email_key string, phone_e164 string, login_id string, loyalty_id string, "
           "social_handle string, cookie_id string, identifiers map<string,string>")


def _records(spark: SparkSession):
    return spark.createDataFrame([
        ("crm:1", "ann@example.com", "+4930111111", None, None, None, "ck-1", {}),
        ("shop:7", "family@example.com", None, "ann7", None, None, None, {}),
        ("shop:8", "family@example.com", None, None, None, None, None, {}),
    ], RECORDS)


def test_each_request_finds_its_customers_and_merged_ids_are_followed(spark: SparkSession) -> None:
    identity = spark.createDataFrame([("crm:1", "C1"), ("shop:7", "C1"), ("shop:8", "C2")], IDS)
    redirects = spark.createDataFrame([("C0", "C1", "merge"), ("C9", "C2", "split")],
                                      "old_customer_id string, new_customer_id string, kind string")
    asked = requests_frame(spark, [
        Request("by-email", "email", " Ann@Example.com"), Request("by-phone", "phone", "030 111111"),
        Request("by-record", "record", "8", "shop"), Request("merged", "customer_id", "C0"),
        Request("split", "customer_id", "C9"), Request("family", "email", "family@example.com"),
        Request("nobody", "email", "zed@example.com")])
    found = customers_named(asked, identity, _records(spark), redirects, "DE")
    expected = spark.createDataFrame([("by-email", "C1"), ("by-phone", "C1"), ("by-record", "C2"), ("merged", "C1"),
                                      ("family", "C1"), ("family", "C2")], "request string, customer_id string")
    assert_df_equality(found, expected, ignore_row_order=True, ignore_nullable=True)


def test_events_are_the_timelines_and_loose_ones_only_the_subject_identifies(spark: SparkSession) -> None:
    subject = _records(spark).where("record_key = 'crm:1'")
    others = _records(spark).where("record_key <> 'crm:1'")
    timeline = spark.createDataFrame([("C1", "shop", "o1"), ("C2", "shop", "o2")],
                                     "customer_id string, source string, event_id string")
    events = spark.createDataFrame([
        ("shop", "o1", None, None, None, None, None, None, None, {}),
        ("shop", "o2", None, None, None, None, None, None, None, {}),
        ("web", "w1", None, None, None, None, None, None, "ck-1", {}),          # the subject's cookie
        ("support", "t1", "ann@example.com", None, None, None, None, None, None, {}),  # their e-mail, unattributed
        ("support", "t2", "family@example.com", None, None, None, None, None, None, {}),  # someone else holds it
    ], "source string, event_id string, email_key string, phone string, phone_local string, login_id string, "
       "loyalty_id string, social_handle string, cookie_id string, identifiers map<string,string>")
    customers = spark.createDataFrame([("C1",)], "customer_id string")
    got = subject_events(customers, timeline, events, subject, others)
    expected = spark.createDataFrame([("shop", "o1"), ("web", "w1"), ("support", "t1")], "source string, event_id string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_candidates_are_scored_neighbours_outside_the_customer(spark: SparkSession) -> None:
    scored = spark.createDataFrame([("crm:1", "shop:7", 0.99), ("crm:1", "shop:8", 0.6), ("shop:8", "web:1", 0.9),
                                    ("crm:1", "web:2", 0.4)],
                                   "record_key_l string, record_key_r string, match_probability double")
    subject = spark.createDataFrame([("crm:1",), ("shop:7",)], "record_key string")
    identity = spark.createDataFrame([("crm:1", "C1"), ("shop:7", "C1"), ("shop:8", "C2"), ("web:2", "C3")], IDS)
    got = candidates(scored, subject, identity)
    expected = spark.createDataFrame([("shop:8", "crm:1", 0.6, "C2")],
                                     "candidate_record string, subject_record string, match_probability double, "
                                     "candidate_customer string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)

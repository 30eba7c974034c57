"""Consent: the most recent explicit statement per channel wins; silence never revokes; a withdrawn tracking
consent keeps later clicks off the timeline (in the runs: tests/silver/test_incremental.py, on both engines,
incremental and computed whole); who may be contacted per channel."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.gold.consent import consent_flags, contact_permissions, withheld_tracking

SCHEMA = ("customer_id string, record_key string, source string, source_priority int, updated_at timestamp, "
          "consent_email boolean, consent_phone boolean, consent_tracking boolean")


def test_newest_statement_wins_and_null_is_no_statement(spark: SparkSession) -> None:
    rows = [("c1", "crm:1", "crm", 10, datetime(2023, 1, 1), True, None, None),
            ("c1", "shop:1", "shop", 20, datetime(2025, 1, 1), False, None, None),
            ("c1", "loy:1", "loyalty", 30, datetime(2026, 1, 1), None, True, None),   # says nothing on e-mail
            ("c2", "crm:2", "crm", 10, datetime(2024, 1, 1), True, None, None),
            ("c2", "shop:2", "shop", 20, datetime(2024, 1, 1), False, None, None),   # same time: priority
            ("c3", "crm:3", "crm", 10, None, None, None, None)]
    out = consent_flags(spark.createDataFrame(rows, SCHEMA)).select(
        "customer_id", "consent_email", "consent_phone", "consent_tracking",
        F.col("consent_lineage")["consent_email"]["record_key"].alias("email_from")).orderBy("customer_id")
    want = spark.createDataFrame([("c1", False, True, None, "shop:1"), ("c2", True, None, None, "crm:2"),
                                  ("c3", None, None, None, None)],
                                 "customer_id string, consent_email boolean, consent_phone boolean, "
                                 "consent_tracking boolean, email_from string")
    assert_df_equality(out, want, ignore_nullable=True)


def test_consent_values_are_parsed(spark: SparkSession) -> None:
    from c360.silver.standardise import consent

    df = spark.createDataFrame([(v,) for v in ("Y", "yes", "TRUE", "1", "opt-in", "N", "no", "false", "0", "", None, "maybe")],
                               "v string")
    assert [r[0] for r in df.select(consent(F.col("v"))).collect()] == [True] * 5 + [False] * 4 + [None] * 3


EVENTS = "customer_id string, source string, event_id string, occurred_at timestamp, channel string"
STATEMENTS = "customer_id string, updated_at timestamp, consent_tracking boolean"


def test_a_withdrawal_withholds_later_tracking_events_only(spark: SparkSession) -> None:
    records = spark.createDataFrame([
        ("c1", datetime(2025, 1, 1), True), ("c1", datetime(2025, 6, 1), False),   # withdrawn on 1 June
        ("c2", datetime(2025, 3, 1), False), ("c2", datetime(2025, 9, 1), True),   # withdrawn, given again
        ("c3", datetime(2025, 5, 1), True), ("c3", datetime(2025, 5, 1), False),   # a tie: no wins
        ("c4", None, False),                                                        # no time: from the start
        ("c5", datetime(2025, 1, 1), None)], STATEMENTS)                            # silence
    events = spark.createDataFrame([
        ("c1", "web", "w1", datetime(2025, 5, 31), "web"), ("c1", "web", "w2", datetime(2025, 6, 2), "web"),
        ("c1", "shop", "o1", datetime(2025, 7, 1), "shop"),                         # an order: no tracking
        ("c2", "web", "w3", datetime(2025, 4, 1), "web"), ("c2", "web", "w4", datetime(2025, 10, 1), "web"),
        ("c3", "web", "w5", datetime(2025, 5, 1), "web"), ("c4", "web", "w6", datetime(2020, 1, 1), "web"),
        ("c5", "web", "w7", datetime(2025, 2, 1), "web")], EVENTS)
    out = withheld_tracking(events, records, ["web"]).orderBy("event_id")
    want = spark.createDataFrame([("web", "w2"), ("web", "w3"), ("web", "w5"), ("web", "w6")],
                                 "source string, event_id string")
    assert_df_equality(out, want, ignore_nullable=True)
    assert withheld_tracking(events, records, []).isEmpty()


def test_contact_permissions_need_consent_and_an_address(spark: SparkSession) -> None:
    lineage = "map<string,struct<source:string,record_key:string,updated_at:timestamp,rule:string>>"
    stated = {"consent_email": ("shop", "shop:1", datetime(2025, 1, 1), "most_recent_statement"),
              "consent_phone": ("crm", "crm:2", datetime(2024, 1, 1), "most_recent_statement")}
    profiles = spark.createDataFrame([
        ("c1", "a@b.de", "+4930123456", True, True, stated), ("c2", None, "+4930999999", True, False, stated),
        ("c3", "c@d.de", None, None, None, {})],
        f"customer_id string, email string, phone string, consent_email boolean, consent_phone boolean, "
        f"consent_lineage {lineage}")
    out = contact_permissions(profiles).orderBy("customer_id", "channel")
    want = spark.createDataFrame([
        ("c1", "email", "a@b.de", datetime(2025, 1, 1), "shop", "shop:1"),
        ("c1", "phone", "+4930123456", datetime(2024, 1, 1), "crm", "crm:2")],
        "customer_id string, channel string, address string, consented_at timestamp, consent_source string, "
        "consent_record_key string")
    assert_df_equality(out, want, ignore_nullable=True)

"""Consent: the most recent explicit statement per channel wins; silence never revokes."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.gold.consent import consent_flags

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

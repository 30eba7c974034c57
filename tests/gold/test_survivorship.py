"""Survivorship rules one by one, with ties and nulls: which record's value wins, and the lineage."""

from __future__ import annotations

from datetime import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.config import GOLDEN_FIELDS, GoldSettings, SurvivorshipRule
from c360.gold.survivorship import golden_values, units

SCHEMA = ("customer_id string, record_key string, source string, source_priority int, updated_at timestamp, "
          "email string, email_key string, first_name string, first_name_key string, last_name string, "
          "last_name_key string, street string, street_key string, postcode string, postcode_key string, city string, "
          "city_key string, phone_e164 string")
T1, T2, T3 = datetime(2024, 1, 1), datetime(2025, 1, 1), datetime(2026, 1, 1)


def record(customer: str, key: str, source: str, priority: int, updated: datetime | None, **fields: str | None) -> tuple:
    names = [c.split()[0] for c in SCHEMA.split(", ")][5:]
    return (customer, key, source, priority, updated, *[fields.get(n) for n in names])


def person_rows(spark: SparkSession, rows: list[tuple]):  # noqa: ANN201
    """The rows as person records: canonical fields the test leaves out are null."""
    df = spark.createDataFrame(rows, SCHEMA)
    for name in (*GOLDEN_FIELDS, "company_key"):
        if name not in df.columns and name != "phone":
            df = df.withColumn(name, F.lit(None).cast("date" if name == "date_of_birth" else "string"))
    return df


def golden(spark: SparkSession, rows: list[tuple], **rules: SurvivorshipRule):  # noqa: ANN201
    return golden_values(person_rows(spark, rows), GoldSettings(survivorship=rules))


def picked(df, field: str):  # noqa: ANN001, ANN201
    return df.select("customer_id", field, F.col("lineage")[field]["record_key"].alias("from_record"),
                     F.col("lineage")[field]["rule"].alias("rule")).orderBy("customer_id")


def expected(spark: SparkSession, rows: list[tuple], field: str):  # noqa: ANN201
    return spark.createDataFrame(rows, f"customer_id string, {field} string, from_record string, rule string")


def test_source_priority_uses_the_sources_priority_and_skips_nulls(spark: SparkSession) -> None:
    rows = [record("c1", "shop:1", "shop", 20, T3, email="new@shop.de"),
            record("c1", "crm:1", "crm", 10, T1, email="old@crm.de"),
            record("c2", "crm:2", "crm", 10, T3, email=None),        # null: the next source wins
            record("c2", "shop:2", "shop", 20, T1, email="  "),      # blank counts as null too
            record("c2", "loy:2", "loyalty", 30, T1, email="b@loy.de")]
    out = picked(golden(spark, rows, email=SurvivorshipRule(rule="source_priority")), "email")
    assert_df_equality(out, expected(spark, [("c1", "old@crm.de", "crm:1", "source_priority"),
                                             ("c2", "b@loy.de", "loy:2", "source_priority")], "email"))


def test_source_priority_with_an_ordered_list_overrides_priorities(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T1, email="a@crm.de"), record("c1", "shop:1", "shop", 20, T1, email="a@shop.de"),
            record("c2", "crm:2", "crm", 10, T1, email="b@crm.de"), record("c2", "loy:2", "loyalty", 30, T1, email="b@loy.de")]
    out = picked(golden(spark, rows, email=SurvivorshipRule(rule="source_priority", sources=["shop"])), "email")
    # c2 has no shop record: unlisted sources follow in priority order
    assert_df_equality(out, expected(spark, [("c1", "a@shop.de", "shop:1", "source_priority"),
                                             ("c2", "b@crm.de", "crm:2", "source_priority")], "email"))


def test_first_non_null_takes_only_listed_sources_in_list_order(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T1, email=None), record("c1", "loy:1", "loyalty", 30, T1, email="a@loy.de"),
            record("c1", "shop:1", "shop", 20, T3, email="a@shop.de"),
            record("c2", "shop:2", "shop", 20, T1, email="b@shop.de")]
    rule = SurvivorshipRule(rule="first_non_null", sources=["crm", "loyalty"])
    out = picked(golden(spark, rows, email=rule), "email")
    # c2 has no value in a listed source: no golden value, no lineage entry
    assert_df_equality(out, expected(spark, [("c1", "a@loy.de", "loy:1", "first_non_null"),
                                             ("c2", None, None, None)], "email"), ignore_nullable=True)


def test_most_recent_wins_and_a_tie_falls_to_priority_then_record_key(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T1, email="old@x.de"), record("c1", "shop:1", "shop", 20, T3, email="new@x.de"),
            record("c2", "shop:2", "shop", 20, T2, email="shop@x.de"), record("c2", "crm:2", "crm", 10, T2, email="crm@x.de"),
            record("c3", "crm:3b", "crm", 10, T2, email="b@x.de"), record("c3", "crm:3a", "crm", 10, T2, email="a@x.de"),
            record("c4", "crm:4", "crm", 10, None, email="undated@x.de"), record("c4", "loy:4", "loyalty", 30, T1, email="dated@x.de")]
    out = picked(golden(spark, rows, email=SurvivorshipRule(rule="most_recent")), "email")
    assert_df_equality(out, expected(spark, [("c1", "new@x.de", "shop:1", "most_recent"),
                                             ("c2", "crm@x.de", "crm:2", "most_recent"),
                                             ("c3", "a@x.de", "crm:3a", "most_recent"),
                                             ("c4", "dated@x.de", "loy:4", "most_recent")], "email"))


def test_most_frequent_compares_match_keys_and_ties_fall_to_priority(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T3, email="Peter@x.de", email_key="peter@x.de"),
            record("c1", "shop:1", "shop", 20, T1, email="pete@x.de", email_key="pete@x.de"),
            record("c1", "loy:1", "loyalty", 30, T1, email="PETE@x.de", email_key="pete@x.de"),
            record("c2", "shop:2", "shop", 20, T3, email="a@x.de", email_key="a@x.de"),
            record("c2", "crm:2", "crm", 10, T1, email="b@x.de", email_key="b@x.de")]
    out = picked(golden(spark, rows, email=SurvivorshipRule(rule="most_frequent")), "email")
    assert_df_equality(out, expected(spark, [("c1", "pete@x.de", "shop:1", "most_frequent"),
                                             ("c2", "b@x.de", "crm:2", "most_frequent")], "email"))


def test_longest_prefers_the_most_complete_value(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T3, first_name="Pete"),
            record("c1", "shop:1", "shop", 20, T1, first_name="Peter"),
            record("c2", "crm:2", "crm", 10, T1, first_name="Ann"), record("c2", "shop:2", "shop", 20, T3, first_name="Ann")]
    out = picked(golden(spark, rows, name=SurvivorshipRule(rule="longest")), "first_name")
    assert_df_equality(out, expected(spark, [("c1", "Peter", "shop:1", "longest"), ("c2", "Ann", "crm:2", "longest")],
                                     "first_name"))


def test_a_group_survives_from_one_record(spark: SparkSession) -> None:
    """The address comes whole from the winning record, never street from one and city from another."""
    rows = [record("c1", "shop:1", "shop", 20, T1, street="Hauptstr. 5", postcode="10115", city=None),
            record("c1", "crm:1", "crm", 10, T3, street=None, postcode="80331", city="München")]
    out = golden(spark, rows, address=SurvivorshipRule(rule="source_priority", sources=["shop"]))
    row = out.first()
    assert (row.street, row.postcode, row.city) == ("Hauptstr. 5", "10115", None)
    assert row.lineage["street"]["record_key"] == row.lineage["postcode"]["record_key"] == "shop:1"
    assert "city" not in row.lineage


def test_phone_comes_from_e164(spark: SparkSession) -> None:
    rows = [record("c1", "crm:1", "crm", 10, T1, phone_e164="+4930123456")]
    assert golden(spark, rows).first().phone == "+4930123456"


def test_every_golden_field_is_in_exactly_one_unit() -> None:
    fields = [f for u in units(GoldSettings()) for f in u.fields]
    assert len(fields) == len(set(fields)) == 17


def test_config_names_the_bad_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="survivorship.street: the field is in group 'address'"):
        GoldSettings(survivorship={"street": SurvivorshipRule(rule="most_recent")})
    with pytest.raises(ValidationError, match="first_non_null needs 'sources'"):
        SurvivorshipRule(rule="first_non_null")

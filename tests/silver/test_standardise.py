"""Each standardisation rule on small inline DataFrames."""

from __future__ import annotations

import datetime as dt

from chispa import assert_column_equality, assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.silver import standardise as std


def pairs(spark: SparkSession, data: list[tuple], fn, schema: str = "v string, expected string"):  # noqa: ANN001, ANN201
    df = spark.createDataFrame(data, schema)
    return df.withColumn("got", fn(F.col("v")))


def test_fold_and_name_keys(spark: SparkSession) -> None:
    df = pairs(spark, [("Müller", "muller"), ("  GROSSMANN ", "grossmann"), ("Großmann", "grossmann"),
                       ("Zoë-Ann O'Neil", "zoeannoneil"), (None, None)], std.name_key)
    assert_column_equality(df, "got", "expected")


def test_display_names(spark: SparkSession) -> None:
    df = pairs(spark, [("PETER", "Peter"), ("peter  paul", "Peter Paul"), ("McDonald", "McDonald"),
                       ("  ", None)], std.display_name)
    assert_column_equality(df, "got", "expected")


def test_full_name_split(spark: SparkSession) -> None:
    df = spark.createDataFrame([("Schmidt,  Peter",), (" Peter Schmidt",), ("Anna Maria   Weber",), ("Cher",)], "v string")
    df = df.select(std.clean_text(F.col("v")).alias("v"))
    first, last = std.split_full_name(F.col("v"))
    got = [(r[0], r[1]) for r in df.select(first, last).collect()]
    assert got == [("Peter", "Schmidt"), ("Peter", "Schmidt"), ("Anna", "Weber"), ("Cher", None)]


def test_email_clean_and_key(spark: SparkSession) -> None:
    df = pairs(spark, [(" Pete.Schmidt+shop@GMail.com", "peteschmidt@gmail.com"),
                       ("p.schmidt+x@web.de", "p.schmidt@web.de"), ("p.s@googlemail.com", "ps@gmail.com"),
                       ("not-an-email", None), ("a@b", None)], std.email_key)
    assert_column_equality(df, "got", "expected")


def test_phone_e164_with_default_region(spark: SparkSession) -> None:
    df = spark.createDataFrame([("0151/23456789", "DE", "+4915123456789"), ("+49 151 23456789", "GB", "+4915123456789"),
                                ("0049 15123456789", None, "+4915123456789"), ("(212) 055-0199", "US", None),
                                ("(212) 362-4667", "US", "+12123624667"), ("07400 123456", "GB", "+447400123456"), ("07700 900123", "GB", None),
                                ("12", "DE", None), (None, "DE", None)], "v string, c string, expected string")
    df = df.withColumn("got", std.phone_e164(F.col("v"), F.col("c")))
    assert_column_equality(df, "got", "expected")


def test_phones_parsed_here_agree_with_the_workers(spark: SparkSession) -> None:
    df = spark.createDataFrame([("0151/23456789", "DE"), ("0151/23456789", "DE"), ("0151/23456789", "GB"),
                                ("0049 15123456789", None), ("(212) 362-4667", "US"), ("12", "DE"), ("  ", "DE"),
                                (None, "DE"), (None, None)], "v string, c string")
    workers = df.withColumn("got", std.phone_e164(F.col("v"), F.col("c")))
    here = std.with_phones_parsed_here(df, "v", F.col("c"), "got")
    assert_df_equality(here, workers, ignore_row_order=True)


def test_dates_of_birth_and_flags(spark: SparkSession) -> None:
    today = F.lit("2026-11-23").cast("date")
    df = spark.createDataFrame([("1984-03-12",), ("12.03.1984",), ("12/03/1984",), ("1984-02-30",), ("3000-01-01",),
                                ("1850-01-01",), ("",), (None,)], "v string")
    value, flag = std.date_of_birth(F.col("v"), today)
    got = [(r[0], r[1]) for r in df.select(value, flag).collect()]
    d = dt.date(1984, 3, 12)
    assert got == [(d, None), (d, None), (d, None), (None, "invalid_dob"), (None, "invalid_dob"),
                   (None, "invalid_dob"), (None, None), (None, None)]


def test_country_codes(spark: SparkSession) -> None:
    df = spark.createDataFrame([("Germany", "DE"), ("Deutschland", "DE"), ("DEU", "DE"), ("de", "DE"), ("U.S.", "US"),
                                ("United Kingdom", "GB"), ("UK", "GB"), ("Atlantis", None)], "v string, expected string")
    got = std.with_country_code(df, "v", "got")
    assert_column_equality(got, "got", "expected")


def test_postcode_and_street_keys(spark: SparkSession) -> None:
    df = pairs(spark, [("cr3 5py", "CR35PY"), ("10115", "10115"), (" ", None)], std.postcode_key)
    assert_column_equality(df, "got", "expected")
    streets = pairs(spark, [("Hauptstraße 5", "hauptstr 5"), ("Hauptstr. 5", "hauptstr 5"), ("HAUPTSTRASSE 5", "hauptstr 5"),
                            ("12 Main Street", "12 main st"), ("12 Main St.", "12 main st"), ("Wilson Creek 4", "wilson crk 4")],
                    std.street_key)
    assert_column_equality(streets, "got", "expected")


def test_social_handles_have_one_form(spark: SparkSession) -> None:
    df = pairs(spark, [("@PSchmidt", "@pschmidt"), (" pschmidt ", "@pschmidt"), ("@@pschmidt", "@pschmidt"),
                       ("@", None), ("", None), (None, None)], std.social_handle)
    assert_column_equality(df, "got", "expected")


def test_a_number_without_a_country_code_keeps_its_last_digits(spark: SparkSession) -> None:
    rows = spark.createDataFrame([("(202) 258-8706",), ("+1 202 258 8706",), ("0049 30 1234567",), ("12 34",), (None,)],
                                 "phone string")
    found = [r[0] for r in rows.select(std.phone_local(F.col("phone"))).collect()]
    assert found == ["22588706", None, None, None, None]
    assert [r[0] for r in spark.createDataFrame([("+12022588706",), ("+1234",)], "p string")
            .select(std.e164_local(F.col("p"))).collect()] == ["22588706", None]

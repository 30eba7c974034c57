"""Training: the sample, the pairs a model may compare, and estimates that never crash: the prior falls back
to a rule the fields allow, and data that supports no estimate says what is missing."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession

from c360.silver.linkage import training
from c360.silver.linkage.backends.base import LinkageBackend
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.spec import build, splink_settings
from tests.silver.linkage.test_spec import FEBRL, config

SCHEMA = ("record_key string, source string, first_name_key string, last_name_key string, social_handle string, "
          "email_key string, phone_e164 string, date_of_birth date, street_key string, city_key string, "
          "postcode_key string, company_key string")


def test_training_sample_caps_the_records_and_is_repeatable(spark: SparkSession) -> None:
    keys = spark.range(20_000).withColumnRenamed("id", "record_key")
    assert training.training_sample(keys, 50_000, seed=42) is keys, "small inputs train on every record"
    first = training.training_sample(keys, 2_000, seed=42)
    second = training.training_sample(keys, 2_000, seed=42)
    assert 1_700 <= first.count() <= 2_300
    assert sorted(r.record_key for r in first.collect()) == sorted(r.record_key for r in second.collect())


def test_pairs_inside_a_no_duplicates_source_are_not_counted() -> None:
    assert training.allowed_pairs(10, {}) == 45
    assert training.allowed_pairs(10, {"a": 5, "b": 5}) == 25, "linking two files of five: 5 x 5 pairs"


def _people(spark: SparkSession, rows: list[tuple]):  # noqa: ANN202
    full = [(f"crm:{i}", "crm", f, l, None, None, None, d, s, "sydney", p, None) for i, (f, l, d, s, p) in enumerate(rows)]
    return linkage_input(spark.createDataFrame(full, SCHEMA)).localCheckpoint()


def test_without_email_or_phone_the_prior_comes_from_names_and_birth_dates(spark: SparkSession, backend: LinkageBackend) -> None:
    born = date(1980, 3, 14)
    keys = _people(spark, [("peter", "smith", born, "5 main st", "2000"), ("peter", "smith", born, "5 main st", "2000"),
                           ("anna", "jones", date(1990, 1, 2), "7 high st", "2010"), ("tom", "brown", None, None, "2020")])
    spec = build(FEBRL, config())
    linker = backend.linker(keys, splink_settings(spec))
    result = training.TrainingResult()
    assert training.estimate_prior(linker, spec, 0.7, 6, result)
    assert result.prior_rules == ["l.first_name_key = r.first_name_key and l.last_name_key = r.last_name_key "
                                  "and l.date_of_birth = r.date_of_birth"]
    assert abs(result.prior - 1 / 0.7 / 6) < 1e-9


def test_data_with_no_near_certain_pair_says_what_is_missing(spark: SparkSession, backend: LinkageBackend) -> None:
    keys = _people(spark, [("peter", "smith", date(1980, 3, 14), "5 main st", "2000"),
                           ("anna", "jones", date(1990, 1, 2), "7 high st", "2010"), ("tom", "brown", None, None, "2020")])
    spec = build(FEBRL, config())
    linker = backend.linker(keys, splink_settings(spec))
    result = training.train(linker, spec, training.TrainingOptions(), records=3, unique_source_sizes={})
    assert result.problem is not None and "silver.linkage.prior_rules" in result.problem
    assert "first_name_key" in result.problem, "names the rules it tried"

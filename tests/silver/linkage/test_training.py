"""Training: the sample, the pairs a model may compare, and estimates that never crash: the prior falls back
to a rule the fields allow, and data that supports no estimate says what is missing."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.datagen.crm_pairs import crm_pairs
from c360.silver.linkage import comparisons as comps, training
from c360.silver.linkage.backends.duckdb import DuckDBBackend
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


def _crm_keys(spark: SparkSession, records: int):  # noqa: ANN202
    """Match keys of the independent generator's two CRM files (names, birth dates, addresses)."""
    frames, _ = crm_pairs(records, seed=11)
    rows = []
    for source, frame in frames.items():
        born = pd.to_datetime(frame.birth_date, format="mixed", dayfirst=True, errors="coerce")
        for row, dob in zip(frame.itertuples(), born, strict=True):
            def key(text: object) -> str | None:
                letters = "".join(ch for ch in str(text or "").lower() if ch.isalpha())
                return letters or None
            rows.append((f"{source}:{row.id}", source, key(row.first_name), key(row.last_name), None, None, None,
                         None if pd.isna(dob) else dob.date(), str(row.street or "").lower() or None, key(row.city),
                         str(row.postcode or "") or None, None))
    return linkage_input(spark.createDataFrame(rows, SCHEMA)).localCheckpoint()


def _levels(model: dict) -> dict[tuple[str, str], tuple[float, float]]:
    return {(c["output_column_name"], lvl["label_for_charts"]): (lvl.get("m_probability"), lvl.get("u_probability"))
            for c in model["comparisons"] for lvl in c["comparison_levels"] if not lvl.get("is_null_level")}


@pytest.mark.slow
def test_em_over_agreement_patterns_estimates_what_splinks_em_over_every_pair_does(spark: SparkSession,
                                                                                   tmp_path: Path) -> None:
    keys = _crm_keys(spark, 6000)
    fill = {**FEBRL, "social_handle": 0.5}  # a handle comparison whose levels carry fixed u values
    spec = build(fill, config())
    models = {}
    with DuckDBBackend(spark, 2, "1GB", scratch=str(tmp_path)) as backend:
        for patterns in (True, False):
            linker = backend.linker(keys, splink_settings(spec))
            options = training.TrainingOptions(em_patterns=patterns, em_max_pairs=None if not patterns else 1e6)
            result = training.train(linker, spec, options, records=keys.count(), unique_source_sizes={})
            assert result.problem is None
            models[patterns] = _levels(linker.misc.save_model_to_json())
    fast, full = models[True], models[False]
    compared = 0
    for level, (m_full, u_full) in full.items():
        m_fast, u_fast = fast[level]
        assert u_fast == u_full, f"{level}: u is estimated once, before EM, and fixed u values stay"
        if isinstance(m_full, float) and m_full >= 0.01:
            # the same estimate up to the weight term frequencies add to a common value's agreement
            assert abs(math.log2(m_fast / m_full)) < 0.5, f"{level}: m {m_fast:.4f} against Splink's {m_full:.4f}"
            compared += 1
    assert compared >= 8
    assert fast[("handle", "handle spells the name")][1] == comps.HANDLE_SPELLS_NAME_U
    assert fast[("handle", "handle spells the name, full names equal")][1] == comps.HANDLE_SPELLS_EQUAL_NAME_U


def test_a_session_claiming_more_matches_than_the_prior_allows_is_rerun_at_the_share_it_allows(
        spark: SparkSession, tmp_path: Path) -> None:
    keys = _crm_keys(spark, 2000)
    spec = build(FEBRL, config())
    with DuckDBBackend(spark, 2, "1GB", scratch=str(tmp_path)) as backend:
        linker = backend.linker(keys, splink_settings(spec))
        free = training.train(linker, spec, training.TrainingOptions(), records=keys.count(), unique_source_sizes={})
        assert free.problem is None and set(free.em_sessions.values()) == {"estimated"}
        free_m = _levels(linker.misc.save_model_to_json())

        linker = backend.linker(keys, splink_settings(spec))
        prior = linker._settings_obj._probability_two_random_records_match  # noqa: SLF001
        strict = training.TrainingOptions(max_match_excess=1e-9)
        result = training.train(linker, spec, strict, records=keys.count(), unique_source_sizes={})
        assert result.problem is None
        assert all(s.startswith("estimated with the share of matches fixed at") for s in result.em_sessions.values())
        sessions = linker._em_training_sessions  # noqa: SLF001
        assert len(sessions) == len(result.em_sessions), "the first answer of each session is forgotten"
        # the share each re-run is fixed at, counted without the helpers training uses: every pair of the n
        # records may match, and a self-join on the session's rule counts the pairs it blocks
        n = keys.count()
        for session in sessions:
            rule = session._blocking_rule_for_training.blocking_rule_sql  # noqa: SLF001
            blocked = keys.alias("l").join(keys.alias("r"), F.expr(f"l.record_key < r.record_key and ({rule})")).count()
            share = min(result.prior * (n * (n - 1) / 2) / blocked, 0.5)
            assert session.core_model_settings.probability_two_random_records_match == pytest.approx(share, rel=0.01), rule
        trained = linker.misc.save_model_to_json()
        assert trained["probability_two_random_records_match"] == pytest.approx(result.prior), "the prior is restored"
        assert prior is not None
        assert _levels(trained) != free_m, "m comes from the fixed-share sessions"

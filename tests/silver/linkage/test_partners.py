"""Blocking partners: which records an incremental run hands Splink, and that the pairs it scores from them
are those it would score from every record."""

from __future__ import annotations

from pathlib import Path

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession

from c360.silver.linkage import prediction, term_frequencies
from c360.silver.linkage.backends.base import PARTNERS_VIEW, LinkageBackend
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.partners import equalities, probes, sql
from tests.silver.linkage.conftest import stored_spec
from tests.silver.linkage.test_prediction import _people

KEYS = "record_key string, email_key string, handle_block string, name_block string"


def test_rules_are_read_as_their_equalities() -> None:
    assert equalities(("first_name_key", "last_name_key")) == [("first_name_key", "first_name_key"),
                                                                ("last_name_key", "last_name_key")]
    assert equalities("l.handle_block = r.name_block") == [("handle_block", "name_block")]
    assert equalities("r.a = l.b AND l.c = r.c and l.d > r.d") == [("b", "a"), ("c", "c")]
    # free SQL that may pair records without an equality narrows nothing
    assert equalities("l.a = r.a or l.b = r.b") is None
    assert equalities("levenshtein(l.a, r.a) < 2") is None
    assert equalities("l.d > r.d") is None
    assert probes([("a",), "l.a = r.a or l.b = r.b"]) is None


def test_both_directions_of_an_asymmetric_rule_become_one_pair_of_probes() -> None:
    found = probes(["l.handle_block = r.name_block", "l.name_block = r.handle_block", ("email_key",)])
    assert found == [(("record_key",), ("record_key",)), (("name_block",), ("handle_block",)),
                     (("handle_block",), ("name_block",)), (("email_key",), ("email_key",))]


def _record_keys(table: object) -> set[str]:
    """The record keys of a backend's table (a Spark DataFrame or a DuckDB relation)."""
    rows = table.select("record_key").collect() if isinstance(table, DataFrame) else table.select("record_key").fetchall()
    return {r[0] for r in rows}


def test_the_changed_records_and_every_record_a_rule_can_pair_them_with(spark: SparkSession, backend: LinkageBackend) -> None:
    keys = spark.createDataFrame([
        ("new", "a@x.com", "peterschmi", None, True),
        ("same_email", "a@x.com", None, None, False),
        ("name_spells_handle", None, None, "peterschmi", False),
        ("handle_spells_name", None, "annaschmid", None, False),
        ("handle_meets_handle", None, "peterschmi", None, False),  # not a rule of these: handle against name only
        ("stranger", "b@x.com", "zzz", "zzz", False),
        ("nulls", None, None, None, False),
        ("changed_too", None, None, "annaschmid", True),
    ], KEYS + ", c360_changed boolean")
    rules = [("email_key",), "l.handle_block = r.name_block", "l.name_block = r.handle_block"]
    query = sql(rules, PARTNERS_VIEW)
    assert query is not None
    assert _record_keys(backend.query(backend.table(keys), query)) == {
        "new", "same_email", "name_spells_handle", "handle_spells_name", "changed_too"}


def test_a_rule_that_cannot_narrow_keeps_every_record() -> None:
    assert sql([("email_key",), "l.email_key = r.email_key or l.name_block = r.handle_block"], PARTNERS_VIEW) is None


def test_splink_scores_the_same_pairs_from_the_partners_as_from_every_record(
        spark: SparkSession, backend: LinkageBackend, stored_model: dict, project_root: Path) -> None:
    keys = linkage_input(_people(spark)).localCheckpoint()
    changed = spark.createDataFrame([("shop:1",), ("crm:2",)], "record_key string")
    settings = prediction.only_changed_pairs(stored_model)
    rules = stored_spec(project_root).blocking_rules
    counted = [term_frequencies.count(keys, column) for column in term_frequencies.columns(stored_model)]
    flagged = prediction.flag_changed(keys, changed)
    query = sql(rules, PARTNERS_VIEW)
    assert query is not None and len(_record_keys(backend.query(backend.table(flagged), query))) < keys.count()

    def scored(partners_of):  # noqa: ANN001, ANN202 - pairs with a changed record, every record's frequencies
        linker = backend.linker(flagged, settings, partners_of=partners_of)
        for frequencies in counted:
            backend.register_term_frequencies(linker, frequencies.column, term_frequencies.lookup(spark, flagged, frequencies))
        pairs, _ = prediction.predict(backend, linker, stored_model, min_probability=0.0)
        return pairs.select("record_key_l", "record_key_r", "match_weight").orderBy("record_key_l", "record_key_r")

    every, partners = scored(None), scored(rules)
    assert every.count() > 2
    assert_approx_df_equality(partners, every, 1e-9)

"""Scoring with Splink on each backend (Spark and DuckDB): a small end-to-end linkage with a known answer, the handle levels, the
first-name conflict guard and the comparison limit, with a model trained on the generator's data
(tests/silver/data)."""

from __future__ import annotations

import json

import math
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.silver import model as model_store
from c360.silver.clustering.driver import DriverClusterer
from c360.silver.linkage import comparisons, prediction
from c360.silver.linkage.backends.base import LinkageBackend
from c360.silver.linkage.keys import linkage_input

DATA = Path(__file__).parent.parent / "data"
SCHEMA = ("record_key string, source string, first_name_key string, last_name_key string, social_handle string, "
          "email_key string, phone_e164 string, date_of_birth date, street_key string, city_key string, "
          "postcode_key string, company_key string")


def _people(spark: SparkSession):  # noqa: ANN202
    return spark.createDataFrame([
        # Peter Schmidt: CRM, shop (nickname, other e-mail), loyalty (same phone), social (handle spells his name)
        ("crm:1", "crm", "peter", "schmidt", None, "peter.schmidt@acme.de", "+4915112345678", date(1980, 3, 14),
         "hauptstr 5", "berlin", "10115", "acme"),
        ("shop:1", "shop", "pete", "schmidt", None, "pete.schmidt@web.de", None, date(1980, 3, 14), "hauptstr 5",
         "berlin", "10115", None),
        ("loyalty:1", "loyalty", "peter", "schmidt", None, None, "+4915112345678", date(1980, 3, 14), None,
         "berlin", "10115", None),
        # (no location: in data this small, Berlin's term frequency would make a shared city count against them)
        ("social:1", "social", "peter", None, "@peterschmidt80", None, None, None, None, None, None, None),
        # his wife shares the address and family e-mail, not the first name or birthday
        ("crm:2", "crm", "anna", "schmidt", None, "familie.schmidt@web.de", None, date(1982, 7, 1), "hauptstr 5",
         "berlin", "10115", None),
        ("shop:2", "shop", "anna", "schmidt", None, "familie.schmidt@web.de", None, date(1982, 7, 1), "hauptstr 5",
         "berlin", "10115", None),
        # Jane Doe, twice in the shop (a duplicate inside one source), once with a typo
        ("shop:3", "shop", "jane", "doe", None, "jane.doe@gmail.com", "+12125550143", date(1990, 1, 2),
         "12 main st", "springfield", "62704", None),
        ("shop:4", "shop", "jnae", "doe", None, "janedoe@gmail.com", "+12125550143", date(1990, 1, 2),
         "12 main st", "springfield", "62704", None),
        # someone else entirely
        ("crm:3", "crm", "maria", "garcia", None, "m.garcia@corp.com", "+12125550199", date(1975, 5, 5),
         "1 elm st", "austin", "73301", "corp"),
    ], SCHEMA)


def test_small_linkage_with_known_answer(spark: SparkSession, backend: LinkageBackend, stored_model: dict) -> None:
    keys = linkage_input(_people(spark)).localCheckpoint()
    linker = backend.linker(keys, stored_model)
    counts = prediction.comparison_counts(linker, limit=1e6)
    # the pairs any blocking rule admits, counted without Splink: a self-join on the rules' own SQL
    rules = " or ".join(f"({r['blocking_rule']})" for r in
                        json.loads((DATA / "person_linkage_v0001.json").read_text())["blocking_rules_to_generate_predictions"])
    blocked = keys.alias("l").join(keys.alias("r"), F.expr(f"l.record_key < r.record_key and ({rules})")).count()
    assert counts and counts[-1]["cumulative"] == blocked < 36, (counts, blocked)
    exact = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)
    assert [c["comparisons"] for c in counts] == [r["marginal_comparison_count"] for r in exact], \
        "counted from the blocked pairs: Splink's exact marginal counts"
    scored, _ = prediction.predict(backend, linker, stored_model, min_probability=0.5)
    scored = prediction.without_conflicts(scored)
    engine = DriverClusterer(spark)
    start = engine.connected_components(keys, spark.createDataFrame([], "record_key_l string, record_key_r string"))
    clusters, _ = engine.best_link_clusters(start, scored, min_weight=math.log2(0.9 / 0.1), margin=3.0)
    groups = {}
    for row in clusters.collect():
        groups.setdefault(row["component"], set()).add(row["record_key"])
    assert sorted(map(sorted, groups.values())) == [
        ["crm:1", "loyalty:1", "shop:1", "social:1"], ["crm:2", "shop:2"], ["crm:3"], ["shop:3", "shop:4"]]


def test_a_handle_that_spells_the_email_user_name_is_compared_and_counts(spark: SparkSession, backend: LinkageBackend,
                                                                       stored_model: dict) -> None:
    records = _people(spark).unionByName(spark.createDataFrame([
        # Maria Garcia's social profile ('Maria G.'): '@mgarcia75' does not spell 'mariagarcia', but it spells
        # the user name of m.garcia@corp.com
        ("social:3", "social", "maria", "g", "@mgarcia75", None, None, None, None, None, None, None)], SCHEMA))
    linker = backend.linker(linkage_input(records).localCheckpoint(), stored_model)
    scored = backend.pairs(linker.inference.predict(), ["record_key_l", "record_key_r", "gamma_handle", "mw_handle"])
    pair = scored.where("array_sort(array(record_key_l, record_key_r)) = array('crm:3', 'social:3')").collect()
    assert len(pair) == 1, "blocked together by the handle against the e-mail user name"
    assert pair[0]["gamma_handle"] == _handle_gamma(stored_model, "handle spells the e-mail user name") and pair[0]["mw_handle"] > 5


def _handle_levels(model: model_store.ModelFile) -> list[dict]:
    """The handle comparison's levels in a model file, null level first."""
    return next(c for c in model.load()["comparisons"] if c["output_column_name"] == "handle")["comparison_levels"]


def _handle_gamma(model: dict, label: str) -> int:
    """Splink's gamma value of a handle level."""
    gamma = prediction.level_gamma(model, "handle", label)
    assert gamma is not None, label
    return gamma


def test_comparisons_past_the_limit_stop_before_scoring_even_when_the_estimate_missed(
        spark: SparkSession, backend: LinkageBackend, stored_model: dict) -> None:
    linker = backend.linker(linkage_input(_people(spark)).localCheckpoint(), stored_model)
    with pytest.raises(C360Error, match="max_comparisons"):
        prediction.comparison_counts(linker, limit=2)


def test_blocking_that_explodes_stops_before_predicting() -> None:
    counts = [{"rule": "l.city_key = r.city_key", "comparisons": 9_000_000, "cumulative": 9_000_000}]
    with pytest.raises(C360Error, match="max_comparisons.*city_key"):
        prediction.check_comparisons(counts, limit=1e6)
    prediction.check_comparisons(counts, limit=1e7)


def test_pairs_that_name_two_first_names_are_flagged_as_conflicting(spark: SparkSession, backend: LinkageBackend,
                                                                     stored_model: dict) -> None:
    linker = backend.linker(linkage_input(_people(spark)).localCheckpoint(), stored_model)
    scored = backend.pairs(linker.inference.predict())
    flags = {tuple(sorted((r.record_key_l, r.record_key_r))): r.conflict
             for r in scored.select("record_key_l", "record_key_r", prediction.first_names_conflict(scored, stored_model).alias("conflict")).collect()}
    # Peter and Anna Schmidt share address (and Anna's records a family e-mail): two first names, two people
    assert flags[("crm:1", "crm:2")] and flags[("crm:2", "shop:1")]
    # a nickname, a typo and a missing first name are no conflict
    assert not flags[("crm:1", "shop:1")] and not flags[("shop:3", "shop:4")]
    assert not flags[("crm:2", "shop:2")]


def test_the_stored_test_model_keeps_the_handles_fixed_u() -> None:
    """The model these tests score with carries the u values set in the code for a handle that spells the name
    (see HANDLE_SPELLS_NAME_U), or a handle would count the name's agreement a second time. That training
    keeps them is checked where a model is trained (test_training's EM comparison)."""
    model = model_store.latest(DATA)
    assert model is not None
    levels = {lvl.get("label_for_charts"): lvl for lvl in _handle_levels(model)}
    for label, u in (("handle spells the name", comparisons.HANDLE_SPELLS_NAME_U),
                     ("handle spells the name, full names equal", comparisons.HANDLE_SPELLS_EQUAL_NAME_U)):
        assert levels[label]["u_probability"] == u and levels[label]["fix_u_probability"], label


def test_a_handle_spelling_a_name_that_already_agrees_counts_less(spark: SparkSession, backend: LinkageBackend,
                                                                   stored_model: dict) -> None:
    """'Gavin Green' + '@gavingreen50' against the CRM's Gavin Green: the handle repeats the name (a namesake's
    would too); 'Gavin' + '@gavingreen51' gets the surname only from the handle, which is real evidence."""
    records = spark.createDataFrame([
        ("crm:g", "crm", "gavin", "green", None, None, None, None, None, None, None, None),
        ("social:g1", "social", "gavin", "green", "@gavingreen50", None, None, None, None, None, None, None),
        ("social:g2", "social", "gavin", None, "@gavingreen51", None, None, None, None, None, None, None)], SCHEMA)
    linker = backend.linker(linkage_input(records).localCheckpoint(), stored_model)
    scored = backend.pairs(linker.inference.predict(), ["record_key_l", "record_key_r", "gamma_handle", "mw_handle"])
    pairs = scored.where("'crm:g' in (record_key_l, record_key_r)").collect()
    got = {r.record_key_r if r.record_key_l == "crm:g" else r.record_key_l: (r.gamma_handle, r.mw_handle) for r in pairs}
    assert got["social:g1"][0] == _handle_gamma(stored_model, "handle spells the name, full names equal")
    assert got["social:g2"][0] == _handle_gamma(stored_model, "handle spells the name")
    assert 0 < got["social:g1"][1] < got["social:g2"][1] - 3

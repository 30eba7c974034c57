"""Deterministic stitching and the hub-identifier guard."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.silver.stitching import deterministic_edges, edges_since

SCHEMA = ("record_key string, email_key string, phone_e164 string, login_id string, loyalty_id string, "
          "social_handle string, identifiers map<string,string>")
RULES = {"email": 3, "phone": 3, "login_id": 2, "customer_no": 2}


def test_shared_identifiers_link_and_hubs_do_not(spark: SparkSession) -> None:
    records = spark.createDataFrame([
        ("crm:1", "peter@web.de", "+491511", None, None, None, {}),
        ("shop:7", "peter@web.de", None, "pschmidt", None, None, {"customer_no": "7"}),
        ("web:ck1", None, None, "pschmidt", None, None, {}),
        ("orders:9", None, None, None, None, None, {"customer_no": "7"}),
        # four records share the shop's info address: a hub, not a person
        ("crm:2", "info@shop.de", "+491511", None, None, None, {}),
        ("crm:3", "info@shop.de", None, None, None, None, {}),
        ("crm:4", "info@shop.de", None, None, None, None, {}),
        ("crm:5", "info@shop.de", None, None, None, None, {}),
        ("crm:6", "test@test.com", None, None, None, None, {}),
        ("crm:8", "test@test.com", None, None, None, None, {}),
    ], SCHEMA)
    edges, hubs = deterministic_edges(records, RULES)
    expected = spark.createDataFrame([
        ("crm:1", "shop:7", "exact:email"), ("crm:1", "crm:2", "exact:phone"),
        ("shop:7", "web:ck1", "exact:login_id"), ("orders:9", "shop:7", "exact:customer_no"),
    ], "record_key_l string, record_key_r string, method string")
    assert_df_equality(edges, expected, ignore_row_order=True, ignore_nullable=True)
    got_hubs = {(r["value"], r["records"], r["reason"]) for r in hubs.collect()}
    assert got_hubs == {("info@shop.de", 4, "shared_by_too_many"), ("test@test.com", 2, "placeholder")}


def test_one_pair_per_record_pair_with_all_methods(spark: SparkSession) -> None:
    records = spark.createDataFrame([
        ("a:1", "x@y.de", "+49151", None, None, None, {}),
        ("b:1", "x@y.de", "+49151", None, None, None, {}),
    ], SCHEMA)
    edges, _ = deterministic_edges(records, RULES)
    assert [tuple(r) for r in edges.collect()] == [("a:1", "b:1", "exact:email,exact:phone")]


def test_shared_value_with_contradicting_names_is_no_proof(spark: SparkSession) -> None:
    """A family e-mail (two first names) or one phone for two birth dates links nothing deterministically."""
    schema = "record_key string, email_key string, phone_e164 string, first_name_key string, last_name_key string, date_of_birth date"
    records = spark.createDataFrame([
        ("crm:1", "familie.kabus@web.de", None, "niklas", "kabus", None),
        ("shop:2", "familie.kabus@web.de", None, "natalija", "kabus", None),
        ("crm:3", "p.schmidt@web.de", "+4915112345", "peter", "schmidt", date(1980, 1, 2)),
        ("shop:4", "p.schmidt@web.de", None, "peter", None, None),
        ("loyalty:5", None, "+4915112345", "peter", "schmidt", date(1981, 5, 6)),
    ], schema)
    edges, _ = deterministic_edges(records, {"email": 3, "phone": 3})
    expected = spark.createDataFrame([("crm:3", "shop:4", "exact:email")], "record_key_l string, record_key_r string, method string")
    assert_df_equality(edges, expected, ignore_nullable=True)


def test_edges_since_a_change_equal_the_edges_computed_afresh(spark: SparkSession) -> None:
    """A changed e-mail, a deleted record, a new record that makes a phone a hub (the edges of two records
    that did not change disappear with it), and a changed phone that ends a hub (two records that did not
    change link by it now)."""
    rules = {"email": 3, "phone": 2}
    before = spark.createDataFrame([
        ("a", "x@e.de", None, None, None, None, {}), ("b", "x@e.de", None, None, None, None, {}),
        ("c", "y@e.de", None, None, None, None, {}), ("d", "z@e.de", "+4930", None, None, None, {}),
        ("e", None, "+4930", None, None, None, {}), ("g", "z@e.de", None, None, None, None, {}),
        ("h1", None, "+4940", None, None, None, {}), ("h2", None, "+4940", None, None, None, {}),
        ("h3", None, "+4940", None, None, None, {}),
    ], SCHEMA)
    after = spark.createDataFrame([
        ("a", "x@e.de", None, None, None, None, {}), ("c", "x@e.de", None, None, None, None, {}),
        ("d", "z@e.de", "+4930", None, None, None, {}), ("e", None, "+4930", None, None, None, {}),
        ("f", None, "+4930", None, None, None, {}), ("g", "z@e.de", None, None, None, None, {}),
        ("h1", None, "+4940", None, None, None, {}), ("h2", None, "+4940", None, None, None, {}),
        ("h3", None, "+4950", None, None, None, {}),
    ], SCHEMA)
    edges_before, hubs_before = deterministic_edges(before, rules)
    changed = spark.createDataFrame([("b",), ("c",), ("f",), ("h3",)], "record_key string")
    edges, hubs, focus = edges_since(after, rules, changed, hubs_before, edges_before)
    expected_edges, expected_hubs = deterministic_edges(after, rules)
    assert_df_equality(edges, expected_edges, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(hubs, expected_hubs, ignore_row_order=True, ignore_nullable=True)
    assert sorted(r.record_key for r in focus.collect()) == ["b", "c", "d", "e", "f", "h1", "h2", "h3"]
    assert sorted((r.record_key_l, r.record_key_r) for r in edges.collect()) == [("a", "c"), ("d", "g"), ("h1", "h2")]

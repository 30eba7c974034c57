"""The model spec: comparisons and rules chosen from the fields the data fills, overrides from the config,
no-duplicates sources, and a fingerprint that changes when the fields do."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360.config import parse_config
from c360.errors import ConfigError
from c360.silver.linkage.spec import build, profile, rule_columns, rule_sql, splink_settings

ALL = dict.fromkeys(("first_name", "last_name", "date_of_birth", "email", "phone", "street", "city", "postcode",
                     "company", "social_handle"), 0.9)
FEBRL = {**dict.fromkeys(ALL, 0.0), **dict.fromkeys(("first_name", "last_name", "date_of_birth", "street", "city", "postcode"), 0.98)}


def config(linkage: dict | None = None, unique: bool = False):  # noqa: ANN201
    source = {"name": "crm", "kind": "person", "format": "csv", "path": "x.csv", "id": "id", "no_duplicates": unique}
    return parse_config({"warehouse": "/w", "sources": [source], "silver": {"linkage": linkage or {}}}, Path("c360.yaml"))


def test_every_field_present_gives_every_comparison() -> None:
    spec = build(ALL, config())
    assert [c.kind for c in spec.comparisons] == ["name", "date", "email", "phone", "handle", "address", "company"]
    assert ("email_key",) in spec.blocking_rules and ("street_key", "postcode_key") in spec.blocking_rules
    assert spec.training_rules == (("first_name_key", "last_name_key"), ("date_of_birth",), ("handle_name_key",))
    assert spec.prior_rules[0] == (("email_key", "first_name_key"), ("phone_e164", "last_name_key"))


def test_fields_no_source_fills_are_left_out_and_training_still_covers_every_comparison() -> None:
    spec = build(FEBRL, config())
    assert [c.kind for c in spec.comparisons] == ["name", "date", "address"]
    used = set().union(*(rule_columns(r) for r in spec.blocking_rules))
    assert not used & {"email_key", "phone_e164", "handle_block", "company_key"}
    assert spec.prior_rules[0] == (("first_name_key", "last_name_key", "date_of_birth"),), "no e-mail or phone prior"
    assert any("left out" in n and "email" in n for n in spec.notes)


def test_names_and_email_only_add_a_training_rule_that_can_estimate_the_names() -> None:
    fill = {**dict.fromkeys(ALL, 0.0), "first_name": 1.0, "last_name": 1.0, "email": 0.6}
    spec = build(fill, config())
    assert [c.kind for c in spec.comparisons] == ["name", "email"]
    assert ("email_key",) in spec.training_rules, "a session that does not block on names estimates the name levels"
    assert ("first_name_key", "last_name_key") not in spec.training_rules, "it would estimate nothing: e-mail reads first names"


def test_a_field_filled_too_rarely_is_left_out() -> None:
    spec = build({**ALL, "company": 0.001}, config({"min_fill": 0.01}))
    assert "company" not in [c.kind for c in spec.comparisons]


def test_configured_comparisons_and_rules_replace_the_defaults() -> None:
    spec = build(ALL, config({"comparisons": [{"kind": "name"}, {"kind": "exact", "field": "postcode", "term_frequency": True}],
                              "blocking_rules": [["postcode_key"]], "prior_rules": [["first_name_key", "postcode_key"]]}))
    assert [(c.kind, c.field) for c in spec.comparisons] == [("name", None), ("exact", "postcode")]
    assert spec.blocking_rules == (("postcode_key",),) and spec.prior_rules == ((("first_name_key", "postcode_key"),),)
    settings = splink_settings(spec).get_settings("duckdb").as_dict()
    assert [c["output_column_name"] for c in settings["comparisons"]] == ["name", "postcode"]


@pytest.mark.parametrize("linkage, message", [
    ({"comparisons": [{"kind": "exact"}]}, "needs 'field'"),
    ({"comparisons": [{"kind": "fuzzy"}]}, "kind"),
    ({"blocking_rules": [["email"]]}, "unknown match key"),
    ({"prior_rules": ["l.first_name_key = 'x'"]}, "must compare l.<key> with r.<key>"),
])
def test_bad_overrides_are_refused_on_load(linkage: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(linkage)


def test_no_duplicates_sources_are_never_blocked_against_themselves() -> None:
    spec = build(FEBRL, config(unique=True))
    assert spec.unique_sources == ("crm",)
    assert rule_sql(("postcode_key",), spec.unique_sources) == \
        "(l.postcode_key = r.postcode_key) and not (l.source = r.source and l.source in ('crm'))"


def test_the_fingerprint_follows_the_fields() -> None:
    assert build(ALL, config()).fingerprint() == build(dict(ALL), config()).fingerprint()
    assert build(ALL, config()).fingerprint() != build(FEBRL, config()).fingerprint()


def test_profile_measures_how_often_each_field_is_filled(spark: SparkSession) -> None:
    keys = spark.createDataFrame([("a", None, "x@y.z"), ("b", "bob", None), ("c", "ann", None), ("d", "eve", None)],
                                 "record_key string, first_name_key string, email_key string")
    for column in ("last_name_key", "date_of_birth", "phone_e164", "street_key", "city_key", "postcode_key",
                   "company_key", "handle_key"):
        keys = keys.withColumn(column, keys.record_key.substr(0, 0).cast("string").alias(column))
    fill = profile(keys.replace("", None))
    assert fill["first_name"] == 0.75 and fill["email"] == 0.25 and fill["phone"] == 0.0

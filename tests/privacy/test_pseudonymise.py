"""Pseudonymised analytics copies: person fields as salted hashes, everything else as in gold; no file of the
analytics layer holds a person field value of the source tables; counts per segment are gold's; c360 register
registers them too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.errors import C360Error
from c360.gold.stage import run_gold
from c360.privacy.pseudonymise import check, pseudonymise
from c360.session import EngineChoice
from c360.storage import open_store
from c360.table_registry import BY_NAME, personal
from tests.conftest import PSEUDONYMISED, DemoRun, require_delta_spark
from tests.scan import files_holding

SALT = "a test salt of some length"


def test_person_fields_are_hashed_alike_and_the_rest_kept(spark: SparkSession) -> None:
    rows = spark.createDataFrame([("c1", "email", "a@b.de", "shop"), ("c2", "phone", None, "crm")],
                                 "customer_id string, channel string, address string, consent_source string")
    out = pseudonymise(rows, "gold.contact_permissions", SALT).collect()
    assert [(r.customer_id, r.channel, r.consent_source) for r in out] == [("c1", "email", "shop"), ("c2", "phone", "crm")]
    assert re.fullmatch(r"[0-9a-f]{64}", out[0].address) and out[1].address is None
    profiles = spark.createDataFrame([("c1", "a@b.de", ["a@b.de", "x@y.de"])], "customer_id string, email string, emails array<string>")
    hashed = pseudonymise(profiles, "gold.customer_profile", SALT).first()
    assert hashed.email == hashed.emails[0] != hashed.emails[1], "a value hashes the same in every column"
    other = pseudonymise(profiles, "gold.customer_profile", SALT + "!").first()
    assert other.email != hashed.email, "the hash depends on the salt"


def test_an_unknown_table_is_named() -> None:
    with pytest.raises(C360Error, match="customer_profiles: not a gold table"):
        check(["customer_profile", "customer_profiles"])


def _person_values(store) -> list[str]:  # noqa: ANN001
    """Names, e-mails, phones (E.164 and as written) and streets of every person record: no hex-only value,
    which a hash could hold by chance, and no word of the column descriptions."""
    rows = store.read("silver.person_records").select("first_name", "last_name", "full_name", "email", "phone",
                                                      "phone_e164", "street").collect()
    values = {v for r in rows for v in r if v and len(v) >= 6}
    # the column descriptions in each table's schema are English: a surname such as Golden is in them
    prose = " ".join(f"{t.purpose} {c.meaning}" for t in BY_NAME.values() for c in t.columns)
    return sorted(v for v in values if not re.fullmatch(r"[0-9a-f]+", v) and v not in prose)


def test_analytics_copies_hold_no_person_field_and_count_as_gold(
        demo_run: DemoRun, spark: SparkSession, monkeypatch: pytest.MonkeyPatch, delta_spark_available: bool) -> None:
    store, config = demo_run.store, demo_run.config
    assert sorted(store.list_tables("analytics")) == sorted(f"analytics.{t}" for t in PSEUDONYMISED)
    assert files_holding(Path(config.warehouse) / "analytics", _person_values(store)) == {}
    for table in PSEUDONYMISED:
        spec = BY_NAME[f"gold.{table}"]
        theirs, ours = store.read(f"gold.{table}"), store.read(f"analytics.{table}")
        assert ours.count() == theirs.count()
        for column in (c for c in spec.columns if personal(c) and not c.type.startswith("array")):
            clear = {r[0] for r in theirs.select(F.col(column.name).cast("string")).distinct().collect()} - {None}
            assert not clear & {r[0] for r in ours.select(column.name).distinct().collect()}, f"{table}.{column.name}"
    for table, by in (("customer_metrics", "segment"), ("customer_profile", "country"), ("contact_permissions", "channel")):
        counts = [store.read(f"{layer}.{table}").groupBy(by).count().orderBy(by) for layer in ("gold", "analytics")]
        assert_df_equality(*counts, ignore_nullable=True)

    from c360.sql_server import register_snapshots

    assert sorted(register_snapshots(store, {}, "analytics")) == sorted(f"analytics.{t}" for t in PSEUDONYMISED)
    served = spark.sql("SELECT count(*) FROM global_temp.customer_metrics").first()[0]  # c360 sql-server --layer analytics
    assert served == store.read("gold.customer_metrics").count()

    monkeypatch.delenv(config.privacy.salt_env)
    context = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id(),
                                  full_refresh=True)
    versions = {t: store.version(t) for t in store.list_tables("gold")}
    with pytest.raises(C360Error, match="salt is missing"):
        run_gold(context)
    assert {t: store.version(t) for t in store.list_tables("gold")} == versions, "without the salt gold writes nothing"

    require_delta_spark(delta_spark_available)
    from c360.catalog import register_tables

    settings = config.gold.catalog.model_copy(update={"schema_name": "c360_pseudo"})
    try:
        names = register_tables(spark, open_store(spark, "delta-spark", config.warehouse), settings)
        assert names["`c360_pseudo`.`analytics_customer_metrics`"] == "created"
        got = spark.sql("SELECT count(*) FROM c360_pseudo.analytics_customer_metrics").first()[0]
        assert got == store.read("gold.customer_metrics").count()
    finally:
        spark.sql("DROP SCHEMA IF EXISTS c360_pseudo CASCADE")

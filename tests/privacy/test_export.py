"""The subject access export over the session's warehouse (300 people, every stage, delta-rs): a person
found in several sources with events. An independent scan of every table finds the rows that hold them
(their customer id, record keys, or a value only they hold); each such table must give its rows to the
export, and the export must hold nothing that only other people hold. The HTML rendering opens offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.config import LAYERS
from c360.errors import C360Error
from c360.privacy.export import export_subject, page
from c360.privacy.subjects import Request
from c360.session import EngineChoice
from c360.storage import TableStore
from tests.browser import offline_chromium, open_page
from tests.conftest import DemoRun
from tests.privacy.people import subject


def _context(demo_run: DemoRun, spark: SparkSession) -> pipeline.RunContext:
    return pipeline.RunContext(demo_run.config, spark, demo_run.store, EngineChoice("delta-rs", "test"),
                               pipeline.new_run_id())


def tables_holding(store: TableStore, values: list[str]) -> set[str]:
    """Every table of the layers with a row holding one of `values` in its JSON text: an e-mail or phone
    anywhere (raw text included), an id as a whole JSON value (so 1000021 is not found inside a timestamp)."""
    found = set()
    for layer in LAYERS:
        for table in store.list_tables(layer):
            frame = store.read(table)
            text = F.to_json(F.struct(*[F.col(f"`{c}`") for c in frame.columns]))
            if not frame.where(_any(text, values)).isEmpty():
                found.add(table)
    return found


def _any(text: F.Column, values: list[str]) -> F.Column:
    held = F.lit(False)
    for value in values:
        loose = "@" in value or value.startswith("+")
        for needle in [value] if loose else [f'"{value}"', f":{value},", f":{value}}}"]:
            held = held | text.contains(needle)
    return held


def _others_only(store: TableStore, customer: str, mine: list[str]) -> list[str]:
    """E-mails, phones and customer ids only other customers hold (none inside a value of the subject's)."""
    rows = (store.read("silver.person_records").join(store.read("silver.identity_map").select("record_key", "customer_id"),
                                                     "record_key").select("customer_id", "email", "phone_e164").collect())
    theirs = {v for r in rows if r["customer_id"] == customer for v in (r["email"], r["phone_e164"]) if v}
    values = {v for r in rows if r["customer_id"] != customer for v in (r["email"], r["phone_e164"], r["customer_id"]) if v}
    return sorted(v for v in values - theirs if len(v) >= 8 and not any(v in m for m in mine))


def test_an_export_holds_every_table_of_the_person_and_nobody_else(demo_run: DemoRun, spark: SparkSession,
                                                                   tmp_path: Path) -> None:
    store = demo_run.store
    customer, values = subject(demo_run.root, store)
    keys = [r["record_key"] for r in store.read("silver.identity_map").where(F.col("customer_id") == customer).collect()]
    email = next(v for v in values if "@" in v)
    export = export_subject(_context(demo_run, spark), Request("--email", "email", email.upper()))

    assert export["customer_id"] == customer
    holding = tables_holding(store, [customer, *keys, *values])
    assert {"gold.customer_profile", "gold.customer_interactions", "silver.person_records",
            "analytics.customer_profile"} <= holding
    assert len([t for t in holding if t.startswith("bronze.")]) >= 4, holding  # three person sources and events
    missing = {t for t in holding if not export["tables"].get(t, {}).get("rows")}
    assert missing == set(), "every table holding the person gives its rows to the export"
    assert export["held_in"] == {t: len(v["rows"]) + v.get("not_shown", {}).get("rows", 0)
                                 for t, v in export["tables"].items()}
    profile = export["tables"]["gold.customer_profile"]["rows"][0]
    assert profile["lineage"] and export["consent"].keys() == {"email", "phone", "tracking"}
    landed = {r.get("_record_id") for t, v in export["tables"].items() if t.startswith("bronze.") for r in v["rows"]}
    assert {k.split(":", 1)[1] for k in keys} <= landed, "every source record of theirs as it landed"

    text = json.dumps(export)
    leaked = [v for v in _others_only(store, customer, [customer, *keys, *values]) if v in text]
    assert leaked == [], "the export holds nothing only other people hold"

    html = tmp_path / "subject.html"
    html.write_text(page(export), encoding="utf-8")
    chrome = next(browser := offline_chromium())
    try:
        errors, failed = open_page(chrome, html, "return document.readyState === 'complete'")
        assert errors == [] and failed == []
        shown = chrome.find_element("tag name", "body").text
        assert customer in shown and "gold.customer_interactions" in shown and email in shown.lower()
    finally:
        browser.close()


def test_an_identifier_of_several_customers_names_them_and_exports_nothing(demo_run: DemoRun, spark: SparkSession) -> None:
    store = demo_run.store
    shared = (store.read("silver.person_records").join(store.read("silver.identity_map"), "record_key")
              .where(F.col("email_key").isNotNull()).groupBy("email_key")
              .agg(F.countDistinct("customer_id").alias("n"), F.min("email").alias("email")).where("n > 1").first())
    if shared is None:
        pytest.skip("the session's warehouse has no e-mail shared by two customers")
    with pytest.raises(C360Error, match="belongs to .* customers"):
        export_subject(_context(demo_run, spark), Request("--email", "email", shared["email"]))

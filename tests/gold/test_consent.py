"""Consent: the most recent explicit statement per channel wins; silence never revokes; a withdrawn tracking
consent keeps later clicks off the timeline; who may be contacted per channel."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.gold.consent import consent_flags, contact_permissions, withheld_tracking
from c360.session import EngineChoice
from c360.storage import TableStore
from tests.conftest import require_delta_spark
from tests.privacy.people import landed_warehouse

SCHEMA = ("customer_id string, record_key string, source string, source_priority int, updated_at timestamp, "
          "consent_email boolean, consent_phone boolean, consent_tracking boolean")


def test_newest_statement_wins_and_null_is_no_statement(spark: SparkSession) -> None:
    rows = [("c1", "crm:1", "crm", 10, datetime(2023, 1, 1), True, None, None),
            ("c1", "shop:1", "shop", 20, datetime(2025, 1, 1), False, None, None),
            ("c1", "loy:1", "loyalty", 30, datetime(2026, 1, 1), None, True, None),   # says nothing on e-mail
            ("c2", "crm:2", "crm", 10, datetime(2024, 1, 1), True, None, None),
            ("c2", "shop:2", "shop", 20, datetime(2024, 1, 1), False, None, None),   # same time: priority
            ("c3", "crm:3", "crm", 10, None, None, None, None)]
    out = consent_flags(spark.createDataFrame(rows, SCHEMA)).select(
        "customer_id", "consent_email", "consent_phone", "consent_tracking",
        F.col("consent_lineage")["consent_email"]["record_key"].alias("email_from")).orderBy("customer_id")
    want = spark.createDataFrame([("c1", False, True, None, "shop:1"), ("c2", True, None, None, "crm:2"),
                                  ("c3", None, None, None, None)],
                                 "customer_id string, consent_email boolean, consent_phone boolean, "
                                 "consent_tracking boolean, email_from string")
    assert_df_equality(out, want, ignore_nullable=True)


def test_consent_values_are_parsed(spark: SparkSession) -> None:
    from c360.silver.standardise import consent

    df = spark.createDataFrame([(v,) for v in ("Y", "yes", "TRUE", "1", "opt-in", "N", "no", "false", "0", "", None, "maybe")],
                               "v string")
    assert [r[0] for r in df.select(consent(F.col("v"))).collect()] == [True] * 5 + [False] * 4 + [None] * 3


EVENTS = "customer_id string, source string, event_id string, occurred_at timestamp, channel string"
STATEMENTS = "customer_id string, updated_at timestamp, consent_tracking boolean"


def test_a_withdrawal_withholds_later_tracking_events_only(spark: SparkSession) -> None:
    records = spark.createDataFrame([
        ("c1", datetime(2025, 1, 1), True), ("c1", datetime(2025, 6, 1), False),   # withdrawn on 1 June
        ("c2", datetime(2025, 3, 1), False), ("c2", datetime(2025, 9, 1), True),   # withdrawn, given again
        ("c3", datetime(2025, 5, 1), True), ("c3", datetime(2025, 5, 1), False),   # a tie: no wins
        ("c4", None, False),                                                        # no time: from the start
        ("c5", datetime(2025, 1, 1), None)], STATEMENTS)                            # silence
    events = spark.createDataFrame([
        ("c1", "web", "w1", datetime(2025, 5, 31), "web"), ("c1", "web", "w2", datetime(2025, 6, 2), "web"),
        ("c1", "shop", "o1", datetime(2025, 7, 1), "shop"),                         # an order: no tracking
        ("c2", "web", "w3", datetime(2025, 4, 1), "web"), ("c2", "web", "w4", datetime(2025, 10, 1), "web"),
        ("c3", "web", "w5", datetime(2025, 5, 1), "web"), ("c4", "web", "w6", datetime(2020, 1, 1), "web"),
        ("c5", "web", "w7", datetime(2025, 2, 1), "web")], EVENTS)
    out = withheld_tracking(events, records, ["web"]).orderBy("event_id")
    want = spark.createDataFrame([("web", "w2"), ("web", "w3"), ("web", "w5"), ("web", "w6")],
                                 "source string, event_id string")
    assert_df_equality(out, want, ignore_nullable=True)
    assert withheld_tracking(events, records, []).isEmpty()


def test_contact_permissions_need_consent_and_an_address(spark: SparkSession) -> None:
    lineage = "map<string,struct<source:string,record_key:string,updated_at:timestamp,rule:string>>"
    stated = {"consent_email": ("shop", "shop:1", datetime(2025, 1, 1), "most_recent_statement"),
              "consent_phone": ("crm", "crm:2", datetime(2024, 1, 1), "most_recent_statement")}
    profiles = spark.createDataFrame([
        ("c1", "a@b.de", "+4930123456", True, True, stated), ("c2", None, "+4930999999", True, False, stated),
        ("c3", "c@d.de", None, None, None, {})],
        f"customer_id string, email string, phone string, consent_email boolean, consent_phone boolean, "
        f"consent_lineage {lineage}")
    out = contact_permissions(profiles).orderBy("customer_id", "channel")
    want = spark.createDataFrame([
        ("c1", "email", "a@b.de", datetime(2025, 1, 1), "shop", "shop:1"),
        ("c1", "phone", "+4930123456", datetime(2024, 1, 1), "crm", "crm:2")],
        "customer_id string, channel string, address string, consented_at timestamp, consent_source string, "
        "consent_record_key string")
    assert_df_equality(out, want, ignore_nullable=True)


# --- in the runs ---------------------------------------------------------------------------------------------

SOURCES = ("crm_contacts", "shop_customers", "shop_orders", "web_events")


def _with_tracking_consent(doc: dict) -> None:
    """The shop states tracking consent (its cookie banner) in a column the generator does not write."""
    next(s for s in doc["sources"] if s["name"] == "shop_customers")["fields"]["consent_tracking"] = "tracking_consent"


def _subject(landing: Path) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """A shop customer who logged in on the web and ordered: their record, one of their login clicks, an order
    (as one-row frames of the landed files, their column types kept)."""
    customers = pd.read_parquet(landing / "shop" / "customers_b01.parquet")
    orders = pd.read_parquet(landing / "shop" / "orders_b01.parquet")
    clicks = [json.loads(line) for f in sorted((landing / "web").glob("*.ndjson")) for line in f.read_text().splitlines()]
    logins = {c["login_id"] for c in clicks if c["login_id"]}
    record = customers[customers.login.isin(logins) & customers.customer_no.isin(orders.customer_no)].head(1)
    click = next(c for c in clicks if c["login_id"] == record.login.iloc[0])
    return record, click, orders[orders.customer_no == record.customer_no.iloc[0]].head(1)


def _write_like(frame: pd.DataFrame, like: Path, out: Path) -> None:
    """`frame` as a Parquet file with the column types of `like` (a one-row frame of nulls would say int)."""
    schema = pq.read_schema(like)
    for name in (c for c in frame.columns if c not in schema.names):
        schema = schema.append(pa.field(name, pa.string()))
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), out, coerce_timestamps="us",
                   allow_truncated_timestamps=True)


def _timeline(store: TableStore, customer: str) -> set[str]:
    return {r.event_id for r in store.read("gold.customer_interactions").where(F.col("customer_id") == customer).collect()}


@pytest.mark.slow
# the full refresh on the embedded engine only: it computes the timeline as every first run does
@pytest.mark.parametrize(("engine", "refresh"), [("delta-rs", True), ("delta-spark", False)])
def test_a_withdrawn_tracking_consent_keeps_later_clicks_off_the_timeline(
        engine: str, refresh: bool, project_root: Path, tmp_path: Path, spark: SparkSession,
        delta_spark_available: bool) -> None:
    if engine == "delta-spark":
        require_delta_spark(delta_spark_available)
    config, store = landed_warehouse(project_root, tmp_path, engine, spark, SOURCES, people=40, seed=7,
                                     edit=_with_tracking_consent)
    landing = tmp_path / "landing"
    first = landing / "shop" / "customers_b01.parquet"
    pd.read_parquet(first).assign(tracking_consent="Y").to_parquet(first, index=False)

    def run(stage: str = "all", full_refresh: bool = False) -> dict:
        ctx = pipeline.RunContext(config, spark, store, EngineChoice(engine, "test"), pipeline.new_run_id(),
                                  full_refresh=full_refresh)
        return pipeline.run(ctx, stage)["gold"]

    assert run()["tracking_events_withheld"] == 0
    record, click, order = _subject(landing)
    customer = store.read("gold.customer_xref").where(
        F.col("record_key") == f"shop_customers:{record.customer_no.iloc[0]}").first()["customer_id"]
    before = _timeline(store, customer)
    assert click["event_id"] in before and order.order_id.iloc[0] in before

    # a later delivery: the shop record withdraws tracking consent; a click just before it, one after it and an
    # order after it arrive too
    withdrawn = pd.Timestamp(max(json.loads(line)["ts"] for f in (landing / "web").glob("*.ndjson")
                                 for line in f.read_text().splitlines()), unit="ms", tz="UTC") + pd.Timedelta(days=1)
    _write_like(record.assign(updated_at=withdrawn, tracking_consent="N"), first, landing / "shop" / "customers_b02.parquet")
    millis = int(withdrawn.timestamp() * 1000)
    clicks = [{**click, "event_id": "ev-consent-before", "ts": millis - 3_600_000},
              {**click, "event_id": "ev-consent-after", "ts": millis + 86_400_000}]
    (landing / "web" / "clickstream_b02_p0001.ndjson").write_text("".join(json.dumps(c) + "\n" for c in clicks))
    _write_like(order.assign(order_id="ORD-CONSENT-1", ordered_at=withdrawn + pd.Timedelta(days=1)),
                landing / "shop" / "orders_b01.parquet", landing / "shop" / "orders_b02.parquet")

    batch = run()
    assert batch["mode"]["incremental"] is True and batch["tracking_events_withheld"] == 1, batch["mode"]
    after = _timeline(store, customer)
    assert after == before | {"ev-consent-before", "ORD-CONSENT-1"}, "earlier clicks and orders stay, the later click does not"
    profile = store.read("gold.customer_profile").where(F.col("customer_id") == customer).first()
    assert profile["consent_tracking"] is False
    if not refresh:
        return
    refreshed = run("gold", full_refresh=True)
    assert refreshed["mode"]["incremental"] is False and refreshed["tracking_events_withheld"] == 1
    assert _timeline(store, customer) == after, "a full refresh withholds the same events"

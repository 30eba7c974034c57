"""silver.interactions: one shape for all events, deduplicated by event id, cookies stitched to logins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import SparkSession

from c360.config import parse_config
from c360.silver.interactions import COLUMNS, interaction_records, stitch_cookies

BRONZE = ("event_id string, cookie string, login string, kind string, amount double, _record_id string, "
          "_updated_at timestamp, _ingested_at timestamp, _record_hash string")


def web(tmp_path: Path):  # noqa: ANN201
    doc = {"warehouse": "w", "sources": [{
        "name": "web", "kind": "interaction", "format": "ndjson", "path": "x", "id": "event_id",
        "updated_at": "ts", "fields": {"cookie_id": "cookie", "login_id": "login", "event_type": "kind",
                                       "channel": "'web'", "amount": "amount"}}]}
    return parse_config(doc, tmp_path / "c.yaml").sources[0]


def test_events_deduplicated_and_cookies_stitched(spark: SparkSession, tmp_path: Path) -> None:
    t = [dt.datetime(2024, 1, 1, 10, m) for m in range(8)]
    bronze = spark.createDataFrame([
        ("e1", "ck1", None, "page_view", None, "e1", t[0], t[0], "h1"),
        ("e2", "ck1", "PSchmidt", "login", None, "e2", t[1], t[1], "h2"),
        ("e3", "ck1", None, "purchase", 49.9, "e3", t[2], t[2], "h3"),
        ("e3", "ck1", None, "purchase", 49.9, "e3", t[2], t[5], "h3"),  # re-delivered in a later batch
        ("e4", "ck2", None, "page_view", None, "e4", t[3], t[3], "h4"),  # never logs in
        ("e5", "ck3", "anna", "login", None, "e5", t[4], t[4], "h5"),  # a shared computer
        ("e6", "ck3", "bert", "login", None, "e6", t[6], t[6], "h6"),
        ("e7", "ck3", None, "page_view", None, "e7", t[7], t[7], "h7"),
    ], BRONZE)
    events = interaction_records(bronze, web(tmp_path))
    assert events.count() == 7 and list(events.columns) == list(COLUMNS)
    stitched, shared = stitch_cookies(events)
    got = {r["event_id"]: (r["login_id"], r["stitched_by"], r["channel"]) for r in stitched.collect()}
    assert got == {"e1": ("pschmidt", "cookie", "web"), "e2": ("pschmidt", None, "web"),
                   "e3": ("pschmidt", "cookie", "web"), "e4": (None, None, "web"), "e5": ("anna", None, "web"),
                   "e6": ("bert", None, "web"), "e7": (None, None, "web")}
    assert [(r["cookie_id"], list(r["logins"])) for r in shared.collect()] == [("ck3", ["anna", "bert"])]
    purchase = stitched.where("event_id = 'e3'").first()
    assert purchase["amount"] == 49.9 and purchase["occurred_at"] == t[2] and purchase["source"] == "web"

"""A later delivery that withdraws a person's tracking consent, for the runs that must honour it: the shop
states tracking consent (its cookie banner) in a column the generator does not write; one shop customer who
logged in on the web and ordered withdraws it, and a click just before the withdrawal, one after it and an
order after it arrive in the same delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COLUMN = "tracking_consent"


def map_tracking_consent(doc: dict) -> None:
    """The config document's shop_customers source maps consent_tracking."""
    next(s for s in doc["sources"] if s["name"] == "shop_customers")["fields"]["consent_tracking"] = COLUMN


def state_consent(landing: Path) -> None:
    """Every shop customer of the first batch gave tracking consent."""
    first = landing / "shop" / "customers_b01.parquet"
    pd.read_parquet(first).assign(**{COLUMN: "Y"}).to_parquet(first, index=False)


@dataclass(frozen=True)
class Withdrawal:
    """What the delivery holds: the shop record that withdraws, and the events around it."""

    record_key: str
    earlier_click: str
    click_before: str = "ev-consent-before"
    click_after: str = "ev-consent-after"
    order: str = "ORD-CONSENT-1"


def deliver(landing: Path, at: pd.Timestamp) -> Withdrawal:
    """Write the withdrawal at `at` (later than any record version the other batches bring, so it stays the
    newest statement) and its events into `landing`, beside the first batch's files."""
    customers = pd.read_parquet(landing / "shop" / "customers_b01.parquet")
    orders = pd.read_parquet(landing / "shop" / "orders_b01.parquet")
    clicks = [json.loads(line) for f in sorted((landing / "web").glob("*_b01_*.ndjson")) for line in f.read_text().splitlines()]
    logins = {c["login_id"] for c in clicks if c["login_id"]}
    record = customers[customers.login.isin(logins) & customers.customer_no.isin(orders.customer_no)].head(1)
    click = next(c for c in clicks if c["login_id"] == record.login.iloc[0])
    order = orders[orders.customer_no == record.customer_no.iloc[0]].head(1)
    done = Withdrawal(f"shop_customers:{record.customer_no.iloc[0]}", click["event_id"])
    _write_like(record.assign(updated_at=at, **{COLUMN: "N"}), landing / "shop" / "customers_b01.parquet",
                landing / "shop" / "customers_b90.parquet")
    millis = int(at.timestamp() * 1000)
    late = [{**click, "event_id": done.click_before, "ts": millis - 3_600_000},
            {**click, "event_id": done.click_after, "ts": millis + 86_400_000}]
    (landing / "web" / "clickstream_b90_p0001.ndjson").write_text("".join(json.dumps(c) + "\n" for c in late))
    _write_like(order.assign(order_id=done.order, ordered_at=at + pd.Timedelta(days=1)),
                landing / "shop" / "orders_b01.parquet", landing / "shop" / "orders_b90.parquet")
    return done


def _write_like(frame: pd.DataFrame, like: Path, out: Path) -> None:
    """`frame` as a Parquet file with the column types of `like` (a one-row frame of nulls would say int)."""
    schema = pq.read_schema(like)
    for name in (c for c in frame.columns if c not in schema.names):
        schema = schema.append(pa.field(name, pa.string()))
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), out, coerce_timestamps="us",
                   allow_truncated_timestamps=True)

"""Customer metrics: order facts in the reporting currency, RFM scores and segments, channel activity."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.config import MetricSettings
from c360.gold.metrics import COLUMNS, customer_facts, customer_metrics, published_facts, ranked, segment

TIMELINE = "customer_id string, occurred_at timestamp, channel string, event_type string, amount double, currency string"
AS_OF = datetime(2026, 1, 31)


def _customers(spark: SparkSession):  # noqa: ANN202
    """(events, profiles, settings): two customers with orders (one without a rate), one without events."""
    events = spark.createDataFrame([
        ("A", datetime(2026, 1, 1), "shop", "order_completed", 100.0, "EUR"),
        ("A", datetime(2026, 1, 21), "shop", "order_completed", 50.0, "GBP"),
        ("A", datetime(2026, 1, 22), "shop", "order_cancelled", 70.0, "EUR"),      # not an order
        ("A", datetime(2026, 1, 23), "support_email", "ticket_open", None, None),
        ("A", datetime(2026, 1, 24), "twitter", "social_post", None, None),
        ("B", datetime(2025, 6, 1), "shop", "order_completed", 10.0, "CHF"),       # no rate for CHF
    ], TIMELINE)
    profiles = spark.createDataFrame([("A", datetime(2026, 1, 24)), ("B", datetime(2025, 6, 1)), ("C", datetime(2026, 1, 30))],
                                     "customer_id string, last_seen_at timestamp")
    return events, profiles, MetricSettings(currency_rates={"EUR": 1.0, "GBP": 1.2})


def test_orders_revenue_and_activity(spark: SparkSession) -> None:
    events, profiles, settings = _customers(spark)
    rows = {r.customer_id: r for r in customer_metrics(profiles, events, settings, AS_OF).collect()}
    a, b, c = rows["A"], rows["B"], rows["C"]
    assert tuple(customer_metrics(profiles, events, settings, AS_OF).columns) == COLUMNS
    assert (a.orders_count, a.revenue_total, a.avg_order_value, a.orders_without_rate) == (2, 160.0, 80.0, 0)
    assert (a.last_order_at, a.recency_days, a.open_tickets, a.social_posts, a.interactions_total) == (
        datetime(2026, 1, 21), 10, 1, 1, 5)
    assert a.channel_mix == {"shop": 3, "support_email": 1, "twitter": 1}
    assert a.last_interaction_by_channel["twitter"] == datetime(2026, 1, 24)
    assert (b.orders_count, b.revenue_total, b.avg_order_value, b.orders_without_rate) == (1, 0.0, None, 1)
    assert (c.orders_count, c.segment, c.r_score, c.days_since_last_seen, c.channel_mix) == (0, "no_orders", None, 1, {})
    assert a.r_score > b.r_score and a.f_score > b.f_score


def test_segments(spark: SparkSession) -> None:
    cases = [(5, 5, "champions"), (3, 3, "loyal"), (5, 1, "new"), (4, 2, "promising"), (1, 5, "cant_lose"),
             (2, 3, "at_risk"), (1, 1, "lost"), (2, 2, "hibernating"), (3, 1, "needs_attention")]
    df = spark.createDataFrame([c[:2] for c in cases], "r int, f int")
    got = [r[0] for r in df.select(segment(F.col("r"), F.col("f"))).collect()]
    assert got == [c[2] for c in cases]


def test_a_batch_ranks_published_facts_with_the_reached_customers_facts_as_a_whole_run_does(spark: SparkSession) -> None:
    """An incremental run reads everyone's facts back from the published metrics but the reached customer's
    (A, whose new order lands), recomputed from A's events alone: the same table as metrics computed whole."""
    events, profiles, settings = _customers(spark)
    published = customer_metrics(profiles, events.where("customer_id <> 'A' or occurred_at < '2026-01-20'"), settings,
                                 datetime(2026, 1, 20))
    reached = spark.createDataFrame([("A",)], "customer_id string")
    facts = (published_facts(published).join(reached, "customer_id", "left_anti")
             .unionByName(customer_facts(events.join(reached, "customer_id", "left_semi"), settings)))
    assert_df_equality(ranked(profiles, facts, settings, AS_OF).orderBy("customer_id"),
                       customer_metrics(profiles, events, settings, AS_OF).orderBy("customer_id"), ignore_nullable=True)

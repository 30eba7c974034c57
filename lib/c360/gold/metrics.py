"""`gold.customer_metrics`: one row per customer, computed from the timeline.

Formulas (all as of `as_of`, the run's start unless configured):

- orders: events matching `gold.metrics.orders` (default: completed shop orders). `orders_count`,
  `revenue_total` = sum of `amount` converted with `currency_rates` into `reporting_currency` (an order in a
  currency without a rate adds no revenue and is counted in `orders_without_rate`), `avg_order_value` =
  revenue_total / orders with a rate, `first_order_at`, `last_order_at`.
- RFM among customers with at least one order: `recency_days` = whole days from the last order to `as_of`;
  `r_score`, `f_score`, `m_score` are quintiles 1..5 (5 best: most recent, most orders, most revenue) by
  `ntile(5)` with ties broken by customer id; `rfm_score` = "RFM" digits; `segment` from R and F:
  champions (R>=4, F>=4), loyal (R>=3, F>=3), new (R>=4, F<=1), promising (R>=4), cant_lose (R<=2, F>=4),
  at_risk (R<=2, F>=3), hibernating (R<=2, F<=2 and R=2), lost (R=1, F<=2), needs_attention otherwise;
  customers without orders: no_orders.
- `channel_mix`: events per channel; `last_interaction_by_channel`: newest event per channel.
- `open_tickets`: events matching `gold.metrics.open_tickets`; `social_posts`: events matching
  `gold.metrics.social`; `interactions_total`.
- `last_seen_at`: newest of the last interaction and the last person-record update (from the profile);
  `days_since_last_seen` = whole days from it to `as_of`.

Everything but the ranking and the as-of day counts is a customer's own (their facts, see `customer_facts`):
an incremental run computes facts from the timeline rows of the customers it reaches only, reads everyone
else's back from the published table (`published_facts`), and ranks and dates every customer again
(`ranked`), so a batch reads no other customer's events.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config import MetricSettings

COLUMNS = ("customer_id", "orders_count", "revenue_total", "reporting_currency", "avg_order_value", "first_order_at",
           "last_order_at", "orders_without_rate", "recency_days", "r_score", "f_score", "m_score", "rfm_score", "segment",
           "channel_mix", "last_interaction_by_channel", "open_tickets", "social_posts", "interactions_total",
           "last_seen_at", "days_since_last_seen", "as_of")


def _rate(settings: MetricSettings) -> Column:
    rates = F.create_map(*[x for code, rate in settings.currency_rates.items() for x in (F.lit(code), F.lit(rate))])
    return F.element_at(rates, F.upper(F.coalesce(F.col("currency"), F.lit(settings.reporting_currency))))


def order_facts(timeline: DataFrame, settings: MetricSettings) -> DataFrame:
    """Per customer: orders, revenue in the reporting currency, first and last order, orders without a rate."""
    orders = timeline.where(F.expr(settings.orders)).withColumn("_rate", _rate(settings))
    return orders.groupBy("customer_id").agg(
        F.count("*").alias("orders_count"),
        F.round(F.sum(F.col("amount") * F.col("_rate")), 2).alias("revenue_total"),
        F.count(F.col("_rate")).alias("_priced"),
        F.min("occurred_at").alias("first_order_at"), F.max("occurred_at").alias("last_order_at"),
        F.sum(F.when(F.col("_rate").isNull(), 1).otherwise(0)).alias("orders_without_rate"))


def rfm(facts: DataFrame, as_of: datetime) -> DataFrame:
    """Adds recency_days, r/f/m scores (quintiles, 5 best), rfm_score and segment to order facts."""
    days = F.floor((F.unix_seconds(F.lit(as_of).cast("timestamp")) - F.unix_seconds("last_order_at")) / 86400)
    out = facts.withColumn("recency_days", days.cast("int"))
    out = (out.withColumn("r_score", F.ntile(5).over(Window.orderBy(F.desc("recency_days"), "customer_id")))
           .withColumn("f_score", F.ntile(5).over(Window.orderBy("orders_count", "customer_id")))
           .withColumn("m_score", F.ntile(5).over(Window.orderBy(F.coalesce("revenue_total", F.lit(0.0)), "customer_id"))))
    return out.withColumn("rfm_score", F.concat(*[F.col(c).cast("string") for c in ("r_score", "f_score", "m_score")])
                          ).withColumn("segment", segment(F.col("r_score"), F.col("f_score")))


def segment(r: Column, f: Column) -> Column:
    """The RFM segment from recency and frequency scores (see module doc)."""
    return (F.when((r >= 4) & (f >= 4), "champions").when((r >= 3) & (f >= 3), "loyal")
            .when((r >= 4) & (f <= 1), "new").when(r >= 4, "promising")
            .when((r <= 2) & (f >= 4), "cant_lose").when((r <= 2) & (f >= 3), "at_risk")
            .when((r == 1) & (f <= 2), "lost").when((r == 2) & (f <= 2), "hibernating")
            .otherwise("needs_attention"))


def activity(timeline: DataFrame, settings: MetricSettings) -> DataFrame:
    """Per customer: events per channel, the latest event per channel, open tickets and social posts."""
    per_channel = timeline.groupBy("customer_id", F.coalesce("channel", F.lit("unknown")).alias("channel")).agg(
        F.count("*").alias("n"), F.max("occurred_at").alias("last"))
    mix = per_channel.groupBy("customer_id").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("channel", "n")))).alias("channel_mix"),
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("channel", "last")))).alias("last_interaction_by_channel"))
    counts = timeline.groupBy("customer_id").agg(
        F.sum(F.expr(settings.open_tickets).cast("int")).alias("open_tickets"),
        F.sum(F.expr(settings.social).cast("int")).alias("social_posts"),
        F.count("*").alias("interactions_total"))
    return mix.join(counts, "customer_id")


def customer_facts(timeline: DataFrame, settings: MetricSettings) -> DataFrame:
    """Per customer with timeline rows: what their metrics take from those rows alone (order facts, with
    `_priced` the orders with a rate, and activity); no orders: null order facts."""
    return activity(timeline, settings).join(order_facts(timeline, settings), "customer_id", "left")


def published_facts(metrics: DataFrame) -> DataFrame:
    """The facts of `customer_facts` read back from published `gold.customer_metrics` rows (orders with a
    rate = orders - orders without one)."""
    return metrics.select("customer_id", "channel_mix", "last_interaction_by_channel", "open_tickets", "social_posts",
                          "interactions_total", "orders_count", "revenue_total",
                          (F.col("orders_count") - F.col("orders_without_rate")).alias("_priced"),
                          "first_order_at", "last_order_at", "orders_without_rate")


def customer_metrics(profiles: DataFrame, timeline: DataFrame, settings: MetricSettings, as_of: datetime) -> DataFrame:
    """One row per profile (customers without events get zeros and segment no_orders)."""
    return ranked(profiles, customer_facts(timeline, settings), settings, as_of)


def ranked(profiles: DataFrame, facts: DataFrame, settings: MetricSettings, as_of: datetime) -> DataFrame:
    """One row per profile from every customer's facts (see customer_facts): RFM ranked among the customers
    with orders, recency and days since last seen counted to `as_of`."""
    ordered = facts.where(F.col("orders_count") > 0).join(profiles.select("customer_id"), "customer_id", "left_semi")
    scores = rfm(ordered.select("customer_id", "orders_count", "revenue_total", "last_order_at"), as_of)
    stamp = F.lit(as_of).cast("timestamp")
    out = (profiles.select("customer_id", "last_seen_at").join(facts, "customer_id", "left")
           .join(scores.select("customer_id", "recency_days", "r_score", "f_score", "m_score", "rfm_score", "segment"),
                 "customer_id", "left"))
    zero = {c: 0 for c in ("orders_count", "orders_without_rate", "open_tickets", "social_posts", "interactions_total")}
    out = out.fillna(zero).withColumn("revenue_total", F.coalesce("revenue_total", F.lit(0.0)))
    return out.select(
        "customer_id", F.col("orders_count").cast("long").alias("orders_count"), "revenue_total",
        F.lit(settings.reporting_currency).alias("reporting_currency"),
        F.when(F.col("_priced") > 0, F.round(F.col("revenue_total") / F.col("_priced"), 2)).alias("avg_order_value"),
        "first_order_at", "last_order_at", F.col("orders_without_rate").cast("long").alias("orders_without_rate"),
        "recency_days", "r_score", "f_score", "m_score", "rfm_score",
        F.coalesce("segment", F.lit("no_orders")).alias("segment"),
        F.coalesce("channel_mix", F.create_map().cast("map<string,bigint>")).alias("channel_mix"),
        F.coalesce("last_interaction_by_channel", F.create_map().cast("map<string,timestamp>")).alias("last_interaction_by_channel"),
        F.col("open_tickets").cast("long").alias("open_tickets"), F.col("social_posts").cast("long").alias("social_posts"),
        F.col("interactions_total").cast("long").alias("interactions_total"), "last_seen_at",
        F.floor((F.unix_seconds(stamp) - F.unix_seconds("last_seen_at")) / 86400).cast("int").alias("days_since_last_seen"),
        stamp.alias("as_of"))

"""Identity map rows: how each record was linked, and when its customer id was assigned."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.silver.identity_map import COLUMNS, identity_map, match_pairs

PAIRS = "record_key_l string, record_key_r string, match_probability double, match_weight double"


def test_match_pairs_keep_exact_links_and_likely_ones(spark: SparkSession) -> None:
    exact = spark.createDataFrame([("a", "b", "exact:email")], "record_key_l string, record_key_r string, method string")
    scored = spark.createDataFrame([("a", "b", 0.99, 8.0), ("b", "c", 0.95, 4.5), ("c", "d", 0.4, -1.0)], PAIRS)
    got = match_pairs(exact, scored, threshold=0.9)
    expected = spark.createDataFrame([("a", "b", 1.0, None, "exact:email"), ("b", "c", 0.95, 4.5, "splink")],
                                     PAIRS + ", method string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_method_probability_and_assigned_at(spark: SparkSession) -> None:
    records = spark.createDataFrame([("crm", "1", "crm:1"), ("shop", "7", "shop:7"), ("web", "x", "web:x"),
                                     ("crm", "2", "crm:2")], "source string, source_record_id string, record_key string")
    earlier, now = datetime(2026, 1, 1), datetime(2026, 11, 23)
    ids = spark.createDataFrame([("crm:1", "C1", earlier), ("shop:7", "C1", earlier), ("web:x", "C1", earlier),
                                 ("crm:2", "C2", now)], "record_key string, customer_id string, customer_created_at timestamp")
    pairs = spark.createDataFrame([("crm:1", "shop:7", 1.0, None, "exact:email"), ("shop:7", "web:x", 0.97, 6.0, "splink"),
                                   ("web:x", "crm:2", 0.95, 5.0, "splink")], PAIRS + ", method string")
    previous = spark.createDataFrame([("crm:1", "C1", earlier), ("crm:2", "C1", earlier)],
                                     "record_key string, customer_id string, assigned_at timestamp")
    got = identity_map(records, ids, pairs, previous, now)
    expected = spark.createDataFrame([
        ("crm", "1", "crm:1", "C1", earlier, "exact:email", 1.0, earlier),
        ("shop", "7", "shop:7", "C1", earlier, "exact:email", 1.0, now),
        ("web", "x", "web:x", "C1", earlier, "splink", 0.97, now),
        ("crm", "2", "crm:2", "C2", now, "single", None, now),   # its link to web:x crosses clusters: not its method
    ], "source string, source_record_id string, record_key string, customer_id string, customer_created_at timestamp, "
       "match_method string, match_probability double, assigned_at timestamp")
    assert_df_equality(got.select(*COLUMNS), expected, ignore_row_order=True, ignore_nullable=True)

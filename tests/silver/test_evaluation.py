"""Pairwise and cluster measures against a ground truth."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.evaluation import blocking_recall, evaluate, format_report


def test_pairwise_and_cluster_measures(spark: SparkSession) -> None:
    # truth: P1 = {a, b, c}, P2 = {d, e}; predicted: {a, b}, {c}, {d, e} merged wrongly with nothing else
    truth = spark.createDataFrame([("a", "P1"), ("b", "P1"), ("c", "P1"), ("d", "P2"), ("e", "P2"), ("f", "P3")],
                                  "record_key string, true_id string")
    predicted = spark.createDataFrame([("a", "C1"), ("b", "C1"), ("c", "C2"), ("d", "C3"), ("e", "C3"), ("f", "C3"),
                                       ("z", "C9")], "record_key string, customer_id string")
    result = evaluate(predicted, truth)
    # predicted pairs: ab, de, df, ef = 4; true pairs: ab, ac, bc, de = 4; correct: ab, de = 2
    assert result["pairs"] == {"true_positive": 2, "predicted": 4, "true": 4, "false_positive": 2, "false_negative": 2}
    assert (result["precision"], result["recall"], result["f1"]) == (0.5, 0.5, 0.5)
    assert result["persons_split_share"] == round(1 / 3, 5)
    assert result["clusters_wrongly_merged_share"] == round(1 / 3, 5)
    assert result["records_only_in_identity_map"] == 1
    assert "pairwise F1           0.5000" in format_report(result)


def test_blocking_recall_counts_true_pairs_a_rule_or_stitching_reaches(spark: SparkSession) -> None:
    truth = spark.createDataFrame([("a", "p1"), ("b", "p1"), ("c", "p1"), ("d", "p2"), ("e", "p3")], "record_key string, true_id string")
    keys = spark.createDataFrame([("a", "smith", "x@y.z"), ("b", "smith", None), ("c", "smyth", None), ("d", "jones", None),
                                  ("e", "jones", None)], "record_key string, last_name_key string, email_key string")
    rules = ["l.last_name_key = r.last_name_key", "l.email_key = r.email_key"]
    assert blocking_recall(keys, truth, rules) == {"true_pairs": 3, "reached": 1, "blocking_recall": 0.33333}
    stitched = spark.createDataFrame([("c", "a")], "record_key_l string, record_key_r string")
    assert blocking_recall(keys, truth, rules, stitched)["reached"] == 2, "stitching joined (a, c), in either order"

"""Pairwise and cluster measures against a ground truth."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.silver.evaluation import evaluate, format_report


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

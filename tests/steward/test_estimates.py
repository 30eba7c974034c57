"""Precision and recall from labelled random samples, with intervals that cover the truth."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from c360.frames import local_frame
from c360.steward import estimates
from c360.steward.estimates import Share


def test_shares_of_each_stratum_give_precision_and_recall_among_scored_pairs(spark: SparkSession) -> None:
    rows = [("link", "match")] * 45 + [("link", "non-match")] * 5 + [("non-link", "match")] * 5 + [("non-link", "non-match")] * 45
    found = estimates.shares(local_frame(spark, rows, "stratum string, label string"), links=1000, non_links=200)
    assert found == {"link": Share(45, 50, 1000), "non-link": Share(5, 50, 200)}
    result = estimates.estimate(found)
    assert result["precision"]["estimate"] == pytest.approx(0.9)
    assert result["precision"]["low"] < 0.9 < result["precision"]["high"]
    assert result["recall_among_scored_pairs"]["estimate"] == pytest.approx(900 / 920)
    low, high = result["recall_among_scored_pairs"]["low"], result["recall_among_scored_pairs"]["high"]
    assert low < 900 / 920 < high <= 1.0
    assert "blocking rules" in result["note"]


def test_without_labelled_links_nothing_is_estimated() -> None:
    result = estimates.estimate({"link": Share(0, 0, 10), "non-link": Share(0, 0, 5)})
    assert "precision" not in result and "recall_among_scored_pairs" not in result


def test_the_precision_interval_covers_the_true_precision_in_19_of_20_samples() -> None:
    rng = np.random.default_rng(3)
    links = rng.random(5000) < 0.93  # a set of links whose true precision is below 1
    truth = links.mean()
    covered = 0
    for _ in range(200):
        sample = rng.choice(links, size=200, replace=False)
        low, high = Share(int(sample.sum()), 200, len(links)).interval()
        covered += low <= truth <= high
    assert covered >= 180, covered


def test_all_or_no_matches_put_the_interval_on_the_bound() -> None:
    low, high = Share(200, 200, 5000).interval()
    assert high == 1.0 and 0.98 < low < 1.0
    low, high = Share(0, 50, 5000).interval()
    assert low == 0.0 and 0.0 < high < 0.06

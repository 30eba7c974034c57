"""The driver engine against the Spark engine on random graphs, its birth-date rule, and the engine choice."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest
from pyspark.sql import SparkSession

from c360.config import ClusteringSettings
from c360.silver.clustering import ClusterRules, choose
from c360.silver.clustering.driver import DriverClusterer, dates_compatible
from c360.silver.clustering.spark import SparkClusterer
from tests.silver.clustering.conftest import as_groups

DATE_CASES = [("1985-03-12", "1985-03-12", True), ("1985-03-12", "1985-03-13", True),  # equal, one digit
              ("1985-03-12", "1958-03-12", True), ("1985-03-12", "1985-12-03", True),  # transposed, day/month swap
              ("1985-03-12", "1962-07-30", False), ("1985-03-12", "1985-04-13", False),
              ("1985-03-12", "1859-03-12", True), ("1985-03-12", "1983-05-12", True)]  # a digit moved, swapped apart


def test_birth_dates_one_typo_or_swap_apart_are_compatible() -> None:
    def number(text: str) -> int:
        return int(text.replace("-", ""))
    got = dates_compatible(np.array([number(a) for a, _, _ in DATE_CASES]), np.array([number(b) for _, b, _ in DATE_CASES]))
    assert got.tolist() == [expected for _, _, expected in DATE_CASES]


def random_graph(spark: SparkSession, seed: int, people: int = 120):  # noqa: ANN201
    """Records of `people` people (1-4 each) with dates, sources and handles, some wrong; stitched and scored
    pairs inside and across people, weights on a coarse grid so that ties occur."""
    rng = random.Random(seed)
    records, guards = [], []
    for person in range(people):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
        handle = (f"name{person % 40}", str(rng.randrange(100)))
        for copy in range(rng.randint(1, 4)):
            key = f"s{copy % 3}:{person:04d}{copy}"
            records.append(key)
            dob = None if rng.random() < 0.3 else born if rng.random() < 0.8 else born + timedelta(days=rng.choice([1, 40, 3650]))
            guards.append((key, dob, "s0" if copy % 3 == 0 else None, *(handle if rng.random() < 0.3 else (None, None))))
    exact, scored = [], []
    for _ in range(len(records) // 3):
        a = rng.choice(records)
        b = rng.choice([r for r in records if r[3:7] == a[3:7]] if rng.random() < 0.9 else records)
        if a != b:
            exact.append((a, b))
    for _ in range(len(records) * 3):
        a = rng.choice(records)
        b = rng.choice([r for r in records if r[3:7] == a[3:7]] if rng.random() < 0.6 else records)
        if a != b:
            scored.append((a, b, rng.choice([-2.0, 1.0, 4.0, 6.5, 9.0, 12.0, 12.0, 20.0])))
    frame = spark.createDataFrame
    return (frame([(k,) for k in records], "record_key string"),
            frame(exact, "record_key_l string, record_key_r string"),
            frame(scored, "record_key_l string, record_key_r string, match_weight double"),
            frame([(a, b, w if w > 3 else 1000.0) for a, b, w in scored], "record_key_l string, record_key_r string, strength double"),
            frame(guards, "record_key string, date_of_birth date, unique_source string, handle_key string, handle_digits string"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_driver_finds_the_same_clusters_as_spark(spark: SparkSession, seed: int) -> None:
    nodes, exact, scored, strength, guards = (f.cache() for f in random_graph(spark, seed))
    rules = ClusterRules(min_weight=3.0, margin=3.0, max_size=4)
    on_spark = SparkClusterer().cluster(nodes, exact, scored, strength, guards, rules)
    on_driver = DriverClusterer(spark).cluster(nodes, exact, scored, strength, guards, rules)
    assert as_groups(on_driver.components, "component") == as_groups(on_spark.components, "component")
    assert sorted(on_driver.components.collect()) == sorted(on_spark.components.collect())
    assert (on_driver.rounds, on_driver.oversized) == (on_spark.rounds, on_spark.oversized)


def test_auto_clusters_on_the_driver_while_the_edges_fit(spark: SparkSession) -> None:
    settings = ClusteringSettings(driver_max_edges=1000)
    assert choose(spark, settings, 1000)[0].name == "driver"
    assert choose(spark, settings, 1001)[0].name == "spark"
    assert choose(spark, ClusteringSettings(engine="spark"), 1)[0].name == "spark"

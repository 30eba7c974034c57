"""The clustering engines every contract test runs on, and helpers to read their clusters."""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession

from c360.silver.clustering import Clusterer
from c360.silver.clustering.driver import DriverClusterer
from c360.silver.clustering.spark import SparkClusterer

ENGINES = ("spark", "driver")


@pytest.fixture(params=ENGINES)
def clusterer(request: pytest.FixtureRequest, spark: SparkSession) -> Clusterer:
    return SparkClusterer() if request.param == "spark" else DriverClusterer(spark)


def nodes(spark: SparkSession, keys: str) -> DataFrame:
    return spark.createDataFrame([(k,) for k in keys.split()], "record_key string")


def as_groups(df: DataFrame, key: str = "customer_id") -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for row in df.collect():
        groups.setdefault(row[key], set()).add(row["record_key"])
    return {frozenset(g) for g in groups.values()}

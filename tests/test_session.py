"""The session factory: small-machine settings, Splink's jar, Delta jars from one setting, engine choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyspark import SparkConf
from pyspark.sql import SparkSession

from c360.config import SparkSettings
from c360.errors import EngineError
from c360.session import DELTA_JARS_ENV, choose_engine, delta_jars, session_conf, splink_jar


def test_session_conf_is_tuned_for_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DELTA_JARS_ENV, raising=False)
    conf = session_conf(SparkSettings(shuffle_partitions=4, conf={"spark.foo": True}), SparkConf(), quiet=True)
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] == "4"
    assert conf["spark.foo"] == "true"
    assert splink_jar() in conf["spark.jars"].split(",") and os.path.exists(splink_jar())
    assert "spark.sql.extensions" not in conf, "no Delta extension without Delta jars"


def test_delta_jars_come_from_one_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.jar").write_bytes(b"")
    (tmp_path / "b.jar").write_bytes(b"")
    monkeypatch.setenv(DELTA_JARS_ENV, str(tmp_path))
    assert delta_jars() == [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")]
    conf = session_conf(SparkSettings(), SparkConf())
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert str(tmp_path / "a.jar") in conf["spark.jars"]
    assert delta_jars(SparkSettings(delta_jars=str(tmp_path / "a.jar"))) == [str(tmp_path / "a.jar")]


def test_missing_delta_jar_folder_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DELTA_JARS_ENV, str(tmp_path / "missing"))
    with pytest.raises(EngineError, match=f"missing .*{DELTA_JARS_ENV}"):
        delta_jars()


def test_engine_choice_reports_why(spark: SparkSession, delta_spark_available: bool) -> None:
    assert choose_engine(spark, "delta-rs").name == "delta-rs"
    auto = choose_engine(spark, "auto")
    assert auto.name == ("delta-spark" if delta_spark_available else "delta-rs")
    assert auto.reason.startswith("auto:")
    if delta_spark_available:
        assert choose_engine(spark, "delta-spark").name == "delta-spark"
    else:
        with pytest.raises(EngineError, match="--packages io.delta:delta-spark_2.13:4.4.1"):
            choose_engine(spark, "delta-spark")


def test_shared_session_is_utc_with_splink_jar(spark: SparkSession) -> None:
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert splink_jar() in spark.sparkContext.getConf().get("spark.jars")
    assert spark.sparkContext.getCheckpointDir() is not None


def test_a_local_warehouse_is_refused_on_a_cluster_unless_shared(tmp_path) -> None:  # noqa: ANN001
    from c360.errors import C360Error
    from c360.session import check_warehouse_reach

    check_warehouse_reach("local[2]", str(tmp_path), shared=False)
    check_warehouse_reach("spark://10.0.0.1:7077", "s3://bucket/warehouse", shared=False)
    check_warehouse_reach("spark://10.0.0.1:7077", str(tmp_path), shared=True)
    with pytest.raises(C360Error, match="warehouse_shared: true"):
        check_warehouse_reach("yarn", str(tmp_path), shared=False)
    with pytest.raises(C360Error, match="executors on other machines"):
        check_warehouse_reach("spark://10.0.0.1:7077", f"file://{tmp_path}", shared=False)

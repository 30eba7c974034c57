"""Shared fixtures: one local SparkSession for the whole test run, and a store per Delta engine.

The session carries Delta's connector when C360_DELTA_JARS points at its jars (scripts/test.sh sets it from
the shared folder beside the project), so both engines are tested for real in one session; without the
jars, delta-spark cases skip and say why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360.config import SparkSettings
from c360.session import DELTA_JARS_ENV, build_session, delta_classes_available, delta_extension_enabled
from c360.storage import TableStore, open_store

ENGINES = ("delta-rs", "delta-spark")
# Debian's libpostgresql-jdbc-java puts the driver here; scripts/test.sh installs it where it can.
POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    settings = SparkSettings(
        master="local[2]", driver_memory="2g", shuffle_partitions=2,
        checkpoint_dir=str(tmp_path_factory.mktemp("checkpoints")),
        jars=[POSTGRES_JDBC_JAR] if os.path.exists(POSTGRES_JDBC_JAR) else [],
    )
    session = build_session(settings, quiet=True)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def delta_spark_available(spark: SparkSession) -> bool:
    return delta_classes_available(spark) and delta_extension_enabled(spark)


def require_delta_spark(available: bool) -> None:
    """Skip (with the reason) when Delta's connector is not in the test session."""
    if not available:
        pytest.skip(f"delta-spark: no Delta connector jars ({DELTA_JARS_ENV} unset; scripts/test.sh sets it "
                    "from ../shared/delta-spark/jars when that folder exists)")


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    return str(tmp_path / "warehouse")


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, spark: SparkSession, warehouse: str,
          delta_spark_available: bool) -> TableStore:
    if request.param == "delta-spark":
        require_delta_spark(delta_spark_available)
    return open_store(spark, request.param, warehouse)


@pytest.fixture
def stores(spark: SparkSession, warehouse: str, delta_spark_available: bool) -> dict[str, TableStore]:
    """Both engines over the same warehouse, for cross-engine cases."""
    require_delta_spark(delta_spark_available)
    return {engine: open_store(spark, engine, warehouse) for engine in ENGINES}


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
# Spark's Python workers must run this interpreter (it has c360 and its dependencies), as scripts/test.sh sets.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

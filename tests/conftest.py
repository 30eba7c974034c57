"""Shared fixtures: one local SparkSession for the whole test run, and a store per Delta engine.

The session carries Delta's connector when C360_DELTA_JARS points at its jars (scripts/test.sh sets it from
the shared folder beside the project), so both engines are tested for real in one session; without the
jars, delta-spark cases skip and say why.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360 import pipeline
from c360.config import C360Config, PrivacySettings, SparkSettings, parse_config
from c360.datagen.generate import generate
from c360.session import DELTA_JARS_ENV, EngineChoice, build_session, delta_classes_available, delta_extension_enabled
from c360.silver.model import NAME
from c360.storage import TableStore, open_store

ENGINES = ("delta-rs", "delta-spark")
TEST_SALT = "a test salt of some length"
PSEUDONYMISED = ("customer_profile", "customer_metrics", "customer_interactions", "contact_permissions")
# Debian's libpostgresql-jdbc-java puts the driver here; scripts/test.sh installs it where it can.
POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar"
# Test data is tiny, so compiling a query to code costs more than running it: every Spark session a test starts
# interprets expressions instead (the shared one, and the runs tests start in other processes through their
# config, see demo_config); production keeps Spark's default.
TEST_SPARK_CONF = {"spark.sql.codegen.factoryMode": "NO_CODEGEN", "spark.sql.codegen.wholeStage": False}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    settings = SparkSettings(
        master="local[2]", driver_memory="2g", shuffle_partitions=2,
        checkpoint_dir=str(tmp_path_factory.mktemp("checkpoints")),
        jars=[POSTGRES_JDBC_JAR] if os.path.exists(POSTGRES_JDBC_JAR) else [], conf=TEST_SPARK_CONF,
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


@dataclass(frozen=True)
class DemoRun:
    """A warehouse built by one run of every stage, and that run."""

    root: Path
    config: C360Config
    config_path: Path
    store: TableStore
    run_id: str
    stages: dict


@pytest.fixture(scope="session")
def demo_run(project_root: Path, tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> DemoRun:
    """One run of every stage over 300 generated people on delta-rs, with the stored test model (no
    training) and pseudonymised analytics copies of four gold tables: the gold tests check its tables (and
    may run gold again), the report tests its report, the privacy tests export from it."""
    from tests.bronze.test_stage import demo_config

    root = tmp_path_factory.mktemp("demo-run")
    generate(300, root / "landing", seed=11)
    doc = demo_config(project_root, root)
    models = root / "models"
    models.mkdir()
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    doc["silver"]["linkage"]["model_dir"] = str(models)
    doc["gold"]["pseudonymised"] = list(PSEUDONYMISED)  # the analytics copies too (the salt: TEST_SALT)
    path = root / "c360.yaml"
    path.write_text(yaml.safe_dump(doc))
    config = parse_config(doc, path)
    store = open_store(spark, "delta-rs", config.warehouse)
    ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
    return DemoRun(root, config, path, store, ctx.run_id, pipeline.run(ctx, "all"))


os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
# the privacy salt of every run the tests start (gold.pseudonymised needs it); tests of its absence remove it
os.environ.setdefault(PrivacySettings().salt_env, TEST_SALT)
# Spark's Python workers must run this interpreter (it has c360 and its dependencies), as scripts/test.sh sets.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

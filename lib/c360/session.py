"""The one place a SparkSession is built, and the Delta engine chosen for it.

Local mode is tuned for small machines (few shuffle partitions, AQE, Arrow, UTC); on a cluster, whatever
spark-submit set wins because the builder only fills in what is not already configured. Delta's connector
is found through one setting (`spark.delta_jars` in the config or the C360_DELTA_JARS environment variable,
a folder of jars), or comes from `--packages io.delta:delta-spark_2.13:4.4.1` / Databricks.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from c360.config import C360Config, SparkSettings
from c360.errors import C360Error, EngineError
from c360.fs import is_local

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
DELTA_JARS_ENV = "C360_DELTA_JARS"


@dataclass(frozen=True)
class EngineChoice:
    """Which Delta engine the store uses, and why (printed at start so nobody has to guess)."""

    name: str
    reason: str


def delta_jars(settings: SparkSettings | None = None) -> list[str]:
    """Jar files of Delta's connector from the config's `delta_jars` folder or C360_DELTA_JARS."""
    source = (settings.delta_jars if settings else None) or os.environ.get(DELTA_JARS_ENV)
    if not source:
        return []
    jars: list[str] = []
    for entry in source.split(os.pathsep):
        path = Path(entry)
        if path.is_dir():
            jars.extend(sorted(glob.glob(str(path / "*.jar"))))
        elif path.is_file():
            jars.append(str(path))
        else:
            raise EngineError(f"Delta jars: {entry} (from {'config spark.delta_jars' if settings and settings.delta_jars else DELTA_JARS_ENV}) does not exist")
    return jars


def splink_jar() -> str:
    """Splink's Scala similarity UDFs (Jaro-Winkler etc.) for Spark 4, shipped inside the splink package."""
    from splink.backends.spark import similarity_jar_location

    return similarity_jar_location()


def _delta_expected(conf: SparkConf, jars: list[str], jvm: object | None) -> bool:
    """Whether Delta's classes will be on the driver's classpath, so the extension and catalog can be set.

    A JVM that is already running (spark-submit, Databricks) is asked directly: jars added through the session
    builder reach executors, not its classpath. A JVM that c360 launches gets the jars at launch."""
    if jvm is not None:
        try:
            jvm.org.apache.spark.util.Utils.classForName(DELTA_EXTENSION, True, False)
            return True
        except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
            return False
    packages = conf.get("spark.jars.packages", "") or ""
    return bool(jars) or "delta-spark" in packages


def preset_conf() -> SparkConf:
    """What spark-submit (or an active context) already configured; empty in a plain Python process."""
    if os.environ.get("PYSPARK_GATEWAY_PORT") and SparkContext._jvm is None:
        # Launched by spark-submit: connect to its JVM so SparkConf sees the --conf/--packages values.
        SparkContext._ensure_initialized()
    return SparkConf()


def session_conf(settings: SparkSettings, preset: SparkConf, *, quiet: bool = False,
                 jvm: object | None = None) -> dict[str, str]:
    """The settings c360 wants, before anything spark-submit already set is taken into account; `jvm` is the
    already running driver JVM, if any (then Delta's classes must already be on its classpath)."""
    delta = delta_jars(settings)
    jars = [splink_jar(), *delta, *settings.jars]
    conf: dict[str, str] = {
        "spark.app.name": settings.app_name,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        # Source data is dirty: a bad value must become null (and be quarantined), not fail the whole job.
        "spark.sql.ansi.enabled": "false",
        # Parquet that delta-rs and other readers understand (Spark's default is INT96).
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.jars": ",".join(jars),
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }
    if settings.master:
        conf["spark.master"] = settings.master
    if (preset.get("spark.master") or settings.master or "").startswith("local"):
        # Small-machine defaults: Delta's log replay (50) and VACUUM's listing (10,000) partitions are sized
        # for clusters and cost minutes of task overhead on two cores.
        conf["spark.databricks.delta.snapshotPartitions"] = str(settings.shuffle_partitions)
        conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] = str(settings.shuffle_partitions)
    if settings.driver_memory:
        conf["spark.driver.memory"] = settings.driver_memory
    if quiet:
        conf["spark.ui.enabled"] = "false"
        conf["spark.ui.showConsoleProgress"] = "false"
    if _delta_expected(preset, delta, jvm):
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
        # Tables stay readable by delta-rs: no deletion vectors unless a user opts in per table.
        conf["spark.databricks.delta.properties.defaults.enableDeletionVectors"] = "false"
        conf["spark.databricks.delta.retentionDurationCheck.enabled"] = "false"
    conf.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.conf.items()})
    return conf


def build_session(settings: SparkSettings, warehouse: str | None = None, *, quiet: bool = False) -> SparkSession:
    """Get or create the SparkSession with c360's settings; values already set by spark-submit are kept."""
    preset = preset_conf()
    if settings.master.startswith("local"):
        # local workers are processes of this machine: they must run this interpreter (and see c360)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in session_conf(settings, preset, quiet=quiet, jvm=SparkContext._jvm).items():
        if key == "spark.jars" and preset.get(key):
            value = ",".join(filter(None, [preset.get(key), value]))
        elif preset.contains(key):
            continue
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    _splink_classes_loaded(spark)
    _no_local_checksum_files(spark)
    checkpoint = settings.checkpoint_dir or (
        os.path.join(warehouse, "_spark", "checkpoints") if warehouse else tempfile.mkdtemp(prefix="c360-ckpt-")
    )
    spark.sparkContext.setCheckpointDir(checkpoint)
    return spark


SPLINK_PROBE_CLASS = "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"


def _splink_classes_loaded(spark: SparkSession) -> None:
    """Make Splink's similarity functions loadable in the driver. spark-submit starts the driver's JVM before
    c360 can put Splink's jar on its classpath (spark.jars set through the builder then reaches the executors
    only), so Splink could not register jaro_winkler and the rest; ADD JAR puts the jar in the session's class
    loader (and ships it to the executors)."""
    try:
        spark._jvm.org.apache.spark.util.Utils.classForName(SPLINK_PROBE_CLASS, True, False)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        spark.sql(f"ADD JAR '{splink_jar()}'")


def _no_local_checksum_files(spark: SparkSession) -> None:
    """Hadoop's local file system writes a hidden .crc beside every file; tables need none of them."""
    jvm = spark._jvm  # type: ignore[union-attr]
    jvm.org.apache.hadoop.fs.FileSystem.getLocal(spark.sparkContext._jsc.hadoopConfiguration()).setWriteChecksum(False)


def delta_classes_available(spark: SparkSession) -> bool:
    """True when Delta's connector classes load in this session (jars added via spark.jars included)."""
    try:
        spark._jvm.org.apache.spark.util.Utils.classForName("io.delta.tables.DeltaTable", True, False)  # type: ignore[union-attr]
        return True
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        return False


def delta_extension_enabled(spark: SparkSession) -> bool:
    """True when the session was started with Delta's SQL extension and catalog (needed for MERGE INTO etc.)."""
    conf = spark.sparkContext.getConf()
    return DELTA_EXTENSION in (conf.get("spark.sql.extensions") or "") and (
        conf.get("spark.sql.catalog.spark_catalog") == DELTA_CATALOG
    )


def choose_engine(spark: SparkSession, requested: str) -> EngineChoice:
    """Resolve `auto | delta-rs | delta-spark` against what this session can actually do."""
    native = delta_classes_available(spark) and delta_extension_enabled(spark)
    if requested == "delta-rs":
        return EngineChoice("delta-rs", "requested in config (engine: delta-rs)")
    if requested == "delta-spark":
        if not native:
            raise EngineError(
                "engine delta-spark requested but Delta's connector is not in this Spark session: set "
                f"{DELTA_JARS_ENV} to a folder of Delta jars, start Spark with --packages "
                "io.delta:delta-spark_2.13:4.4.1, or use engine: auto / delta-rs"
            )
        return EngineChoice("delta-spark", "requested in config (engine: delta-spark)")
    if native:
        origin = os.environ.get(DELTA_JARS_ENV)
        where = f"jars from {DELTA_JARS_ENV}" if origin else "the Spark classpath"
        return EngineChoice("delta-spark", f"auto: Delta's connector found on {where}")
    return EngineChoice("delta-rs", "auto: no Delta connector on the Spark classpath, using embedded delta-rs")


def check_warehouse_reach(master: str, warehouse: str, shared: bool) -> None:
    """Refuse a warehouse on this machine's disk when executors run elsewhere: each would write its own
    files on its own disk, and no table would be whole anywhere."""
    if master.startswith("local") or shared or not is_local(warehouse):
        return
    raise C360Error(f"warehouse {warehouse} is a local path but Spark's master is {master}: executors on other "
                    "machines cannot reach it. Use storage every node reaches (hdfs://, s3a://, abfss://, gs://), "
                    "or set `warehouse_shared: true` when every node mounts that path.")


def session_for(config: C360Config, *, quiet: bool = False) -> tuple[SparkSession, EngineChoice]:
    """Build the session for a config and pick its engine; logs which engine and why."""
    spark = build_session(config.spark, config.warehouse, quiet=quiet)
    check_warehouse_reach(spark.sparkContext.master, config.warehouse, config.warehouse_shared)
    choice = choose_engine(spark, config.engine)
    log.info("Delta engine: %s (%s)", choice.name, choice.reason)
    return spark, choice

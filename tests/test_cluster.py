"""The pipeline on a real Spark cluster: a standalone master and worker on 127.0.0.1 (the scripts inside the
pyspark wheel), the built wheel installed into a packed Python environment that the job ships to its
executors (`--archives`), the whole pipeline submitted with spark-submit on delta-spark (its jars passed with
--jars; the engine a cluster runs), the tables checked, the cluster stopped whatever happens. delta-rs
committing a cluster's staged files (`warehouse_shared`) is not submitted here; tests/test_session.py checks
the reach rule that allows it.

The worker and the job start with a bare environment (no PYSPARK_PYTHON, no PYTHONPATH, PATH without the
project's venv), so what local mode hides fails here: a dependency missing from the wheel, a file only the
driver has, Splink's similarity jar not reaching the JVMs that run its functions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from c360.datagen.generate import generate
from c360.silver.model import NAME
from tests.bronze.test_stage import demo_config

pytestmark = pytest.mark.slow
SPARK_HOME = Path(__import__("pyspark").__file__).parent
BARE = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/local/bin:/usr/bin:/bin", "SPARK_HOME": str(SPARK_HOME),
        **{k: v for k, v in os.environ.items() if k in ("JAVA_HOME", "LANG", "TMPDIR")}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(log: Path, text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{log.name}: no {text!r} within {seconds:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass(frozen=True)
class Cluster:
    master: str
    work: Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """spark://127.0.0.1:<port>: one master, one worker (2 cores, 3 GiB) with its own work directory."""
    root = tmp_path_factory.mktemp("cluster")
    port = free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    processes = []
    try:
        with open(root / "master.log", "w") as log:
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(free_port())], stdout=log, stderr=subprocess.STDOUT, env=BARE))
        _wait_for(root / "master.log", "I have been elected leader", 120)
        with open(root / "worker.log", "w") as log:
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
                 "--cores", "2", "--memory", "3g", "--work-dir", str(root / "work"), "--webui-port", str(free_port())],
                stdout=log, stderr=subprocess.STDOUT, env=BARE))
        _wait_for(root / "worker.log", "Successfully registered with master", 120)
        yield Cluster(f"spark://127.0.0.1:{port}", root / "work")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def packed_env(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The built wheel installed (with its declared dependencies, pinned by requirements.lock) into a new
    environment, and that environment packed with venv-pack: (its python for the driver, the archive)."""
    root = tmp_path_factory.mktemp("env")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(project_root)],
                   check=True, capture_output=True)
    [wheel] = (root / "dist").glob("c360-*.whl")
    env = root / "exec-env"
    # copies, not symlinks, of the interpreter: Spark refuses to unpack a link pointing outside the archive
    subprocess.run([sys.executable, "-m", "venv", "--copies", str(env)], check=True, env=BARE)
    # no .pyc compiled here: the executors compile what they import
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile",
           "-c", str(project_root / "requirements.lock")]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, env=BARE)
    # delta-spark's Python module for the delta-spark engine; pyspark itself comes with the cluster's Spark
    subprocess.run([*pip, "--no-deps", "delta-spark"], check=True, capture_output=True, env=BARE)
    # gzip without compression (packing 3.5 s instead of 20.5 s at level 1): the executors unpack it on this
    # machine's disk; a plain .tar would lose the interpreter's execute bit in Spark's unpacking
    archive = root / "exec-env.tar.gz"
    subprocess.run([str(Path(sys.executable).parent / "venv-pack"), "-p", str(env), "-o", str(archive), "-q",
                    "--compress-level", "0"], check=True)
    return env / "bin" / "python", archive


def _config(project_root: Path, root: Path, engine: str) -> Path:
    # what needs the executors' environment: person sources that Splink links (the phone parser's Python
    # workers, Splink's similarity jar), a reference source joined into gold, clickstream (cookie stitching)
    sources = ("crm_accounts", "crm_contacts", "shop_customers", "web_events")
    doc = demo_config(project_root, root, engine, sources=sources)
    doc["warehouse_shared"] = True   # master, worker and driver share this machine's disk
    models = root / "models"
    models.mkdir(exist_ok=True)
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    doc["silver"]["linkage"]["model_dir"] = str(models)
    doc["spark"].update(driver_memory="1g", shuffle_partitions=2)  # the worker's two cores
    # Delta's log replay sized for the worker's two cores, as c360 sizes it in local mode
    doc["spark"]["conf"]["spark.databricks.delta.snapshotPartitions"] = 2
    path = root / "c360.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_pipeline_runs_on_a_standalone_cluster(cluster: Cluster, packed_env: tuple[Path, Path], project_root: Path,
                                                  tmp_path: Path, delta_spark_available: bool) -> None:
    engine = "delta-spark"
    jars = os.environ.get("C360_DELTA_JARS")
    if not (delta_spark_available and jars):
        pytest.skip("Delta's Spark connector jars are not available (C360_DELTA_JARS)")
    python, archive = packed_env
    generate(60, tmp_path / "landing", seed=3)
    config = _config(project_root, tmp_path, engine)
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", cluster.master, "--conf", "spark.ui.enabled=false",
               "--archives", f"{archive}#environment", "--conf", "spark.pyspark.python=./environment/bin/python",
               "--conf", f"spark.pyspark.driver.python={python}", "--conf", "spark.executor.memory=1500m"]
    command += ["--jars", ",".join(str(j) for j in sorted(Path(jars).glob("*.jar")))]
    command += [str(project_root / "jobs" / "run_pipeline.py"), "--config", str(config), "--stage", "all"]
    done = subprocess.run(command, capture_output=True, text=True, env=BARE, timeout=1200)
    # spark-submit's PythonRunner merges the driver's stderr into its stdout; the summary is printed last
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-2000:]
    summary = json.loads(out[out.rindex("\n{\n") + 1:])
    assert {s: r.get("failed") for s, r in summary["stages"].items()} == dict.fromkeys(("bronze", "silver", "gold"))
    assert f"Delta engine: {engine}" in out
    executors = [p for p in cluster.work.glob("app-*/*") if p.is_dir()]
    assert executors and all((p / "environment" / "bin" / "python").exists() for p in executors), \
        "executors run the shipped environment in their own work directories"
    import deltalake

    assert "silver: linkage on spark (the Spark master is a cluster)" in out
    assert summary["stages"]["silver"]["comparisons"] > 0, "Splink scored pairs on the executors"
    assert summary["stages"]["gold"]["tables"]["customer_profile"] > 0
    for table in ("customer_profile", "customer_xref", "customer_interactions"):
        rows = deltalake.DeltaTable(str(tmp_path / "warehouse" / "gold" / table)).to_pyarrow_dataset().count_rows()
        assert rows == summary["stages"]["gold"]["tables"][table], table


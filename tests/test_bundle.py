"""The Databricks Asset Bundle without a workspace: the job validates against the bundle's own models
(databricks-bundles), runs bronze -> silver -> gold in order on a schedule with retries, every path it names
exists, and each task of one job run mints the same c360 run id."""

from __future__ import annotations

import glob
import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from c360 import notebook, pipeline


@pytest.fixture(scope="module")
def bundle(project_root: Path) -> dict:
    return yaml.safe_load((project_root / "databricks.yml").read_text())


@pytest.fixture(scope="module")
def resources(project_root: Path, bundle: dict) -> dict[Path, dict]:
    found = {Path(f): yaml.safe_load(Path(f).read_text())
             for pattern in bundle["include"] for f in sorted(glob.glob(str(project_root / pattern)))}
    assert found, "the include globs match resource files"
    return found


def _job(resources: dict[Path, dict]) -> tuple[Path, dict]:
    [(path, doc)] = [(p, d) for p, d in resources.items() if "c360_pipeline" in d["resources"]["jobs"]]
    return path, doc["resources"]["jobs"]["c360_pipeline"]


def test_the_job_validates_against_the_bundle_models(resources: dict[Path, dict]) -> None:
    from databricks.bundles.jobs import Job

    _, job = _job(resources)
    parsed = Job.from_dict(job)
    assert [t.task_key for t in parsed.tasks] == ["bronze", "silver", "gold"]
    with pytest.raises(ValueError, match="Unexpected field"):
        Job.from_dict({**job, "shedule": job["schedule"]})   # the models catch a misspelt key


def test_stages_run_in_order_on_a_schedule_with_retries(resources: dict[Path, dict]) -> None:
    _, job = _job(resources)
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert "depends_on" not in tasks["bronze"]
    assert [d["task_key"] for d in tasks["silver"]["depends_on"]] == ["bronze"]
    assert [d["task_key"] for d in tasks["gold"]["depends_on"]] == ["silver"]
    assert all(t["max_retries"] >= 1 for t in tasks.values())
    assert job["schedule"]["quartz_cron_expression"] and job["max_concurrent_runs"] == 1


def test_every_path_exists_and_the_runtime_is_named(project_root: Path, bundle: dict,
                                                    resources: dict[Path, dict]) -> None:
    path, job = _job(resources)
    build = bundle["artifacts"]["c360_wheel"]["build"]
    wheel_dir = re.search(r"--wheel-dir (\S+)", build).group(1)
    for task in job["tasks"]:
        assert (path.parent / task["notebook_task"]["notebook_path"]).is_file(), task["task_key"]
        [library] = task["libraries"]
        assert (path.parent / library["whl"]).parent.resolve() == (project_root / wheel_dir).resolve()
    assert re.fullmatch(r"\d+\.\d+\.x-scala2\.13", bundle["variables"]["spark_version"]["default"])
    assert job["job_clusters"][0]["new_cluster"]["spark_version"] == "${var.spark_version}"
    assert set(bundle["targets"]) == {"dev", "prod"}


def test_the_wheel_leaves_spark_and_delta_to_the_runtime() -> None:
    requires = metadata.requires("c360") or []
    spark = [r for r in requires if r.split(";")[0].strip().startswith(("pyspark", "delta-spark"))]
    assert spark and all('extra == "spark"' in r for r in spark), spark


def test_every_task_of_a_job_run_mints_the_same_run_id(resources: dict[Path, dict],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, job = _job(resources)
    parameters = {p["name"]: p["default"] for p in job["parameters"]}
    assert parameters == {"config": "${var.config}", "job_started_ms": "{{job.start_time.timestamp_ms}}",
                          "job_run_id": "{{job.run_id}}"}
    monkeypatch.setenv("C360_JOB_STARTED_MS", "1796211791653")
    monkeypatch.setenv("C360_JOB_RUN_ID", "550315892394120")
    first, retry = notebook.run_id(None), notebook.run_id(None)
    assert first == retry == "20261202T114311.653Z-550315892394120"
    assert pipeline.run_number(first) == 1796211791653
    monkeypatch.setenv("C360_JOB_RUN_ID", "550315892394121")
    assert notebook.run_id(None) != first, "another job run, another c360 run"
    monkeypatch.setenv("C360_JOB_STARTED_MS", "yesterday")
    with pytest.raises(Exception, match="milliseconds since the epoch"):
        notebook.run_id(None)

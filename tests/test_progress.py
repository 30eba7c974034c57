"""Progress and logs: every log line names its run, steps are told as lines when stderr is no terminal (and
drawn as a live bar when it is), Spark's UI names the step, and a `c360 run` keeps stdout for its JSON."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360 import progress
from c360.datagen.generate import generate
from tests.bronze.test_stage import demo_config

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\+\d{8,}|\(\d{3}\) \d{3}-\d{4}|\b0\d{3}/\d{4,}")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level
    progress._CONSOLE = None  # noqa: SLF001


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


STEP = re.compile(r"stage (\w+): step (\d+)(?:/(\d+))? (.+)$")


@contextmanager
def steps_told() -> Iterator[list[str]]:
    """The `stage ...: step ...` lines c360.progress logs inside the block."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if STEP.search(record.getMessage()):
                lines.append(record.getMessage())

    logger = logging.getLogger("c360.progress")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def assert_within_totals(lines: list[str]) -> None:
    """Every step line of a run has a total, and no count runs past it or backwards within its stage."""
    assert lines, "the run told its steps"
    last: dict[str, int] = {}
    for line in lines:
        stage, at, total, name = STEP.search(line).groups()
        assert total is not None, f"no total: {line}"
        assert 1 <= int(at) <= int(total), line
        assert int(at) >= last.get(stage, 0), f"counted backwards: {line}"
        last[stage] = int(at)


def test_totals_are_known_first_and_never_exceeded(restore_logging: None) -> None:
    with steps_told() as lines, progress.running("run-0") as told, told.stage("silver"):
        progress.expect(["records", "predict", "charts", "clustering", "charts", "writes"])
        for name in ("records", "clustering", "charts", "predict", "writes", "unplanned"):
            with progress.step(name):
                pass
    assert [STEP.search(line).group(2, 3) for line in lines] == [
        ("1", "6"), ("4", "6"), ("5", "6"), ("5", "6"), ("6", "6"), ("6", "6")], \
        "a left-out step is passed over; a repeated or unplanned one stays where the stage is"
    assert_within_totals(lines)
    with steps_told() as lines, progress.running("run-0") as told, told.stage("gold"), progress.step("build"):
        pass
    assert lines == ["stage gold: step 1 build"], "without a plan no total is claimed"


def test_plain_lines_carry_the_run_id_and_number_the_steps(restore_logging: None) -> None:
    out = io.StringIO()
    progress.configure_logging(stream=out)
    with progress.running("run-1") as told:
        with told.stage("gold"):
            progress.expect(["build", "write gold.customer_profile"])
            with progress.step("build"):
                logging.getLogger("c360.gold").info("inside the step")
            with progress.step("write gold.customer_profile"):
                pass
    logging.getLogger("c360").info("after the run")
    lines = out.getvalue().splitlines()
    assert any("run=run-1 c360.progress: stage gold: step 1/2 build" in line for line in lines)
    assert any("stage gold: step 2/2 write gold.customer_profile" in line for line in lines)
    assert any("run=run-1 c360.gold: inside the step" in line for line in lines)
    assert lines[-1].endswith("run=- c360: after the run"), "outside a run the id is a dash"


def test_a_terminal_gets_a_live_display_and_steps_outside_a_stage_are_silent(restore_logging: None) -> None:
    out = FakeTerminal()
    progress.configure_logging(stream=out)
    with progress.step("nothing runs"):
        pass
    with progress.running("run-2") as told, told.stage("silver"):
        progress.expect(["predict", "clustering", "writes"])
        with progress.step("predict"):
            assert told._bar is not None and told._bar.live.is_started  # noqa: SLF001
    assert told._bar is None, "the bar is gone when the stage ends"  # noqa: SLF001
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).split())
    assert "stage silver: step 1/3 predict" in text


def test_spark_jobs_are_named_after_the_run_stage_and_step(spark: SparkSession) -> None:
    context = spark.sparkContext
    with progress.running("run-3", spark) as told, told.stage("silver"), progress.step("predict"):
        assert context.getLocalProperty("spark.jobGroup.id") == "c360 run-3"
        assert context.getLocalProperty("spark.job.description") == "c360 silver: predict"
    assert context.getLocalProperty("spark.job.description") == "c360 silver"


def test_a_run_without_a_terminal_logs_steps_to_stderr_and_json_to_stdout(project_root: Path, tmp_path: Path) -> None:
    generate(20, tmp_path / "landing", seed=2)
    config = tmp_path / "c360.yaml"
    # a person source (e-mails and phones that must stay out of the log), its deletion export, and clickstream
    doc = demo_config(project_root, tmp_path, sources=("crm_contacts", "crm_contacts_deleted", "web_events"))
    config.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    proc = subprocess.run([sys.executable, "-m", "c360.cli", "run", "--config", str(config), "--stage", "bronze"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    run_id = summary["run_id"]
    ours = [line for line in proc.stderr.splitlines() if " c360." in line]
    assert ours and all(f"run={run_id} " in line for line in ours if "c360.session" not in line)
    sources = summary["stages"]["bronze"]["sources"]
    for n, name in enumerate(sources, start=1):
        assert any(f"stage bronze: step {n}/{len(sources)} source {name}" in line for line in ours), name
        assert any(f"bronze: {name} {sources[name]['status']}:" in line for line in ours), name
    # the CRM's deletion export has no file before the first delta batch
    assert {n: s["status"] for n, s in sources.items() if s["status"] != "ingested"} == {"crm_contacts_deleted": "up to date"}
    assert set(summary["stages"]["bronze"]["seconds_per_step"]) == {f"source {name}" for name in sources}
    assert not EMAIL.search(proc.stderr) and not PHONE.search(proc.stderr), "no e-mail or phone in the log"

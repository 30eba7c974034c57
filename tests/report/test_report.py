"""A run's report end to end: a small run of every stage writes summary.json, index.html and Splink's charts;
`c360 report` shows it; a failed run has one too; old runs are pruned; and the pages open in a real headless
Chromium with networking disabled, without console errors or failed requests, every plot drawn."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360 import pipeline
from c360.cli import main
from c360.config import C360Config, parse_config
from c360.errors import C360Error
from c360.report.figures import figures
from c360.report import files
from c360.session import EngineChoice
from c360.silver.model import NAME
from c360.storage import open_store
from tests.bronze.test_stage import demo_config
from tests.browser import offline_chromium, open_page
from tests.conftest import DemoRun

SPLINK_CHARTS = {"match_weights.html", "m_u_parameters.html", "waterfall_sample.html", "cluster_studio.html"}


@dataclass
class Reported:
    config: C360Config
    config_path: Path
    run_id: str
    folder: Path


def _config(project_root: Path, root: Path, **silver: object) -> tuple[C360Config, Path]:
    doc = demo_config(project_root, root)
    models = root / "models"
    models.mkdir(exist_ok=True)
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    doc["silver"]["linkage"]["model_dir"] = str(models)
    doc["silver"].update(silver)
    path = root / "c360.yaml"
    path.write_text(yaml.safe_dump(doc))
    return parse_config(doc, path), path


@pytest.fixture(scope="module")
def reported(demo_run: DemoRun) -> Reported:
    """The report of the session's run of every stage (tests/conftest.py: demo_run)."""
    return Reported(demo_run.config, demo_run.config_path, demo_run.run_id,
                    Path(files.run_folder(demo_run.config, demo_run.run_id)))


@pytest.mark.slow
def test_a_run_writes_its_summary_page_and_charts(reported: Reported) -> None:
    summary = json.loads((reported.folder / "summary.json").read_text())
    assert summary["run_id"] == reported.run_id and summary["status"] == "ok"
    assert set(summary["stages"]) == {"bronze", "silver", "gold"}
    assert all(stage["seconds_per_step"] for stage in summary["stages"].values())
    assert summary["tables"]["bronze"]["crm_contacts"] > 0 and summary["tables"]["gold"]["customer_profile"] > 0
    assert summary["linkage"]["match_weights"] and summary["linkage"]["cluster_sizes"]
    assert summary["gold"]["completeness"]["first_name"] > 0.9
    assert summary["versions"]["splink"] == "5.0.0"
    assert SPLINK_CHARTS | {"index.html", "summary.json"} <= {p.name for p in reported.folder.iterdir()}
    for chart in SPLINK_CHARTS:
        text = (reported.folder / chart).read_text()
        assert not re.search(r"<script[^>]*\bsrc=[\"']?https?:", text), f"{chart} loads its scripts inline"
        shows_records = chart in ("waterfall_sample.html", "cluster_studio.html")
        assert ('class="c360-personal-data"' in text) == shows_records, chart


@pytest.mark.slow
def test_c360_report_prints_the_latest_summary(reported: Reported, capsys: pytest.CaptureFixture[str]) -> None:
    latest = files.run_ids(files.reports_root(reported.config))[-1]  # other tests may have run since
    assert main(["report", "--config", str(reported.config_path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["run_id"] == latest
    assert f"{latest}/index.html" in captured.err
    assert main(["report", "--config", str(reported.config_path), "--run-id", reported.run_id]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == reported.run_id
    assert main(["report", "--config", str(reported.config_path), "--run-id", "20200101T000000.000000Z-gone"]) == 1
    assert "has no report" in capsys.readouterr().err


def test_a_failed_run_has_a_report_and_old_reports_are_pruned(project_root: Path, tmp_path: Path,
                                                             spark: SparkSession) -> None:
    config, _ = _config(project_root, tmp_path, reports_keep_runs=2)
    store = open_store(spark, "delta-rs", config.warehouse)
    run_ids = []
    for _ in range(3):
        ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        with pytest.raises(C360Error, match="run the silver stage first"):
            pipeline.run(ctx, "gold")
        run_ids.append(ctx.run_id)
        time.sleep(0.01)
    root = files.reports_root(config)
    assert files.run_ids(root) == run_ids[1:]
    summary = json.loads(files.read_text(f"{root}/{run_ids[-1]}", "summary.json"))
    assert summary["status"] == "failed" and "run the silver stage first" in summary["failures"][0]


# --- the pages in a real browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from offline_chromium()


@pytest.mark.slow
def test_the_report_opens_offline_with_every_plot_drawn(reported: Reported, browser: object) -> None:
    every_chart_drawn = ("const c = document.querySelectorAll('.chart');"
                         "return c.length > 0 && [...c].every(e => e.querySelector('svg.main-svg, canvas'));")
    errors, failed = open_page(browser, reported.folder / "index.html", every_chart_drawn)
    assert browser.execute_script(every_chart_drawn), "a plot container holds no drawn SVG or canvas"  # type: ignore[attr-defined]
    summary = json.loads((reported.folder / "summary.json").read_text())
    plots = browser.execute_script("return document.querySelectorAll('.chart').length")  # type: ignore[attr-defined]
    assert plots == len(figures(summary)) >= 5
    assert not errors, errors
    assert not failed, failed
    # every plot fits its container at common window widths (drawn once the page is laid out, not before)
    fits = ("return [...document.querySelectorAll('.chart')].map(e => { const b = e.getBoundingClientRect();"
            " const s = e.querySelector('svg.main-svg').getBoundingClientRect();"
            " return [e.id, s.width <= b.width + 1 && b.right <= document.documentElement.clientWidth + 1,"
            " Math.round(s.width), Math.round(b.width)]; })")
    for width in (1024, 1600):
        browser.set_window_size(width, 900)  # type: ignore[attr-defined]
        open_page(browser, reported.folder / "index.html", every_chart_drawn)
        drawn = browser.execute_script(fits)  # type: ignore[attr-defined]
        assert all(ok for _, ok, _, _ in drawn), (width, drawn)


@pytest.mark.slow
@pytest.mark.parametrize("chart", sorted(SPLINK_CHARTS))
def test_splinks_charts_open_offline(reported: Reported, browser: object, chart: str) -> None:
    drawn = "return !!document.querySelector('svg, canvas');"
    errors, failed = open_page(browser, reported.folder / chart, drawn)
    assert browser.execute_script(drawn), f"{chart} drew nothing"  # type: ignore[attr-defined]
    assert not errors, errors
    assert not failed, failed

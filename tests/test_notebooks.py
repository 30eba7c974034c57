"""Notebooks run as tests: each is executed top to bottom as plain Python against small generated data."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360.datagen.generate import generate


def test_bronze_notebook(project_root: Path, tmp_path: Path, spark: SparkSession,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    generate(40, tmp_path / "demo" / "landing", seed=1)
    demo = yaml.safe_load((project_root / "conf" / "demo.yaml").read_text())
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "demo.yaml").write_text(yaml.safe_dump({**demo, "engine": "delta-rs"}))
    monkeypatch.setenv("C360_CONFIG", str(tmp_path / "conf" / "demo.yaml"))
    namespace = runpy.run_path(str(project_root / "notebooks" / "bronze_ingest.py"))
    sources = namespace["results"]["bronze"]["sources"]
    assert {s["status"] for s in sources.values()} == {"ingested"}
    assert namespace["store"].exists("bronze.web_events")

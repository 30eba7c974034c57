"""Notebooks run as tests: each is executed top to bottom as plain Python against small generated data."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from c360.datagen.generate import generate


def test_the_notebooks_run_in_order(project_root: Path, tmp_path: Path, spark: SparkSession,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Bronze, silver, gold on a small population; the model comes from tests/silver/data (no training)."""
    import shutil

    from c360.silver.model import NAME

    generate(60, tmp_path / "demo" / "landing", seed=2)
    demo = yaml.safe_load((project_root / "conf" / "demo.yaml").read_text())
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    demo["silver"]["linkage"]["model_dir"] = str(models)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "demo.yaml").write_text(yaml.safe_dump({**demo, "engine": "delta-rs"}))
    monkeypatch.setenv("C360_CONFIG", str(tmp_path / "conf" / "demo.yaml"))
    monkeypatch.setenv("C360_TRUTH", str(tmp_path / "demo" / "landing" / "truth" / "person_records_b01.csv"))
    bronze = runpy.run_path(str(project_root / "notebooks" / "bronze_ingest.py"))
    sources = bronze["results"]["bronze"]["sources"]
    # every source lands but the CRM's deletion export, which has no file before the first delta batch
    assert {n: s["status"] for n, s in sources.items() if s["status"] != "ingested"} == {"crm_contacts_deleted": "up to date"}
    assert bronze["store"].exists("bronze.web_events")
    namespace = runpy.run_path(str(project_root / "notebooks" / "silver_identity.py"))
    assert namespace["results"]["silver"]["model_version"] == 1
    assert namespace["quality"]["records_only_in_truth"] == 0
    assert namespace["quality"]["precision"] >= 0.9
    gold = runpy.run_path(str(project_root / "notebooks" / "gold_profiles.py"))
    assert gold["results"]["gold"]["tables"]["customer_profile"] > 0
    assert gold["timeline"].count() >= 1 and gold["segments"].count() >= 2

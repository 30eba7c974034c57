"""The CLI: help on every command, user errors as one message and exit 1, generate end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.cli import main

COMMANDS = ["generate", "run", "sql", "evaluate", "train", "maintain", "erase", "export-subject", "report"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: c360" in capsys.readouterr().out


def test_generate_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--people", "30", "--out", str(tmp_path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "wrote batch 1 for 30 people" in out and "web_events" in out
    assert main(["generate", "--people", "30", "--out", str(tmp_path), "--seed", "3", "--delta"]) == 0
    assert "wrote batch 2" in capsys.readouterr().out


def test_delta_without_batch_one_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--people", "30", "--out", str(tmp_path), "--batch", "2"]) == 1
    assert "needs batch 1 there first" in capsys.readouterr().err


def test_bad_config_is_a_message_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("warehouse: w\nsources:\n  - name: crm\n")
    assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "c360: error:" in err and "sources[0] (crm).kind: required key is missing" in err
    assert "Traceback" not in err


def test_erase_and_export_name_one_person_one_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export-subject", "--config", "c.yaml", "--output", "x.json", "--email", "a@b.de", "--customer-id", "C1"])
    with pytest.raises(SystemExit):
        main(["export-subject", "--config", "c.yaml", "--email", "a@b.de"])  # no --output
    assert main(["export-subject", "--config", "c.yaml", "--output", "x.json", "--source-id", "17"]) == 1
    assert "--source and --source-id go together" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["erase", "--config", "c.yaml", "--email", "a@b.de", "--phone", "+4930123456"])
    assert main(["erase", "--config", "c.yaml", "--source-id", "17"]) == 1
    assert "--source and --source-id go together" in capsys.readouterr().err
    requests = tmp_path / "requests.csv"
    requests.write_text("request_id,email,phone\nr1,a@b.de,+4930123456\n")
    assert main(["erase", "--config", "c.yaml", "--requests", str(requests)]) == 1
    assert "line 2: name exactly one of" in capsys.readouterr().err


def test_sql_errors_list_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str], spark) -> None:  # noqa: ANN001
    import yaml

    from c360.storage import open_store

    config = tmp_path / "c360.yaml"
    config.write_text(yaml.safe_dump({"warehouse": str(tmp_path / "wh"), "engine": "delta-rs"}))
    open_store(spark, "delta-rs", str(tmp_path / "wh")).append(spark.createDataFrame([(1,)], "id long"), "bronze.t")
    assert main(["sql", "--config", str(config), "SELECT * FROM bronze.missing"]) == 1
    err = capsys.readouterr().err
    assert "TABLE_OR_VIEW_NOT_FOUND" in err and "tables: bronze.t" in err and "Traceback" not in err
    assert main(["sql", "--config", str(config), "SELECT count(*) AS n FROM bronze.t", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "1"]


def test_train_rollback_makes_the_previous_version_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from c360.silver import model as model_store

    config = tmp_path / "c360.yaml"
    config.write_text(yaml.safe_dump({"warehouse": str(tmp_path / "wh"), "engine": "delta-rs"}))
    folder = tmp_path / "wh" / "_models" / model_store.NAME
    assert main(["train", "--rollback", "--config", str(config)]) == 1
    assert "no model in" in capsys.readouterr().err
    for records in (10, 20):
        model_store.save(folder, {}, {"records": records})
    assert main(["train", "--rollback", "--config", str(config)]) == 0
    assert "model version 1 is current again (was 2)" in capsys.readouterr().out
    assert model_store.latest(folder).version == 1


def test_evaluate_over_a_truth_folder_equals_one_concatenated_file(demo_run, tmp_path: Path,  # noqa: ANN001
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import pandas as pd

    truth = pd.read_csv(demo_run.root / "landing" / "truth" / "person_records_b01.csv", dtype=str)
    folder = tmp_path / "truth"
    folder.mkdir()
    # the batches' files: a record listed twice counts as the newest file says; a CSV of other columns is not truth
    truth.iloc[: len(truth) // 4].to_csv(folder / "person_records_b01.csv", index=False)
    truth.iloc[len(truth) // 8:].to_csv(folder / "person_records_b02.csv", index=False)
    pd.DataFrame({"event_id": ["e1"], "true_id": ["p1"]}).to_csv(folder / "events_b01.csv", index=False)
    truth.to_csv(tmp_path / "all.csv", index=False)

    def evaluated(*paths: Path) -> tuple[dict, str]:
        assert main(["evaluate", "--config", str(demo_run.config_path), "--truth", *map(str, paths)]) == 0
        out, err = capsys.readouterr()
        return json.loads(out.splitlines()[-1]), err

    whole, _ = evaluated(tmp_path / "all.csv")
    found, err = evaluated(folder)
    assert found == whole and "truth from 2 files" in err and "WARNING" not in err
    part, err = evaluated(folder / "person_records_b01.csv")
    assert part["records_only_in_identity_map"] > part["records_compared"]
    assert "WARNING" in err and "their folder" in err, "most records without truth: the user is told"


def test_evaluate_counts_the_records_of_a_source_missing_from_the_identity_map(demo_run, tmp_path: Path,  # noqa: ANN001
                                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    truth = pd.read_csv(demo_run.root / "landing" / "truth" / "person_records_b01.csv", dtype=str)
    lost = pd.DataFrame({"source": "crm_archive", "source_record_id": ["1", "2", "3"], "true_id": ["x", "y", "z"]})
    pd.concat([truth, lost]).to_csv(tmp_path / "truth.csv", index=False)
    assert main(["evaluate", "--config", str(demo_run.config_path), "--truth", str(tmp_path / "truth.csv")]) == 0
    out = capsys.readouterr().out
    assert "missed records        crm_archive 3 (in the truth, not in the identity map)" in out


def test_a_failure_inside_spark_is_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from py4j.protocol import Py4JError

    import c360.cli as cli

    def dying(args) -> int:  # noqa: ANN001 - what a JVM that ran out of heap leaves the driver
        try:
            raise RuntimeError("java.lang.OutOfMemoryError: Java heap space")
        except RuntimeError:
            raise Py4JError("An error occurred while calling o56.setJobGroup")

    monkeypatch.setattr(cli, "cmd_generate", dying)
    assert main(["generate", "--people", "1", "--out", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("c360: error: Spark failed (An error occurred while calling o56.setJobGroup)")
    assert "raise spark.driver_memory" in err and "Traceback" not in err

"""Incremental runs: batches taken one at a time (only their changed records standardised and scored, only
the part of the graph they reach clustered again, only the events they bring stitched) give the same person
records, the same partition of records into customers and the same interactions as a full run over all the
input at once with the same model (on the embedded engine; delta-spark's batch: tests/test_crashes.py); gold,
recomputed after each batch for the customers the batch reaches only, equals gold computed whole from the
same silver (a tracking consent withdrawn in the first batch keeps the later click off the timeline either
way); a batch taken twice changes nothing, and new events alone leave the person tables as they are."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.config import parse_config
from c360.datagen.generate import generate
from c360.gold import build as gold_build
from c360.gold.stage import KEYS as GOLD_KEYS
from c360.session import EngineChoice
from c360.silver import model as model_store
from c360.silver.evaluation import evaluate
from c360.storage import open_store
from c360.steward import actions
from tests.gold import withdrawal
from tests.test_table_registry import assert_described
from tests.bronze.test_stage import demo_config
from tests.test_progress import assert_within_totals, steps_told

PEOPLE = 150
# person sources (both kinds of deletion among them), the CRM's deletion export, and one interaction source of
# every kind: orders (whose status moves on), clickstream (cookies that log in later); tickets and posts take the
# same incremental path as orders (their own parsing and attribution are tested with the demo's whole run)
SOURCES = ("crm_contacts", "crm_contacts_deleted", "shop_customers", "loyalty_members", "social_profiles",
           "shop_orders", "web_events")
STORED_MODEL = Path(__file__).parent / "data" / "person_linkage_v0001.json"


class Warehouse:
    """One warehouse over the shared landing folder, run stage by stage."""

    def __init__(self, spark: SparkSession, project_root: Path, root: Path, landing: Path, engine: str,
                 sources: tuple[str, ...]) -> None:
        doc = demo_config(project_root, root, engine, sources)
        withdrawal.map_tracking_consent(doc)
        doc["gold"].setdefault("metrics", {})["as_of"] = "2026-06-30T00:00:00Z"  # as-of metrics comparable across runs
        for source in doc["sources"]:
            source["path"] = source["path"].replace(str(root / "landing"), str(landing))
        self.config = parse_config(doc, root / "c360.yaml")
        self.spark, self.engine = spark, engine
        self.store = open_store(spark, engine, self.config.warehouse)
        self.last_run_id: str | None = None  # the run id of the newest run(), for its redirect rows

    def context(self, full_refresh: bool = False) -> pipeline.RunContext:
        return pipeline.RunContext(self.config, self.spark, self.store, EngineChoice(self.engine, "test"),
                                   pipeline.new_run_id(), full_refresh=full_refresh)

    def run(self, stage: str, full_refresh: bool = False) -> dict:
        ctx = self.context(full_refresh)
        self.last_run_id = ctx.run_id
        with steps_told() as lines:
            summary = pipeline.run(ctx, stage)[stage]
        if "status" not in summary:  # a stage with nothing to do takes no step
            assert_within_totals(lines)
        return summary

    def assert_gold_as_if_built_whole(self) -> None:
        """Every gold table equals the same table computed whole from this warehouse's silver."""
        for name, frame in gold_build.full(self.context()).tables.items():
            order = list(GOLD_KEYS[name].keys)
            # the published table carries column descriptions, the computed frame none
            assert_df_equality(self.store.read(name).orderBy(*order), frame.orderBy(*order), ignore_nullable=True,
                               ignore_column_order=True, ignore_metadata=True)

    def versions(self) -> dict[str, int]:
        return {t: self.store.version(t) for t in self.store.list_tables("silver")}


@pytest.mark.slow
# two batches (the last one's silver run dying midway first) and a late login, on the embedded engine. delta-spark
# takes a batch in tests/test_crashes.py (after a killed delta-rs MERGE, every table compared with clean runs), and
# its MERGEs, feed and RESTORE have their contract tests
@pytest.mark.parametrize(("engine", "batches", "more"), [("delta-rs", (2, 3), True)])
def test_batches_taken_one_by_one_equal_a_full_run(engine: str, batches: tuple[int, ...], more: bool,
                                                   spark: SparkSession, project_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    generate(PEOPLE, landing, seed=21)
    withdrawal.state_consent(landing)
    steady = Warehouse(spark, project_root, tmp_path / "steady", landing, engine, SOURCES)
    Path(model_store.model_dir(steady.config)).mkdir(parents=True)
    shutil.copy(STORED_MODEL, model_store.model_dir(steady.config))
    steady.run("bronze")
    first = steady.run("silver")
    assert first["mode"]["incremental"] is False and first["model_version"] == 1 and "training" not in first["linkage"]
    assert steady.run("gold")["mode"]["incremental"] is False
    _a_steward_merges_and_splits(steady)
    withdrawn = None
    for batch in batches:
        generate(PEOPLE, landing, seed=21, batch=batch, fraction=0.25)
        if withdrawn is None:  # the first batch also brings a withdrawn tracking consent (see withdrawal)
            withdrawn = withdrawal.deliver(landing, pd.Timestamp("2030-01-01", tz="UTC"))
        steady.run("bronze")
        dies = more and batch == batches[-1]
        summary = _a_run_dies_midway_and_the_next_completes_it(steady, monkeypatch) if dies else steady.run("silver")
        assert summary["mode"]["incremental"] is True, summary["mode"]
        assert 0 < summary["mode"]["changed_records"] < summary["person_records"] / 4
        assert 0 < summary["records_clustered"] < summary["person_records"], \
            "only the part of the graph a change reaches is clustered again"
        gold = steady.run("gold")
        if dies:  # silver's tables were restored since gold's last run: gold recomputes every customer
            assert gold["mode"]["incremental"] is False and "RESTORE" in gold["mode"]["why"], gold["mode"]
            continue
        assert gold["mode"]["incremental"] is True, gold["mode"]
        assert 0 < gold["mode"]["customers"] < gold["tables"]["customer_profile"], gold["mode"]
        if batch == batches[0]:
            assert gold["tracking_events_withheld"] == 1, gold
            _the_withdrawal_holds(steady, withdrawn)
    records = steady.store.read("silver.person_records")
    deleted = _deleted_in_truth(landing)
    assert {"loyalty_members", "crm_contacts"} <= {k.split(":")[0] for k in deleted}, \
        "the batches erase loyalty members (a status) and delete CRM contacts (the CRM's deletion export)"
    assert not deleted & {r.record_key for r in records.select("record_key").collect()}, "deleted records leave silver"

    by_steward = steady.store.read("silver.customer_id_redirects").where("by = 'steward'").select("kind").collect()
    assert {"merge", "split"} <= {r.kind for r in by_steward}, "the steward's moves are marked as theirs"
    steady.assert_gold_as_if_built_whole()
    assert_described(steady.store)  # also after the batches' MERGEs, on either engine
    versions = steady.versions()
    assert steady.run("silver")["status"].startswith("unchanged")
    assert steady.versions() == versions, "a batch taken twice commits nothing"

    if more:
        _a_late_login_stitches_earlier_events(steady, landing, versions)

    # the same bronze input at once, in a fresh warehouse on the embedded engine, with the same model (its
    # settings and term frequencies): on delta-spark the batches must also end where delta-rs's full run ends.
    # Bronze is the same tables (copied, not landed again: the equivalence is silver's and gold's)
    whole = Warehouse(spark, project_root, tmp_path / "whole", landing, "delta-rs", SOURCES)
    folder = model_store.model_dir(whole.config)
    model = model_store.latest(model_store.model_dir(steady.config))
    shutil.copytree(model.folder, folder)
    for layer in ("bronze", "steward"):  # the full run honours the same labels
        shutil.copytree(Path(steady.config.warehouse) / layer, Path(whole.config.warehouse) / layer)
    assert whole.run("silver")["mode"]["incremental"] is False
    # rows and types compared; the column descriptions only Delta's connector shows to Spark are checked apart
    assert_df_equality(records.orderBy("record_key"), whole.store.read("silver.person_records").orderBy("record_key"),
                       ignore_nullable=True, ignore_column_order=True, ignore_metadata=True)
    order = ["source", "event_id"]
    assert_df_equality(steady.store.read("silver.interactions").orderBy(*order),
                       whole.store.read("silver.interactions").orderBy(*order), ignore_nullable=True, ignore_metadata=True)
    assert _scores(steady) == _scores(whole), "a pair scores the same in an incremental run as in a full one"
    assert_df_equality(steady.store.read("silver.graph_components").orderBy("record_key"),
                       whole.store.read("silver.graph_components").orderBy("record_key"), ignore_nullable=True,
                       ignore_metadata=True)
    truth = whole.store.read("silver.identity_map").select("record_key", F.col("customer_id").alias("true_id"))
    agreement = evaluate(steady.store.read("silver.identity_map"), truth)
    assert agreement["records_only_in_truth"] == agreement["records_only_in_identity_map"] == 0
    assert agreement["f1"] == 1.0, agreement


def _a_steward_merges_and_splits(steady: Warehouse) -> None:
    """Two one-record customers merged and one record split off a customer of several: the labels alone
    make the first batch's run re-cluster them (the batch's own changes aside), and every later run, and the
    full run the test compares with, honours them."""
    members: dict[str, list[str]] = {}
    for row in steady.store.read("silver.identity_map").orderBy("record_key").collect():
        members.setdefault(row.customer_id, []).append(row.record_key)
    singles = sorted(c for c, keys in members.items() if len(keys) == 1)
    several = sorted(c for c, keys in members.items() if len(keys) >= 3)
    ctx = steady.context()
    actions.merge(ctx, singles[0], singles[1], "steward")
    actions.split(ctx, several[0], [members[several[0]][0]], "steward")


def _the_withdrawal_holds(steady: Warehouse, done: withdrawal.Withdrawal) -> None:
    """The click after the withdrawal is off the timeline; the earlier clicks and the order are on it."""
    customer = steady.store.read("silver.identity_map").where(F.col("record_key") == done.record_key).first()["customer_id"]
    events = {r.event_id for r in steady.store.read("gold.customer_interactions").where(F.col("customer_id") == customer).collect()}
    assert {done.earlier_click, done.click_before, done.order} <= events and done.click_after not in events
    assert steady.store.read("gold.customer_profile").where(F.col("customer_id") == customer).first()["consent_tracking"] is False


def _deleted_in_truth(landing: Path) -> set[str]:
    """record_key of the records whose newest batch's truth flags them deleted."""
    rows = pd.concat([pd.read_csv(f, dtype=str).assign(batch=f.name) for f in sorted(landing.glob("truth/person_records_b*.csv"))])
    newest = rows.sort_values("batch").groupby(["source", "source_record_id"]).tail(1)
    newest = newest[newest["deleted"].str.lower() == "true"]
    return set(newest["source"] + ":" + newest["source_record_id"])


def _a_run_dies_midway_and_the_next_completes_it(steady: Warehouse, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The batch's silver run dies after the identity map's MERGE, before the redirects are written; the next
    run undoes what it wrote and takes the batch again: it sees the customers move (a run that compared with
    the dead run's identity map would see none), writes each move once, and ends where a full run ends (the
    caller's comparison)."""
    before = steady.versions()
    overwrite = steady.store.overwrite

    def dying(frame, table: str, **options):  # noqa: ANN001, ANN202
        if table == "silver.customer_id_redirects":
            raise RuntimeError("killed between two writes")
        return overwrite(frame, table, **options)

    monkeypatch.setattr(steady.store, "overwrite", dying)
    with pytest.raises(RuntimeError, match="killed"):
        steady.run("silver")
    monkeypatch.undo()
    assert steady.store.version("silver.identity_map") > before["silver.identity_map"], "it died after the MERGE"
    summary = steady.run("silver")
    assert {"silver.person_records", "silver.identity_map"} <= set(summary["recovered"]["restored"])
    churn = summary["churn"]
    assert churn["customers_merged"] + churn["customers_split"] > 0, f"the batch moves customers: {churn}"
    moved = {(r.old_customer_id, r.kind) for r in steady.store.read("silver.customer_id_redirects")
             .where(F.col("run_id") == steady.last_run_id).collect()}
    assert Counter(kind for _, kind in moved if kind != "retire") == Counter(
        {"merge": churn["customers_merged"], "split": churn["customers_split"]}), (moved, churn)
    return summary


def _scores(warehouse: Warehouse) -> dict[tuple[str, str], float]:
    """Each scored pair's match weight (rounded past any difference the order of a sum could make)."""
    pairs = warehouse.store.read("silver.scored_pairs").collect()
    return {(r.record_key_l, r.record_key_r): round(r.match_weight, 9) for r in pairs}


def _a_late_login_stitches_earlier_events(steady: Warehouse, landing: Path, versions: dict[str, int]) -> None:
    """An anonymous cookie logs in later: its earlier events get the login; the person tables stay as they
    are; gold takes it incrementally and still equals gold built whole."""
    events = steady.store.read("silver.interactions")
    cookie = (events.where("cookie_id is not null").groupBy("cookie_id").agg(F.count("login_id").alias("logins"))
              .where("logins = 0").orderBy("cookie_id").first()["cookie_id"])
    login = {"event_id": "ev-late-login", "cookie_id": cookie, "ts": 1767225600000, "event_type": "login", "url": "/login",
             "login_id": "late.login@example.com", "properties": None, "user_agent": "test"}
    (landing / "web" / "clickstream_b99_p0001.ndjson").write_text(json.dumps(login) + "\n")
    steady.run("bronze")
    summary = steady.run("silver")
    assert summary["mode"]["events_incremental"] and summary["mode"]["person_records_written"] == {"written": "nothing"}
    moved = ("silver.interactions", "silver._runs")
    assert {t: v for t, v in steady.versions().items() if t not in moved} == \
        {t: v for t, v in versions.items() if t not in moved}
    lent = steady.store.read("silver.interactions").where(F.col("cookie_id") == cookie)
    assert {(r.login_id, r.stitched_by) for r in lent.where("event_id <> 'ev-late-login'").collect()} == {
        ("late.login@example.com", "cookie")}
    assert steady.run("gold")["mode"]["incremental"] is True
    steady.assert_gold_as_if_built_whole()

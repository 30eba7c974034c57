"""Erasure end to end on each Delta engine: a person found in several sources with events is erased, then no
file under the warehouse holds what was theirs alone, everyone else's gold rows are as they were, and a
re-delivery of the original files brings nobody back."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360 import pipeline
from c360.config import PrivacySettings, parse_config
from c360.errors import C360Error
from c360.privacy.erase import erase, purge_pending
from c360.privacy.export import export_subject
from c360.privacy.subjects import Request
from c360.session import EngineChoice
from c360.silver.linkage.keys import linkage_input
from c360.silver.model import NAME
from c360.steward import actions
from c360.steward.labels import LABELS, Label
from c360.storage import open_store
from tests.conftest import TEST_SALT, require_delta_spark
from tests.privacy.people import landed_warehouse, subject
from tests.scan import files_holding

# three person sources with a deletions source, and two event sources: enough to find a person everywhere
SOURCES = ("crm_contacts", "crm_contacts_deleted", "shop_customers", "loyalty_members", "shop_orders", "support_tickets")
# gold rows of other customers that an erasure may change by design, and why
GLOBAL = {"gold.customer_metrics": "RFM quintiles and recency are computed over all customers as of the run",
          "gold.households": "a household the person belonged to loses a member"}
COMPARED = {"gold.customer_profile": ("customer_id", ["household_id"]),  # a shared household is recomputed (above)
            "gold.customer_xref": ("customer_id", []), "gold.customer_interactions": ("customer_id", [])}


def _context(config, spark, store, engine):  # noqa: ANN001, ANN202
    return pipeline.RunContext(config, spark, store, EngineChoice(engine, "test"), pipeline.new_run_id())


def _own_names(store, customer: str) -> set[str]:  # noqa: ANN001
    """The full-name match keys only `customer`'s records hold (what the model's term frequencies count)."""
    keys = linkage_input(store.read("silver.person_records")).join(
        store.read("silver.identity_map").select("record_key", "customer_id"), "record_key")
    theirs = {r[0] for r in keys.where(F.col("customer_id") == customer).select("full_name_key").collect() if r[0]}
    others = {r[0] for r in keys.where(F.col("customer_id") != customer).select("full_name_key").collect() if r[0]}
    return theirs - others


def _term_frequency_values(config) -> set[str]:  # noqa: ANN001
    """Every full-name value the saved term-frequency tables hold."""
    folder = Path(config.warehouse) / "_models" / NAME
    return {v for f in folder.glob("*.tf/full_name_key.parquet") for v in pq.read_table(f)["value"].to_pylist()}


def _others(store, customer: str) -> dict[str, str]:  # noqa: ANN001
    """A digest of every other customer's rows of the compared gold tables (sorted rows, as JSON)."""
    digests = {}
    for table, (column, left_out) in COMPARED.items():
        frame = store.read(table).where(F.col(column) != customer).drop(*left_out)
        rows = sorted(json.dumps(r.asDict(recursive=True), default=str, sort_keys=True) for r in frame.collect())
        digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def first_load(project_root: Path, tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> tuple[Path, Path]:
    """(a loaded root, the place each test copies it to): landing and warehouse after one first load on the
    embedded engine (quicker; the engines write the same tables), which both erasures start from. A copy keeps
    every absolute path of the original (the ledger's landing files, the config's folders)."""
    loaded, work = tmp_path_factory.mktemp("erase-loaded"), tmp_path_factory.mktemp("erase-work")
    config, store = landed_warehouse(project_root, work, "delta-rs", spark, SOURCES)
    pipeline.run(_context(config, spark, store, "delta-rs"), "all")
    shutil.copytree(work, loaded, dirs_exist_ok=True)
    return loaded, work


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "purge"), [("delta-rs", "immediate"), ("delta-spark", "deferred")])
def test_an_erased_person_is_in_no_file_and_nobody_else_changed(
        engine: str, purge: str, first_load: tuple[Path, Path], spark: SparkSession, delta_spark_available: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """delta-rs purges at once and then gets the original files again; delta-spark (deletion vectors, REORG)
    defers the purge to `c360 maintain`: gold's feed shows the delete and older versions hold the person until
    then, and after the purge the next run does nothing. The erasure is the engine's own."""
    if engine == "delta-spark":
        require_delta_spark(delta_spark_available)
    loaded, root = first_load
    shutil.rmtree(root)
    shutil.copytree(loaded, root)
    config = parse_config(yaml.safe_load((root / "c360.yaml").read_text()), root / "c360.yaml")
    config = config.model_copy(update={"engine": engine, "privacy": PrivacySettings(purge=purge)})
    store = open_store(spark, engine, config.warehouse)
    customer, values = subject(root, store)
    if purge == "immediate":  # a steward's labels and notes about them go too (and their export shows them)
        _a_steward_labels(config, spark, store, engine, customer)
    warehouse = Path(config.warehouse)
    assert files_holding(warehouse, values), "the person should be in the warehouse before the erasure"
    before = _others(store, customer)
    names = _own_names(store, customer)
    assert names & _term_frequency_values(config), "the model's term frequencies should count the person's name"

    monkeypatch.delenv(config.privacy.salt_env)
    with pytest.raises(C360Error, match="salt is missing"):
        erase(_context(config, spark, store, engine), [Request("r1", "customer_id", customer)])
    monkeypatch.setenv(config.privacy.salt_env, TEST_SALT)
    if purge == "immediate":  # the dry run reads every table once more, the same on either engine
        dry = erase(_context(config, spark, store, engine), [Request("r1", "customer_id", customer)], dry=True)
        assert dry["customers"] == [customer] and dry["rows"]["silver.identity_map"] >= 3
    since = store.version("gold.customer_profile")
    done = erase(_context(config, spark, store, engine), [Request("r1", "customer_id", customer)])

    assert done["refused"] == [] and done["customers"] == 1 and done["events"] > 0
    if purge == "immediate":
        assert done["rows_removed"] == dry["rows"]
    if purge == "deferred":
        assert done["purge"].startswith("pending")
        feed = store.changes("gold.customer_profile", since + 1).where(F.col("customer_id") == customer)
        assert [r["_change_type"] for r in feed.collect()] == ["delete"]
        assert files_holding(warehouse, values), "older versions hold the person until the purge"
        assert purge_pending(_context(config, spark, store, engine)) == [done["erasure_id"]]
    assert files_holding(warehouse, values) == {}
    assert _others(store, customer) == before
    assert _term_frequency_values(config) & names == set()
    if purge == "immediate":
        kept = store.read(LABELS).collect()
        assert kept == [], "every label of the person's records is gone, with its note"
    retired = store.read("silver.customer_id_redirects").where(F.col("old_customer_id") == customer).collect()
    assert [r["kind"] for r in retired] == ["retire"]
    log = store.read("privacy.erasures").collect()
    assert len(log) == 1 and log[0]["purge"] == "done" and customer not in json.dumps(log[0].asDict(), default=str)
    if purge == "immediate":
        _redelivered_files_bring_nobody_back(root, config, store, spark, engine, values)
    else:
        after = pipeline.run(_context(config, spark, store, engine), "all")
        assert after["silver"]["status"].startswith("unchanged") and after["gold"]["status"].startswith("unchanged")


def _a_steward_labels(config, spark, store, engine, customer: str) -> None:  # noqa: ANN001
    """A label with a note between two of the person's records and cannot-links to another customer's; the
    runs take them in, and the person's export shows the note and counts the pairs with the other's records."""
    keys = sorted(r.record_key for r in store.read("silver.identity_map").where(F.col("customer_id") == customer).collect())
    other = store.read("silver.identity_map").where(F.col("customer_id") != customer).orderBy("record_key").first().customer_id
    ctx = _context(config, spark, store, engine)
    actions.record(ctx, [Label.of(keys[0], keys[1], "match", "called: same person, " + keys[0])], actions.REVIEW, "ann", "r.csv")
    actions.keep_apart(ctx, customer, other, "ann")
    pipeline.run(_context(config, spark, store, engine), "all")
    export = export_subject(_context(config, spark, store, engine), Request("x", "customer_id", customer))
    assert [r["note"] for r in export["steward_labels"]] == ["called: same person, " + keys[0]]
    assert export["tables"][LABELS]["not_shown"]["rows"] >= len(keys)


def _redelivered_files_bring_nobody_back(root: Path, config, store, spark, engine, values) -> None:  # noqa: ANN001
    """The original landing files again under new names: an incremental run suppresses the person's records,
    and the warehouse holds none of their values. A new record with one of their e-mails is kept, and flagged.
    (Bronze never lands a suppressed record, so a full refresh of silver and gold reads none.)"""
    for file in sorted((root / "landing").rglob("*")):
        if file.is_file() and "truth" not in file.parts:
            _reordered(file, file.with_name(f"{file.stem}_again{file.suffix}"))
    contacts = root / "landing" / "crm" / "contacts_b01.csv"
    with contacts.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    theirs = next(r for r in rows if (r["email"] or "").strip().lower() in values)
    newcomer = {**theirs, "contact_id": "CON-NEWCOMER-1", "first_name": "Newcomer", "phone": ""}
    with (root / "landing" / "crm" / "contacts_newcomer.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerow(newcomer)
    values = [v for v in values if v != theirs["email"].strip().lower()]
    again = pipeline.run(_context(config, spark, store, engine), "all")
    assert sum(s.get("suppressed", 0) for s in again["bronze"]["sources"].values()) > 0
    assert again["silver"]["records_sharing_erased_identifiers"] == 1
    assert again["silver"]["mode"]["incremental"] and again["gold"]["mode"]["incremental"], (again["silver"]["mode"],
                                                                                           again["gold"]["mode"])
    assert store.read("silver.identity_map").where("record_key = 'crm_contacts:CON-NEWCOMER-1'").count() == 1
    for table in [t for t in store.list_tables() if t.startswith(("bronze.", "silver.", "gold."))]:
        store.purge(table)  # versions before the erase's purge aside: no current file holds them again
    assert files_holding(Path(config.warehouse) / "silver", values) == {}
    assert files_holding(Path(config.warehouse) / "gold", values) == {}
    assert files_holding(Path(config.warehouse) / "bronze", values) == {}


def _reordered(file: Path, copy: Path) -> None:
    """`file`'s records again in `copy`, in reverse order: the same records in other bytes (a byte-identical
    copy would be a duplicate delivery, which bronze records and does not read)."""
    if file.suffix == ".parquet":
        table = pq.read_table(file)
        pq.write_table(table.take(list(range(table.num_rows - 1, -1, -1))), copy)
    elif file.suffix == ".csv":
        with file.open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        with copy.open("w", newline="", encoding="utf-8") as out:
            csv.writer(out, lineterminator="\n").writerows([header, *reversed(rows)])
    else:
        lines = file.read_text(encoding="utf-8").splitlines()
        copy.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")

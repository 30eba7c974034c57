"""The gold stage on the generator's data, checked against its truth; SQL access three ways.

One small warehouse (bronze, silver with the stored test model, gold), built once for the test session
(tests/conftest.py: demo_run), serves this module.
"""

from __future__ import annotations

import glob
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.table_registry import describe_tables
from c360 import pipeline
from c360.cli import main
from c360.config import C360Config
from c360.gold.survivorship import MATCH_KEY, VALUE_COLUMN, units
from c360.session import EngineChoice
from c360.storage import TableStore, open_store
from tests.conftest import DemoRun, require_delta_spark
from tests.sql_server import beeline, sql_server


@dataclass
class Built:
    root: Path
    config: C360Config
    config_path: Path
    store: TableStore
    summary: dict


def run(config: C360Config, spark: SparkSession, store: TableStore, stage: str) -> dict:
    ctx = pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
    return pipeline.run(ctx, stage)[stage]


@pytest.fixture(scope="module")
def built(demo_run: DemoRun) -> Built:
    return Built(demo_run.root, demo_run.config, demo_run.config_path, demo_run.store, demo_run.stages["gold"])


def frame(store: TableStore, table: str) -> pd.DataFrame:
    return store.read(table).toPandas()


def truth(built: Built, kind: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(f, dtype=str) for f in glob.glob(str(built.root / "landing" / "truth" / f"{kind}_b*.csv"))])


def clean_people(built: Built) -> dict[str, str]:
    """true_id -> customer_id for the people whose records all form exactly one customer holding nothing else."""
    xref = frame(built.store, "gold.customer_xref").merge(truth(built, "person_records"), on=["source", "source_record_id"])
    per_person = xref.groupby("true_id")["customer_id"].nunique()
    per_customer = xref.groupby("customer_id")["true_id"].nunique()
    whole = xref[xref["true_id"].map(per_person).eq(1) & xref["customer_id"].map(per_customer).eq(1)]
    return dict(zip(whole["true_id"], whole["customer_id"]))


def test_all_gold_tables_pass_the_gates(built: Built) -> None:
    tables = built.summary["tables"]
    assert set(tables) == {"customer_profile", "customer_xref", "customer_interactions", "customer_metrics", "households",
                           "contact_permissions", "unresolved_interactions", "accounts", "customer_id_redirects"}, built.summary
    assert tables["customer_profile"] == tables["customer_metrics"] > 0
    assert tables["customer_xref"] == built.store.read("silver.identity_map").count()
    assert built.summary["completeness"]["first_name"] >= 0.95


def expected_winner(records: pd.DataFrame, unit, sources: list[str] | None) -> str | None:  # noqa: ANN001
    """An independent restatement of the survivorship rules: the record key that should win `unit`."""
    def value(row: pd.Series, field: str) -> object:
        v = row[VALUE_COLUMN.get(field, field)]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "" else v

    cands = records[[any(value(r, f) is not None for f in unit.fields) for _, r in records.iterrows()]]
    if unit.rule.rule == "first_non_null":
        cands = cands[cands["source"].isin(unit.rule.sources)]
    if cands.empty:
        return None
    newest = {k: (-t.timestamp() if not pd.isna(t) else math.inf) for k, t in zip(cands["record_key"], cands["updated_at"])}
    match = {k: tuple("" if value(r, f) is None else str(r[MATCH_KEY.get(f, VALUE_COLUMN.get(f, f))]) for f in unit.fields)
             for k, (_, r) in zip(cands["record_key"], cands.iterrows())}

    def primary(row: pd.Series) -> float:
        if unit.rule.rule in ("source_priority", "first_non_null"):
            order = unit.rule.sources or []
            return order.index(row["source"]) + 1 if row["source"] in order else (
                1e6 + row["source_priority"] if order else row["source_priority"])
        if unit.rule.rule == "most_recent":
            return newest[row["record_key"]]
        if unit.rule.rule == "most_frequent":
            return -sum(1 for m in match.values() if m == match[row["record_key"]])
        filled = sum(value(row, f) is not None for f in unit.fields)
        return -(filled * 100_000 + sum(len(str(value(row, f) or "")) for f in unit.fields))

    keyed = [(primary(r), r["source_priority"], newest[r["record_key"]], r["record_key"]) for _, r in cands.iterrows()]
    return min(keyed)[3]


def test_golden_values_follow_each_configured_rule(built: Built) -> None:
    """For every customer and every unit, the record the rule picks is the one the lineage names."""
    records = (built.store.read("silver.person_records").join(built.store.read("silver.identity_map")
                                                              .select("record_key", "customer_id"), "record_key").toPandas())
    profiles = frame(built.store, "gold.customer_profile").set_index("customer_id")
    chosen = units(built.config.gold)
    assert {u.rule.rule for u in chosen} == {"source_priority", "first_non_null", "most_recent", "most_frequent", "longest"}
    checked = 0
    for customer, recs in records.groupby("customer_id"):
        lineage = dict(profiles.at[customer, "lineage"] or {})
        for unit in chosen:
            want = expected_winner(recs, unit, None)
            got = {lineage[f]["record_key"] for f in unit.fields if f in lineage}
            assert got == ({want} if want else set()), (customer, unit.name, want, got)
            if want:
                winner = recs[recs["record_key"] == want].iloc[0]
                for field in unit.fields:
                    expected = winner[VALUE_COLUMN.get(field, field)]
                    actual = profiles.at[customer, field]
                    assert (pd.isna(expected) and pd.isna(actual)) or str(expected) == str(actual), (customer, field)
            checked += 1
    assert checked > 1000


def test_golden_values_match_the_generators_people(built: Built) -> None:
    """For cleanly linked people, golden birth dates and CRM names are the person's true ones."""
    people = pd.concat([pd.read_parquet(f) for f in glob.glob(str(built.root / "landing" / "truth" / "people_b*.parquet"))])
    people = people.drop_duplicates("true_id").set_index("true_id")
    profiles = frame(built.store, "gold.customer_profile").set_index("customer_id")
    pairs = [(t, c) for t, c in clean_people(built).items()]
    assert len(pairs) > 200
    dob = [(profiles.at[c, "date_of_birth"], people.at[t, "date_of_birth"].date()) for t, c in pairs
           if profiles.at[c, "date_of_birth"] is not None]
    assert sum(a == b for a, b in dob) / len(dob) >= 0.97, dob[:5]
    crm = [(profiles.at[c, "last_name"], people.at[t, "last_name"], people.at[t, "maiden_name"]) for t, c in pairs
           if "last_name" in profiles.at[c, "lineage"] and profiles.at[c, "lineage"]["last_name"]["source"] == "crm_contacts"]
    assert sum(got in (true, maiden) for got, true, maiden in crm) / len(crm) >= 0.9


KINDS = ("email_key", "login_id", "loyalty_id", "social_handle")


def held_by_person(built: Built) -> dict[str, set[tuple[str, str]]]:
    """true_id -> the identifier values their person records hold (a phone also by its last eight digits)."""
    records = frame(built.store, "silver.person_records").merge(
        truth(built, "person_records").assign(record_key=lambda t: t["source"] + ":" + t["source_record_id"]), on="record_key")
    held: dict[str, set[tuple[str, str]]] = {}
    for row in records.itertuples():
        values = {(k, getattr(row, k)) for k in KINDS if isinstance(getattr(row, k), str)}
        values |= {("id:" + k, v) for k, v in (row.identifiers or {}).items() if v}
        if isinstance(row.phone_e164, str):
            values |= {("phone", row.phone_e164), ("phone_local", row.phone_e164[-8:])}
        held.setdefault(row.true_id, set()).update(values)
    return held


def carried_by_event(built: Built) -> dict[str, set[tuple[str, str]]]:
    """event_id -> the identifier values the event carries in silver.interactions."""
    carried = {}
    for row in frame(built.store, "silver.interactions").itertuples():
        values = {(k, getattr(row, k)) for k in KINDS if isinstance(getattr(row, k), str)}
        values |= {("id:" + k, v) for k, v in (row.identifiers or {}).items() if v}
        values |= {(k, getattr(row, k)) for k in ("phone", "phone_local") if isinstance(getattr(row, k), str)}
        carried[row.event_id] = values
    return carried


def test_timeline_holds_every_attributable_event_of_a_person_and_nobody_elses(built: Built) -> None:
    events = truth(built, "events")
    timeline = frame(built.store, "gold.customer_interactions")
    unresolved = frame(built.store, "gold.unresolved_interactions")
    placed = timeline.merge(events, on=["source", "event_id"], how="left")
    assert placed["true_id"].notna().all(), "an event in the timeline that the generator never wrote"
    assert len(timeline) + len(unresolved) == len(events), "every event is in the timeline or reported unresolved"
    assert unresolved["reason"].isin(["anonymous_session", "ambiguous_identifier", "no_matching_customer",
                                      "no_identifier"]).all()
    owner_of_customer = {c: t for t, c in clean_people(built).items()}
    # an event of a cleanly linked person that carries a value one of their records holds must reach them,
    # unless another customer holds it too (ambiguous); the identifiers compared here by plain set arithmetic
    why_unresolved = dict(zip(unresolved["event_id"], unresolved["reason"], strict=True))
    held = held_by_person(built)
    carried = carried_by_event(built)
    checked = 0
    for true_id, customer in clean_people(built).items():
        mine = set(events.loc[events["true_id"] == true_id, "event_id"])
        shown = set(placed.loc[placed["customer_id"] == customer, "event_id"])
        elsewhere = set(placed.loc[placed["event_id"].isin(mine) & (placed["customer_id"] != customer)
                                   & placed["customer_id"].map(owner_of_customer).notna(), "event_id"])
        assert shown <= mine, (true_id, shown - mine)   # none of another person's events
        assert not elsewhere, (true_id, elsewhere)       # none of theirs at another clean customer
        lost = {e: why_unresolved.get(e, "placed at another customer") for e in mine - shown}
        wrong = {e: why for e, why in lost.items() if why != "ambiguous_identifier" and carried.get(e, set()) & held[true_id]}
        assert not wrong, (true_id, wrong, {e: carried.get(e) for e in wrong}, held[true_id])
        checked += len(shown)
    assert checked > 1000
    anonymous = unresolved[unresolved["reason"] == "anonymous_session"]
    assert (anonymous["source"] == "web_events").all()


def test_orders_keep_their_lines_and_contacts_their_accounts(built: Built) -> None:
    timeline = frame(built.store, "gold.customer_interactions")
    orders = timeline[timeline["source"] == "shop_orders"]
    assert orders["attributes"].str.contains('"lines":\\[{"sku"').all()
    profiles = frame(built.store, "gold.customer_profile")
    accounts = frame(built.store, "gold.accounts").set_index("account_id")
    linked = [a for ids in profiles["account_ids"] for a in ids]
    assert linked and set(linked) <= set(accounts.index)
    assert (accounts["ultimate_parent_account_id"].isin(accounts.index)).all()


def test_rerun_commits_nothing_and_a_failed_gate_keeps_gold(built: Built, spark: SparkSession) -> None:
    versions = {t: built.store.version(t) for t in built.store.list_tables("gold")}
    assert run(built.config, spark, built.store, "gold")["status"].startswith("unchanged")
    strict = built.config.model_copy(update={"gold": built.config.gold.model_copy(update={
        "quality": built.config.gold.quality.model_copy(update={"min_completeness": {"gender": 0.99}})})})
    failed = run(strict, spark, built.store, "gold")
    assert failed["failed"] and "completeness of gender" in failed["failed"][0] and "previous gold kept" in failed["failed"][0]
    assert {t: built.store.version(t) for t in built.store.list_tables("gold")} == versions
    # a full refresh of unchanged input commits nothing but the metrics (their as-of time is the run's)
    refreshed = pipeline.RunContext(built.config, spark, built.store, EngineChoice("delta-rs", "test"),
                                    pipeline.new_run_id(), full_refresh=True)
    summary = pipeline.run(refreshed, "gold")["gold"]
    assert summary["profiles_changed"] == 0 and summary["published"]["customer_profile"]["written"] == "nothing"
    assert set(frame(built.store, "gold.customer_profile")["profile_version"]) == {1}
    moved = {t for t in built.store.list_tables("gold") if built.store.version(t) != versions[t]}
    assert moved == {"gold.customer_metrics", "gold._runs"}


def sql_examples(text: str) -> list[str]:
    """The `c360 sql --config conf/demo.yaml "…"` commands of a page, in order."""
    return [m.group(1) for m in re.finditer(r'^\s*c360 sql --config conf/demo\.yaml "(.*)"$', text, re.MULTILINE)]


def example_queries(project_root: Path, built: Built) -> list[str]:
    """The `c360 sql` examples of the docs' SQL page, with the e-mail and shop id of a customer of this data."""
    section = (project_root / "docs" / "sql.md").read_text().split("## Example queries", 1)[1]
    queries = sql_examples(section)
    xref = frame(built.store, "gold.customer_xref")
    profiles = frame(built.store, "gold.customer_profile")
    owners = profiles.explode("emails").groupby("emails")["customer_id"].nunique()
    unique_emails = set(owners[owners == 1].index)   # a family e-mail belongs to several customers
    profiles = profiles[profiles["emails"].map(lambda emails: emails is not None and any(e in unique_emails for e in emails))]
    shop = xref[(xref["source"] == "shop_customers") & xref["customer_id"].isin(profiles["customer_id"])].iloc[0]
    email = next(e for e in profiles[profiles["customer_id"] == shop["customer_id"]]["emails"].iloc[0]
                 if e in unique_emails)
    page_email = re.search(r"array_contains\(p\.emails, '([^']+)'\)", section).group(1)
    page_shop = re.search(r"me\.source_record_id = '([^']+)'", section).group(1)
    return [q.replace(page_email, email).replace(page_shop, shop["source_record_id"]) for q in queries]


def test_c360_sql_answers_the_example_queries(project_root: Path, built: Built, capsys) -> None:  # noqa: ANN001
    queries = example_queries(project_root, built)
    assert len(queries) == 4
    answers = []
    for query in queries:
        capsys.readouterr()
        assert main(["sql", "--config", str(built.config_path), query, "--format", "json"]) == 0
        answers.append([line for line in capsys.readouterr().out.splitlines() if line.strip()])
    view, segments, timeline, xref = answers
    assert len(view) == 1 and '"orders_count"' in view[0]
    assert len(segments) >= 3 and '"segment"' in segments[0]
    assert len(timeline) >= 1 and all('"occurred_at"' in line for line in timeline)
    assert any('"shop_customers"' in line for line in xref)
    # the README's tour and the getting-started page ask questions that hold for any data
    for page in (project_root / "README.md", project_root / "docs" / "getting-started.md"):
        tour = sql_examples(page.read_text().split("## The command line")[0])
        assert len(tour) == 3, page
        for query in tour:
            capsys.readouterr()
            assert main(["sql", "--config", str(built.config_path), query, "--format", "json"]) == 0
            assert [line for line in capsys.readouterr().out.splitlines() if line.strip()], (page.name, query)


def test_beeline_against_sql_server(project_root: Path, built: Built) -> None:
    with sql_server(built.config_path) as port:
        query = example_queries(project_root, built)[1]   # top segments
        out = subprocess.run([str(beeline()), "-u", f"jdbc:hive2://localhost:{port}/", "--outputformat=csv2", "--silent=true",
                              "-e", query], capture_output=True, text=True, timeout=180)
    rows = [line.split("> ", 1)[-1] for line in out.stdout.splitlines() if "," in line]  # drop beeline's prompt
    assert rows and rows[0].startswith("segment,customers,revenue"), out.stdout + out.stderr
    counted = sum(int(r.split(",")[1]) for r in rows[1:])
    assert counted == built.summary["tables"]["customer_metrics"]


def test_register_in_a_metastore(built: Built, spark: SparkSession, delta_spark_available: bool) -> None:
    require_delta_spark(delta_spark_available)
    from c360.catalog import register_tables

    store = open_store(spark, "delta-spark", built.config.warehouse)
    settings = built.config.gold.catalog.model_copy(update={"schema_name": "c360_test"})
    try:
        first = register_tables(spark, store, settings)
        assert first["`c360_test`.`customer_profile`"] == "created"
        assert set(register_tables(spark, store, settings).values()) == {"exists"}
        got = spark.sql("SELECT count(*) FROM c360_test.customer_profile").first()[0]
        assert got == built.summary["tables"]["customer_profile"]
        shown = spark.sql("SHOW CREATE TABLE c360_test.customer_profile").first()[0]
        assert f"VERSION AS OF {built.store.version('gold.customer_profile')}" in shown, shown
    finally:
        spark.sql("DROP SCHEMA IF EXISTS c360_test CASCADE")


def test_the_change_feed_shows_what_a_run_changed(built: Built, spark: SparkSession) -> None:
    # last in the module, as it changes the shared warehouse: one record of a customer splits off on its own
    xref = frame(built.store, "gold.customer_xref")
    sizes = xref.groupby("customer_id")["record_key"].count()
    customer = sorted(sizes[sizes >= 2].index)[0]
    record = sorted(xref[xref["customer_id"] == customer]["record_key"])[0]
    identity = built.store.read("silver.identity_map")
    built.store.overwrite(identity.withColumn("customer_id", F.when(F.col("record_key") == record, F.lit("Csplit"))
                                              .otherwise(F.col("customer_id"))), "silver.identity_map")
    describe_tables(built.store, "silver")  # the overwrite by hand dropped them; the next silver run writes them
    before = {t: built.store.version(t) for t in ("gold.customer_xref", "gold.customer_profile")}
    summary = run(built.config, spark, built.store, "gold")
    assert summary["published"]["customer_xref"] == {"written": "changes", "upserted": 1, "deleted": 0}
    feed = built.store.changes("gold.customer_xref", before["gold.customer_xref"] + 1).collect()
    assert sorted((r["record_key"], r["customer_id"], r["_change_type"]) for r in feed) == [
        (record, customer, "update_preimage"), (record, "Csplit", "update_postimage")]
    feed = built.store.changes("gold.customer_profile", before["gold.customer_profile"] + 1).collect()
    assert sorted((r["customer_id"], r["_change_type"]) for r in feed) == [
        (customer, "update_postimage"), (customer, "update_preimage"), ("Csplit", "insert")]

"""Which customers and events a silver change reaches, and when a gold run may take only those."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from c360.gold import changes
from c360.storage import MergeSpec, TableStore
from tests.gold.test_attribution import EVENTS, PEOPLE

RECORDS = ("record_key string, login_id string, loyalty_id string, social_handle string, email_key string, "
           "phone_e164 string, identifiers map<string,string>, _change_type string")


def _ids(frame, column: str = "customer_id") -> list:  # noqa: ANN001
    return sorted(r[column] for r in frame.collect())


def test_plan_says_why_it_recomputes_every_customer() -> None:
    versions = {"silver.person_records": 4, "silver.identity_map": 4, "silver.interactions": 2}
    last = {"inputs": {"silver.person_records": 3, "silver.identity_map": 3, "silver.interactions": 2,
                       "silver.customer_id_redirects": 1}, "settings": "s1"}
    assert changes.plan(last, "s1", versions, False, []).since == {
        "silver.person_records": 3, "silver.identity_map": 3, "silver.interactions": 2}
    assert changes.plan(last, "s1", versions, True, []).why == "--full-refresh"
    assert changes.plan(None, "s1", versions, False, []).why == "no earlier gold run to continue from"
    assert changes.plan(last, "s2", versions, False, []).why == "gold settings or the accounts source changed"
    assert "appeared" in changes.plan(last, "s1", versions | {"silver.interactions": None}, False, []).why
    assert "older version" in changes.plan(last, "s1", versions | {"silver.identity_map": 1}, False, []).why
    assert changes.plan(last, "s1", versions, False, ["gold.households"]).why == "gold.households missing"


def test_changed_customers_are_both_sides_of_a_move_and_changed_records_owners(spark: SparkSession) -> None:
    identity = spark.createDataFrame([("r1", "A"), ("r1", "B"), ("r9", "Z")], "record_key string, customer_id string")
    records = spark.createDataFrame([("r5", None, None, None, "x@y.z", None, {}, "update_postimage")], RECORDS)
    identity_map = spark.createDataFrame([("r1", "B"), ("r5", "C"), ("r6", "D")], "record_key string, customer_id string")
    assert _ids(changes.changed_customers(identity, records, identity_map)) == ["A", "B", "C", "Z"]


def test_events_reached_by_identifiers_old_and_new(spark: SparkSession) -> None:
    """An e-mail that moved from record r5 (old value) and the e-mails of affected customers' records reach
    the events carrying them; a changed event and an affected customer's timeline are reached too."""
    people = spark.createDataFrame([
        ("C", None, None, None, "c.new@x.de", None, {}),
        ("D", None, None, None, "d@x.de", None, {}),
    ], PEOPLE)
    before = spark.createDataFrame([("r5", None, None, None, "c.old@x.de", None, {}, "update_preimage"),
                                    ("r5", None, None, None, "c.new@x.de", None, {}, "update_postimage")], RECORDS)
    customers = spark.createDataFrame([("C",)], "customer_id string")
    values = changes.identifiers_in_play(people, customers, before)
    assert sorted((r.kind, r.value) for r in values.collect()) == [("email", "c.new@x.de"), ("email", "c.old@x.de")]
    events = spark.createDataFrame([
        (e, "tickets", None, "ticket", None, None, None, mail, None, None, {}) for e, mail in
        [("e1", "c.old@x.de"), ("e2", "c.new@x.de"), ("e3", "d@x.de"), ("e4", "d@x.de"), ("e5", None), ("e6", "d@x.de")]
    ], EVENTS)
    changed = spark.createDataFrame([("tickets", "e4")], "source string, event_id string")
    timeline = spark.createDataFrame([("C", "tickets", "e5"), ("D", "tickets", "e6")],
                                     "customer_id string, source string, event_id string")
    reached = changes.events_in_scope(events, changed, timeline, customers, values)
    assert _ids(reached, "event_id") == ["e1", "e2", "e4", "e5"]


def test_household_moves(spark: SparkSession) -> None:
    before = spark.createDataFrame([("A", "h1"), ("B", "h1"), ("C", None), ("D", "h2")], "customer_id string, household_id string")
    after = spark.createDataFrame([("A", "h1"), ("C", "h1"), ("D", "h2")], "customer_id string, household_id string")
    assert_df_equality(changes.household_moves(before, after).orderBy("customer_id"),
                       spark.createDataFrame([("B",), ("C",)], "customer_id string"), ignore_nullable=True)


def test_only_row_level_commits_since_the_last_run_can_be_read_as_changes(store: TableStore, spark: SparkSession) -> None:
    table = "silver.identity_map"
    store.overwrite(spark.createDataFrame([("a", "C1")], "record_key string, customer_id string"), table)
    store.merge(spark.createDataFrame([("b", "C2")], "record_key string, customer_id string"), table,
                MergeSpec(keys=("record_key",)))
    store.compact(table)
    store.append(spark.createDataFrame([("c", "C4")], "record_key string, customer_id string"), table)
    assert changes.rewritten(store, table, 0) is None, "a MERGE, a compaction and an append are row-level"
    store.overwrite(spark.createDataFrame([("a", "C3")], "record_key string, customer_id string"), table)
    why = changes.rewritten(store, table, 0)
    assert why is not None and why.startswith(f"{table} was written whole or restored since the last run")
    assert f"at version {store.version(table)})" in why

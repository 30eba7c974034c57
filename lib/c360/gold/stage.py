"""The gold stage: golden profiles, cross-reference, timeline, metrics, households and accounts from silver.

Everything is computed first, then the data-quality gates run on the new tables, and only if they pass are
the tables published (see publish: one MERGE of the rows that changed per table, with the run's Delta
transaction id, so the change data feed shows real changes); a failed gate leaves the previous gold in place
and fails the run with the gate's message. A run whose inputs (silver table versions, the
accounts source, gold settings) equal the last run's is skipped without a commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import progress
from c360.errors import C360Error
from c360.gold import accounts as accounts_mod
from c360.gold import attribution, metrics, profile, quality, timeline, xref
from c360.gold.consent import consent_flags
from c360.gold.households import households
from c360.gold.survivorship import golden_values
from c360.pipeline import RunContext, last_fingerprint, register
from c360.storage import Txn
from c360.storage.publish import TableKey, publish
from c360.timing import Stopwatch

RUNS = "gold._runs"
log = logging.getLogger(__name__)
INPUTS = ("silver.person_records", "silver.identity_map", "silver.interactions", "silver.customer_id_redirects")
# how each gold table's rows are identified when it is published as the rows that changed
KEYS = {
    "gold.customer_profile": TableKey(("customer_id",), "profile_version"),
    "gold.customer_xref": TableKey(("record_key",), "customer_id"),
    "gold.customer_interactions": TableKey(("source", "event_id"), "customer_id"),
    "gold.customer_metrics": TableKey(("customer_id",), "as_of"),
    "gold.households": TableKey(("household_id",), "members"),
    "gold.unresolved_interactions": TableKey(("source", "event_id"), "reason"),
    "gold.accounts": TableKey(("account_id",), "source"),
    "gold.customer_id_redirects": TableKey(("old_customer_id", "new_customer_id"), "kind", ("new_customer_id",)),
}


def fingerprint(ctx: RunContext) -> str:
    """What gold depends on: silver versions, the accounts source's bronze version, gold settings."""
    tables = [*INPUTS] + ([f"bronze.{ctx.config.gold.accounts.source}"] if ctx.config.gold.accounts else [])
    versions = {t: ctx.store.version(t) for t in tables}
    text = json.dumps([versions, ctx.config.gold.model_dump(mode="json", by_alias=True)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()



def _run_started(ctx: RunContext) -> datetime:
    return datetime.fromtimestamp(ctx.run_number / 1000, tz=timezone.utc)


def customer_records(ctx: RunContext) -> DataFrame:
    """silver.person_records with each record's customer_id."""
    ids = ctx.store.read("silver.identity_map").select("record_key", "customer_id")
    return ctx.store.read("silver.person_records").join(ids, "record_key")


def _events(ctx: RunContext) -> DataFrame | None:
    """silver.interactions; None when no interaction source has landed."""
    return ctx.store.read("silver.interactions") if ctx.store.exists("silver.interactions") else None


def _accounts(ctx: RunContext) -> DataFrame | None:
    settings = ctx.config.gold.accounts
    if settings is None or not ctx.store.exists(f"bronze.{settings.source}"):
        return None
    rows = accounts_mod.account_rows(ctx.store.read(f"bronze.{settings.source}"), ctx.config.source(settings.source), settings)
    return accounts_mod.hierarchy(rows)


def build(ctx: RunContext) -> dict[str, DataFrame]:
    """Every gold table as a (checkpointed) DataFrame, not yet written."""
    gold = ctx.config.gold
    records = customer_records(ctx).localCheckpoint()
    index = attribution.identifier_index(records)
    events = _events(ctx)
    unresolved = None
    if events is None:
        rows = ctx.spark.createDataFrame([], timeline.SCHEMA)
    else:
        attributed, unresolved = attribution.attribute_events(events, index)
        rows = timeline.timeline(attributed).localCheckpoint()
    golden = golden_values(records, gold).localCheckpoint()
    account_link = gold.accounts.contact_identifier if gold.accounts else None
    facts = profile.record_facts(records, account_link)
    homes = households(golden)
    content = profile.assemble(golden, facts, consent_flags(records), profile.event_span(rows), homes)
    previous = ctx.store.read("gold.customer_profile") if ctx.store.exists("gold.customer_profile") else None
    profiles = profile.versioned(content, previous, datetime.now(timezone.utc)).localCheckpoint()
    tables = {
        "gold.customer_profile": profiles,
        "gold.customer_xref": xref.customer_xref(ctx.store.read("silver.identity_map")).localCheckpoint(),
        # materialised once: the quality gates read it, then it is written in this layout
        "gold.customer_interactions": timeline.clustered(rows, rows.count(), gold.timeline_rows_per_file).localCheckpoint(),
        "gold.customer_metrics": metrics.customer_metrics(profiles, rows, gold.metrics,
                                                          gold.metrics.as_of or _run_started(ctx)).localCheckpoint(),
        "gold.households": homes.groupBy("household_id").agg(
            F.array_sort(F.collect_list("customer_id")).alias("customer_ids"), F.count("*").alias("members")),
    }
    if unresolved is not None:
        tables["gold.unresolved_interactions"] = unresolved.localCheckpoint()
    if ctx.store.exists("silver.customer_id_redirects"):
        # published as it is: where every retired, merged or split customer id went (see silver.customer_ids)
        tables["gold.customer_id_redirects"] = ctx.store.read("silver.customer_id_redirects")
    accounts = _accounts(ctx)
    if accounts is not None:
        tables["gold.accounts"] = accounts
    return tables


@register("gold")
def run_gold(ctx: RunContext) -> dict:
    """Build, check and publish gold; skip without a commit when nothing it depends on changed."""
    for table in ("silver.person_records", "silver.identity_map"):
        if not ctx.store.exists(table):
            raise C360Error(f"gold: {table} does not exist yet (run the silver stage first)")
    print_fp = fingerprint(ctx)
    if not ctx.full_refresh and last_fingerprint(ctx.store, RUNS) == print_fp:
        return {"status": "unchanged (same silver versions and gold settings)"}
    watch = Stopwatch()
    with watch.step("build"):
        tables = build(ctx)
    progress.expect(2 + len(tables))
    with watch.step("quality gates"):
        gates = quality.check(tables["gold.customer_profile"], tables["gold.customer_xref"],
                              tables["gold.customer_interactions"], ctx.config.gold.quality)
    if not gates.passed:
        return {"failed": [f"gold: data-quality gate failed, nothing published (previous gold kept): {f}"
                           for f in gates.failures], "violations": gates.violations, "completeness": gates.completeness}
    txn = Txn("c360/gold", ctx.run_number)
    written, published = {}, {}
    for name, frame in tables.items():
        short = name.split(".")[1]
        with watch.step(f"write {name}"):
            published[short] = publish(ctx.store, frame, name, KEYS[name], txn=txn)
            written[short] = ctx.store.read(name).count()
        log.info("gold: %s published (%d rows; %s)", name, written[short], published[short])
    unresolved = (ctx.store.read("gold.unresolved_interactions").groupBy("reason").count().collect()
                  if "gold.unresolved_interactions" in tables else [])
    summary = {"tables": written, "published": published, "unresolved_interactions": {r["reason"]: r["count"] for r in unresolved},
               "profiles_changed": ctx.store.read("gold.customer_profile").where(F.col("updated_at") >= F.lit(
                   _run_started(ctx)).cast("timestamp")).count(),
               "completeness": gates.completeness, "seconds_per_step": watch.seconds}
    runs = ctx.spark.createDataFrame([(ctx.run_id, print_fp, json.dumps(summary, default=str), datetime.now(timezone.utc))],
                                     "run_id string, fingerprint string, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return summary

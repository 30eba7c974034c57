"""The gold stage: golden profiles, cross-reference, timeline, metrics, households and accounts from silver.

A run recomputes only the customers and events that silver's changes since the last gold run reach, when it
can (see gold.changes and gold.build), and every customer otherwise, saying why in its summary's `mode`.
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

from c360 import progress, recovery
from c360.errors import C360Error
from c360.frames import local_frame
from c360.gold import build, changes, quality
from c360.pipeline import RunContext, last_fingerprint, last_summary, register
from c360.privacy import pseudonymise
from c360.privacy.suppression import salt
from c360.storage import Txn
from c360.storage.publish import TableKey, publish
from c360.table_registry import describe_tables
from c360.timing import Stopwatch

RUNS = "gold._runs"
log = logging.getLogger(__name__)
INPUTS = ("silver.person_records", "silver.identity_map", "silver.interactions", "silver.customer_id_redirects")
# the silver tables whose change data feed says which customers and events moved
FED = ("silver.person_records", "silver.identity_map", "silver.interactions")
# how each gold table's rows are identified when it is published as the rows that changed
KEYS = {
    build.PROFILE: TableKey(("customer_id",), "profile_version"),
    build.XREF: TableKey(("record_key",), "customer_id"),
    build.TIMELINE: TableKey(("source", "event_id"), "customer_id"),
    build.METRICS: TableKey(("customer_id",), "as_of"),
    build.HOUSEHOLDS: TableKey(("household_id",), "members"),
    build.CONTACTS: TableKey(("customer_id", "channel"), "address"),
    build.UNRESOLVED: TableKey(("source", "event_id"), "reason"),
    build.ACCOUNTS: TableKey(("account_id",), "source"),
    build.REDIRECTS: TableKey(("old_customer_id", "new_customer_id"), "kind", ("new_customer_id",)),
}


def input_versions(ctx: RunContext) -> dict[str, int | None]:
    """The current version of every silver table gold reads (None: not there)."""
    return {t: ctx.store.version(t) if ctx.store.exists(t) else None for t in INPUTS}


def settings_fingerprint(ctx: RunContext) -> str:
    """The gold settings, whose change makes every profile be recomputed."""
    return hashlib.sha256(json.dumps(ctx.config.gold.model_dump(mode="json", by_alias=True), sort_keys=True).encode()).hexdigest()


def fingerprint(ctx: RunContext, versions: dict[str, int | None], settings: str) -> str:
    """What gold depends on: silver versions, the accounts source's bronze version, gold settings."""
    accounts = ctx.config.gold.accounts
    source = {f"bronze.{accounts.source}": ctx.store.version(f"bronze.{accounts.source}")} if accounts else {}
    text = json.dumps([versions, source, settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def advance(ctx: RunContext, moved: dict[str, tuple[int, int]], txn: Txn, note: dict) -> bool:
    """Move the last run's bookmarks (the silver versions it read) over commits that changed no row: each
    silver table it read at version `before` that now stands at `after` (`moved`: table -> (before, after)),
    as after a purge (see silver.stage.advance). Appends a row to gold._runs with `note`; False when none
    moved."""
    last = last_summary(ctx.store, RUNS)
    if last is None or "inputs" not in last:
        return False

    def move(versions: dict[str, int]) -> dict[str, int]:
        return {t: moved[t][1] if t in moved and moved[t][0] == v else v for t, v in versions.items()}

    inputs = move(last["inputs"])
    done = last.get("finished")
    finished = {"versions": move(done["versions"]), "txn": done["txn"]} if done else None
    if inputs == last["inputs"] and finished == done:
        return False
    summary = {**last, "inputs": inputs, **({"finished": finished} if finished else {}), **note}
    runs = local_frame(ctx.spark, [(ctx.run_id, fingerprint(ctx, inputs, last["settings"]), json.dumps(summary, default=str),
                                    datetime.now(timezone.utc))],
                       "run_id string, fingerprint string, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return True


def _feed(ctx: RunContext, table: str, since: dict[str, int], versions: dict[str, int | None]) -> DataFrame:
    """`table`'s change data feed after the version the last run read (empty when it did not move)."""
    if versions[table] == since[table]:
        return ctx.store.read(table).limit(0).withColumn("_change_type", F.lit(None).cast("string"))
    return ctx.store.changes(table, since[table] + 1, versions[table])


def _silver_changes(ctx: RunContext, since: dict[str, int], versions: dict[str, int | None]) -> changes.SilverChanges | str:
    """What moved in silver since the last run, or why it cannot be read (e.g. its versions were vacuumed)."""
    try:
        identity = _feed(ctx, "silver.identity_map", since, versions).select("record_key", "customer_id").localCheckpoint()
        records = _feed(ctx, "silver.person_records", since, versions).localCheckpoint()
        if versions["silver.interactions"] is None:
            events = local_frame(ctx.spark, [], "source string, event_id string")
        else:
            events = _feed(ctx, "silver.interactions", since, versions).select("source", "event_id").localCheckpoint()
    except Exception as exc:  # noqa: BLE001 - any failure to read the feed means: recompute everything
        return f"silver's change data feed since the last run cannot be read ({str(exc).splitlines()[0][:200]})"
    return changes.SilverChanges(identity, records, events)


def _plan(ctx: RunContext, versions: dict[str, int | None], settings: str) -> tuple[changes.SilverChanges | None, str]:
    """The silver changes to take (None: every customer) and why."""
    fed = {t: v for t, v in versions.items() if t in FED}
    wanted = (build.PROFILE, build.XREF, build.METRICS, build.HOUSEHOLDS, build.CONTACTS) + (
        (build.TIMELINE, build.UNRESOLVED) if fed["silver.interactions"] is not None else ())
    gold_plan = changes.plan(last_summary(ctx.store, RUNS), settings, fed, ctx.full_refresh,
                             [t for t in wanted if not ctx.store.exists(t)])
    if not gold_plan.incremental:
        return None, gold_plan.why
    for table, since in gold_plan.since.items():
        why = changes.rewritten(ctx.store, table, since)
        if why:
            return None, why
    read = _silver_changes(ctx, gold_plan.since, fed)
    return (None, read) if isinstance(read, str) else (read, gold_plan.why)


@register("gold")
def run_gold(ctx: RunContext) -> dict:
    """Build, check and publish gold; skip without a commit when nothing it depends on changed."""
    for table in ("silver.person_records", "silver.identity_map"):
        if not ctx.store.exists(table):
            raise C360Error(f"gold: {table} does not exist yet (run the silver stage first)")
    versions, settings = input_versions(ctx), settings_fingerprint(ctx)
    print_fp = fingerprint(ctx, versions, settings)
    if not ctx.full_refresh and last_fingerprint(ctx.store, RUNS) == print_fp:
        describe_tables(ctx.store, "gold")  # tables an earlier c360 made get this version's descriptions
        return {"status": "unchanged (same silver versions and gold settings)"}
    copies = ctx.config.gold.pseudonymised
    pseudonymise.check(copies)
    secret = salt(ctx.config) if copies else None  # before anything is written: a run without it stops here
    watch = Stopwatch()
    progress.expect(["change detection", "build", "quality gates", *[f"write {t}" for t in build.planned_tables(ctx)]])
    with watch.step("change detection"):
        change, why = _plan(ctx, versions, settings)
    log.info("gold: %s (%s)", "only what changed" if change else "every customer", why)
    with watch.step("build"):
        built = build.full(ctx) if change is None else build.incremental(ctx, change)
    tables = built.tables
    with watch.step("quality gates"):
        gates = quality.check(built.whole[build.PROFILE], built.whole[build.XREF], built.whole[build.TIMELINE],
                              ctx.config.gold.quality)
    if not gates.passed:
        return {"failed": [f"gold: data-quality gate failed, nothing published (previous gold kept): {f}"
                           for f in gates.failures], "violations": gates.violations, "completeness": gates.completeness}
    txn = Txn("c360/gold", ctx.run_number)
    written, published = {}, {}
    for name, frame in tables.items():
        short = name.split(".")[1]
        with watch.step(f"write {name}"):
            published[short] = publish(ctx.store, frame, name, KEYS[name], txn=txn, scope=built.scopes.get(name))
            written[short] = ctx.store.row_count(name)
            if short in copies:
                publish(ctx.store, pseudonymise.pseudonymise(frame, name, secret), pseudonymise.analytics_table(name),
                        KEYS[name], txn=txn, scope=built.scopes.get(name))
        log.info("gold: %s published (%d rows; %s)", name, written[short], published[short])
    describe_tables(ctx.store, "gold")
    describe_tables(ctx.store, pseudonymise.LAYER)
    unresolved = (ctx.store.read(build.UNRESOLVED).groupBy("reason").count().collect()
                  if build.UNRESOLVED in tables else [])
    summary = {"mode": {"incremental": change is not None, "why": why, **built.reached},
               "tables": written, "published": published,
               "unresolved_interactions": {r["reason"]: r["count"] for r in unresolved},
               "tracking_events_withheld": built.withheld,
               "profiles_changed": ctx.store.read(build.PROFILE).where(F.col("updated_at") >= F.lit(
                   build.run_started(ctx)).cast("timestamp")).count(),
               "completeness": gates.completeness, "inputs": versions, "settings": settings,
               "seconds_per_step": watch.seconds,
               # inside "build": what every run computes over every customer, whatever it changed
               "every_customer_seconds": built.every_customer,
               # what readers see until the next run finishes (see snapshots)
               "finished": recovery.finished(ctx.store, [t for layer in ("gold", pseudonymise.LAYER)
                                                         for t in ctx.store.list_tables(layer) if t != RUNS], txn)}
    runs = local_frame(ctx.spark, [(ctx.run_id, print_fp, json.dumps(summary, default=str), datetime.now(timezone.utc))],
                       "run_id string, fingerprint string, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return summary

"""Erasing people (GDPR Art. 17): every row in every layer, the files that still hold them, and a record of it.

An erase takes a batch of requests (one person or thousands) in one pass:

1. It finds the subjects (see subjects): their customers, records and events. It needs a current warehouse
   (the last silver and gold runs took in everything bronze and silver hold, and finished), or it would miss
   records not linked yet. A request that leads to several customers erases nobody and says who they are.
2. It deletes their rows from every table by staged key sets, one MERGE per table (a literal predicate would
   write the values into the Delta log): bronze's source tables, tombstones and quarantine; silver's person
   records, identity map, pairs, graph components and events. What others hold is recomputed where the
   subject took part: graph components named after a subject's record, hub identifiers they counted toward,
   and the customer id redirects (theirs retired, merges into it retired too). Silver's last run is marked as
   having read bronze as it now stands, so the next run goes on incrementally.
3. Gold is then brought up to date by its own incremental run, which reads silver's change data feed of the
   deletes: the subject's profile, cross-reference, timeline and metrics go, households they shared and
   events that were ambiguous because of them are recomputed.
4. It removes the subject's values from the model versions' term-frequency tables (values others hold stay)
   and deletes run report pages that show them.
5. It logs the erasure (`privacy.erasures`: salted hashes, counts) and lists their source records, e-mails
   and phones (hashed) in `privacy.suppressed`, which bronze honours.
6. It purges (see storage `purge`): every table it wrote loses its older versions, `_change_data` and log
   history, so no file still holds the subject; with `privacy.purge: deferred`, `c360 maintain` does it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import catalog
from c360.errors import C360Error
from c360.frames import local_frame
from c360.config import LAYERS
from c360.pipeline import RunContext
from c360.privacy import files, subjects, suppression
from c360.privacy.lookup import Subjects, find_subjects, require_current, rows_affected, targets
from c360.privacy.subjects import Request
from c360.silver.customer_ids import BY_C360, collapse
from c360.silver.stitching import identifier_values
from c360.silver.tables import COMPONENTS, HUBS, IDENTITY, RECORDS, REDIRECTS, SCORED
from c360.storage import MergeSpec, TableStore, Txn
from c360.table_registry import describe_tables

log = logging.getLogger(__name__)
APP = "c360/erase"
ERASURE_SCHEMA = ("erasure_id string, at timestamp, requests array<string>, customers array<string>, "
                  "records bigint, events bigint, rows_removed map<string,bigint>, report_files_removed int, "
                  "term_frequency_values_removed int, purge string, purged_at timestamp")
SUPPRESSED_SCHEMA = "kind string, source string, hash string, erasure_id string, at timestamp"


def dry_run(ctx: RunContext, found: Subjects, keys: dict[str, DataFrame]) -> dict:
    """What an erase would remove, per table, and the records an operator should look at first: scored at
    even odds or better against a subject's record but not in their customer."""
    near = []
    if ctx.store.exists(SCORED):
        near = [r.asDict() for r in subjects.candidates(ctx.store.read(SCORED), found.records, ctx.store.read(IDENTITY))
                .orderBy(F.desc("match_probability")).collect()]
    return {"customers": sorted(r["customer_id"] for r in found.customers.collect()),
            "rows": rows_affected(ctx, keys), "unlinked_candidates": near}


def _recount_hubs(ctx: RunContext, found: Subjects, txn: Txn) -> None:
    """Hub identifiers the subjects' records counted toward: counted again without them, gone at zero."""
    store = ctx.store
    if not store.exists(HUBS):
        return
    hubs = store.read(HUBS)
    kinds = [r["identifier"] for r in hubs.select("identifier").distinct().collect()]
    if not kinds:
        return
    held = identifier_values(found.person_rows, kinds).select("identifier", "value").distinct()
    touched = hubs.join(held, ["identifier", "value"], "left_semi").localCheckpoint()
    if touched.isEmpty():
        return
    rest = store.read(RECORDS).join(found.records.select("record_key"), "record_key", "left_anti")
    counts = (identifier_values(rest, kinds).join(touched.select("identifier", "value"), ["identifier", "value"], "left_semi")
              .groupBy("identifier", "value").agg(F.countDistinct("record_key").alias("records")))
    new = touched.drop("records").join(counts, ["identifier", "value"], "left")
    store.merge(new.where("records IS NOT NULL").select(*hubs.columns), HUBS,
                MergeSpec(keys=("identifier", "value"), insert=False), txn=txn)
    store.delete_keys(HUBS, new.where("records IS NULL").select("identifier", "value"), txn=txn)


def _relabel_components(ctx: RunContext, found: Subjects, txn: Txn) -> None:
    """Components named after a subject's record (their smallest record key) take the smallest key left."""
    named = found.records.select(F.col("record_key").alias("component"))
    stale = ctx.store.read(COMPONENTS).join(named, "component", "left_semi")
    smallest = stale.groupBy("component").agg(F.min("record_key").alias("_new"))
    renamed = stale.join(smallest, "component").select("record_key", F.col("_new").alias("component")).localCheckpoint()
    if not renamed.isEmpty():
        ctx.store.merge(renamed, COMPONENTS, MergeSpec(keys=("record_key",), insert=False), txn=txn)


def _retire(ctx: RunContext, found: Subjects, txn: Txn, now: datetime) -> None:
    """The subjects' customer ids retired (and merges into them with them), chains collapsed."""
    store = ctx.store
    retired = found.customers.select(F.col("customer_id").alias("old_customer_id"),
                                     F.lit(None).cast("string").alias("new_customer_id"), F.lit("retire").alias("kind"),
                                     F.lit(ctx.run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("at"),
                                     F.lit(BY_C360).alias("by"))
    history = store.read(REDIRECTS) if store.exists(REDIRECTS) else None
    store.overwrite(collapse(history, retired, ctx.run_id, now).localCheckpoint(), REDIRECTS, txn=txn)


def _log_erasure(ctx: RunContext, requests: list[Request], found: Subjects, rows: dict[str, int], scrubbed: dict,
                 secret: str, now: datetime, txn: Txn) -> None:
    """One row of `privacy.erasures` (hashes and counts only) and the subjects' suppression entries: their
    person records and events (source, id), e-mails and phones."""
    spark = ctx.spark
    asked = subjects.requests_frame(spark, requests)
    hashes = asked.select(suppression.hashed("request", F.col("kind"), F.coalesce("source", F.lit("")), F.col("value"),
                                             secret=secret).alias("h"))
    customers = found.customers.select(suppression.hashed("customer_id", F.col("customer_id"), secret=secret).alias("h"))
    purge = "pending" if ctx.config.privacy.purge == "deferred" else "done"
    row = local_frame(spark, [(ctx.run_id, now, sorted(r["h"] for r in hashes.collect()),
                               sorted(r["h"] for r in customers.collect()), found.records.count(), found.events.count(),
                               rows, scrubbed["report_files"], scrubbed["term_frequency_values"], purge,
                               now if purge == "done" else None)], ERASURE_SCHEMA)
    ctx.store.append(row, suppression.ERASURES, txn=txn)
    stamp = [F.lit(ctx.run_id).alias("erasure_id"), F.lit(now).cast("timestamp").alias("at")]
    rows_ = found.person_rows
    listed = (found.records.select(F.lit("record").alias("kind"), "source",
                                   suppression.record_hash(F.col("source"), F.col("source_record_id"), secret).alias("hash"))
              .unionByName(found.events.select(F.lit("record").alias("kind"), "source",
                                               suppression.record_hash(F.col("source"), F.col("event_id"), secret).alias("hash")))
              .unionByName(rows_.where(F.col("email_key").isNotNull()).select(
                  F.lit("email").alias("kind"), F.lit(None).cast("string").alias("source"),
                  suppression.hashed("email", F.col("email_key"), secret=secret).alias("hash")))
              .unionByName(rows_.where(F.col("phone_e164").isNotNull()).select(
                  F.lit("phone").alias("kind"), F.lit(None).cast("string").alias("source"),
                  suppression.hashed("phone", F.col("phone_e164"), secret=secret).alias("hash")))
              .distinct().select("*", *stamp))
    ctx.store.append(listed, suppression.SUPPRESSED, txn=txn)


def erase(ctx: RunContext, requests: list[Request], dry: bool = False) -> dict:
    """Erase the people `requests` name (see the module); with `dry`, only say what would go."""
    require_current(ctx, "c360 erase")
    secret = None if dry else suppression.salt(ctx.config)
    found = find_subjects(ctx, requests)
    log.info("erase %s: %d of %d requests name a person", ctx.run_id, len(requests) - len(found.refused), len(requests))
    keys = targets(ctx, found)
    if dry:
        return {"dry_run": True, "refused": found.refused, **dry_run(ctx, found, keys)}
    if found.customers.isEmpty():
        return {"erasure_id": None, "refused": found.refused, "customers": 0}
    rows = rows_affected(ctx, keys)
    log.info("erase %s: %d rows in %d tables to delete", ctx.run_id, sum(rows.values()), sum(1 for n in rows.values() if n))
    start = _versions(ctx.store)
    now = datetime.now(timezone.utc)
    txn = Txn(APP, ctx.run_number)
    scrubbed = files.scrub(ctx, found)  # before the rows go: it reads the subjects' match keys from silver
    for table, key in keys.items():
        if rows.get(table):
            ctx.store.delete_keys(table, key, txn=txn)
            log.info("erase: %s: %d rows deleted", table, rows[table])
    _relabel_components(ctx, found, txn)
    _recount_hubs(ctx, found, txn)
    _retire(ctx, found, txn, now)
    describe_tables(ctx.store, "silver")  # the redirects' overwrite dropped their column descriptions
    if ctx.config.privacy.purge == "deferred":
        _advance(ctx, {t: (v, ctx.store.version(t)) for t, v in start.items()}, {}, txn)
    log.info("erase: silver done; gold's incremental run follows")
    gold = _continue_gold(ctx)
    catalog.repoint(ctx.spark, ctx.store, ctx.config.gold.catalog)  # gold's run moved its bookmarks
    _log_erasure(ctx, requests, found, rows, scrubbed, secret, now, txn)
    touched = sorted(t for t, v in _versions(ctx.store).items() if v != start.get(t) and not t.startswith("privacy."))
    purged = {}
    if ctx.config.privacy.purge == "immediate":
        middle = _versions(ctx.store)
        log.info("erase: purging %d tables", len(touched))
        purged = purge_tables(ctx.store, touched)
        after = _versions(ctx.store)
        _advance(ctx, {t: (start[t], after[t]) for t in start}, {t: (middle[t], after[t]) for t in middle}, txn)
    return {"erasure_id": ctx.run_id, "refused": found.refused, "customers": found.customers.count(),
            "records": found.records.count(), "events": found.events.count(), "rows_removed": rows,
            "gold": gold.get("mode", gold.get("status")), **scrubbed, "tables_touched": touched,
            "purge": "done" if purged else "pending (c360 maintain)", "purged": purged}


def _versions(store: TableStore) -> dict[str, int]:
    """The current version of every table of the layers."""
    return {t: v for layer in LAYERS for t in store.list_tables(layer)
            if (v := store.version(t)) is not None}


def _advance(ctx: RunContext, silver_moved: dict[str, tuple[int, int]], gold_moved: dict[str, tuple[int, int]],
             txn: Txn) -> None:
    """Move silver's and gold's bookmarks over the erasure's and the purge's commits (see silver.stage.advance),
    and the metastore's pinned views with them (an erased person must not stay readable through one)."""
    from c360.gold import stage as gold
    from c360.silver import stage as silver

    note = {"erasure": ctx.run_id}
    silver.advance(ctx, silver_moved, txn, note)
    if gold_moved:
        gold.advance(ctx, gold_moved, txn, note)
    catalog.repoint(ctx.spark, ctx.store, ctx.config.gold.catalog)


def _continue_gold(ctx: RunContext) -> dict:
    """Gold's incremental run over the erasure's silver deletes; a failed quality gate stops the erase."""
    from c360.gold import stage as gold

    summary = gold.run_gold(ctx)
    if summary.get("failed"):
        raise C360Error("c360 erase: bronze and silver no longer hold the person, but gold could not be updated: "
                        f"{'; '.join(summary['failed'])}. Fix it and run `c360 run --stage gold`, then "
                        "`c360 maintain` to purge")
    return summary


def purge_tables(store: TableStore, tables: list[str]) -> dict[str, dict[str, int]]:
    """Purge each table (see TableStore.purge), limiting its file statistics first (a table an earlier
    version made gets the property now)."""
    done = {}
    for table in tables:
        store.limit_statistics(table)
        done[table] = store.purge(table)
    return done


def pending_purges(store: TableStore) -> list[dict]:
    """Erasures whose purge `c360 maintain` has still to do (privacy.purge: deferred)."""
    if not store.exists(suppression.ERASURES):
        return []
    rows = store.read(suppression.ERASURES).where("purge = 'pending'").select("erasure_id", "at").collect()
    return [r.asDict() for r in rows]


def purge_pending(ctx: RunContext) -> list[str]:
    """`c360 maintain`'s part (privacy.purge: deferred): purge every table for the erasures still pending,
    move silver's and gold's bookmarks over the purge, and mark them done; their ids."""
    pending = [p["erasure_id"] for p in pending_purges(ctx.store)]
    if not pending:
        return []
    middle = _versions(ctx.store)
    purge_tables(ctx.store, sorted(middle))
    after = _versions(ctx.store)
    moved = {t: (middle[t], after[t]) for t in middle}
    _advance(ctx, moved, moved, Txn(APP, ctx.run_number))
    mark_purged(ctx.store, pending)
    return pending


def mark_purged(store: TableStore, erasure_ids: list[str]) -> None:
    """Record that the pending erasures were purged."""
    if not erasure_ids:
        return
    now = datetime.now(timezone.utc)
    done = local_frame(store.spark, [(e, "done", now) for e in erasure_ids], "erasure_id string, purge string, purged_at timestamp")
    store.merge(done, suppression.ERASURES, MergeSpec(keys=("erasure_id",), insert=False))


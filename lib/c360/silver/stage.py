"""The silver stage: person records, identity resolution and interactions, from the bronze tables.

Steps: standardise every person source into `silver.person_records`; link, cluster and id them (see
linking: deterministic links guarded against hubs, the Splink model saved versioned and retrained when the
data outgrows it (see retraining), clusters by mutual best links, stable customer ids with every merge, split
and retirement recorded as a redirect); write `silver.match_pairs`, `silver.scored_pairs`, `silver.identity_map`,
`silver.customer_id_redirects`, `silver.hub_identifiers`, `silver.graph_components` and `silver.interactions`,
and the run's Splink charts. A run takes only the records and events that changed since the last run where it
can (see changes), and says in its summary's `mode` which it did and why.

A run whose inputs (bronze table versions, silver settings, model version) equal the last run's is skipped
without a commit, so re-running unchanged input changes nothing. A run that died between its writes is
undone by the next one before it runs (see recovery).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import progress, recovery
from c360.config import SourceConfig
from c360.errors import C360Error
from c360.frames import local_frame
from c360.pipeline import RunContext, last_fingerprint, last_summary, register
from c360.privacy import suppression
from c360.silver import changes as changes_module
from c360.silver.figures import linkage_figures
from c360.silver.interactions import cookies_with_several_logins, interaction_records, restitch, stitch_cookies
from c360.silver.linking import link_people
from c360.silver.model_choice import in_use
from c360.silver.person_records import PHONES_HERE_MAX, person_records
from c360.silver.tables import (COMPONENT_KEY, COMPONENTS, EVENT_KEY, HUBS, IDENTITY, INTERACTIONS, MATCH_PAIRS,
                                RECORD_KEY, RECORDS, REDIRECTS, SCORED)
from c360.steward import labels as labels_module
from c360.storage import Txn
from c360.storage.publish import CHANGE_FEED, TableKey, publish
from c360.table_registry import describe_tables
from c360.timing import Stopwatch

log = logging.getLogger(__name__)
RUNS = "silver._runs"
APP = "c360/silver"  # the Delta transaction app id of silver's writes (see recovery)
# the steps a run that links with a model passes through, in order (charts: the model's, then the clusters')
# linkage settings that decide when a model is replaced, not what a model links: the model version stands for them
MODEL_POLICY = ("retrain", "retrain_growth", "max_retrain_churn", "min_prior_pairs", "model_version")
SILVER_STEPS = ("person records", "match keys", "model", "deterministic stitching", "term frequencies",
                "comparison counts", "predict", "charts", "clustering", "customer ids", "charts", "writes", "interactions")


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out


def _landed(ctx: RunContext, *kinds: str) -> list[SourceConfig]:
    """The sources of these kinds that have a bronze table."""
    return [s for s in ctx.config.sources if s.kind in kinds and ctx.store.exists(f"bronze.{s.name}")]


def tombstone_tables(ctx: RunContext) -> dict[str, list[str]]:
    """The bronze tables of tombstones of each person source, by its name: its deletions sources' tables and,
    for a database source with jdbc.detect_deletions, the tombstones of the rows that vanished."""
    found: dict[str, list[str]] = {}
    for deletions in _landed(ctx, "deletions"):
        found.setdefault(deletions.of or "", []).append(f"bronze.{deletions.name}")
    for source in _landed(ctx, "person"):
        if source.vanished_table and ctx.store.exists(source.vanished_table):
            found.setdefault(source.name, []).append(source.vanished_table)
    return found


def tombstones(ctx: RunContext, source: SourceConfig) -> DataFrame | None:
    """The tombstones of `source`'s records (the rows of its tombstone tables), or None without any."""
    tables = tombstone_tables(ctx).get(source.name)
    return _union([ctx.store.read(t).select(*changes_module.TOMBSTONE) for t in tables]) if tables else None


def all_person_records(ctx: RunContext) -> DataFrame:
    """silver.person_records of every person source that has landed in bronze."""
    sources = _landed(ctx, "person")
    if not sources:
        raise C360Error("silver: no person source has landed in bronze yet (run the bronze stage first)")
    return _union([person_records(ctx.store.read(f"bronze.{s.name}"), s, ctx.config.default_country, tombstones(ctx, s),
                                  ctx.store.row_count(f"bronze.{s.name}") <= PHONES_HERE_MAX)
                   for s in sources])


def bronze_versions(ctx: RunContext, *kinds: str) -> dict[str, int]:
    """The bronze version of every landed source of these kinds, by table; person sources bring their
    tombstone tables (see tombstone_tables)."""
    tables = [f"bronze.{s.name}" for s in _landed(ctx, *kinds)]
    if "person" in kinds:
        tables += [t for found in tombstone_tables(ctx).values() for t in found]
    return {t: ctx.store.version(t) for t in tables}


def settings_fingerprint(ctx: RunContext, model_version: int | None) -> str:
    """What the silver output depends on besides bronze's rows: field mappings, deletion conditions, silver
    settings, the default country and the model version."""
    fields = {s.name: [s.fields.model_dump(), s.deleted] for s in ctx.config.sources}
    silver = ctx.config.silver.model_dump(exclude={"linkage": set(MODEL_POLICY)})
    text = json.dumps([fields, silver, ctx.config.default_country, model_version],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(ctx: RunContext, model_version: int | None) -> str:
    """What the silver output depends on: bronze versions, the steward's labels, silver settings and the
    model version."""
    return fingerprint_of(bronze_versions(ctx, "person", "interaction"), settings_fingerprint(ctx, model_version),
                          labels_module.version(ctx.store))


def fingerprint_of(versions: dict[str, int], settings: str, labels: int | None = None) -> str:
    """The fingerprint of bronze `versions` (every person, tombstone and interaction table), `settings` and
    the version of steward.labels (labels alone start a run)."""
    read = {**versions, labels_module.LABELS: labels} if labels is not None else versions
    return hashlib.sha256(json.dumps([read, settings], sort_keys=True).encode()).hexdigest()


def advance(ctx: RunContext, moved: dict[str, tuple[int, int]], txn: Txn, note: dict) -> bool:
    """Move the last run's bookmarks over commits that changed nothing it has not accounted for: each table
    (bronze or silver) it had read or finished at version `before` that now stands at `after` (`moved`:
    table -> (before, after)) is recorded at `after`. An erasure deletes the same people from bronze and
    silver, and a purge only vacuums and cleans the log (which removes the versions the bookmarks named), so
    the next run goes on incrementally from there. Appends a row to silver._runs with `note`; False when no
    bookmark moved."""
    last = last_summary(ctx.store, RUNS)
    if last is None:
        return False

    def move(versions: dict[str, int]) -> dict[str, int]:
        return {t: moved[t][1] if t in moved and moved[t][0] == v else v for t, v in versions.items()}

    done = last["finished"]
    labels = last.get("labels_version")
    summary = {**last, "bronze_versions": move(last["bronze_versions"]), "event_versions": move(last["event_versions"]),
               "finished": {"versions": move(done["versions"]), "txn": done["txn"]},
               "labels_version": move({labels_module.LABELS: labels})[labels_module.LABELS], **note}
    if all(summary.get(k) == last.get(k) for k in ("bronze_versions", "event_versions", "finished", "labels_version")):
        return False
    read = {**summary["bronze_versions"], **summary["event_versions"]}
    model = ctx.store.read(RUNS).orderBy(F.desc("finished_at")).select("model_version").first()["model_version"]
    printed = fingerprint_of(read, last["settings_fingerprint"], summary["labels_version"])
    runs = local_frame(ctx.spark, [(ctx.run_id, printed, model,
                                    json.dumps(summary, default=str), datetime.now(timezone.utc))],
                       "run_id string, fingerprint string, model_version int, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return True


def interactions(ctx: RunContext, plan: changes_module.Plan) -> tuple[DataFrame | None, DataFrame | None]:
    """silver.interactions of every interaction source in bronze, cookies stitched (None without such a
    source); with an incremental plan only the rows the new events change, and their keys (source,
    event_id): the other rows stay as they are."""
    sources = _landed(ctx, "interaction")
    if not sources:
        return None, None
    country = ctx.config.default_country
    if plan.incremental:
        changed = _union([interaction_records(changes_module.changed_rows(ctx.store, f"bronze.{s.name}",
                                                                          plan.since[f"bronze.{s.name}"])[0], s, country)
                          for s in sources])
        rows = restitch(ctx.store.read(INTERACTIONS), changed).localCheckpoint()
        return rows, rows.select("source", "event_id")
    stitched, _ = stitch_cookies(_union([interaction_records(ctx.store.read(f"bronze.{s.name}"), s, country) for s in sources]))
    return stitched, None


def _overwrite(ctx: RunContext, frame: DataFrame, table: str, txn: Txn) -> None:
    """Write `table` whole, with the change data feed on (gold reads what moved in it from the feed; a table
    made before that gets the property now)."""
    ctx.store.overwrite(frame, table, txn=txn, properties=CHANGE_FEED)
    ctx.store.set_properties(table, CHANGE_FEED)


def write_interactions(ctx: RunContext, plan: changes_module.Plan, txn: Txn) -> dict:
    """silver.interactions, whole or (incremental) by one MERGE of the rows new events change."""
    events, keys = interactions(ctx, plan)
    if events is None:
        return {"written": "nothing"}
    if keys is None:
        _overwrite(ctx, events, INTERACTIONS, txn)
        return {"written": "whole"}
    return publish(ctx.store, events, INTERACTIONS, EVENT_KEY, txn=txn, scope=keys)


def read_records(ctx: RunContext, plan: changes_module.Plan) -> tuple[DataFrame, changes_module.Increment | None]:
    """Every person record as this run sees it, and the increment when the plan takes only the changes."""
    if not plan.incremental:
        return all_person_records(ctx), None
    found = changes_module.increment(ctx.store, _landed(ctx, "person"), plan.since, ctx.config.default_country,
                                     tombstone_tables(ctx))
    found = changes_module.Increment(found.upserts.localCheckpoint(), found.changed.localCheckpoint())
    return found.apply(ctx.store.read(RECORDS)), found


def write_records(ctx: RunContext, records: DataFrame, increment: changes_module.Increment | None, txn: Txn) -> dict:
    """silver.person_records: the changed records' rows by one MERGE, or the whole table."""
    if increment is None:
        _overwrite(ctx, records, RECORDS, txn)
        return {"written": "whole"}
    return publish(ctx.store, increment.upserts, RECORDS, RECORD_KEY, txn=txn, scope=increment.changed)


def write_per_record(ctx: RunContext, rows: DataFrame, table: str, key: TableKey, covered: DataFrame | None,
                     txn: Txn) -> dict:
    """A table of one row per person record (silver.identity_map, silver.graph_components): the rows of the
    records an incremental run covered (`covered`: record_key) by one MERGE, or the whole table."""
    if covered is None:
        _overwrite(ctx, rows, table, txn)
        return {"written": "whole"}
    return publish(ctx.store, rows, table, key, txn=txn, scope=covered)


def write_people(ctx: RunContext, records: DataFrame, increment: changes_module.Increment | None, result: dict,
                 txn: Txn) -> tuple[dict, dict[str, float]]:
    """Every person table of silver; how silver.person_records was written, and each table's write seconds
    (which show the copy-on-write cost of the tables written whole or merged)."""
    watch = Stopwatch(report=False)  # inside the stage's "writes" step
    with watch.step(RECORDS):
        written = write_records(ctx, records, increment, txn)
    for frame, table in ((result["pairs"], MATCH_PAIRS), (result["scored"], SCORED), (result["hubs"], HUBS)):
        with watch.step(table):
            ctx.store.overwrite(frame, table, txn=txn)
    for rows, table, key in ((result["identity_map"], IDENTITY, RECORD_KEY), (result["graph"], COMPONENTS, COMPONENT_KEY)):
        with watch.step(table):
            write_per_record(ctx, rows, table, key, result["scope"], txn)
    with watch.step(REDIRECTS):
        ctx.store.overwrite(result["redirects"], REDIRECTS, txn=txn)
    return written, watch.seconds


def _sharing_erased(ctx: RunContext, records: DataFrame) -> dict[str, int]:
    """{"records_sharing_erased_identifiers": n} when records this run took hold an e-mail or phone of an
    erased person (kept: numbers are recycled and families share e-mails; counted for a person to review)."""
    hashes = suppression.identifier_hashes(ctx.store)
    if hashes is None or hashes.isEmpty():
        return {}
    found = suppression.sharing_erased(records, hashes, suppression.salt(ctx.config))
    if found:
        log.warning("silver: %d new or changed records share an e-mail or phone with an erased person; review them", found)
    return {"records_sharing_erased_identifiers": found} if found else {}


@register("silver")
def run_silver(ctx: RunContext) -> dict:
    """Build the silver tables from bronze, from the records that changed since the last run where it can;
    skip without a commit when nothing they depend on changed."""
    current = in_use(ctx)
    last = last_summary(ctx.store, RUNS)
    # a run that died between its writes is undone first, then its changes are taken again
    undone = recovery.undo_unfinished(ctx.store, (last or {}).get("finished"), APP)
    recovered = {"recovered": {"restored": undone}} if undone else {}
    print_fp = fingerprint(ctx, current.version if current else None)
    if not ctx.full_refresh and last_fingerprint(ctx.store, RUNS) == print_fp:
        describe_tables(ctx.store, "silver")  # tables an earlier c360 made get this version's descriptions
        return {"status": "unchanged (same bronze versions, settings and model)", **recovered}
    versions = bronze_versions(ctx, "person")
    plan = changes_module.plan(ctx.store, last, settings_fingerprint(ctx, current.version if current else None),
                               versions, ctx.full_refresh)
    log.info("silver: %s (%s)", "incremental" if plan.incremental else "every record", plan.why)
    watch = Stopwatch()
    progress.expect(SILVER_STEPS)
    with watch.step("person records"):
        records, increment = read_records(ctx, plan)
        # a run for new events only (no person record changed) leaves the person tables as they are
        # what the run takes, counted before anything is written (the writes change the tables it was read from)
        taken = increment.changed.count() if increment is not None else None
        labels_read = labels_module.version(ctx.store)
        touched = labels_module.touched_since(ctx.store, (last or {}).get("labels_version"))
        people_changed = increment is None or taken > 0 or touched is not None
        if people_changed:
            records = records.localCheckpoint()
    result, linkage_summary, model, rescore = ({"summary": {}}, {}, current, None)
    if people_changed:
        result, linkage_summary, model, rescore = link_people(ctx, records, increment, current, watch, touched)
    txn = recovery.transaction(ctx.store, Txn(APP, ctx.run_number), undone)
    with watch.step("writes"):
        written, write_seconds = write_people(ctx, records, increment, result, txn) if people_changed \
            else ({"written": "nothing"}, {})
    event_versions = bronze_versions(ctx, "interaction")
    event_plan = changes_module.plan(ctx.store, last, settings_fingerprint(ctx, current.version if current else None),
                                     event_versions, ctx.full_refresh, kind="event")
    with watch.step("interactions"):
        events_written = write_interactions(ctx, event_plan, txn)
    describe_tables(ctx.store, "silver")
    identity = ctx.store.read(IDENTITY)
    events = ctx.store.read(INTERACTIONS) if ctx.store.exists(INTERACTIONS) else None
    mode = {"incremental": increment is not None, "why": plan.why if rescore is None else f"{plan.why}; every pair scored: {rescore}",
            "changed_records": taken,
            "person_records_written": written, "events_incremental": event_plan.incremental, "events_why": event_plan.why,
            "interactions_written": events_written}
    sharing = _sharing_erased(ctx, records if increment is None else increment.upserts) if people_changed else {}
    summary = {
        **sharing,
        "person_records": ctx.store.row_count(IDENTITY),
        "customers": identity.select("customer_id").distinct().count(),
        "match_pairs": ctx.store.row_count(MATCH_PAIRS),
        "hub_identifiers": ctx.store.row_count(HUBS),
        "interactions": ctx.store.row_count(INTERACTIONS) if events is not None else 0,
        "cookies_with_several_logins": cookies_with_several_logins(events) if events is not None else 0,
        "model_version": model.version if model else None,
        "mode": mode, **result["summary"], "linkage": linkage_summary, "seconds_per_step": watch.seconds,
        "write_seconds": write_seconds,
        "figures": linkage_figures(ctx.store.read(MATCH_PAIRS), identity),
        "bronze_versions": versions, "event_versions": event_versions, "labels_version": labels_read,
        "settings_fingerprint": settings_fingerprint(ctx, model.version if model else None),
        "finished": recovery.finished(ctx.store, [t for t in ctx.store.list_tables("silver") if t != RUNS], txn),
        **recovered,
    }
    print_fp = fingerprint_of(bronze_versions(ctx, "person", "interaction"),
                              settings_fingerprint(ctx, model.version if model else None), labels_read)
    runs = local_frame(ctx.spark, [(ctx.run_id, print_fp, model.version if model else None, json.dumps(summary, default=str),
                                    datetime.now(timezone.utc))],
                       "run_id string, fingerprint string, model_version int, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return summary

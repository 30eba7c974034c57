"""Computing the gold tables from silver: every customer, or only those a silver change reaches.

`full` computes every table whole. `incremental` recomputes, from all their silver rows, only the customers
and events `gold.changes` finds reached, and returns for the tables keyed by customer, record or event just
those rows with the keys they replace (`scopes`), for a scoped publish. Tables that are global by
definition (metrics with their RFM quintiles over all customers and recency as of the run, households
grouped over every golden address, redirects, accounts) are computed over every customer either way, from
the previous gold rows of the customers left alone and the new rows of the rest (a batch reads no other
customer's events: see gold.metrics); their publish still writes only the rows that changed, and the run
summary gives the seconds each took (`every_customer_seconds`). Both return the profile, cross-reference and
timeline as they will stand after the publish (`whole`), for the quality gates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.frames import local_frame
from c360.gold import accounts as accounts_mod
from c360.gold import attribution, changes, metrics, profile, timeline, xref
from c360.gold.consent import consent_flags, contact_permissions, withheld_tracking
from c360.gold.households import households
from c360.gold.survivorship import golden_values
from c360.pipeline import RunContext
from c360.timing import Stopwatch

PROFILE, XREF, TIMELINE = "gold.customer_profile", "gold.customer_xref", "gold.customer_interactions"
METRICS, HOUSEHOLDS, UNRESOLVED = "gold.customer_metrics", "gold.households", "gold.unresolved_interactions"
REDIRECTS, ACCOUNTS = "gold.customer_id_redirects", "gold.accounts"
CONTACTS = "gold.contact_permissions"
EVENT = ["source", "event_id"]


@dataclass
class Built:
    """The frames to publish per table, the keys each scoped table's frame replaces, and the profile,
    cross-reference and timeline as they will stand (for the gates)."""

    tables: dict[str, DataFrame]
    whole: dict[str, DataFrame]
    scopes: dict[str, DataFrame] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)
    withheld: int = 0  # tracking events this run kept off the timeline (gold.consent)
    every_customer: dict[str, float] = field(default_factory=dict)  # seconds of each table computed over everyone


def run_started(ctx: RunContext) -> datetime:
    """When the run started (from its run number), the time gold stamps changes with."""
    return datetime.fromtimestamp(ctx.run_number / 1000, tz=timezone.utc)


def customer_records(ctx: RunContext, customers: DataFrame | None = None) -> DataFrame:
    """silver.person_records with each record's customer_id; with `customers` (customer_id) only theirs, the
    identity map narrowed to them first, so the records are joined with their few ids, not with every id."""
    ids = ctx.store.read("silver.identity_map").select("record_key", "customer_id")
    if customers is not None:
        ids = ids.join(customers, "customer_id", "left_semi")
    return ctx.store.read("silver.person_records").join(ids, "record_key")


def _events(ctx: RunContext) -> DataFrame | None:
    """silver.interactions; None when no interaction source has landed."""
    return ctx.store.read("silver.interactions") if ctx.store.exists("silver.interactions") else None


def _consented(ctx: RunContext, attributed: DataFrame, records: DataFrame | None = None) -> tuple[DataFrame, int]:
    """The timeline rows of `attributed` events that consent allows (see gold.consent.withheld_tracking), and
    how many it withheld; `records`: person records with customer_id holding those of the events' customers
    (None: read them)."""
    rows = timeline.timeline(attributed).localCheckpoint()
    if records is None:
        records = customer_records(ctx, rows.select("customer_id").distinct())
    withheld = withheld_tracking(rows, records, ctx.config.gold.consent.tracking_channels).localCheckpoint()
    count = withheld.count()
    return (rows.join(withheld, EVENT, "left_anti").select(*rows.columns).localCheckpoint() if count else rows), count


def _profiles(ctx: RunContext, records: DataFrame, golden: DataFrame, rows: DataFrame, homes: DataFrame,
              previous: DataFrame | None) -> DataFrame:
    """The versioned profiles of the customers in `records` (see gold.profile)."""
    gold = ctx.config.gold
    account_link = gold.accounts.contact_identifier if gold.accounts else None
    content = profile.assemble(golden, profile.record_facts(records, account_link), consent_flags(records),
                               profile.event_span(rows), homes)
    return profile.versioned(content, previous, datetime.now(timezone.utc)).localCheckpoint()


def _global(ctx: RunContext, profiles: DataFrame, facts: DataFrame, homes: DataFrame, contacts: DataFrame,
            watch: Stopwatch) -> dict[str, DataFrame]:
    """The tables after profile, cross-reference and timeline: metrics (every customer ranked from their
    `facts`, see gold.metrics), households (over every customer), `contacts` (the contact permissions of the
    run's profiles), redirects, accounts; `watch` adds the seconds of each table computed over everyone."""
    gold = ctx.config.gold
    out = {}
    with watch.step(METRICS):
        out[METRICS] = metrics.ranked(profiles, facts, gold.metrics, gold.metrics.as_of or run_started(ctx)).localCheckpoint()
    with watch.step(HOUSEHOLDS):
        out[HOUSEHOLDS] = homes.groupBy("household_id").agg(
            F.array_sort(F.collect_list("customer_id")).alias("customer_ids"), F.count("*").alias("members")).localCheckpoint()
    out[CONTACTS] = contacts.localCheckpoint()
    if _has_redirects(ctx):
        # published as it is: where every retired, merged or split customer id went (see silver.customer_ids)
        with watch.step(REDIRECTS):
            out[REDIRECTS] = ctx.store.read("silver.customer_id_redirects").localCheckpoint()
    if _has_accounts(ctx):
        settings = gold.accounts
        with watch.step(ACCOUNTS):
            rows = accounts_mod.account_rows(ctx.store.read(f"bronze.{settings.source}"),
                                             ctx.config.source(settings.source), settings)
            out[ACCOUNTS] = accounts_mod.hierarchy(rows).localCheckpoint()
    return out


def _has_redirects(ctx: RunContext) -> bool:
    return ctx.store.exists("silver.customer_id_redirects")


def _has_accounts(ctx: RunContext) -> bool:
    """Whether gold.accounts is built: an accounts source is configured and has landed."""
    settings = ctx.config.gold.accounts
    return settings is not None and ctx.store.exists(f"bronze.{settings.source}")


def planned_tables(ctx: RunContext) -> list[str]:
    """The gold tables this run will write, in the order full() and incremental() give them (the stage's
    progress counts them before it starts)."""
    planned = [UNRESOLVED] if ctx.store.exists("silver.interactions") else []
    planned += [PROFILE, XREF, TIMELINE, METRICS, HOUSEHOLDS, CONTACTS]
    planned += [REDIRECTS] if _has_redirects(ctx) else []
    return planned + ([ACCOUNTS] if _has_accounts(ctx) else [])


def full(ctx: RunContext) -> Built:
    """Every gold table computed whole, not yet written."""
    records = customer_records(ctx).localCheckpoint()
    events = _events(ctx)
    tables: dict[str, DataFrame] = {}
    withheld = 0
    if events is None:
        rows = local_frame(ctx.spark, [], timeline.SCHEMA)
    else:
        attributed, unresolved = attribution.attribute_events(events, attribution.identifier_index(records))
        rows, withheld = _consented(ctx, attributed, records)
        tables[UNRESOLVED] = unresolved.localCheckpoint()
    golden = golden_values(records, ctx.config.gold).localCheckpoint()
    watch = Stopwatch(report=False)
    with watch.step(HOUSEHOLDS):
        homes = households(golden)
    previous = ctx.store.read(PROFILE) if ctx.store.exists(PROFILE) else None
    profiles = _profiles(ctx, records, golden, rows, homes, previous)
    # materialised once: the quality gates read it, then it is written in this layout
    laid_out = timeline.clustered(rows, rows.count(), ctx.config.gold.timeline_rows_per_file).localCheckpoint()
    tables |= {PROFILE: profiles, XREF: xref.customer_xref(ctx.store.read("silver.identity_map")).localCheckpoint(),
               TIMELINE: laid_out}
    tables |= _global(ctx, profiles, metrics.customer_facts(rows, ctx.config.gold.metrics), homes,
                      contact_permissions(profiles), watch)
    return Built(tables, {PROFILE: profiles, XREF: tables[XREF], TIMELINE: laid_out}, withheld=withheld,
                 every_customer=watch.seconds)


def incremental(ctx: RunContext, change: changes.SilverChanges) -> Built:
    """The gold rows of the customers and events `change` reaches, recomputed from all their silver rows.
    Only the reached customers' records are materialised; the profiles of everyone else are read as published."""
    store = ctx.store
    identity_map = store.read("silver.identity_map")
    old_rows = store.read(TIMELINE) if store.exists(TIMELINE) else local_frame(ctx.spark, [], timeline.SCHEMA)
    customers = changes.changed_customers(change.identity, change.records, identity_map).localCheckpoint()
    events = _events(ctx)
    event_keys = local_frame(ctx.spark, [], "source string, event_id string")
    new_rows = local_frame(ctx.spark, [], timeline.SCHEMA)
    tables: dict[str, DataFrame] = {}
    withheld = 0
    if events is not None:
        values = changes.identifiers_in_play(customer_records(ctx, customers), customers, change.records).localCheckpoint()
        scoped = changes.events_in_scope(events, change.events, old_rows, customers, values).localCheckpoint()
        # every record holding an identifier of those events, whoever's customer it is
        index = attribution.identifier_index(customer_records(ctx), attribution.event_identifiers(scoped))
        attributed, unresolved = attribution.attribute_events(scoped, index)
        new_rows, withheld = _consented(ctx, attributed)
        tables[UNRESOLVED] = unresolved.localCheckpoint()
        # and the events that left silver (an erasure): their gold rows go
        event_keys = scoped.select(*EVENT).unionByName(change.events.select(*EVENT)).distinct().localCheckpoint()
        before = old_rows.join(event_keys, EVENT, "left_semi").select("customer_id")
        customers = customers.unionByName(new_rows.select("customer_id")).unionByName(before).distinct().localCheckpoint()
    old_profiles = store.read(PROFILE)
    mine = customer_records(ctx, customers).localCheckpoint()
    golden = golden_values(mine, ctx.config.gold).localCheckpoint()
    watch = Stopwatch(report=False)
    with watch.step(HOUSEHOLDS):
        homes = _households(old_profiles, customers, golden)
    moved = changes.household_moves(old_profiles, homes).join(customers, "customer_id", "left_anti")
    if not moved.isEmpty():
        theirs = customer_records(ctx, moved).localCheckpoint()
        golden = golden.unionByName(golden_values(theirs, ctx.config.gold))
        customers = customers.unionByName(moved).localCheckpoint()
        mine = mine.unionByName(theirs)
    # every event, read by the gates only; the reached customers' own events, materialised once
    rows = old_rows.join(event_keys, EVENT, "left_anti").unionByName(new_rows)
    theirs_rows = rows.join(customers, "customer_id", "left_semi").localCheckpoint()
    profiles = _profiles(ctx, mine, golden, theirs_rows, homes.join(customers, "customer_id", "left_semi"),
                         old_profiles.join(customers, "customer_id", "left_semi"))
    keys = change.identity.select("record_key").distinct().localCheckpoint()
    new_xref = xref.customer_xref(identity_map.join(keys, "record_key", "left_semi")).localCheckpoint()
    tables |= {PROFILE: profiles, XREF: new_xref, TIMELINE: new_rows}
    # not materialised: the metrics and the gates each read the published profiles once more
    every_profile = old_profiles.join(customers, "customer_id", "left_anti").unionByName(profiles)
    facts = _facts(ctx, customers, theirs_rows, rows)
    tables |= _global(ctx, every_profile, facts, homes, contact_permissions(profiles), watch)  # contacts: `customers`
    scopes = {PROFILE: customers, XREF: keys, TIMELINE: event_keys, UNRESOLVED: event_keys, CONTACTS: customers}
    whole = {PROFILE: every_profile, TIMELINE: rows,
             XREF: store.read(XREF).join(keys, "record_key", "left_anti").unionByName(new_xref)}
    return Built(tables, whole, scopes, {"customers": customers.count(), "events": event_keys.count(),
                                         "records": keys.count()}, withheld, watch.seconds)


def _facts(ctx: RunContext, customers: DataFrame, theirs: DataFrame, rows: DataFrame) -> DataFrame:
    """Every customer's metric facts (see gold.metrics): `customers`' from their timeline rows `theirs`,
    everyone else's from the published metrics; all from every timeline row in `rows` when the published
    table has other columns (an older c360 made it)."""
    settings = ctx.config.gold.metrics
    published = ctx.store.read(METRICS)
    if set(published.columns) != set(metrics.COLUMNS):
        return metrics.customer_facts(rows, settings)
    return (metrics.published_facts(published).join(customers, "customer_id", "left_anti")
            .unionByName(metrics.customer_facts(theirs, settings)))


def _households(profiles: DataFrame, customers: DataFrame, golden: DataFrame) -> DataFrame:
    """(customer_id, household_id) over every customer: the golden addresses of `customers` as recomputed,
    everyone else's as their profile holds them."""
    address = ["customer_id", "country", "street", "postcode", "last_name"]
    others = profiles.join(customers, "customer_id", "left_anti").select(*address)
    return households(others.unionByName(golden.select(*address))).localCheckpoint()

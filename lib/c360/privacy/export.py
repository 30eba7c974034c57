"""What c360 holds about one person (GDPR Art. 15): the subject access export.

The person is found as an erasure finds them (see lookup: merge redirects followed, an identifier several
customers hold refused). The export holds, per table, every row of theirs (what an erasure would delete,
plus gold's rows by customer id and event), each table with what one row of it is: the source records as
they landed with the file and time they came, the standardised records, the golden profile with the
source and rule behind every field, consent, the timeline, the events c360 could not place, the links
between their records with the evidence, the customer id history, metrics, quarantined records that show
them. On top of that, consent per channel with the statement that decided it, and how many rows each
table holds (`held_in`).

Nothing about another person is in it: a link to another person's record and the identity graph's
component name when it is another person's record key are counted or left out, not shown, and a
household gives its size, not its members.

The export is a JSON document (`SCHEMA`, described in docs/operations/transparency.md); `page` renders the
same content as one HTML file.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from c360.bronze.ledger import QUARANTINE
from c360.errors import C360Error
from c360.gold.build import CONTACTS, HOUSEHOLDS, METRICS, PROFILE, REDIRECTS, TIMELINE, UNRESOLVED, XREF
from c360.gold.consent import CHANNELS
from c360.pipeline import RunContext
from c360.privacy import pseudonymise
from c360.privacy.lookup import Subjects, find_subjects, require_current, targets
from c360.privacy.subjects import Request
from c360.silver.stitching import identifier_values
from c360.silver.tables import COMPONENTS, HUBS, MATCH_PAIRS, SCORED
from c360.silver.tables import REDIRECTS as SILVER_REDIRECTS
from c360.steward.labels import LABELS
from c360.table_registry import BY_NAME
from c360.templates import render

SCHEMA = "c360/subject-export/1"
STEWARD_NOTE = "no steward has labelled or noted anything about these records"
QUARANTINE_ROW = "a record of a source that broke its contract, as it came, with the reason"
# the order a person reads them in; any other table follows
FIRST = (PROFILE, CONTACTS, TIMELINE, XREF, SILVER_REDIRECTS, REDIRECTS, METRICS, HOUSEHOLDS, UNRESOLVED)


def export_subject(ctx: RunContext, request: Request) -> dict:
    """The export of the one person `request` names; a request finding nobody or several customers is an
    error naming them."""
    require_current(ctx, "c360 export-subject")
    found = find_subjects(ctx, [request])
    if found.refused:
        raise C360Error(found.refused[0])
    customer = found.customers.first()["customer_id"]
    tables = {}
    for table, (rows, hidden) in _ordered(shown_rows(ctx, found, customer)):
        if rows or hidden:
            tables[table] = {"row": row_meaning(table), "rows": rows, **({"not_shown": hidden} if hidden else {})}
    profile = tables[PROFILE]["rows"][0] if PROFILE in tables else None
    return {"schema": SCHEMA, "exported_at": datetime.now(timezone.utc).isoformat(),
            "request": {"kind": request.kind, "value": request.value, "source": request.source},
            "customer_id": customer,
            "held_in": {t: len(v["rows"]) + v.get("not_shown", {}).get("rows", 0) for t, v in tables.items()},
            "consent": consent(profile), "tables": tables,
            "steward_labels": tables.get(LABELS, {}).get("rows", []), "steward_note": STEWARD_NOTE}


def page(export: dict) -> str:
    """The export as one HTML page (inline style, no script, nothing loaded from the network)."""
    return render("c360.privacy", "subject.html.j2", e=export)


def held_rows(ctx: RunContext, found: Subjects, customer: str) -> dict[str, DataFrame]:
    """Per table, its rows of the person: bronze and silver by the keys an erasure would delete (see
    lookup.targets), gold and its pseudonymised copies by customer id and event, redirects and shared
    identifiers by their values."""
    store = ctx.store
    held = {t: store.read(t).join(keys, list(keys.columns), "left_semi") for t, keys in targets(ctx, found).items()}
    customer_level = [*([SILVER_REDIRECTS] if store.exists(SILVER_REDIRECTS) else []), *store.list_tables("gold"),
                      *store.list_tables(pseudonymise.LAYER)]
    for table in customer_level:
        rows = _theirs(store.read(table), customer, found.events) if not table.split(".", 1)[1].startswith("_") else None
        if rows is not None:
            held[table] = rows
    hubs = store.read(HUBS) if store.exists(HUBS) else None
    kinds = [r["identifier"] for r in hubs.select("identifier").distinct().collect()] if hubs is not None else []
    if kinds:
        values = identifier_values(found.person_rows, kinds).select("identifier", "value").distinct()
        held[HUBS] = hubs.join(values, ["identifier", "value"], "left_semi")
    return held


def _theirs(frame: DataFrame, customer: str, events: DataFrame) -> DataFrame | None:
    """A customer-level table's rows of `customer` (by customer id, a household's members, a redirect's ends,
    or their events); None for a table that names no customer (accounts)."""
    columns = set(frame.columns)
    if "customer_id" in columns:
        return frame.where(F.col("customer_id") == customer)
    if "customer_ids" in columns:
        return frame.where(F.array_contains("customer_ids", customer))
    if "old_customer_id" in columns:
        return frame.where((F.col("old_customer_id") == customer) | (F.col("new_customer_id") == customer))
    if {"source", "event_id"} <= columns:
        return frame.join(events, ["source", "event_id"], "left_semi")
    return None


def shown_rows(ctx: RunContext, found: Subjects, customer: str) -> dict[str, tuple[list[dict], dict | None]]:
    """Per table, the person's rows as JSON values and what was left out of them (None: nothing): links to
    other people's records, a component named after another person's record, a household's members."""
    held = held_rows(ctx, found, customer)
    own = found.records.select("record_key")
    out = {}
    for table, frame in held.items():
        hidden = None
        if table in (SCORED, MATCH_PAIRS, LABELS):
            inside = (frame.join(own.withColumnRenamed("record_key", "record_key_l"), "record_key_l", "left_semi")
                      .join(own.withColumnRenamed("record_key", "record_key_r"), "record_key_r", "left_semi"))
            others = frame.count() - inside.count()
            why = "labels of pairs with other people's records" if table == LABELS else "links to other people's records"
            frame, hidden = inside, ({"rows": others, "why": why} if others else None)
        elif table == COMPONENTS:
            foreign = ~F.col("component").isin([r[0] for r in own.collect()])
            frame = frame.withColumn("component", F.when(foreign, F.lit("(another record)")).otherwise(F.col("component")))
        elif table.endswith(".households"):
            frame = frame.drop("customer_ids")
        out[table] = (_rows(frame, *_key(table, frame)), hidden)
    return out


def row_meaning(table: str) -> str:
    """What one row of `table` is, for the reader."""
    if table in BY_NAME:
        return BY_NAME[table].row
    if table == QUARANTINE:
        return QUARANTINE_ROW
    return f"a record of source {table.split('.', 1)[1]} as it landed (its columns as the source gave them, then c360's)"


def consent(profile: dict | None) -> dict:
    """Per channel: the golden flag (null: no source said anything) and the statement that decided it."""
    if profile is None:
        return {}
    lineage = profile.get("consent_lineage") or {}
    return {channel.removeprefix("consent_"): {"value": profile.get(channel), "decided_by": lineage.get(channel)}
            for channel in CHANNELS}


def _ordered(shown: dict) -> list:
    rank = {t: i for i, t in enumerate(FIRST)}
    return sorted(shown.items(), key=lambda item: (rank.get(item[0], len(FIRST)), not item[0].startswith("bronze."), item[0]))


def _key(table: str, frame: DataFrame) -> list[str]:
    """The columns to order a table's rows by: its key where the registry knows it, else what it has."""
    if table in BY_NAME and BY_NAME[table].key:
        return [c for c in BY_NAME[table].key if c in frame.columns]
    return [c for c in ("occurred_at", "source", "_record_id", "event_id", "record_key", "source_file", "record_ref")
            if c in frame.columns]


def _rows(frame: DataFrame, *order: str) -> list[dict]:
    """The rows of `frame` as plain JSON values, ordered by `order`."""
    ordered = frame.orderBy(*order) if order else frame
    return [_plain(r) for r in ordered.collect()]


def _plain(value: object) -> object:
    """A Spark value as JSON: rows and maps as objects, timestamps and dates in ISO 8601, decimals as floats."""
    if isinstance(value, Row):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value

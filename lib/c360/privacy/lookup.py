"""Where the people a batch of requests names are held: their customers, records and events, and per table
the keys of their rows. Shared by `c360 erase` (which deletes those rows) and `c360 export-subject` (which
shows them), so both find exactly the same person.

The lookup needs a current warehouse (the last silver and gold runs took in everything bronze and silver
hold, and finished), or it would miss records not linked yet. A request that finds nobody or leads to
several customers (a family e-mail) is refused with the customers named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.bronze.ledger import QUARANTINE
from c360.errors import C360Error
from c360.frames import local_frame
from c360.pipeline import RunContext, last_fingerprint, last_summary
from c360.privacy import subjects
from c360.privacy.subjects import Request
from c360.silver.tables import COMPONENTS, IDENTITY, INTERACTIONS, MATCH_PAIRS, RECORDS, REDIRECTS, SCORED
from c360.steward.labels import LABELS


@dataclass
class Subjects:
    """The people a batch of requests names: their customers (customer_id), records (record_key, source,
    source_record_id, customer_id), every column of those person records, and events (source, event_id);
    `refused`: why a request erases nobody."""

    customers: DataFrame
    records: DataFrame
    person_rows: DataFrame
    events: DataFrame
    refused: list[str] = field(default_factory=list)


def require_current(ctx: RunContext, command: str) -> None:
    """Refuse unless the last silver and gold runs finished and took in everything bronze and silver hold:
    a person is found through silver's identity map, which must know every record of theirs. `command`
    starts the messages."""
    from c360.gold import stage as gold
    from c360.silver import stage as silver
    from c360.silver.model_choice import in_use

    store = ctx.store
    last = last_summary(store, silver.RUNS)
    if last is None or not store.exists(IDENTITY):
        raise C360Error(f"{command}: the warehouse has no silver run yet; it holds nobody")
    done = last.get("finished") or {}
    if any((store.txn_version(t, silver.APP) or -1) > done.get("txn", -1) for t in done.get("versions", {}) if store.exists(t)):
        raise C360Error(f"{command}: a silver run stopped midway; complete it with `c360 run` first")
    model = in_use(ctx)
    if last_fingerprint(store, silver.RUNS) != silver.fingerprint(ctx, model.version if model else None):
        raise C360Error(f"{command}: silver has not taken in everything bronze holds (or its settings changed) since "
                        "its last run; run `c360 run` first, so that every record of the person is found")
    versions = gold.input_versions(ctx)
    if last_fingerprint(store, gold.RUNS) != gold.fingerprint(ctx, versions, gold.settings_fingerprint(ctx)):
        raise C360Error(f"{command}: gold has not taken in everything silver holds since its last run; run "
                        "`c360 run` first")


def find_subjects(ctx: RunContext, requests: list[Request]) -> Subjects:
    """The subjects of `requests`; a request finding nobody or several customers is refused (named in
    `refused`) and the others go on."""
    store, spark = ctx.store, ctx.spark
    identity = store.read(IDENTITY)
    records = store.read(RECORDS)
    redirects = store.read(REDIRECTS) if store.exists(REDIRECTS) else None
    asked = subjects.requests_frame(spark, requests)
    named = subjects.customers_named(asked, identity, records, redirects, ctx.config.default_country).localCheckpoint()
    found: dict[str, list[str]] = {}
    for row in named.collect():
        found.setdefault(row["request"], []).append(row["customer_id"])
    refused = []
    for request in requests:
        ids = sorted(found.get(request.request, []))
        if not ids:
            refused.append(f"{request.request}: no customer has this {request.kind.replace('_', ' ')}")
        elif len(ids) > 1:
            refused.append(f"{request.request}: this {request.kind.replace('_', ' ')} belongs to {len(ids)} customers "
                           f"({', '.join(ids)}); name one of them with --customer-id")
    chosen = [(cid,) for request in requests if len(ids := found.get(request.request, [])) == 1 for cid in ids]
    customers = local_frame(spark, sorted(set(chosen)), "customer_id string")
    mine = subjects.subject_records(customers, identity).localCheckpoint()
    person_rows = records.join(mine.select("record_key"), "record_key", "left_semi").localCheckpoint()
    events = local_frame(spark, [], "source string, event_id string")
    if store.exists(INTERACTIONS):
        timeline = store.read("gold.customer_interactions") if store.exists("gold.customer_interactions") else None
        others = records.join(mine.select("record_key"), "record_key", "left_anti")
        events = subjects.subject_events(customers, timeline, store.read(INTERACTIONS), person_rows, others)
    return Subjects(customers, mine, person_rows, events.localCheckpoint(), refused)


def targets(ctx: RunContext, found: Subjects) -> dict[str, DataFrame]:
    """Per table, the key set whose rows go (its columns are the key columns)."""
    store = ctx.store
    records, events = found.records, found.events
    out: dict[str, DataFrame] = {}

    def ids(frame: DataFrame, source: str, column: str) -> DataFrame:
        return frame.where(F.col("source") == source).select(F.col(column).alias("_record_id"))

    for source in ctx.config.sources:
        table = f"bronze.{source.name}"
        if source.kind == "person":
            out[table] = ids(records, source.name, "source_record_id")
            if source.vanished_table:
                out[source.vanished_table] = out[table]
        elif source.kind == "interaction":
            out[table] = ids(events, source.name, "event_id")
        elif source.kind == "deletions" and source.of:
            out[table] = ids(records, source.of, "source_record_id")
    if store.exists(QUARANTINE):
        out[QUARANTINE] = _quarantined(store.read(QUARANTINE), found)
    keys = records.select("record_key")
    for table in (RECORDS, IDENTITY, COMPONENTS):
        out[table] = keys
    for table in (MATCH_PAIRS, SCORED):
        if store.exists(table):
            out[table] = _pairs_of(store.read(table), keys)
    out[INTERACTIONS] = events
    if store.exists(LABELS):
        out[LABELS] = _pairs_of(store.read(LABELS), keys)
    return {t: k.localCheckpoint() for t, k in out.items() if store.exists(t)}


def _pairs_of(pairs: DataFrame, keys: DataFrame) -> DataFrame:
    """(record_key_l, record_key_r) of the pairs with a record of `keys` at either end."""
    ends = [pairs.join(keys.withColumnRenamed("record_key", side), side, "left_semi") for side in ("record_key_l", "record_key_r")]
    return ends[0].unionByName(ends[1]).select("record_key_l", "record_key_r").distinct()


def _quarantined(quarantine: DataFrame, found: Subjects) -> DataFrame:
    """(source, source_file, record_ref) of quarantined records whose raw text holds one of the subjects'
    e-mails, phones or record ids as a token (a quarantined record was never linked, so only its text can
    tell): the text is split once into tokens and joined with the values, however many people go."""
    rows = found.person_rows
    values = (rows.select(F.lower("email").alias("token")).unionByName(rows.select(F.col("phone_e164").alias("token")))
              .unionByName(rows.select(F.col("phone").alias("token")))
              .unionByName(found.records.select(F.lower("source_record_id").alias("token")))
              .where(F.col("token").isNotNull() & (F.length("token") >= 4)).distinct())
    split = F.explode(F.split(F.lower("raw"), r"[^a-z0-9@._+\-]+"))
    held = quarantine.select("source", "source_file", "record_ref", split.alias("token"))
    held = held.withColumn("token", F.regexp_replace("token", r"^[._-]+|[._-]+$", ""))
    return held.join(F.broadcast(values), "token", "left_semi").select("source", "source_file", "record_ref").distinct()


def rows_affected(ctx: RunContext, keys: dict[str, DataFrame]) -> dict[str, int]:
    """Per table, how many rows its key set deletes."""
    return {t: ctx.store.read(t).join(k, list(k.columns), "left_semi").count() for t, k in sorted(keys.items())}

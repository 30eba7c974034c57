"""What a steward does to the customer master, each written to `steward.labels` as pairs of records so that
every later run (full or incremental) honours it: label a review file, merge two customers, keep two
customers apart, split records off a customer.

Each action checks everything first (records and customers exist, labels are known) and appends once;
nothing is written when a check fails. The next silver run applies them (see clustering.constraints).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import product
from pathlib import Path

from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.silver.tables import IDENTITY, RECORDS
from c360.steward import labels as labels_module
from c360.steward.labels import LABELS, Label
from c360.table_registry import describe_tables

# how the customer-level commands turn into pairs: which label, and the origin they are written with
MERGE, KEEP_APART, SPLIT, REVIEW = "merge", "keep-apart", "split", "review"


def _silver(ctx: RunContext) -> None:
    for table in (RECORDS, IDENTITY):
        if not ctx.store.exists(table):
            raise C360Error(f"steward: {table} does not exist yet (run the silver stage first)")


def _identities(ctx: RunContext, keys: set[str]) -> dict[str, str]:
    """record_key -> identity hash of the current records among `keys`."""
    wanted = local_frame(ctx.spark, [(k,) for k in sorted(keys)], "record_key string")
    records = ctx.store.read(RECORDS).join(wanted, "record_key", "left_semi")
    return {r["record_key"]: r["identity"] for r in labels_module.identities(records).collect()}


def record(ctx: RunContext, given: Sequence[Label], origin: str, labeller: str, source_file: str) -> dict:
    """Append `given` to steward.labels (with each record's identity hash now); refuses a record that is
    not in silver.person_records, naming it (and the file line when there is one)."""
    _silver(ctx)
    if not given:
        return {"labels": 0}
    identity = _identities(ctx, {k for x in given for k in (x.record_key_l, x.record_key_r)})
    missing = labels_module.unknown(given, set(identity))
    if missing is not None:
        where = f"{source_file} line {missing.line}: " if missing.line else ""
        gone = missing.record_key_l if missing.record_key_l not in identity else missing.record_key_r
        raise C360Error(f"labels: {where}unknown record {gone} (not in silver.person_records)")
    frame = labels_module.rows(ctx.spark, given, identity, origin, labeller, source_file, datetime.now(timezone.utc))
    ctx.store.append(frame, LABELS)
    describe_tables(ctx.store, "steward")
    counts = {kind: sum(1 for x in given if x.label == kind) for kind in labels_module.KINDS}
    return {"labels": len(given), **{k: n for k, n in counts.items() if n}}


def label_file(ctx: RunContext, path: Path, labeller: str) -> dict:
    """`c360 label`: the labelled rows of a review CSV."""
    return record(ctx, labels_module.read_file(path), REVIEW, labeller, path.name)


def members(ctx: RunContext, customer: str) -> list[str]:
    """The record keys of `customer` (refused when it holds none)."""
    _silver(ctx)
    found = sorted(r[0] for r in ctx.store.read(IDENTITY).where(F.col("customer_id") == customer)
                   .select("record_key").collect())
    if not found:
        raise C360Error(f"steward: customer {customer} holds no records (an id merged away: use the id it went to)")
    return found


def merge(ctx: RunContext, a: str, b: str, labeller: str, note: str = "") -> dict:
    """`c360 merge`: customers `a` and `b` are one person: a must-link between their smallest records."""
    if a == b:
        raise C360Error("steward: merge needs two different customers")
    left, right = members(ctx, a)[0], members(ctx, b)[0]
    return record(ctx, [Label.of(left, right, "match", note or f"merge {a} {b}")], MERGE, labeller, MERGE)


def keep_apart(ctx: RunContext, a: str, b: str, labeller: str, note: str = "") -> dict:
    """`c360 keep-apart`: customers `a` and `b` are two people: a cannot-link between every record of one
    and every record of the other."""
    if a == b:
        raise C360Error("steward: keep-apart needs two different customers")
    pairs = product(members(ctx, a), members(ctx, b))
    return record(ctx, [Label.of(x, y, "non-match", note or f"keep apart {a} {b}") for x, y in pairs],
                  KEEP_APART, labeller, KEEP_APART)


def split(ctx: RunContext, customer: str, records: Sequence[str], labeller: str, note: str = "") -> dict:
    """`c360 split`: `records` (record keys) of `customer` are another person than the rest: cannot-links
    between them and every other record, must-links among them."""
    held = members(ctx, customer)
    strangers = [k for k in records if k not in held]
    if strangers:
        raise C360Error(f"steward: {', '.join(strangers)} not in customer {customer} (it holds {', '.join(held)})")
    leaving = sorted(set(records))
    staying = [k for k in held if k not in leaving]
    if not leaving or not staying:
        raise C360Error(f"steward: split needs some but not all of customer {customer}'s records")
    why = note or f"split {customer}"
    apart = [Label.of(x, y, "non-match", why) for x, y in product(leaving, staying)]
    together = [Label.of(leaving[0], k, "match", why) for k in leaving[1:]]
    return record(ctx, apart + together, SPLIT, labeller, SPLIT)

"""A steward's labels: pairs of person records marked as one person (`match`), two people (`non-match`) or
`unsure`, kept in `steward.labels`, a table no silver run rebuilds or restores.

A label file is validated as a whole before anything is written (one clear error naming the line). Each
label keeps a hash of both records' identity fields as they were when it was given: a label whose record
has changed since is stale and goes back to the review queue instead of being applied blindly. The newest
label of a pair is the one in force (`unsure` withdraws an earlier one). Customer-level commands (merge,
keep apart, split) write the same table as pairs of records.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.frames import local_frame
from c360.silver.clustering.pieces import Forest
from c360.storage import TableStore

log = logging.getLogger(__name__)

LABELS = "steward.labels"
KINDS = ("match", "non-match", "unsure")
# the standardised fields that decide who a record is: a label given to a record whose fields then changed is stale
IDENTITY_FIELDS = ("first_name_key", "last_name_key", "date_of_birth", "email_key", "phone_e164", "street_key",
                   "postcode_key", "city_key", "social_handle", "login_id", "loyalty_id")
SCHEMA = ("label_id string, record_key_l string, record_key_r string, label string, origin string, labeller string, "
          "labelled_at timestamp, note string, source_file string, identity_l string, identity_r string, "
          "queue string, stratum string, weight double")
FILE_COLUMNS = ("source_l", "source_record_id_l", "source_r", "source_record_id_r", "label")


@dataclass(frozen=True)
class Label:
    """One label as given: the pair in key order, what it says, a note, and where it came from (file line)."""

    record_key_l: str
    record_key_r: str
    label: str
    note: str = ""
    line: int = 0
    queue: str | None = None  # the review queue's kind the pair came from, its stratum and sampling weight
    stratum: str | None = None
    weight: float | None = None

    @classmethod
    def of(cls, a: str, b: str, label: str, note: str = "", line: int = 0, **sample: object) -> Label:
        """The label of records `a` and `b` in key order (labels and tables hold a pair one way round)."""
        left, right = sorted((a, b))
        return cls(left, right, label, note, line, **sample)  # type: ignore[arg-type]


def _where(path: str, line: int) -> str:
    return f"labels: {path} line {line}"


def read_file(path: Path) -> list[Label]:
    """The labelled rows of a review CSV (rows with an empty label are skipped: not reviewed yet). Refuses
    a missing column, an unknown label, a record paired with itself and a pair labelled two ways."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in FILE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise C360Error(f"labels: {path} has no column {', '.join(missing)} (expected {', '.join(FILE_COLUMNS)})")
        rows = list(reader)
    seen: dict[tuple[str, str], Label] = {}
    for line, row in enumerate(rows, start=2):
        given = (row.get("label") or "").strip().lower()
        if not given:
            continue
        if given not in KINDS:
            raise C360Error(f"{_where(str(path), line)}: unknown label {given!r} (use {', '.join(KINDS)})")
        a, b = (f"{row[f'source_{s}'].strip()}:{row[f'source_record_id_{s}'].strip()}" for s in ("l", "r"))
        if a == b:
            raise C360Error(f"{_where(str(path), line)}: a record cannot be paired with itself ({a})")
        label = Label.of(a, b, given, (row.get("note") or "").strip(), line, **_sample(row, str(path), line))
        pair = (label.record_key_l, label.record_key_r)
        if pair in seen and seen[pair].label != given:
            raise C360Error(f"{_where(str(path), line)}: {a} and {b} are labelled {given} here and "
                            f"{seen[pair].label} on line {seen[pair].line}")
        seen[pair] = label
    return list(seen.values())


def _sample(row: dict, path: str, line: int) -> dict:
    """The review queue's kind, stratum and weight of a row (a random sample's weight makes estimates unbiased)."""
    weight = (row.get("weight") or "").strip()
    try:
        value = float(weight) if weight else None
    except ValueError:
        raise C360Error(f"{_where(path, line)}: weight {weight!r} is not a number") from None
    return {"queue": (row.get("kind") or "").strip() or None, "stratum": (row.get("stratum") or "").strip() or None,
            "weight": value}


def identities(records: DataFrame) -> DataFrame:
    """(record_key, identity): a SHA-256 of each record's identity fields (the ones it has)."""
    present = [c for c in IDENTITY_FIELDS if c in records.columns]
    parts = [F.coalesce(F.col(c).cast("string"), F.lit("\u2205")) for c in present]
    return records.select("record_key", F.sha2(F.concat_ws("\u241f", *parts), 256).alias("identity"))


def unknown(labels: Sequence[Label], known: set[str]) -> Label | None:
    """The first label naming a record that is not in `known`."""
    return next((x for x in labels if x.record_key_l not in known or x.record_key_r not in known), None)


def rows(spark: SparkSession, labels: Sequence[Label], identity: dict[str, str], origin: str, labeller: str,
         source_file: str, now: datetime) -> DataFrame:
    """`labels` as rows of steward.labels, with each record's identity hash now (`identity`)."""
    def label_id(x: Label) -> str:
        text = "|".join([x.record_key_l, x.record_key_r, x.label, labeller, now.isoformat(), source_file, str(x.line)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    data = [(label_id(x), x.record_key_l, x.record_key_r, x.label, origin, labeller, now, x.note or None, source_file,
             identity[x.record_key_l], identity[x.record_key_r], x.queue, x.stratum, x.weight) for x in labels]
    return local_frame(spark, data, SCHEMA)


@dataclass
class InForce:
    """The labels a run applies: `must` and `cannot` (record_key_l, record_key_r), and `stale` (the label
    rows whose records changed since labelling; they go back to review)."""

    must: DataFrame
    cannot: DataFrame
    stale: DataFrame


def newest(labels: DataFrame) -> DataFrame:
    """The newest label of each pair (the one in force; `unsure` withdraws what came before)."""
    order = Window.partitionBy("record_key_l", "record_key_r").orderBy(F.desc("labelled_at"), F.desc("label_id"))
    return labels.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")


def in_force(labels: DataFrame, records: DataFrame) -> InForce:
    """The must-links, cannot-links and stale labels among `labels` for the current `records`
    (silver.person_records); labels of records that are gone are dropped."""
    latest = newest(labels).where(F.col("label") != "unsure")
    keys = latest.select(F.explode(F.array("record_key_l", "record_key_r")).alias("record_key")).distinct()
    now = identities(records.join(keys, "record_key", "left_semi"))
    both = (latest.join(now.select(F.col("record_key").alias("record_key_l"), F.col("identity").alias("now_l")), "record_key_l")
                  .join(now.select(F.col("record_key").alias("record_key_r"), F.col("identity").alias("now_r")), "record_key_r"))
    same = (F.col("identity_l") == F.col("now_l")) & (F.col("identity_r") == F.col("now_r"))
    fresh = both.where(same).select("record_key_l", "record_key_r", "label").localCheckpoint()
    return InForce(fresh.where(F.col("label") == "match").drop("label"),
                   fresh.where(F.col("label") == "non-match").drop("label"),
                   both.where(~same).drop("now_l", "now_r"))


def conflicts(must: Iterable[tuple[str, str]], cannot: Iterable[tuple[str, str]]) -> list[dict]:
    """Each cannot-link whose records a chain of must-links joins, with that chain's must-links (cannot-link
    wins: see clustering.constraints)."""
    must = sorted(must)
    forest = Forest(k for pair in must for k in pair)
    for a, b in must:
        if forest.root(a) != forest.root(b):
            forest.join(forest.root(a), forest.root(b))
    found = []
    for a, b in sorted(cannot):
        if a in forest.parent and b in forest.parent and forest.root(a) == forest.root(b):
            chain = [list(p) for p in must if forest.root(p[0]) == forest.root(a)]
            found.append({"cannot_link": [a, b], "must_links": chain})
    return found


def version(store: TableStore) -> int | None:
    """steward.labels' version (None before the first label)."""
    return store.version(LABELS) if store.exists(LABELS) else None


def touched_since(store: TableStore, since: int | None) -> DataFrame | None:
    """(record_key) of the records of labels added after version `since` of steward.labels (every label's when
    `since` is None or can no longer be read), or None when there is none."""
    now = version(store)
    if now is None or now == since:
        return None
    labels = store.read(LABELS)
    if since is not None:
        try:
            labels = labels.join(store.read(LABELS, version=since).select("label_id"), "label_id", "left_anti")
        except Exception:  # noqa: BLE001 - either engine's error for a version vacuumed away: take every label
            log.info("steward: labels at version %s can no longer be read; every labelled record is touched", since)
    keys = labels.select(F.explode(F.array("record_key_l", "record_key_r")).alias("record_key")).distinct().localCheckpoint()
    return None if keys.isEmpty() else keys

"""A landing damaged on purpose, with a manifest of every damage, to prove bronze's quarantine at scale.

`write_damaged` writes three sources, a CRM export (CSV), web events (NDJSON) and orders (Parquet), holding
`records` records in all, a c360.yaml that reads them, and manifest.json. About one row in a hundred is damaged
in one of the ways of WAYS (one damage per row, so the reason it must be quarantined for is unambiguous),
plus one CSV file whose header is unusable and one Parquet file cut short. `reconcile` then checks bronze
against the manifest, not against its own counts: every damaged row in quarantine with the manifest's reason,
nothing else there, and every good row in bronze.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pyspark.sql import functions as F

from c360.bronze.ledger import QUARANTINE
from c360.frames import local_frame
from c360.storage import TableStore

MAX_RECORD_BYTES = 4096
"""bronze.max_record_bytes of the damaged landing, so an oversized record costs kilobytes, not megabytes."""
ROWS_PER_FILE = 25_000
"""Rows per landing file: small enough that Spark reads each file whole (its records counted from the top)."""
WAYS: dict[str, tuple[str, str]] = {
    # way: (source, the reason bronze must give)
    "csv_truncated_line": ("crm", "malformed_record"),
    "csv_extra_field": ("crm", "malformed_record"),
    "csv_wrong_type": ("crm", "wrong_type"),
    "csv_latin1_bytes": ("crm", "invalid_encoding"),
    "csv_empty_id": ("crm", "missing_record_id"),
    "csv_oversized_field": ("crm", "record_too_large"),
    "csv_unparsable_date": ("crm", "unparsable_updated_at"),
    "csv_repeated_id": ("crm", "duplicate_record_id"),
    "csv_wrong_delimiter_header": ("crm", "bad_header"),
    "json_truncated_line": ("web", "malformed_record"),
    "json_wrong_type": ("web", "wrong_type"),
    "json_wrong_shape": ("web", "wrong_type"),
    "json_invalid_utf8": ("web", "invalid_encoding"),
    "json_null_id": ("web", "missing_record_id"),
    "json_missing_time": ("web", "missing_updated_at"),
    "json_unparsable_time": ("web", "unparsable_updated_at"),
    "json_oversized_field": ("web", "record_too_large"),
    "json_repeated_id": ("web", "duplicate_record_id"),
    "parquet_null_id": ("orders", "missing_record_id"),
    "parquet_missing_time": ("orders", "missing_updated_at"),
    "parquet_unparsable_time": ("orders", "unparsable_updated_at"),
    "parquet_repeated_id": ("orders", "duplicate_record_id"),
    "parquet_wrong_type": ("orders", "wrong_type"),
    "parquet_cut_short": ("orders", "unreadable_file"),
}
ROW_WAYS = {source: [w for w, (s, _) in WAYS.items() if s == source and w not in
                     ("csv_wrong_delimiter_header", "parquet_cut_short", "parquet_wrong_type")]
            for source in ("crm", "web", "orders")}
SHARES = {"crm": 0.4, "web": 0.4, "orders": 0.2}
CRM_COLUMNS = ("contact_id", "first_name", "last_name", "email", "birth_date", "loyalty_points", "updated_at")
FIRST = ("Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas")
LAST = ("Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Wolf", "Neumann")


@dataclass(frozen=True)
class Damage:
    """One damaged record (or, for a file that cannot be read, the file) and the reason bronze must give."""

    source: str
    file: str
    ref: str
    reason: str
    way: str
    rows: int = 1
    """Rows of the landing it stands for (a file that cannot be read is one quarantine record for all)."""


def _config(warehouse: Path) -> dict:
    return {
        "warehouse": str(warehouse),
        "bronze": {"max_record_bytes": MAX_RECORD_BYTES},
        "sources": [
            {"name": "crm", "kind": "person", "format": "csv", "path": "landing/crm/*.csv", "id": "contact_id",
             "updated_at": "updated_at", "schema": ", ".join(f"{c} {'INT' if c == 'loyalty_points' else 'STRING'}"
                                                             for c in CRM_COLUMNS),
             "fields": {"first_name": "first_name", "last_name": "last_name", "email": "email",
                        "date_of_birth": "birth_date"}},
            {"name": "web", "kind": "interaction", "format": "ndjson", "path": "landing/web/*.ndjson",
             "id": "event_id", "updated_at": "occurred_at",
             "schema": "event_id STRING, email STRING, occurred_at STRING, channel STRING, page STRING, "
                       "device STRUCT<os: STRING, browser: STRING>, value DOUBLE"},
            {"name": "orders", "kind": "interaction", "format": "parquet", "path": "landing/orders/*.parquet",
             "id": "order_id", "updated_at": "ordered_at",
             "schema": "order_id STRING, email STRING, amount DOUBLE, currency STRING, ordered_at STRING"},
        ],
    }


def _positions(rows: int, rng: random.Random) -> list[int]:
    """One damaged row in every hundred, never the last of its hundred (a repeated id copies the next row)."""
    return [block + rng.randrange(0, min(99, rows - block - 1)) for block in range(0, rows - 1, 100)]


def _assign(source: str, rows: int, rng: random.Random, extra: tuple[str, ...] = ()) -> dict[int, str]:
    ways = ROW_WAYS[source] + list(extra)
    return {p: ways[i % len(ways)] for i, p in enumerate(_positions(rows, rng))}


def _person(n: int, rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {"contact_id": f"C{n:08d}", "first_name": first, "last_name": last,
            "email": f"{first}.{last}{n}@example.org".lower(), "birth_date": f"19{rng.randrange(40, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
            "loyalty_points": str(rng.randrange(0, 5000)), "updated_at": f"2026-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)} 10:00:00"}


def _csv_line(row: dict) -> str:
    return ",".join(row[c] for c in CRM_COLUMNS)


def _crm_file(path: Path, start: int, rows: int, rng: random.Random) -> list[Damage]:
    people = [_person(start + i, rng) for i in range(rows)]
    damaged = _assign("crm", rows, rng)
    lines, damages = [], []
    for i, row in enumerate(people):
        way = damaged.get(i)
        if way == "csv_repeated_id":
            row = {**row, "contact_id": people[i + 1]["contact_id"], "updated_at": people[i + 1]["updated_at"]}
        line = {
            "csv_truncated_line": lambda: _csv_line(row).rsplit(",", 3)[0],
            "csv_extra_field": lambda: _csv_line({**row, "first_name": f"{row['first_name']},Jr"}),
            "csv_wrong_type": lambda: _csv_line({**row, "loyalty_points": "lots"}),
            "csv_latin1_bytes": lambda: _csv_line({**row, "last_name": "M\udcfcller"}),  # b"M\xfcller" once encoded
            "csv_empty_id": lambda: _csv_line({**row, "contact_id": ""}),
            "csv_oversized_field": lambda: _csv_line({**row, "first_name": "X" * (MAX_RECORD_BYTES + 10)}),
            "csv_unparsable_date": lambda: _csv_line({**row, "updated_at": "2026-13-45 99:99"}),
        }.get(way, lambda: _csv_line(row))()
        lines.append(line)
        if way:
            damages.append(Damage("crm", path.name, f"record {i + 1}", WAYS[way][1], way))
    path.write_bytes(("\n".join([",".join(CRM_COLUMNS), *lines]) + "\n").encode("utf-8", "surrogateescape"))
    return damages


def _bad_header_file(path: Path, start: int, rows: int, rng: random.Random) -> list[Damage]:
    """A CRM export written with ';' where the source reads ',': no record of it can be placed."""
    lines = [";".join(CRM_COLUMNS)] + [";".join(_person(start + i, rng)[c] for c in CRM_COLUMNS) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return [Damage("crm", path.name, f"record {i + 1}", "bad_header", "csv_wrong_delimiter_header")
            for i in range(rows)]


def _event(n: int, rng: random.Random) -> dict:
    return {"event_id": f"E{n:09d}", "email": f"user{rng.randrange(0, 10**6)}@example.org",
            "occurred_at": f"2026-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}T1{rng.randrange(0, 9)}:00:00Z",
            "channel": "web", "page": f"/p/{rng.randrange(0, 500)}",
            "device": {"os": rng.choice(("ios", "android", "linux")), "browser": "firefox"},
            "value": round(rng.random() * 100, 2)}


def _web_file(path: Path, start: int, rows: int, rng: random.Random) -> list[Damage]:
    events = [_event(start + i, rng) for i in range(rows)]
    damaged = _assign("web", rows, rng)
    lines, damages = [], []
    for i, event in enumerate(events):
        way = damaged.get(i)
        changed = {
            "json_wrong_type": {"value": "free"},
            "json_wrong_shape": {"device": "iPhone 15"},
            "json_invalid_utf8": {"page": "/p/caf\udce9"},  # a Latin-1 byte inside a JSON string
            "json_null_id": {"event_id": None},
            "json_unparsable_time": {"occurred_at": "last tuesday"},
            "json_oversized_field": {"page": "/" + "x" * MAX_RECORD_BYTES},
            "json_repeated_id": {"event_id": events[i + 1]["event_id"], "occurred_at": events[i + 1]["occurred_at"]}
            if way == "json_repeated_id" else {},
        }.get(way, {})
        record = {k: v for k, v in {**event, **changed}.items() if not (way == "json_missing_time" and k == "occurred_at")}
        line = json.dumps(record, ensure_ascii=False)
        lines.append(line[: len(line) // 2] if way == "json_truncated_line" else line)
        if way:
            damages.append(Damage("web", path.name, f"line {i + 1}", WAYS[way][1], way))
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return damages


def _order(n: int, rng: random.Random) -> dict:
    return {"order_id": f"O{n:09d}", "email": f"user{rng.randrange(0, 10**6)}@example.org",
            "amount": round(rng.random() * 500, 2), "currency": "EUR",
            "ordered_at": f"2026-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}T09:30:00Z"}


def _orders_table(path: Path, start: int, rows: int, rng: random.Random, legacy: bool) -> tuple[pa.Table, list[Damage]]:
    """A Parquet file of orders; `legacy`: amounts written as text, as an older export did (one is 'n/a')."""
    orders = [_order(start + i, rng) for i in range(rows)]
    damaged = _assign("orders", rows, rng, ("parquet_wrong_type",) if legacy else ())
    damages = []
    for i, way in sorted(damaged.items()):
        if way == "parquet_repeated_id":
            orders[i].update(order_id=orders[i + 1]["order_id"], ordered_at=orders[i + 1]["ordered_at"])
        elif way == "parquet_null_id":
            orders[i]["order_id"] = None
        elif way == "parquet_missing_time":
            orders[i]["ordered_at"] = None
        elif way == "parquet_unparsable_time":
            orders[i]["ordered_at"] = "soon"
        elif way == "parquet_wrong_type":
            orders[i]["amount"] = "n/a"
        damages.append(Damage("orders", path.name, f"row {i + 1}", WAYS[way][1], way))
    columns = {k: [o[k] for o in orders] for k in orders[0]}
    if legacy:
        columns["amount"] = [str(a) for a in columns["amount"]]
    return pa.table(columns), damages


def _cut_short(path: Path, table: pa.Table) -> Damage:
    """The file as a transfer that stopped halfway leaves it: no footer, so not one row can be read."""
    pq.write_table(table, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Damage("orders", path.name, "file", "unreadable_file", "parquet_cut_short", rows=table.num_rows)


def _chunks(total: int) -> list[tuple[int, int]]:
    return [(start, min(ROWS_PER_FILE, total - start)) for start in range(0, total, ROWS_PER_FILE)]


def write_damaged(root: Path, records: int, seed: int = 7, warehouse: Path | None = None) -> dict:
    """Write the damaged landing under `root` (landing/, c360.yaml, manifest.json); returns the manifest."""
    rng = random.Random(seed)
    whole_file = max(20, records // 5000)  # rows of the file with the bad header, and of the cut-short file
    counts = {s: int(records * share) for s, share in SHARES.items()}
    counts["crm"] -= whole_file
    counts["orders"] -= whole_file
    counts["web"] = records - sum(v for k, v in counts.items() if k != "web") - 2 * whole_file
    damages: list[Damage] = []
    for source in counts:
        (root / "landing" / source).mkdir(parents=True, exist_ok=True)
    for n, (start, rows) in enumerate(_chunks(counts["crm"])):
        damages += _crm_file(root / "landing" / "crm" / f"crm_{n:03d}.csv", start, rows, rng)
    damages += _bad_header_file(root / "landing" / "crm" / "crm_semicolons.csv", counts["crm"], whole_file, rng)
    for n, (start, rows) in enumerate(_chunks(counts["web"])):
        damages += _web_file(root / "landing" / "web" / f"web_{n:03d}.ndjson", start, rows, rng)
    for n, (start, rows) in enumerate(_chunks(counts["orders"])):
        path = root / "landing" / "orders" / f"orders_{n:03d}.parquet"
        table, found = _orders_table(path, start, rows, rng, legacy=n == 0)
        pq.write_table(table, path)
        damages += found
    cut = [{**_order(i, rng), "order_id": f"X{i:08d}"} for i in range(whole_file)]
    damages.append(_cut_short(root / "landing" / "orders" / "orders_cut_short.parquet",
                              pa.table({k: [o[k] for o in cut] for k in cut[0]})))
    (root / "c360.yaml").write_text(yaml.safe_dump(_config(warehouse or root / "warehouse"), sort_keys=False))
    damaged_rows = sum(d.rows for d in damages)
    manifest = {"records": records, "damaged_rows": damaged_rows, "damaged_share": round(damaged_rows / records, 5),
                "ways": dict(sorted(Counter(d.way for d in damages).items())),
                "good": {s: (counts[s] + (whole_file if s != "web" else 0))
                         - sum(d.rows for d in damages if d.source == s) for s in counts},
                "damages": [asdict(d) for d in damages]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def reconcile(store: TableStore, manifest: dict) -> dict:
    """Bronze against the manifest: damaged records missing from quarantine or there with another reason,
    records quarantined the manifest does not name, and good rows in bronze against the manifest's."""
    spark = store.spark
    expected = local_frame(spark, [(d["source"], d["file"], d["ref"], d["reason"]) for d in manifest["damages"]],
                           "source string, file string, record_ref string, reason string")
    held = (store.read(QUARANTINE).select(
        "source", F.element_at(F.split("source_file", "/"), -1).alias("file"), "record_ref",
        F.col("reason").alias("held_reason")))
    joined = expected.join(held, ["source", "file", "record_ref"], "full_outer")
    counts = joined.agg(
        F.count(F.when(F.col("held_reason").isNull(), 1)).alias("missing"),
        F.count(F.when(F.col("reason").isNull(), 1)).alias("unexpected"),
        F.count(F.when(F.col("reason") != F.col("held_reason"), 1)).alias("wrong_reason"),
        F.count(F.when(F.col("reason") == F.col("held_reason"), 1)).alias("matched")).first().asDict()
    examples = [r.asDict() for r in joined.where(~F.col("reason").eqNullSafe(F.col("held_reason"))).limit(5).collect()]
    bronze = {s: store.read(f"bronze.{s}").count() if store.exists(f"bronze.{s}") else 0 for s in manifest["good"]}
    return {**counts, "damaged_entries": len(manifest["damages"]), "good_expected": manifest["good"],
            "good_in_bronze": bronze, "examples": examples,
            "ok": counts["missing"] == counts["unexpected"] == counts["wrong_reason"] == 0
            and bronze == manifest["good"]}

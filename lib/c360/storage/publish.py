"""Publishing a table as the rows that changed, so Delta's change data feed shows real changes.

Overwriting a table records every row as deleted and inserted again, however little changed; a consumer of
the change data feed then re-reads the whole table each run. Gold (and silver's person records) are published
instead by one MERGE per table of just the differences between the new table and the published one: rows that are new or whose content
changed are upserted by the table's key, and a key the new table no longer has gets a tombstone (its key,
every other column null) that the MERGE deletes. The feed then shows inserts, updates (pre- and post-image)
and deletes of those rows only, and a table whose content did not change gets no commit at all.

A table made before the feed was on gets it on its next publish. A tombstone is told from a row by `present`, a column every real row of the table fills. An incremental run
that knows which keys it recomputed publishes within that `scope` only, so the comparison reads those rows
and not the whole table. When the table holds none of the scope's keys (a batch of new events, new customers),
the rows are appended: one read of the key columns finds that out, and the comparison and the MERGE (which
reads the table again to match keys) are left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360.storage.base import MergeSpec, TableStore, Txn, as_nullable

log = logging.getLogger(__name__)

CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}


@dataclass(frozen=True)
class TableKey:
    """How a table's rows are identified: `keys` (unique per row; `nullable_keys` among them may be null
    and compare null-safely) and `present`, a column no real row leaves null."""

    keys: tuple[str, ...]
    present: str
    nullable_keys: tuple[str, ...] = ()

    def merge_spec(self) -> MergeSpec:
        """Tombstones delete, other matched rows update, new keys insert."""
        real = f"s.`{self.present}` IS NOT NULL"
        return MergeSpec(keys=self.keys, nullable_keys=self.nullable_keys, update="all", update_condition=real,
                         insert_condition=real, delete_condition=f"s.`{self.present}` IS NULL")


def _content(columns: list[str]) -> Column:
    """A digest of a row's values (maps and arrays included, which Spark cannot compare directly)."""
    return F.sha2(F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns])), 256)


def _key_match(key: TableKey, left: str, right: str) -> Column:
    """The join condition on `key` between two aliased frames, null-safe where the key allows nulls."""
    conditions = [F.col(f"{left}.`{k}`").eqNullSafe(F.col(f"{right}.`{k}`")) if k in key.nullable_keys
                  else F.col(f"{left}.`{k}`") == F.col(f"{right}.`{k}`") for k in key.keys]
    out = conditions[0]
    for condition in conditions[1:]:
        out = out & condition
    return out


def differences(new: DataFrame, published: DataFrame, key: TableKey, copies: bool = False) -> tuple[DataFrame, DataFrame]:
    """(upserts, tombstones): the rows of `new` that `published` lacks or holds with other values, and a
    tombstone for every key of `published` that `new` lacks. Both are read in `new`'s column types (all
    nullable, as the table stores them) first, so a value that only changed type on the way through the
    table is no change. With `copies`, each upsert also carries `_copies`: how many rows of `new` hold its
    key (counted in the same pass, by the key the comparison joins on)."""
    columns = new.columns
    types = as_nullable(new.schema)
    new = new.select(*[F.col(f"`{c}`").cast(types[c].dataType).alias(c) for c in columns])
    current = published.select(*[F.col(f"`{c}`").cast(types[c].dataType).alias(c) for c in columns])
    fresh = new.withColumn("_digest", _content(columns))
    if copies:
        fresh = fresh.withColumn("_copies", F.count(F.lit(1)).over(Window.partitionBy(*[F.col(f"`{k}`") for k in key.keys])))
    fresh = fresh.alias("n")
    old = current.withColumn("_digest", _content(columns)).alias("o")
    upserts = fresh.join(old, _key_match(key, "n", "o") & (F.col("n._digest") == F.col("o._digest")), "left_anti")
    gone = old.join(fresh, _key_match(key, "o", "n"), "left_anti")
    tombstones = gone.select(*[F.col(f"o.`{c}`") if c in key.keys else F.lit(None).cast(types[c].dataType).alias(c)
                               for c in columns])
    return upserts.select(*[F.col(f"n.`{c}`") for c in [*columns, *(["_copies"] if copies else [])]]), tombstones


def _only_new(published: DataFrame, frame: DataFrame, scope: DataFrame, on: list[str], key: TableKey) -> bool:
    """Whether publishing `frame` within `scope` only inserts: every row of `frame` lies in the scope, the table
    holds no row of the scope's keys (`on`), and no two rows of `frame` share a key. A key that may be null
    (matched null-safely by the MERGE) is left to the MERGE."""
    if key.nullable_keys:
        return False
    wanted = scope.select(*on).distinct()
    if not frame.select(*on).join(wanted, on, "left_anti").isEmpty():
        return False
    if not published.select(*on).join(wanted, on, "left_semi").isEmpty():
        return False
    return frame.groupBy(*[F.col(f"`{k}`") for k in key.keys]).count().where("count > 1").isEmpty()


def one_per_key(frame: DataFrame, key: TableKey) -> DataFrame:
    """`frame` with one row per key: of rows sharing a key (a MERGE would stop on them, "multiple source rows
    matched", or insert the key twice) the one whose values' digest sorts last, the same row every run."""
    order = Window.partitionBy(*[F.col(f"`{k}`") for k in key.keys]).orderBy(_content(frame.columns).desc())
    return frame.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


def _columns(schema: T.StructType) -> list[tuple[str, str]]:
    """Each column's name and type, nullability and field metadata left out (delta-spark reads nested fields
    of a table delta-rs wrote with metadata of their own: the same columns)."""
    return [(f.name.lower(), f.dataType.simpleString()) for f in schema.fields]


def publish(store: TableStore, frame: DataFrame, table: str, key: TableKey, txn: Txn | None = None,
            scope: DataFrame | None = None) -> dict[str, int | str]:
    """Make `table` hold `frame`'s rows: a new table, or one whose columns changed, is written whole (with the
    change data feed on); otherwise one MERGE of the changed rows, or no commit when nothing changed. With
    `scope` (some or all of the key columns: customer ids scope a table keyed by customer and channel), `frame`
    holds the new rows of those keys only and the rest of the table stays.
    Returns how: {"written": "whole"|"changes"|"nothing", "upserted": n, "deleted": n}, with "duplicate_keys":
    n when rows of `frame` shared a key (one was kept: see one_per_key)."""
    if not store.exists(table) or _columns(store.schema(table)) != _columns(frame.schema):
        if scope is not None:
            raise ValueError(f"{table}: a scoped publish needs the table with these columns already there")
        store.overwrite(frame, table, txn=txn, properties=CHANGE_FEED)
        return {"written": "whole", "upserted": store.row_count(table), "deleted": 0}
    # a table made before c360 turned the feed on gets it now, so this and later changes are in its feed
    store.set_properties(table, CHANGE_FEED)
    published = store.read(table)
    if scope is not None:
        on = [k for k in key.keys if k in scope.columns]
        if not on:  # a join on no column would take the whole table as the scope
            raise ValueError(f"{table}: a scope needs some of the key columns {key.keys}, not {scope.columns}")
        if _only_new(published, frame, scope, on, key):
            rows = frame.where(F.col(f"`{key.present}`").isNotNull()).select(*published.columns)
            count = rows.count()
            if count:
                store.append(rows, table, txn=txn)
            return {"written": "changes" if count else "nothing", "upserted": count, "deleted": 0}
        published = published.join(scope.select(*on).distinct(), on, "left_semi")
    # each side materialised on its own: checkpointing their union makes Spark 4.2's planner run out of memory
    upserts, tombstones = (part.localCheckpoint() for part in differences(frame, published, key, copies=True))
    # rows beyond the first of each key a MERGE would take (elsewhere a repeated key changes nothing)
    shared = upserts.where("_copies > 1").select(*[F.col(f"`{k}`") for k in key.keys], "_copies").collect()
    repeated = sum(row["_copies"] - 1 for row in {tuple(r): r for r in shared}.values())
    upserts = upserts.drop("_copies")
    if repeated:
        log.warning("%s: %d rows share their key with another row; one row per key is kept (see one_per_key)",
                    table, repeated)
        upserts, tombstones = (part.localCheckpoint() for part in differences(one_per_key(frame, key), published, key))
    upserted, deleted = upserts.count(), tombstones.count()
    if upserted or deleted:
        store.merge(upserts.unionByName(tombstones), table, key.merge_spec(), txn=txn)
    return {"written": "changes" if upserted or deleted else "nothing", "upserted": upserted, "deleted": deleted,
            **({"duplicate_keys": repeated} if repeated else {})}

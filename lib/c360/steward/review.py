"""The review queue: the pairs of person records most worth a steward's time, side by side.

Kinds of pair, each drawn from what the last silver run wrote (its scored pairs, links and identity map):

* `uncertain`: scored pairs nearest the match threshold, linked or not;
* `vetoed`: pairs scored at the threshold or above whose records ended in different customers, with the
  guard that kept them apart (birth dates, a no-duplicates source, namesake handles) or, with none, a rival
  link within the ambiguity margin;
* `bridges`: links that alone hold a customer together, with at least two records on each side (a wrong
  one merges two people);
* `random`: a stratified random sample of links (pairs of records in one customer) and of scored non-links,
  each with its stratum's weight (how many pairs of the stratum it stands for), so labels of it give
  unbiased estimates of precision and recall (see estimates);
* `stale`: labelled pairs whose records changed since, to be labelled again.

Pairs with a label in force, and pairs an earlier kind took, are left out of every kind but `random`. Every
row carries both records' standardised fields, the match weight and probability, and empty `label` and `note`
columns.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.silver import label_training
from c360.silver.clustering.driver import dates_compatible
from c360.silver.clustering.pieces import Forest
from c360.silver.linkage.keys import linkage_input
from c360.silver.model_choice import in_use
from c360.silver.tables import IDENTITY, MATCH_PAIRS, RECORDS, SCORED
from c360.steward import labels as labels_module
from c360.steward.levels import levels
from c360.templates import render

KINDS = ("stale", "vetoed", "bridges", "uncertain", "random")  # the order a queue fills in (see build)
PAIR = ("record_key_l", "record_key_r")
SHOWN = ("first_name", "last_name", "date_of_birth", "email", "phone", "street", "postcode", "city", "country",
         "social_handle", "loyalty_id")
HEAD = ("kind", "reason", "stratum", "weight", "source_l", "source_record_id_l", "source_r", "source_record_id_r",
        "customer_id_l", "customer_id_r", "match_probability", "match_weight", "levels")


@dataclass(frozen=True)
class Inputs:
    """What a queue is drawn from: scored pairs and links with each record's customer (customer_id_l/_r),
    the identity map, the threshold, the pairs with a label in force and the stale labels (None without
    labels)."""

    scored: DataFrame
    links: DataFrame
    identity: DataFrame
    threshold: float
    labelled: DataFrame | None
    stale: DataFrame | None


def with_customers(pairs: DataFrame, identity: DataFrame) -> DataFrame:
    """`pairs` with each record's customer id (customer_id_l, customer_id_r)."""
    ids = identity.select("record_key", "customer_id")
    for side in ("l", "r"):
        pairs = pairs.join(ids.select(F.col("record_key").alias(f"record_key_{side}"),
                                      F.col("customer_id").alias(f"customer_id_{side}")), f"record_key_{side}")
    return pairs


def _unlabelled(frame: DataFrame, labelled: DataFrame | None) -> DataFrame:
    return frame if labelled is None else frame.join(labelled, list(PAIR), "left_anti")


def uncertain(inputs: Inputs, n: int) -> DataFrame:
    """The `n` unlabelled scored pairs nearest the threshold."""
    near = F.abs(F.col("match_probability") - F.lit(inputs.threshold))
    return (_unlabelled(inputs.scored, inputs.labelled).orderBy(near, *PAIR).limit(n)
            .withColumn("kind", F.lit("uncertain")).withColumn("reason", F.lit("near the match threshold")))


def vetoed(inputs: Inputs, n: int) -> DataFrame:
    """The `n` strongest unlabelled pairs at the threshold or above whose records are in different customers."""
    apart = inputs.scored.where((F.col("match_probability") >= inputs.threshold)
                                & (F.col("customer_id_l") != F.col("customer_id_r")))
    named = F.when(F.col("first_names_conflict"), F.lit("guard: the first names differ"))
    return (_unlabelled(apart, inputs.labelled).orderBy(F.desc("match_weight"), *PAIR).limit(n)
            .withColumn("kind", F.lit("vetoed")).withColumn("reason", named))


def bridges(inputs: Inputs, n: int) -> DataFrame:
    """Up to `n` unlabelled links that alone join two parts of one customer of at least two records each,
    the biggest smaller part first."""
    inside = inputs.links.where(F.col("customer_id_l") == F.col("customer_id_r"))
    sizes = inside.select("customer_id_l", F.explode(F.array(*PAIR)).alias("k")).distinct().groupBy("customer_id_l").count()
    big = inside.join(sizes.where("count >= 4").select("customer_id_l"), "customer_id_l", "left_semi")
    edges: dict[str, list[tuple[str, str]]] = {}
    for row in big.select("customer_id_l", *PAIR).collect():
        edges.setdefault(row[0], []).append((row[1], row[2]))
    found = []
    for customer, links in edges.items():
        for left, right in links:
            forest = Forest({k for pair in links for k in pair})
            for a, b in links:
                if (a, b) != (left, right) and forest.root(a) != forest.root(b):
                    forest.join(forest.root(a), forest.root(b))
            if forest.root(left) != forest.root(right):
                smaller = min(len(forest.members[forest.root(left)]), len(forest.members[forest.root(right)]))
                if smaller >= 2:
                    found.append((left, right, f"joins parts of {len(forest.members[forest.root(left)])} and "
                                               f"{len(forest.members[forest.root(right)])} records", smaller))
    chosen = local_frame(inputs.links.sparkSession, found, "record_key_l string, record_key_r string, reason string, _smaller int")
    return (_unlabelled(inputs.links.join(chosen, list(PAIR)), inputs.labelled).orderBy(F.desc("_smaller"), *PAIR)
            .limit(n).drop("_smaller").withColumn("kind", F.lit("bridges")))


def random_sample(inputs: Inputs, n: int, seed: int) -> DataFrame:
    """A random sample of links and of scored non-links, `n` split evenly, each row with its stratum and
    weight (stratum size / sample size)."""
    strata = {"link": inputs.links.where(F.col("customer_id_l") == F.col("customer_id_r")),
              "non-link": inputs.scored.where(F.col("customer_id_l") != F.col("customer_id_r"))}
    out = []
    for i, (name, frame) in enumerate(strata.items()):
        size, take = frame.count(), (n + 1 - i) // 2
        drawn = frame.orderBy(F.rand(seed + i), *PAIR).limit(take).localCheckpoint()
        got = drawn.count()
        if got:
            out.append(drawn.withColumn("stratum", F.lit(name)).withColumn("weight", F.lit(size / got)))
    if not out:
        return inputs.scored.limit(0).withColumn("stratum", F.lit(None).cast("string")).withColumn(
            "weight", F.lit(None).cast("double")).withColumn("kind", F.lit("random")).withColumn("reason", F.lit(None).cast("string"))
    frame = out[0] if len(out) == 1 else out[0].unionByName(out[1])
    return frame.withColumn("kind", F.lit("random")).withColumn("reason", F.lit("stratified random sample"))


def stale(inputs: Inputs, n: int) -> DataFrame:
    """Labelled pairs whose records changed since labelling, with the label they had."""
    if inputs.stale is None:
        return inputs.scored.limit(0).withColumn("kind", F.lit("stale")).withColumn("reason", F.lit(None).cast("string"))
    was = inputs.stale.select(*PAIR, F.concat(F.lit("labelled "), F.col("label"), F.lit(" before the records changed")).alias("reason"))
    scores = inputs.scored.select(*PAIR, "match_probability", "match_weight")
    rows = with_customers(was.join(scores, list(PAIR), "left"), inputs.identity)
    return rows.orderBy(*PAIR).limit(n).withColumn("kind", F.lit("stale"))


def guard_reasons(rows: list[dict], guards: dict[str, dict], unique_sources: set[str]) -> list[str]:
    """Why each vetoed pair's records stayed apart: the guard that refuses it, or a rival link."""
    out = []
    for row in rows:
        left, right = guards.get(row["record_key_l"], {}), guards.get(row["record_key_r"], {})
        born = [g.get("date_of_birth") for g in (left, right)]
        source = row["record_key_l"].split(":", 1)[0]
        if source in unique_sources and source == row["record_key_r"].split(":", 1)[0]:
            out.append(f"guard: {source} holds no duplicates")
        elif all(born) and not dates_compatible(*(np.array([d.year * 10000 + d.month * 100 + d.day]) for d in born))[0]:
            out.append("guard: birth dates too far apart")
        elif left.get("handle_key") and left.get("handle_key") == right.get("handle_key") \
                and left.get("handle_digits") != right.get("handle_digits"):
            out.append("guard: namesake social handles")
        else:
            out.append("a rival link within the ambiguity margin, or a guard between the two customers' other records")
    return out


def side_by_side(queue: DataFrame, records: DataFrame) -> DataFrame:
    """`queue` with both records' source, id and shown fields (`<field>_l`, `<field>_r`), and empty label
    and note columns, in the file's column order."""
    present = [c for c in SHOWN if c in records.columns]
    for side in ("l", "r"):
        cols = [F.col("source").alias(f"source_{side}"), F.col("source_record_id").alias(f"source_record_id_{side}"),
                *(F.col(c).cast("string").alias(f"{c}_{side}") for c in present)]
        queue = queue.join(records.select(F.col("record_key").alias(f"record_key_{side}"), *cols), f"record_key_{side}")
    fields = [f"{c}_{s}" for c in present for s in ("l", "r")]
    for column in ("stratum", "weight"):
        if column not in queue.columns:
            queue = queue.withColumn(column, F.lit(None).cast("string" if column == "stratum" else "double"))
    return queue.select(*HEAD, *fields, F.lit("").alias("label"), F.lit("").alias("note"))


def inputs(ctx: RunContext) -> Inputs:
    """What the last silver run wrote, with the labels in force."""
    store = ctx.store
    for table in (SCORED, MATCH_PAIRS, IDENTITY, RECORDS):
        if not store.exists(table):
            raise C360Error(f"review: {table} does not exist yet (run the silver stage first)")
    identity = store.read(IDENTITY)
    stored = store.read(SCORED)
    conflict = F.col("first_names_conflict") if "first_names_conflict" in stored.columns else F.lit(False)
    scored = with_customers(stored.select(*PAIR, "match_probability", "match_weight",
                                          conflict.alias("first_names_conflict")), identity)
    links = with_customers(store.read(MATCH_PAIRS).select(*PAIR, "match_probability", "match_weight",
                                                          F.lit(False).alias("first_names_conflict")), identity)
    labelled = stale_rows = None
    if store.exists(labels_module.LABELS):
        found = labels_module.in_force(store.read(labels_module.LABELS), store.read(RECORDS))
        stale_rows = found.stale.localCheckpoint()
        # pairs with a label in force, and stale ones (queued as such once)
        labelled = found.must.unionByName(found.cannot).unionByName(stale_rows.select(*PAIR)).localCheckpoint()
    threshold, _ = label_training.threshold(ctx, in_use(ctx))
    return Inputs(scored.localCheckpoint(), links.localCheckpoint(), identity, threshold,
                  labelled, stale_rows)


def build(ctx: RunContext, kinds: Sequence[str], pairs: int, seed: int = 42) -> DataFrame:
    """The queue of `pairs` pairs over `kinds`, in KINDS order: each kind takes an even share of what is left,
    so a kind with fewer pairs (no stale labels, no bridges) leaves its share to the kinds after it. Both
    records side by side."""
    given = inputs(ctx)
    makers = {"uncertain": uncertain, "vetoed": vetoed, "bridges": bridges, "stale": stale,
              "random": lambda found, n: random_sample(found, n, seed)}
    chosen = [k for k in KINDS if k in kinds]
    parts, left = [], pairs
    for i, kind in enumerate(chosen):
        part = makers[kind](given, max(1, math.ceil(left / (len(chosen) - i)))).localCheckpoint()
        left -= part.count()
        parts.append(part)
        # a pair one kind took is not queued again by the next (the random sample alone ignores this)
        taken = part.select(*PAIR) if given.labelled is None else given.labelled.unionByName(part.select(*PAIR))
        given = replace(given, labelled=taken.localCheckpoint())
    queue = parts[0]
    for part in parts[1:]:
        queue = queue.unionByName(part, allowMissingColumns=True)
    queue = _with_reasons(ctx, queue.localCheckpoint()).localCheckpoint()
    queue = queue.join(levels(ctx, queue), list(PAIR), "left")
    return side_by_side(queue, ctx.store.read(RECORDS))


def _with_reasons(ctx: RunContext, queue: DataFrame) -> DataFrame:
    """The vetoed pairs' reasons (see guard_reasons), read from their records' match keys."""
    vetoed_rows = [r.asDict() for r in queue.where((F.col("kind") == "vetoed") & F.col("reason").isNull()).select(*PAIR).collect()]
    if not vetoed_rows:
        return queue
    keys = {k for r in vetoed_rows for k in (r["record_key_l"], r["record_key_r"])}
    wanted = local_frame(ctx.spark, [(k,) for k in sorted(keys)], "record_key string")
    records = ctx.store.read(RECORDS).join(wanted, "record_key", "left_semi")
    guards = {r["record_key"]: r.asDict() for r in linkage_input(records).select(
        "record_key", "date_of_birth", "handle_key", "handle_digits").collect()}
    unique = {s.name for s in ctx.config.sources if s.no_duplicates}
    reasons = local_frame(ctx.spark, [(r["record_key_l"], r["record_key_r"], why) for r, why in
                                      zip(vetoed_rows, guard_reasons(vetoed_rows, guards, unique), strict=True)],
                          "record_key_l string, record_key_r string, _why string")
    return (queue.join(reasons, list(PAIR), "left").withColumn("reason", F.coalesce("reason", "_why")).drop("_why"))


def page(columns: Sequence[str], rows: list[dict]) -> str:
    """The queue as one offline HTML page: both records side by side, match / non-match / unsure buttons,
    and a download of the filled CSV (the same columns as the file `c360 review` writes)."""
    fields = [c[:-2] for c in columns if c.endswith("_l") and c[:-2] in SHOWN]
    return render("c360.steward", "review.html.j2", columns=list(columns), rows=rows, fields=fields)


def write(queue: DataFrame, out: Path, html: Path | None = None) -> int:
    """The queue as a CSV (and an HTML page); returns the pairs written."""
    rows = [r.asDict() for r in queue.collect()]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=queue.columns)
        writer.writeheader()
        writer.writerows(rows)
    if html is not None:
        html.write_text(page(queue.columns, rows), encoding="utf-8")
    return len(rows)

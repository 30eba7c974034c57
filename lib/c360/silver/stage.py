"""The silver stage: person records, identity resolution and interactions, from the bronze tables.

Steps: standardise every person source into `silver.person_records`; link records that share a strong
identifier (guarded against hubs); score the rest with the Splink model (trained once and saved versioned,
see `c360 train`); cluster (deterministic components, then mutual best links, then the size guard); give
clusters stable customer ids (carried over from the previous identity map); write `silver.match_pairs`,
`silver.identity_map`, `silver.hub_identifiers` and `silver.interactions`, and the run's Splink charts.

A run whose inputs (bronze table versions, silver settings, model version) equal the last run's is skipped
without a commit, so re-running unchanged input changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import C360Config, SourceConfig
from c360.errors import C360Error
from c360.pipeline import RunContext, last_fingerprint, register
from c360.silver import clustering, linkage, model as model_store
from c360.silver.identity_map import identity_map, match_pairs
from c360.silver.interactions import interaction_records, stitch_cookies
from c360.silver.person_records import person_records
from c360.silver.stitching import deterministic_edges
from c360.storage import Txn

log = logging.getLogger(__name__)
RUNS = "silver._runs"
TABLES = ("person_records", "match_pairs", "identity_map", "hub_identifiers", "interactions")


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out


def _landed(ctx: RunContext, *kinds: str) -> list[SourceConfig]:
    """The sources of these kinds that have a bronze table."""
    return [s for s in ctx.config.sources if s.kind in kinds and ctx.store.exists(f"bronze.{s.name}")]


def all_person_records(ctx: RunContext) -> DataFrame:
    """silver.person_records of every person source that has landed in bronze."""
    sources = _landed(ctx, "person")
    if not sources:
        raise C360Error("silver: no person source has landed in bronze yet (run the bronze stage first)")
    return _union([person_records(ctx.store.read(f"bronze.{s.name}"), s, ctx.config.default_country) for s in sources])


def fingerprint(ctx: RunContext, model_version: int | None) -> str:
    """What the silver output depends on: bronze versions, silver settings and the model version."""
    inputs = {s.name: ctx.store.version(f"bronze.{s.name}") for s in _landed(ctx, "person", "interaction")}
    fields = {s.name: s.fields.model_dump() for s in ctx.config.sources}
    text = json.dumps([inputs, fields, ctx.config.silver.model_dump(), ctx.config.default_country, model_version],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()



def train_model(ctx: RunContext, records: DataFrame) -> model_store.ModelFile:
    """Train a new model version on these records (a sample of `train_max_records` of them) and save it."""
    settings = ctx.config.silver.linkage
    started = time.monotonic()
    total = records.count()
    records = linkage.training_sample(records, settings.train_max_records, settings.seed).localCheckpoint()
    linker = linkage.spark_linker(ctx.spark, records, linkage.settings(_rules(ctx.config)))
    seconds = linkage.train(linker, linkage.TrainingOptions(u_max_pairs=settings.u_max_pairs, seed=settings.seed))
    saved = model_store.save(model_store.model_dir(ctx.config), linker.misc.save_model_to_json(), {
        "trained_at": datetime.now(timezone.utc).isoformat(), "run_id": ctx.run_id, "records": records.count(), "of_records": total,
        "seconds": round(time.monotonic() - started, 1), "steps": seconds})
    log.info("silver: trained model v%d in %.0fs (%s)", saved.version, time.monotonic() - started, saved.path)
    return saved


def _rules(config: C360Config) -> tuple:
    rules = config.silver.linkage.blocking_rules
    return tuple(tuple(r) if isinstance(r, list) else r for r in rules) if rules else linkage.DEFAULT_BLOCKING_RULES


def resolve(ctx: RunContext, records: DataFrame, model: model_store.ModelFile, report_dir: str) -> dict:
    """Link, cluster and id the records; returns the frames to write and a summary."""
    silver = ctx.config.silver
    exact, hubs = deterministic_edges(records, silver.stitching)
    exact = exact.localCheckpoint()
    keys = linkage.linkage_input(records).localCheckpoint()
    linker = linkage.spark_linker(ctx.spark, keys, model.load())
    counts = linkage.comparison_counts(linker)
    for row in counts:
        # stderr: stdout carries the run's JSON summary (scripts and jobs parse it)
        print(f"  blocking rule {row['rule']}: {row['comparisons']:,} comparisons (cumulative {row['cumulative']:,})",
              file=sys.stderr)
    linkage.check_comparisons(counts, silver.linkage.max_comparisons)
    started = time.monotonic()
    scored, splink_frame = linkage.predict(linker, min_probability=min(0.5, silver.linkage.threshold))
    scored = scored.localCheckpoint()
    # pairs of records that name two different first names are no link, however much else they share
    conflicting = scored.where("first_names_conflict and match_probability >= %r" % silver.linkage.threshold).count()
    scored = linkage.without_conflicts(scored)
    predict_seconds = round(time.monotonic() - started, 1)
    log.info("silver: scored %s comparisons in %.0fs", f"{counts[-1]['cumulative']:,}" if counts else 0, predict_seconds)
    started = time.monotonic()
    components = clustering.connected_components(records, exact)
    min_weight = math.log2(silver.linkage.threshold / (1 - silver.linkage.threshold))
    components, rounds = clustering.best_link_clusters(components, scored, min_weight, silver.linkage.ambiguity_margin,
                                                        birthdays=records.select("record_key", "date_of_birth"))
    pairs = match_pairs(exact, scored, silver.linkage.threshold).localCheckpoint()
    strength = pairs.select("record_key_l", "record_key_r", F.coalesce("match_weight", F.lit(1000.0)).alias("strength"))
    components, oversized = clustering.split_oversized(components, strength, silver.max_cluster_size)
    components = components.localCheckpoint()
    clustering_seconds = round(time.monotonic() - started, 1)
    log.info("silver: clustered in %.0fs (%d rounds of mutual best links)", clustering_seconds, rounds)
    previous = ctx.store.read("silver.identity_map") if ctx.store.exists("silver.identity_map") else None
    ids = clustering.assign_customer_ids(components, previous, ctx.run_id).localCheckpoint()
    charts = linkage.write_charts(linker, splink_frame, report_dir)
    charts.append(linkage.cluster_studio(linker, splink_frame, components, keys, os.path.join(report_dir, "cluster_studio.html")))
    return {
        "pairs": pairs, "hubs": hubs,
        "identity_map": identity_map(records, ids, pairs, previous, datetime.now(timezone.utc)),
        "summary": {"comparisons": counts[-1]["cumulative"] if counts else 0, "predict_seconds": predict_seconds,
                    "clustering_seconds": clustering_seconds, "clustering_rounds": rounds,
                    "pairs_above_threshold_with_other_first_names": conflicting, "oversized_clusters": oversized, "charts": report_dir},
    }


def interactions(ctx: RunContext) -> tuple[DataFrame | None, int]:
    """silver.interactions of every interaction source in bronze, cookies stitched; and the number of
    cookies left unstitched because they logged in as several people."""
    sources = _landed(ctx, "interaction")
    if not sources:
        return None, 0
    events = _union([interaction_records(ctx.store.read(f"bronze.{s.name}"), s, ctx.config.default_country) for s in sources])
    stitched, shared = stitch_cookies(events)
    return stitched, shared.count()


@register("silver")
def run_silver(ctx: RunContext) -> dict:
    """Build the silver tables from bronze; skip without a commit when nothing they depend on changed."""
    folder = model_store.model_dir(ctx.config)
    current = model_store.latest(folder)
    print_fp = fingerprint(ctx, current.version if current else None)
    if not ctx.full_refresh and current is not None and last_fingerprint(ctx.store, RUNS) == print_fp:
        return {"status": "unchanged (same bronze versions, settings and model)"}
    records = all_person_records(ctx).localCheckpoint()
    if current is None:
        current = train_model(ctx, linkage.linkage_input(records).localCheckpoint())
        print_fp = fingerprint(ctx, current.version)
    report_dir = os.path.join(ctx.config.silver.reports_dir or os.path.join(ctx.config.warehouse, "_reports"), ctx.run_id)
    result = resolve(ctx, records, current, report_dir)
    txn = Txn("c360/silver", ctx.run_number)
    ctx.store.overwrite(records, "silver.person_records", txn=txn)
    ctx.store.overwrite(result["pairs"], "silver.match_pairs", txn=txn)
    ctx.store.overwrite(result["hubs"], "silver.hub_identifiers", txn=txn)
    ctx.store.overwrite(result["identity_map"], "silver.identity_map", txn=txn)
    events, shared_cookies = interactions(ctx)
    if events is not None:
        ctx.store.overwrite(events, "silver.interactions", txn=txn)
    identity = ctx.store.read("silver.identity_map")
    summary = {
        "person_records": identity.count(),
        "customers": identity.select("customer_id").distinct().count(),
        "match_pairs": ctx.store.read("silver.match_pairs").count(),
        "hub_identifiers": ctx.store.read("silver.hub_identifiers").count(),
        "interactions": ctx.store.read("silver.interactions").count() if events is not None else 0,
        "cookies_with_several_logins": shared_cookies, "model_version": current.version,
        **result["summary"],
    }
    runs = ctx.spark.createDataFrame([(ctx.run_id, print_fp, current.version, json.dumps(summary, default=str),
                                       datetime.now(timezone.utc))],
                                     "run_id string, fingerprint string, model_version int, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return summary

"""The silver stage: person records, identity resolution and interactions, from the bronze tables.

Steps: standardise every person source into `silver.person_records`; link records that share a strong
identifier (guarded against hubs); score the rest with the Splink model (trained once and saved versioned,
see `c360 train`); cluster (deterministic components, then mutual best links, then the size guard); give
clusters stable customer ids (carried over from the previous identity map, every merge, split and retirement
recorded as a redirect, see customer_ids); write `silver.match_pairs`, `silver.identity_map`,
`silver.customer_id_redirects`, `silver.hub_identifiers` and `silver.interactions`, and the run's Splink charts.

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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import progress
from c360.config import SourceConfig
from c360.errors import C360Error
from c360.pipeline import RunContext, last_fingerprint, register
from c360.report import run_folder, staged
from c360.silver import clustering, customer_ids, model as model_store
from c360.silver.linkage import charts as charts_module, prediction, training
from c360.silver.linkage.backends import LinkageBackend, choose
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.portable import for_dialect
from c360.silver.linkage.spec import ModelSpec, build as build_spec, profile, splink_settings
from c360.silver.linkage.training import TrainingResult
from c360.silver.identity_map import identity_map, match_pairs
from c360.silver.interactions import interaction_records, stitch_cookies
from c360.silver.person_records import person_records
from c360.silver.stitching import deterministic_edges
from c360.storage import Txn
from c360.timing import Stopwatch

log = logging.getLogger(__name__)
RUNS = "silver._runs"
# the steps a run that links with a model passes through, in order (charts: the model's, then the clusters')
SILVER_STEPS = ("person records", "match keys", "model", "deterministic stitching", "comparison counts", "predict",
                "charts", "clustering", "customer ids", "charts", "writes", "interactions")
REDIRECTS = "silver.customer_id_redirects"


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


@contextmanager
def linkage_backend(ctx: RunContext, keys: DataFrame) -> Iterator[tuple[LinkageBackend, str]]:
    """The run's linkage backend (silver.linkage.backend) and why it was chosen, closed when the block ends."""
    backend, why = choose(ctx.spark, ctx.config.silver.linkage, keys.count())
    log.info("silver: linkage on %s (%s)", backend.name, why)
    with backend:
        yield backend, why


def train_model(ctx: RunContext, keys: DataFrame, spec: ModelSpec,
                backend: LinkageBackend) -> tuple[model_store.ModelFile | None, TrainingResult]:
    """Train a new model version of `spec` on these match keys (a sample of `train_max_records` of them) on
    `backend` and save it; (None, result) when the data cannot support a model (result.problem says why)."""
    settings = ctx.config.silver.linkage
    started = time.monotonic()
    total = keys.count()
    sample = training.training_sample(keys, settings.train_max_records, settings.seed).localCheckpoint()
    sizes = {r.source: r["count"] for r in sample.groupBy("source").count().collect()}
    linker = backend.training_linker(sample, splink_settings(spec))
    result = training.train(linker, spec, training.TrainingOptions(u_max_pairs=settings.u_max_pairs, seed=settings.seed,
                                                                em_max_pairs=settings.em_max_pairs),
                            records=sum(sizes.values()), unique_source_sizes={s: sizes.get(s, 0) for s in spec.unique_sources})
    if result.problem:
        log.warning("silver: no linkage model: %s", result.problem)
        return None, result
    saved = model_store.save(model_store.model_dir(ctx.config), linker.misc.save_model_to_json(), {
        "trained_at": datetime.now(timezone.utc).isoformat(), "run_id": ctx.run_id, "records": sum(sizes.values()),
        "of_records": total, "seconds": round(time.monotonic() - started, 1), "backend": backend.name,
        "trained_on": linker._sql_dialect_str, "spec": spec.fingerprint(),  # noqa: SLF001
        "spec_detail": spec.describe(), "training": result.summary()})
    log.info("silver: trained model v%d in %.0fs (%s)", saved.version, time.monotonic() - started, saved.path)
    return saved, result


def model_for(ctx: RunContext, keys: DataFrame, spec: ModelSpec,
              backend: LinkageBackend) -> tuple[model_store.ModelFile | None, dict]:
    """The saved model when it was built for this spec; else a new version (or a stop, if
    silver.linkage.on_model_mismatch is 'fail'). Returns it (None: link deterministically) and notes."""
    current = model_store.latest(model_store.model_dir(ctx.config))
    if current is not None and current.metadata().get("spec") != spec.fingerprint():
        why = (f"silver: model v{current.version} was built for other fields or rules than the person sources and "
               f"settings now give ({', '.join(spec.describe()['fields'])})")
        if ctx.config.silver.linkage.on_model_mismatch == "fail":
            raise C360Error(why + "; run `c360 train` or set silver.linkage.on_model_mismatch: retrain")
        log.warning("%s; training a new version", why)
        current = None
    if current is not None:
        return current, {}
    saved, result = train_model(ctx, keys, spec, backend)
    return saved, {"training": result.summary()}


def cluster_guards(keys: DataFrame, spec: ModelSpec) -> DataFrame:
    """(record_key, date_of_birth, unique_source, handle_key, handle_digits) for the clustering guards."""
    unique = F.col("source").isin(*spec.unique_sources) if spec.unique_sources else F.lit(False)
    return keys.select("record_key", "date_of_birth", F.when(unique, F.col("source")).alias("unique_source"),
                       "handle_key", "handle_digits")


def score(ctx: RunContext, keys: DataFrame, spec: ModelSpec, model: model_store.ModelFile, backend: LinkageBackend,
          report_dir: str, watch: Stopwatch) -> tuple[DataFrame, dict, object]:
    """Scored pairs that may link (first-name conflicts removed), a summary, and the linker for charts."""
    silver = ctx.config.silver
    settings = for_dialect(model.load(), spec, backend.dialect)
    with watch.step("comparison counts"):
        linker = backend.linker(keys, settings)
        counts = prediction.comparison_counts(linker, silver.linkage.max_comparisons)
    for row in counts:
        # stderr: stdout carries the run's JSON summary (scripts and jobs parse it)
        print(f"  blocking rule {row['rule']}: {row['comparisons']:,} comparisons (cumulative {row['cumulative']:,})",
              file=sys.stderr)
    with watch.step("predict"):
        scored, splink_frame = prediction.predict(backend, linker, settings, min_probability=min(0.5, silver.linkage.threshold))
        scored = scored.localCheckpoint()
        # pairs of records that name two different first names are no link, however much else they share
        conflicting = scored.where("first_names_conflict and match_probability >= %r" % silver.linkage.threshold).count()
    log.info("silver: scored %s comparisons in %.0fs", f"{counts[-1]['cumulative']:,}" if counts else 0, watch["predict"])
    with watch.step("charts"):
        charts_module.write_charts(linker, splink_frame, report_dir)
    summary = {"comparisons": counts[-1]["cumulative"] if counts else 0, "blocking": counts, "predict_seconds": watch["predict"],
               "pairs_above_threshold_with_other_first_names": conflicting, "charts": report_dir}
    return prediction.without_conflicts(scored), summary, (linker, splink_frame)


def resolve(ctx: RunContext, records: DataFrame, keys: DataFrame, spec: ModelSpec, model: model_store.ModelFile | None,
            backend: LinkageBackend, report_dir: str, watch: Stopwatch) -> dict:
    """Link, cluster and id the records; returns the frames to write and a summary."""
    silver = ctx.config.silver
    with watch.step("deterministic stitching"):
        exact, hubs = deterministic_edges(records, silver.stitching)
        if spec.unique_sources:
            # a no-duplicates source's records are never one person, whatever identifier they share
            inside = F.split("record_key_l", ":").getItem(0) == F.split("record_key_r", ":").getItem(0)
            exact = exact.where(~(inside & F.split("record_key_l", ":").getItem(0).isin(*spec.unique_sources)))
        exact = exact.localCheckpoint()
    summary: dict = {"comparisons": 0, "predict_seconds": 0.0, "charts": report_dir}
    linked = None
    if model is not None:
        scored, found, linked = score(ctx, keys, spec, model, backend, report_dir, watch)
        summary.update(found)
    else:
        scored = ctx.spark.createDataFrame([], "record_key_l string, record_key_r string, match_probability double, match_weight double")
    with watch.step("clustering"):
        rules = clustering.ClusterRules(min_weight=math.log2(silver.linkage.threshold / (1 - silver.linkage.threshold)),
                                        margin=silver.linkage.ambiguity_margin, max_size=silver.max_cluster_size)
        edges = exact.count() + scored.where(F.col("match_weight") >= rules.weakest_link).count()
        engine, why = clustering.choose(ctx.spark, silver.clustering, edges)
        log.info("silver: clustering on the %s (%s)", engine.name, why)
        pairs = match_pairs(exact, scored, silver.linkage.threshold).localCheckpoint()
        strength = pairs.select("record_key_l", "record_key_r", F.coalesce("match_weight", F.lit(1000.0)).alias("strength"))
        found = engine.cluster(records, exact, scored, strength, cluster_guards(keys, spec), rules)
        components = found.components.localCheckpoint()
    summary.update(clustering_seconds=watch["clustering"], clustering_rounds=found.rounds, oversized_clusters=found.oversized,
                   clustering_engine={"name": engine.name, "why": why})
    log.info("silver: clustered in %.0fs (%d rounds of mutual best links)", summary["clustering_seconds"], found.rounds)
    now = datetime.now(timezone.utc)
    with watch.step("customer ids"):
        previous = ctx.store.read("silver.identity_map") if ctx.store.exists("silver.identity_map") else None
        history = ctx.store.read(REDIRECTS) if ctx.store.exists(REDIRECTS) else None
        changes = customer_ids.lifecycle(components, previous, history, ctx.run_id, now)
        summary["churn"] = changes.churn
    if linked is not None:
        linker, frame = linked
        with watch.step("charts"):
            charts_module.cluster_studio(backend, linker, frame, components, keys, os.path.join(report_dir, "cluster_studio.html"))
    return {"pairs": pairs, "hubs": hubs, "identity_map": identity_map(records, changes.ids, pairs, previous, now),
            "redirects": changes.table, "summary": summary}


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
    if not ctx.full_refresh and last_fingerprint(ctx.store, RUNS) == print_fp:
        return {"status": "unchanged (same bronze versions, settings and model)"}
    watch = Stopwatch()
    progress.expect(len(SILVER_STEPS))
    with watch.step("person records"):
        records = all_person_records(ctx).localCheckpoint()
    with watch.step("match keys"):
        keys = linkage_input(records).localCheckpoint()
        spec = build_spec(profile(keys), ctx.config)
    with linkage_backend(ctx, keys) as (backend, why), staged(run_folder(ctx.config, ctx.run_id)) as report_dir:
        with watch.step("model"):
            model, trained = model_for(ctx, keys, spec, backend)
        result = resolve(ctx, records, keys, spec, model, backend, report_dir, watch)
    result["summary"]["charts"] = run_folder(ctx.config, ctx.run_id)
    print_fp = fingerprint(ctx, model.version if model else None)
    linkage_summary = {"backend": {"name": backend.name, "why": why}, "spec": spec.describe(), "notes": list(spec.notes),
                       **trained}
    if model is None:
        problem = trained.get("training", {}).get("problem", "no model")
        linkage_summary["warning"] = (f"linked by shared identifiers only (deterministic rules): {problem}")
        print(f"silver: WARNING {linkage_summary['warning']}", file=sys.stderr)
    txn = Txn("c360/silver", ctx.run_number)
    with watch.step("writes"):
        ctx.store.overwrite(records, "silver.person_records", txn=txn)
        ctx.store.overwrite(result["pairs"], "silver.match_pairs", txn=txn)
        ctx.store.overwrite(result["hubs"], "silver.hub_identifiers", txn=txn)
        ctx.store.overwrite(result["identity_map"], "silver.identity_map", txn=txn)
        ctx.store.overwrite(result["redirects"], REDIRECTS, txn=txn)
    with watch.step("interactions"):
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
        "cookies_with_several_logins": shared_cookies, "model_version": model.version if model else None,
        **result["summary"], "linkage": linkage_summary, "seconds_per_step": watch.seconds,
    }
    runs = ctx.spark.createDataFrame([(ctx.run_id, print_fp, model.version if model else None, json.dumps(summary, default=str),
                                       datetime.now(timezone.utc))],
                                     "run_id string, fingerprint string, model_version int, summary string, finished_at timestamp")
    ctx.store.append(runs, RUNS, txn=txn)
    return summary

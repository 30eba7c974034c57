"""Linking the person records: match keys, the model, deterministic and Splink links, clusters and ids.

The silver stage hands this module every person record as it stands (and, in an incremental run, the keys of
the records that changed); it returns the frames to write. A full run links everything; an incremental one
scores only the changed records' pairs, recomputes only the links a change can move and clusters only the
part of the graph a change can reach (see changes, stitching.edges_since and scope), which gives what a
full run over the same records gives.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.report import run_folder, staged
from c360.silver import changes as changes_module, clustering, customer_ids, label_training, model as model_store, scope
from c360.silver.identity_map import identity_map, match_pairs
from c360.silver.linkage import charts as charts_module, prediction
from c360.silver.linkage.backends import LinkageBackend, linkage_backend
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.portable import for_dialect
from c360.silver.linkage.spec import ModelSpec, build as build_spec, profile
from c360.silver.model_choice import ModelChoice, linkage_model, model_line, within_churn
from c360.silver.model_frequencies import register_term_frequencies
from c360.silver.stitching import deterministic_edges, edges_since
from c360.silver.clustering.base import PAIR
from c360.silver.clustering.constraints import MUST_STRENGTH, keep_apart, with_must_links
from c360.silver.tables import COMPONENTS, HUBS, IDENTITY, MATCH_PAIRS, REDIRECTS, SCORED
from c360.steward import labels as labels_module
from c360.timing import Stopwatch

log = logging.getLogger(__name__)


def cluster_guards(keys: DataFrame, spec: ModelSpec) -> DataFrame:
    """(record_key, date_of_birth, unique_source, handle_key, handle_digits) for the clustering guards."""
    unique = F.col("source").isin(*spec.unique_sources) if spec.unique_sources else F.lit(False)
    return keys.select("record_key", "date_of_birth", F.when(unique, F.col("source")).alias("unique_source"),
                       "handle_key", "handle_digits")


def score(ctx: RunContext, keys: DataFrame, spec: ModelSpec, model: model_store.ModelFile, backend: LinkageBackend,
          report_dir: str, watch: Stopwatch, threshold: float, changed: DataFrame | None = None
          ) -> tuple[DataFrame, dict, object]:
    """Scored pairs (first_names_conflict says which may never link), a summary, and the linker for charts; with
    `changed` (record keys), only the pairs with a changed record are scored. Pairs are kept from even odds
    or `threshold` (the match probability from which a pair links), whichever is lower."""
    silver = ctx.config.silver
    settings = for_dialect(model.load(), spec, backend.dialect)
    rules = None
    if changed is not None:
        # Splink is handed the changed records and their blocking partners only (see partners)
        keys, settings, rules = prediction.flag_changed(keys, changed), prediction.only_changed_pairs(settings), spec.blocking_rules
    linker = backend.linker(keys, settings, partners_of=rules)
    with watch.step("term frequencies"):
        register_term_frequencies(ctx, backend, linker, keys, model)
    with watch.step("comparison counts"):
        counts = prediction.comparison_counts(linker, silver.linkage.max_comparisons)
    for row in counts:
        # stderr: stdout carries the run's JSON summary (scripts and jobs parse it)
        print(f"  blocking rule {row['rule']}: {row['comparisons']:,} comparisons (cumulative {row['cumulative']:,})",
              file=sys.stderr)
    with watch.step("predict"):
        scored, splink_frame = prediction.predict(backend, linker, settings, min_probability=min(0.5, threshold))
        scored = scored.localCheckpoint()
        # pairs of records that name two different first names are no link, however much else they share
        conflicting = scored.where("first_names_conflict and match_probability >= %r" % threshold).count()
    log.info("silver: scored %s comparisons in %.0fs", f"{counts[-1]['cumulative']:,}" if counts else 0, watch["predict"])
    with watch.step("charts"):
        charts_module.write_charts(linker, splink_frame, report_dir)
    summary = {"comparisons": counts[-1]["cumulative"] if counts else 0, "blocking": counts, "predict_seconds": watch["predict"],
               "pairs_above_threshold_with_other_first_names": conflicting, "charts": report_dir}
    return scored, summary, (linker, splink_frame)


def kept_pairs(ctx: RunContext, changed: DataFrame) -> DataFrame:
    """The pairs the last run scored whose records both stayed as they were."""
    stored = ctx.store.read(SCORED)
    if "first_names_conflict" not in stored.columns:  # written by an earlier c360, which kept only those that may link
        stored = stored.withColumn("first_names_conflict", F.lit(False))
    for side in ("record_key_l", "record_key_r"):
        stored = stored.join(changed.select(F.col("record_key").alias(side)), side, "left_anti")
    return stored


def stored_exact(ctx: RunContext) -> DataFrame:
    """The deterministic links the last run wrote (its match pairs whose method is exact:...)."""
    return ctx.store.read(MATCH_PAIRS).where(F.col("method").startswith("exact:"))


def stitch(ctx: RunContext, records: DataFrame, spec: ModelSpec, changed: DataFrame | None
           ) -> tuple[DataFrame, DataFrame, DataFrame | None]:
    """Deterministic edges and hub values; with `changed`, only the edges a change can move are computed
    (the rest are the last run's) and the focus (records whose edges were recomputed) comes too."""
    rules = ctx.config.silver.stitching
    if changed is None:
        exact, hubs = deterministic_edges(records, rules)
        focus = None
    else:
        exact, hubs, focus = edges_since(records, rules, changed, ctx.store.read(HUBS), stored_exact(ctx))
    if spec.unique_sources:
        # a no-duplicates source's records are never one person, whatever identifier they share
        inside = F.split("record_key_l", ":").getItem(0) == F.split("record_key_r", ":").getItem(0)
        exact = exact.where(~(inside & F.split("record_key_l", ":").getItem(0).isin(*spec.unique_sources)))
    return exact.localCheckpoint(), hubs, focus


def cluster_scope(ctx: RunContext, records: DataFrame, exact: DataFrame, scored: DataFrame, focus: DataFrame,
                  weakest: float) -> DataFrame:
    """The record keys an incremental run clusters again (see scope): the graph now against the last run's
    components."""
    now = exact.select(*PAIR).unionByName(scored.where(F.col("match_weight") >= weakest).select(*PAIR))
    return scope.affected(records, now, ctx.store.read(COMPONENTS), focus).localCheckpoint()


def steward_constraints(ctx: RunContext, records: DataFrame) -> tuple[labels_module.InForce | None, dict]:
    """The steward's labels in force for `records` (None without any) and what the run summary says of them:
    how many must- and cannot-links apply, how many labels are stale, and every cannot-link a chain of
    must-links would break (cannot-link wins)."""
    if not ctx.store.exists(labels_module.LABELS):
        return None, {}
    found = labels_module.in_force(ctx.store.read(labels_module.LABELS), records)
    must = [(r[0], r[1]) for r in found.must.collect()]
    cannot = [(r[0], r[1]) for r in found.cannot.collect()]
    conflicts = labels_module.conflicts(must, cannot)
    for conflict in conflicts:
        log.warning("silver: a chain of must-links %s joins %s, labelled apart: kept apart",
                    conflict["must_links"], conflict["cannot_link"])
    return found, {"must_links": len(must), "cannot_links": len(cannot), "stale_labels": found.stale.count(),
                   "conflicts": conflicts}


def resolve(ctx: RunContext, records: DataFrame, keys: DataFrame, spec: ModelSpec, model: model_store.ModelFile | None,
            backend: LinkageBackend, report_dir: str, watch: Stopwatch, changed: DataFrame | None = None,
            touched: DataFrame | None = None) -> dict:
    """Link, cluster and id the records; returns the frames to write and a summary. With `changed` (record
    keys of new, changed and deleted records), only their pairs are scored and the last run's other scored
    pairs are kept (the pairs a full run would score: a pair's score reads its two records only), and only
    the part of the graph a change can reach is clustered and given ids again (`scope` in the result), which
    also holds the records of labels given since the last run (`touched`). A steward's labels are honoured
    (see clustering.constraints)."""
    silver = ctx.config.silver
    with watch.step("deterministic stitching"):
        exact, hubs, focus = stitch(ctx, records, spec, changed)
        steward, steward_summary = steward_constraints(ctx, records)
        if steward is not None:
            exact = with_must_links(exact, steward.must).localCheckpoint()
        if focus is not None and touched is not None:
            focus = focus.select("record_key").unionByName(touched.select("record_key")).distinct()
    threshold, since = label_training.threshold(ctx, model)
    summary: dict = {"comparisons": 0, "predict_seconds": 0.0, "charts": report_dir, "steward": steward_summary,
                     "threshold": {"probability": threshold, "from": since}}
    linked = None
    if model is not None:
        scored, found, linked = score(ctx, keys, spec, model, backend, report_dir, watch, threshold, changed)
        summary.update(found)
        if changed is not None:
            scored = scored.unionByName(kept_pairs(ctx, changed)).localCheckpoint()
    else:
        scored = local_frame(ctx.spark, [], "record_key_l string, record_key_r string, match_probability double, "
                                            "match_weight double, first_names_conflict boolean")
    every = scored  # kept whole: the review queue shows the pairs the first-name guard vetoed
    scored = prediction.without_conflicts(every)
    with watch.step("clustering"):
        rules = clustering.ClusterRules(min_weight=math.log2(threshold / (1 - threshold)),
                                        margin=silver.linkage.ambiguity_margin, max_size=silver.max_cluster_size)
        edges = exact.count() + scored.where(F.col("match_weight") >= rules.weakest_link).count()
        engine, why = clustering.choose(ctx.spark, silver.clustering, edges)
        log.info("silver: clustering on the %s (%s)", engine.name, why)
        pairs = match_pairs(exact, scored, threshold).localCheckpoint()
        region = None if focus is None else cluster_scope(ctx, records, exact, scored, focus, rules.weakest_link)
        part = (lambda frame, *cols: frame) if region is None else (lambda frame, *cols: scope.within(frame, region, *cols))
        must_first = F.when(F.col("method") == "steward", F.lit(MUST_STRENGTH))
        strength = part(pairs, *PAIR).select(*PAIR, F.coalesce(must_first, "match_weight", F.lit(1000.0)).alias("strength"))
        found = engine.cluster(part(records, "record_key"), part(exact, *PAIR), part(scored, *PAIR), strength,
                               part(cluster_guards(keys, spec), "record_key"), rules)
        components = found.components
        if steward is not None:
            components, apart = keep_apart(components, strength, part(steward.cannot, *PAIR))
            summary["steward"]["clusters_kept_apart"] = apart
        components = components.localCheckpoint()
    summary.update(clustering_seconds=watch["clustering"], clustering_rounds=found.rounds, oversized_clusters=found.oversized,
                   clustering_engine={"name": engine.name, "why": why},
                   records_clustered=components.count() if region is not None else None)
    log.info("silver: clustered in %.0fs (%d rounds of mutual best links)", summary["clustering_seconds"], found.rounds)
    now = datetime.now(timezone.utc)
    with watch.step("customer ids"):
        previous = ctx.store.read(IDENTITY) if ctx.store.exists(IDENTITY) else None
        history = ctx.store.read(REDIRECTS) if ctx.store.exists(REDIRECTS) else None
        elsewhere = None
        covered = None if region is None else region.unionByName(changed.select("record_key")).distinct().localCheckpoint()
        if covered is not None and previous is not None:
            elsewhere = previous.join(covered, "record_key", "left_anti").select("customer_id").distinct()
            previous = previous.join(covered, "record_key", "left_semi")
        changes = customer_ids.lifecycle(components, previous, history, ctx.run_id, now, elsewhere, touched)
        summary["churn"] = changes.churn
    if linked is not None:
        linker, frame = linked
        with watch.step("charts"):
            charts_module.cluster_studio(backend, linker, frame, components, keys, os.path.join(report_dir, "cluster_studio.html"))
    ids = identity_map(part(records, "record_key"), changes.ids, part(pairs, *PAIR), previous, now)
    return {"pairs": pairs, "scored": every, "hubs": hubs, "identity_map": ids, "redirects": changes.table,
            "graph": found.graph, "scope": covered,
            "summary": summary}


def link_people(ctx: RunContext, records: DataFrame, increment: changes_module.Increment | None,
                current: model_store.ModelFile | None, watch: Stopwatch, touched: DataFrame | None = None
                ) -> tuple[dict, dict, model_store.ModelFile | None, str | None]:
    """Match keys, model, links, clusters and ids of `records`: the frames to write with a summary, the linkage
    summary, the model used, and why every pair was scored although the run is incremental (or None);
    `touched`: the records of labels given since the last run (see resolve)."""
    with watch.step("match keys"):
        keys = linkage_input(records).localCheckpoint()
        spec = build_spec(profile(keys), ctx.config)
    with linkage_backend(ctx, keys) as (backend, why), staged(run_folder(ctx.config, ctx.run_id)) as report_dir:
        with watch.step("model"):
            choice = linkage_model(ctx, records, keys, spec, backend, increment, current)
        notes = choice.notes
        changed = increment.changed if increment is not None and choice.rescore is None else None
        result = resolve(ctx, records, keys, spec, choice.model, backend, report_dir, watch, changed, touched)
        if choice.candidate and not within_churn(ctx, choice, result, increment, notes):
            choice = ModelChoice(choice.fallback, notes)
            changed = increment.changed if increment is not None else None
            result = resolve(ctx, records, keys, spec, choice.model, backend, report_dir, watch, changed, touched)
        elif choice.candidate:
            model_store.make_current(choice.model, f"retrained in run {ctx.run_id}")
    model = choice.model
    result["summary"]["charts"] = run_folder(ctx.config, ctx.run_id)
    linkage_summary = {"backend": {"name": backend.name, "why": why}, "spec": spec.describe(), "notes": list(spec.notes),
                       "model": model_line(model), **notes}
    if model is None:
        problem = notes.get("training", {}).get("problem") or (
            f"there is no model yet and silver.linkage.retrain is {ctx.config.silver.linkage.retrain}; run `c360 train`")
        linkage_summary["warning"] = (f"linked by shared identifiers only (deterministic rules): {problem}")
        print(f"silver: WARNING {linkage_summary['warning']}", file=sys.stderr)
    return result, linkage_summary, model, choice.rescore

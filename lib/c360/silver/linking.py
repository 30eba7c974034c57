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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.report import run_folder, staged
from c360.silver import changes as changes_module, clustering, customer_ids, model as model_store, retraining, scope
from c360.silver.identity_map import identity_map, match_pairs
from c360.silver.linkage import charts as charts_module, prediction, term_frequencies, training
from c360.silver.linkage.backends import LinkageBackend, choose
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.portable import for_dialect
from c360.silver.linkage.spec import ModelSpec, build as build_spec, profile, splink_settings
from c360.silver.linkage.training import TrainingResult
from c360.silver.stitching import deterministic_edges, edges_since
from c360.silver.clustering.base import PAIR
from c360.silver.clustering.constraints import MUST_STRENGTH, keep_apart, with_must_links
from c360.silver.tables import COMPONENTS, HUBS, IDENTITY, MATCH_PAIRS, REDIRECTS, SCORED
from c360.steward import labels as labels_module
from c360.timing import Stopwatch

log = logging.getLogger(__name__)


@contextmanager
def linkage_backend(ctx: RunContext, keys: DataFrame) -> Iterator[tuple[LinkageBackend, str]]:
    """The run's linkage backend (silver.linkage.backend) and why it was chosen, closed when the block ends."""
    backend, why = choose(ctx.spark, ctx.config.silver.linkage, keys.count())
    log.info("silver: linkage on %s (%s)", backend.name, why)
    with backend:
        yield backend, why


def source_records(keys: DataFrame) -> dict[str, int]:
    """Person records per source among these match keys."""
    return {r["source"]: r["count"] for r in keys.groupBy("source").count().collect()}


def train_model(ctx: RunContext, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend, current: bool = True,
                why: str = "trained", counts: dict[str, int] | None = None
                ) -> tuple[model_store.ModelFile | None, TrainingResult]:
    """Train a new model version of `spec` on these match keys (a sample of `train_max_records` of them) on
    `backend` and save it with its evidence (records per source, the prior's pairs, each EM session's pairs
    and matches) and, when that evidence is thin, as provisional; with `current`, runs score with it from now
    on (a retrain the churn limit must pass first is saved with current=False). (None, result) when the
    data cannot support a model (result.problem says why). `counts`: source_records(keys), when known."""
    settings = ctx.config.silver.linkage
    started = time.monotonic()
    counts = counts if counts is not None else source_records(keys)
    sample = training.training_sample(keys, settings.train_max_records, settings.seed).localCheckpoint()
    sizes = {r.source: r["count"] for r in sample.groupBy("source").count().collect()}
    linker = backend.training_linker(sample, splink_settings(spec))
    result = training.train(linker, spec, training.TrainingOptions(u_max_pairs=settings.u_max_pairs, seed=settings.seed,
                                                                em_max_pairs=settings.em_max_pairs),
                            records=sum(sizes.values()), unique_source_sizes={s: sizes.get(s, 0) for s in spec.unique_sources})
    if result.problem:
        log.warning("silver: no linkage model: %s", result.problem)
        return None, result
    thin = retraining.provisional_reasons(result.summary(), counts, settings.min_prior_pairs)
    saved = model_store.save(model_store.model_dir(ctx.config), linker.misc.save_model_to_json(), {
        "trained_at": datetime.now(timezone.utc).isoformat(), "run_id": ctx.run_id, "why": why,
        "records": sum(sizes.values()), "of_records": sum(counts.values()), "source_records": counts,
        "seconds": round(time.monotonic() - started, 1), "backend": backend.name,
        "trained_on": linker._sql_dialect_str, "spec": spec.fingerprint(),  # noqa: SLF001
        "spec_detail": spec.describe(), "training": result.summary(),
        "provisional": bool(thin), "provisional_reasons": thin}, current=current)
    model_term_frequencies(saved, keys)
    log.info("silver: trained model v%d in %.0fs (%s)", saved.version, time.monotonic() - started, saved.path)
    return saved, result


def model_term_frequencies(model: model_store.ModelFile, keys: DataFrame) -> dict[str, term_frequencies.Frequencies]:
    """The model version's term-frequency tables; counted over `keys` (every record of this run) and saved
    beside the model when it has none yet (a model trained before they were kept, or just now)."""
    stored = model.term_frequencies()
    if stored is None:
        model.save_term_frequencies([term_frequencies.count(keys, c) for c in term_frequencies.columns(model.load())])
        stored = model.term_frequencies() or {}
    return stored


def register_term_frequencies(ctx: RunContext, backend: LinkageBackend, linker: object, keys: DataFrame,
                              model: model_store.ModelFile) -> None:
    """Score with the model version's term frequencies, so a pair scores the same whatever other records
    the run holds (an incremental run's kept pairs agree with a full run's)."""
    for frequencies in model_term_frequencies(model, keys).values():
        backend.register_term_frequencies(linker, frequencies.column, term_frequencies.lookup(ctx.spark, keys, frequencies))


def cluster_guards(keys: DataFrame, spec: ModelSpec) -> DataFrame:
    """(record_key, date_of_birth, unique_source, handle_key, handle_digits) for the clustering guards."""
    unique = F.col("source").isin(*spec.unique_sources) if spec.unique_sources else F.lit(False)
    return keys.select("record_key", "date_of_birth", F.when(unique, F.col("source")).alias("unique_source"),
                       "handle_key", "handle_digits")


def score(ctx: RunContext, keys: DataFrame, spec: ModelSpec, model: model_store.ModelFile, backend: LinkageBackend,
          report_dir: str, watch: Stopwatch, changed: DataFrame | None = None) -> tuple[DataFrame, dict, object]:
    """Scored pairs (first_names_conflict says which may never link), a summary, and the linker for charts; with
    `changed` (record keys), only the pairs with a changed record are scored."""
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
        scored, splink_frame = prediction.predict(backend, linker, settings, min_probability=min(0.5, silver.linkage.threshold))
        scored = scored.localCheckpoint()
        # pairs of records that name two different first names are no link, however much else they share
        conflicting = scored.where("first_names_conflict and match_probability >= %r" % silver.linkage.threshold).count()
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
    summary: dict = {"comparisons": 0, "predict_seconds": 0.0, "charts": report_dir, "steward": steward_summary}
    linked = None
    if model is not None:
        scored, found, linked = score(ctx, keys, spec, model, backend, report_dir, watch, changed)
        summary.update(found)
        if changed is not None:
            scored = scored.unionByName(kept_pairs(ctx, changed)).localCheckpoint()
    else:
        scored = local_frame(ctx.spark, [], "record_key_l string, record_key_r string, match_probability double, "
                                            "match_weight double, first_names_conflict boolean")
    every = scored  # kept whole: the review queue shows the pairs the first-name guard vetoed
    scored = prediction.without_conflicts(every)
    with watch.step("clustering"):
        rules = clustering.ClusterRules(min_weight=math.log2(silver.linkage.threshold / (1 - silver.linkage.threshold)),
                                        margin=silver.linkage.ambiguity_margin, max_size=silver.max_cluster_size)
        edges = exact.count() + scored.where(F.col("match_weight") >= rules.weakest_link).count()
        engine, why = clustering.choose(ctx.spark, silver.clustering, edges)
        log.info("silver: clustering on the %s (%s)", engine.name, why)
        pairs = match_pairs(exact, scored, silver.linkage.threshold).localCheckpoint()
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


@dataclass
class ModelChoice:
    """The model a run scores with and why: `candidate` is a new version that becomes current only if the
    customers it moves stay within the churn limit (`fallback` is scored with otherwise); `rescore` says why
    every pair is scored again although the run is incremental; `notes` go to the run summary."""

    model: model_store.ModelFile | None
    notes: dict
    rescore: str | None = None
    candidate: bool = False
    fallback: model_store.ModelFile | None = None


def in_use(ctx: RunContext) -> model_store.ModelFile | None:
    """The model version runs score with: the pinned one (silver.linkage.model_version), else the current."""
    folder = model_store.model_dir(ctx.config)
    pinned = ctx.config.silver.linkage.model_version
    return model_store.version(folder, pinned) if pinned else model_store.latest(folder)


def _trained(ctx: RunContext, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend, increment: object,
             why: str, current: bool, counts: dict[str, int] | None = None
             ) -> tuple[model_store.ModelFile | None, dict, str | None]:
    """A new version trained now, its training notes, and why every pair is scored again."""
    model, result = train_model(ctx, keys, spec, backend, current=current, why=why, counts=counts)
    return model, {"training": result.summary()}, (why if increment is not None else None)


def _say(text: str) -> None:
    # stderr: stdout carries the run's JSON summary (scripts and jobs parse it)
    print(f"silver: WARNING {text}", file=sys.stderr)


def linkage_model(ctx: RunContext, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend,
                  increment: changes_module.Increment | None, current: model_store.ModelFile | None) -> ModelChoice:
    """The model to score with. A model built for another spec is retrained (or the run stops) as
    silver.linkage.on_model_mismatch says. Otherwise the run checks whether the data has outgrown the model
    (see retraining.due) and, as silver.linkage.retrain says, trains a new version (auto), says so (warn) or
    neither (never); a pinned version (model_version) is never replaced. A run that trains scores every pair
    with the new model, so no run scores with two models."""
    settings = ctx.config.silver.linkage
    meta = current.metadata() if current is not None else None  # read once: a file of the model folder
    if meta is not None and meta.get("spec") != spec.fingerprint():
        why = (f"model v{current.version} was built for other fields or rules than the person sources and "
               f"settings now give ({', '.join(spec.describe()['fields'])})")
        if settings.on_model_mismatch == "fail" or settings.model_version:
            fix = ("unpin silver.linkage.model_version or pin a version built for them" if settings.model_version else
                   "run `c360 train` or set silver.linkage.on_model_mismatch: retrain")
            raise C360Error(f"silver: {why}; {fix}")
        _say(f"{why}; training a new version")
        return ModelChoice(*_trained(ctx, keys, spec, backend, increment, "the person records now give another model spec", True))
    counts = source_records(keys)
    pairs = training.allowed_pairs(sum(counts.values()), {s: counts.get(s, 0) for s in spec.unique_sources})
    reasons = retraining.due(meta, counts, pairs, settings.retrain_growth)
    notes = {"retrain": {"due": reasons, "policy": "pinned" if settings.model_version else settings.retrain,
                         "action": "none"}}
    if not reasons:
        if current is None:
            notes["training"] = {"problem": "the person records have no pair to compare yet (fewer than two records, "
                                            "or only the records of one no_duplicates source)"}
        return ModelChoice(current, notes)
    due = "; ".join(reasons)
    if settings.model_version or settings.retrain != "auto":
        notes["retrain"]["action"] = "reported" if settings.retrain != "never" or settings.model_version else "none"
        if notes["retrain"]["action"] == "reported":
            pin = f"model v{settings.model_version} is pinned" if settings.model_version else "silver.linkage.retrain is warn"
            _say(f"a retrain of the linkage model is due ({due}); {pin}, so this run keeps the model")
        return ModelChoice(current, notes)
    held = None if ctx.accept_retrain else _held_back(ctx, current, counts)
    if held is not None:
        notes["retrain"]["action"] = "held back earlier"
        _say(f"a retrain of the linkage model is due ({due}), but v{held.version} was held back by the churn limit "
             f"({held.metadata()['held_back']}); start a run with --accept-retrain to apply a retrain")
        return ModelChoice(current, notes)
    log.warning("silver: training a new linkage model version: %s", due)
    # the churn limit protects what a trusted model decided: a first or provisional model's customers are not
    protected = meta is not None and not meta.get("provisional")
    model, trained, rescore = _trained(ctx, keys, spec, backend, increment, f"retrain: {due}", not protected, counts)
    notes["retrain"]["action"] = "retrained" if model is not None else "failed"
    return ModelChoice(model or current, {**notes, **trained}, rescore if model is not None else None,
                       candidate=protected and model is not None, fallback=current)


def _held_back(ctx: RunContext, current: model_store.ModelFile | None, counts: dict[str, int]) -> model_store.ModelFile | None:
    """A retrain of `current` the churn limit held back, when the data has not outgrown it since: then the
    run does not train again (each try would cost a training and a full scoring) until --accept-retrain."""
    if current is None:
        return None
    later = [m for m in model_store.versions(model_store.model_dir(ctx.config)) if m.version > current.version]
    if not later or not later[-1].metadata().get("held_back"):
        return None
    meta = later[-1].metadata()
    outgrown = retraining.due({**meta, "provisional": False}, counts, 0, ctx.config.silver.linkage.retrain_growth)
    return None if outgrown else later[-1]


def _within_churn(ctx: RunContext, choice: ModelChoice, result: dict, increment: changes_module.Increment | None,
                  notes: dict) -> bool:
    """Whether a candidate's result moves at most max_retrain_churn of the earlier customers (or the run was
    started with --accept-retrain); records the figures in `notes` and holds back a candidate that does not."""
    if not ctx.store.exists(IDENTITY):
        return True
    changed = increment.changed if increment is not None else None
    moved, of = retraining.moved_customers(ctx.store.read(IDENTITY), result["identity_map"], changed)
    limit = ctx.config.silver.linkage.max_retrain_churn
    share = moved / of if of else 0.0
    notes["retrain"].update(moved_customers=moved, of_customers=of, moved_share=round(share, 4), max_retrain_churn=limit)
    if share <= limit or ctx.accept_retrain:
        return True
    text = (f"it would move {moved:,} of {of:,} customers ({share:.1%}, more than silver.linkage.max_retrain_churn "
            f"= {limit:.1%})")
    choice.model.annotate(held_back=f"{text} in run {ctx.run_id}")
    notes["retrain"]["action"] = "held back"
    _say(f"the retrained model v{choice.model.version} was held back: {text}; this run keeps "
         f"{'model v%d' % choice.fallback.version if choice.fallback else 'no model'}. Start a run with --accept-retrain "
         "to apply it, or set silver.linkage.retrain: warn")
    return False


def _model_line(model: model_store.ModelFile | None) -> dict | None:
    """The run summary's model: its version and whether it is provisional, and why (also said on stderr)."""
    if model is None:
        return None
    meta = model.metadata()
    line = {"version": model.version, "provisional": bool(meta.get("provisional")),
            "provisional_reasons": meta.get("provisional_reasons", []), "trained_at": meta.get("trained_at"),
            "of_records": meta.get("of_records")}
    if line["provisional"]:
        _say(f"linkage model v{model.version} is provisional: {'; '.join(line['provisional_reasons'])}")
    return line


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
            choice = linkage_model(ctx, keys, spec, backend, increment, current)
        notes = choice.notes
        changed = increment.changed if increment is not None and choice.rescore is None else None
        result = resolve(ctx, records, keys, spec, choice.model, backend, report_dir, watch, changed, touched)
        if choice.candidate and not _within_churn(ctx, choice, result, increment, notes):
            choice = ModelChoice(choice.fallback, notes)
            changed = increment.changed if increment is not None else None
            result = resolve(ctx, records, keys, spec, choice.model, backend, report_dir, watch, changed, touched)
        elif choice.candidate:
            model_store.make_current(choice.model, f"retrained in run {ctx.run_id}")
    model = choice.model
    result["summary"]["charts"] = run_folder(ctx.config, ctx.run_id)
    linkage_summary = {"backend": {"name": backend.name, "why": why}, "spec": spec.describe(), "notes": list(spec.notes),
                       "model": _model_line(model), **notes}
    if model is None:
        problem = notes.get("training", {}).get("problem") or (
            f"there is no model yet and silver.linkage.retrain is {ctx.config.silver.linkage.retrain}; run `c360 train`")
        linkage_summary["warning"] = (f"linked by shared identifiers only (deterministic rules): {problem}")
        print(f"silver: WARNING {linkage_summary['warning']}", file=sys.stderr)
    return result, linkage_summary, model, choice.rescore

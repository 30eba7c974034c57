"""The figures of a run's report: what the run did (its stages' summaries) and what the warehouse holds after
it (rows per table, quarantine by reason, the latest linkage and gold figures, match weights and cluster
sizes). Every figure is a small aggregate; no record value leaves the tables."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from c360.config import LAYERS
from c360.silver.figures import linkage_figures
from c360.storage import TableStore

if TYPE_CHECKING:
    from c360.pipeline import RunContext

PACKAGES = ("c360", "pyspark", "delta-spark", "deltalake", "splink", "duckdb")


def versions() -> dict[str, str | None]:
    """The versions of c360 and what it runs on."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def table_counts(store: TableStore) -> dict[str, dict[str, int]]:
    """Rows per table, per layer (bookkeeping tables, whose names start with `_`, left out)."""
    counts: dict[str, dict[str, int]] = {layer: {} for layer in LAYERS if layer in ("bronze", "silver", "gold") or store.list_tables(layer)}
    for name in store.list_tables():
        layer, table = name.split(".", 1)
        if layer in counts and not table.startswith("_"):
            counts[layer][table] = store.row_count(name)
    return counts


def quarantine(store: TableStore) -> list[dict]:
    """Quarantined records per source and reason."""
    if not store.exists("bronze._quarantine"):
        return []
    rows = store.read("bronze._quarantine").groupBy("source", "reason").count().orderBy("source", "reason").collect()
    return [{"source": r["source"], "reason": r["reason"], "records": r["count"]} for r in rows]


def last_summary(store: TableStore, runs_table: str) -> dict | None:
    """The summary a stage recorded in its last committed run (its `_runs` table), whichever run that was."""
    if not store.exists(runs_table):
        return None
    row = store.read(runs_table).orderBy(F.desc("finished_at")).select("run_id", "summary").first()
    return None if row is None else {"run_id": row["run_id"], **json.loads(row["summary"])}


def linkage(store: TableStore) -> dict:
    """The latest silver figures: its summary, the match-weight histogram and the cluster sizes."""
    silver = last_summary(store, "silver._runs")
    if silver is None:
        return {}
    keep = ("run_id", "person_records", "customers", "match_pairs", "comparisons", "model_version", "clustering_rounds",
            "oversized_clusters", "clustering_engine", "churn", "seconds_per_step")
    found = {k: silver[k] for k in keep if k in silver}
    found["backend"] = silver.get("linkage", {}).get("backend")
    found["warning"] = silver.get("linkage", {}).get("warning")
    found["model_note"] = model_note(silver.get("linkage", {}))
    figures = silver.get("figures")
    if figures is None:  # recorded by silver runs of earlier versions: computed here
        tables = [store.read(t) if store.exists(t) else None for t in ("silver.match_pairs", "silver.identity_map")]
        figures = linkage_figures(*tables)
    return {**found, **figures}


def model_note(linkage: dict) -> str | None:
    """One line on the model when it needs the reader's attention: provisional, or a retrain due, held
    back or done in this run (None otherwise)."""
    model, retrain = linkage.get("model") or {}, linkage.get("retrain") or {}
    action, due = retrain.get("action"), "; ".join(retrain.get("due") or [])
    if action == "retrained":
        return f"Model v{model.get('version')} was trained in this run: {due}."
    if action in ("held back", "held back earlier"):
        return f"A retrain of the model is due ({due}) but was held back by the churn limit; see the run's stderr."
    if due and action == "reported":
        return f"A retrain of the model is due: {due}."
    if model.get("provisional"):
        return f"Model v{model.get('version')} is provisional: {'; '.join(model.get('provisional_reasons', []))}."
    return None


def stages(results: dict[str, dict]) -> dict[str, dict]:
    """Per stage of this run: status, seconds, seconds per step, failures."""
    out = {}
    for name, summary in results.items():
        status = "failed" if summary.get("failed") else summary.get("status", "done")
        out[name] = {"status": status, "seconds": summary.get("seconds"),
                     "seconds_per_step": summary.get("seconds_per_step", {}), "failed": summary.get("failed", [])}
    return out


def purge_note(pending: list[dict], window_days: int, now: datetime) -> str | None:
    """The report's line on deferred purges (`pending`: erasure_id and `at` of each pending one) waiting
    longer than `privacy.purge_window_days`: older versions still hold those people."""
    # Spark hands timestamps back naive in local time: astimezone reads them so
    late = sorted(p["erasure_id"] for p in pending if now - p["at"].astimezone(timezone.utc) > timedelta(days=window_days))
    if not late:
        return None
    return (f"{len(late)} erasure(s) wait for their purge longer than privacy.purge_window_days ({window_days}): older "
            f"table versions still hold those people. Run `c360 maintain`. Erasures: {', '.join(late)}.")


def _privacy(ctx: RunContext) -> dict:
    from c360.privacy.erase import pending_purges

    pending = pending_purges(ctx.store)
    return {"pending_purges": len(pending),
            "note": purge_note(pending, ctx.config.privacy.purge_window_days, datetime.now(timezone.utc))}


def steward(store: TableStore) -> dict:
    """The steward's labels as the latest silver run applied them, and the latest quality estimate from the
    labelled random sample (see steward.estimates); empty without labels."""
    from c360.steward.estimates import format_estimate, measured
    from c360.steward.labels import LABELS

    if not store.exists(LABELS):
        return {}
    applied = (last_summary(store, "silver._runs") or {}).get("steward", {})
    estimate = measured(store)
    return {"labels": store.row_count(LABELS), "applied": applied, "estimate": estimate,
            "estimate_text": format_estimate(estimate)}


def collect(ctx: RunContext, results: dict[str, dict], error: str | None) -> dict:
    """Everything summary.json holds for this run."""
    failures = [m for s in results.values() for m in s.get("failed", [])] + ([error] if error else [])
    gold = last_summary(ctx.store, "gold._runs") or {}
    bronze = results.get("bronze", {}).get("sources", {})
    return {
        "run_id": ctx.run_id, "finished_at": datetime.now(timezone.utc).isoformat(), "status": "failed" if failures else "ok",
        "failures": failures, "command": " ".join(sys.argv), "warehouse": ctx.config.warehouse,
        "engine": {"name": ctx.engine.name, "why": ctx.engine.reason}, "spark_master": ctx.spark.sparkContext.master,
        "versions": versions(), "stages": stages(results), "tables": table_counts(ctx.store),
        "bronze_this_run": {name: {k: s.get(k) for k in ("status", "records", "written", "quarantined")} for name, s in bronze.items()},
        "quarantine": quarantine(ctx.store), "linkage": linkage(ctx.store),
        "gold": {k: gold.get(k) for k in ("run_id", "completeness", "unresolved_interactions", "profiles_changed")},
        "privacy": _privacy(ctx), "steward": steward(ctx.store),
    }

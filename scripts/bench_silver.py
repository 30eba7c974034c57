"""Silver linkage on several person data sets, c360 against the pinned plain-Splink peer on the same records.

Quality (linkage on anyone's data):

    python scripts/bench_silver.py [--sets febrl4 febrl3 crm_pairs:10000 generated:6600 ...] [--work DIR]
                                   [--seed 42] [--driver-memory 6g] [--no-peer] [--guards]

Arrival order (a model that keeps up with deliveries):

    python scripts/bench_silver.py --arrival [crm_pairs:10000 febrl4 febrl4_undeclared] [--parts 5]

Speed (linkage at speed):

    python scripts/bench_silver.py --sizes 10000 100000 1000000 [--backends duckdb spark] [--no-peer]

Sets (see scripts/linkage_sets.py): febrl4 (linked), febrl4_undeclared (the same two files, not declared
no_duplicates), febrl3 (deduplicated), crm_pairs:<records> (the
independent generator), generated:<people> and generated_no_contacts:<people> (`c360 generate`, about 1.5
person records per person, person sources only). Per set: c360's P/R/F1, shares of true persons split and of
clusters merged wrongly, blocking recall, comparisons and seconds per step; the same for plain Splink.
Each set's config is written beside its warehouse (`<work>/<set>/c360.yaml`) for `c360 evaluate`/`c360 sql`.

Sizes are person records of the generator (person sources only). Per size and linkage backend, the silver
stage runs as its own process, `c360 run --stage silver --full-refresh` with a new model, `driver_memory: 4g`
and DuckDB capped at 4 GB, and the bench reports that process's wall time (JVM start included), the stage's
seconds per step, the peak memory of its Python driver (DuckDB and the clustering live there) and its JVM,
and P/R/F1; the peer trains, predicts and clusters the same records in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import logging
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
import linkage_sets  # noqa: E402
import peer_splink  # noqa: E402
from bench_bronze import jvm_memory  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from c360 import pipeline  # noqa: E402
from c360.config import parse_config  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.silver import clustering, linking, model as model_store  # noqa: E402
from c360.silver.evaluation import blocking_recall, evaluate  # noqa: E402
from c360.silver.linkage import prediction  # noqa: E402
from c360.silver.linkage.backends import choose  # noqa: E402
from c360.silver.linkage.portable import for_dialect  # noqa: E402
from c360.silver.linkage.keys import linkage_input  # noqa: E402
from c360.silver.linkage.spec import build as build_spec, profile  # noqa: E402
from c360.silver.person_records import latest_versions, mapped_fields  # noqa: E402
from c360.storage import open_store  # noqa: E402

CC_LIMIT = 50_000  # records up to which the guard ablation clusters by plain connected components on Spark
DEFAULT_SETS = ["febrl4", "febrl3", "crm_pairs:10000", "generated:6600", "generated_no_contacts:6600"]


def load_set(spec: str, work: Path, seed: int) -> linkage_sets.LinkageSet:
    name, _, size = spec.partition(":")
    if name in ("febrl4", "febrl3", "febrl4_undeclared"):
        return linkage_sets.febrl(work, int(name[5]), declared=name != "febrl4_undeclared")
    if name == "crm_pairs":
        return linkage_sets.crm_set(work, int(size or 10_000), seed)
    if name in ("generated", "generated_no_contacts"):
        return linkage_sets.generated(work, int(size or 6_600), seed, contacts=name == "generated")
    raise SystemExit(f"unknown set {spec!r}")


def config_for(data: linkage_sets.LinkageSet, work: Path, driver_memory: str, name: str | None = None):  # noqa: ANN201
    folder = work / (name or data.name)
    doc = {"warehouse": str(folder / "warehouse"), "engine": "delta-rs", "default_country": "DE",
           "spark": {"master": "local[*]", "driver_memory": driver_memory, "shuffle_partitions": 8},
           "sources": data.sources}
    path = folder / "c360.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return parse_config(doc, path)


def run_c360(data: linkage_sets.LinkageSet, config, truth):  # noqa: ANN001, ANN201
    """Bronze (once), then a fresh silver stage with a new model; scores and step timings."""
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    if not all(store.exists(f"bronze.{s.name}") for s in config.sources):
        pipeline.run(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), "bronze")
    for folder in ("silver", "_models", "_reports"):
        shutil.rmtree(Path(config.warehouse) / folder, ignore_errors=True)
    started = time.monotonic()
    summary = pipeline.run(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), "silver")["silver"]
    silver_s = time.monotonic() - started
    quality = evaluate(store.read("silver.identity_map"), truth)
    keys = linkage_input(store.read("silver.person_records")).cache()
    exact = store.read("silver.match_pairs").where(F.col("method").startswith("exact"))
    reach = blocking_recall(keys, truth, summary["linkage"]["spec"]["blocking_rules"], exact)
    training = summary["linkage"].get("training", {})
    return spark, store, {
        "records": summary["person_records"], "comparisons": summary["comparisons"],
        "per_record": round(summary["comparisons"] / max(summary["person_records"], 1), 1),
        "blocking_recall": reach["blocking_recall"], "precision": quality["precision"], "recall": quality["recall"],
        "f1": quality["f1"], "persons_split": quality["persons_split_share"],
        "clusters_merged_wrongly": quality["clusters_wrongly_merged_share"],
        "silver_s": round(silver_s, 1), "train_s": round(sum(training.get("seconds", {}).values()), 1),
        "predict_s": summary["predict_seconds"], "cluster_s": summary["clustering_seconds"],
        "conflicts_removed": summary.get("pairs_above_threshold_with_other_first_names", 0),
        "warning": summary["linkage"].get("warning"), "backend": summary["linkage"].get("backend", {}).get("name"),
        "seconds_per_step": summary.get("seconds_per_step", {}), **jvm_memory(spark)}


def guard_ablation(spark, store, config, truth) -> dict:  # noqa: ANN001
    """What each guard removes: cluster the same scored pairs with one guard switched off at a time; the
    difference in true and false linked pairs against the full run is what that guard keeps out."""
    settings = config.silver.linkage
    records = store.read("silver.person_records")
    keys = linkage_input(records).localCheckpoint()
    spec = build_spec(profile(keys), config)
    model = model_store.latest(model_store.model_dir(config))
    if model is None:
        return {}
    backend, _ = choose(spark, settings, keys.count())  # the backend the stage scored on
    with backend:
        saved = for_dialect(model.load(), spec, backend.dialect)
        scored, _ = prediction.predict(backend, backend.linker(keys, saved), saved,
                                       min_probability=min(0.5, settings.threshold))
        scored = scored.localCheckpoint()
    exact = store.read("silver.match_pairs").where(F.col("method").startswith("exact")).select("record_key_l", "record_key_r")
    min_weight = math.log2(settings.threshold / (1 - settings.threshold))
    engine, _ = clustering.choose(spark, config.silver.clustering, exact.count() + scored.where(F.col("match_weight") >= 0).count())
    start = engine.connected_components(records, exact)

    def pairs_of(components) -> tuple[int, int]:  # noqa: ANN001
        q = evaluate(components.withColumnRenamed("component", "customer_id"), truth)["pairs"]
        return q["true_positive"], q["false_positive"]

    def mutual(edges, guards, margin) -> tuple[int, int]:  # noqa: ANN001
        return pairs_of(engine.best_link_clusters(start, edges, min_weight, margin, guards=guards)[0])

    allowed = prediction.without_conflicts(scored)
    guards = linking.cluster_guards(keys, spec)
    no_dates = guards.withColumn("date_of_birth", F.lit(None).cast("date"))
    no_handles = guards.withColumn("handle_digits", F.lit(None).cast("string"))
    above = scored.where(F.col("match_probability") >= settings.threshold).select("record_key_l", "record_key_r")
    full = mutual(allowed, guards, settings.ambiguity_margin)
    variants = {
        "first-name conflict": mutual(scored.drop("first_names_conflict"), guards, settings.ambiguity_margin),
        "birth-date conflict": mutual(allowed, no_dates, settings.ambiguity_margin),
        "handle conflict": mutual(allowed, no_handles, settings.ambiguity_margin),
        "ambiguity margin": mutual(allowed, guards, 0.0),
    }
    if engine.name == "driver" or records.count() <= CC_LIMIT:
        # plain connected components chain records into giant components on larger data, which take Spark's
        # label propagation many minutes (the driver engine seconds): that chaining is what mutual best links prevent
        variants["mutual best link"] = pairs_of(engine.connected_components(records, exact.unionByName(above)))
    return {name: {"true_pairs_kept_out": tp - full[0], "false_pairs_kept_out": fp - full[1]}
            for name, (tp, fp) in variants.items()}


def peer_records(store, config):  # noqa: ANN001, ANN201
    """The same records for the peer: each source's raw canonical fields as the config maps them."""
    columns = ["record_key", "source", "first_name", "last_name", "full_name", "date_of_birth", "email", "phone",
               "street", "city", "postcode", "country", "social_handle", "company", "login_id", "loyalty_id"]
    frames = [mapped_fields(latest_versions(store.read(f"bronze.{s.name}")), s).select(*columns) for s in config.sources]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out.toPandas()


def bench(spec: str, args: argparse.Namespace) -> dict:
    work = Path(args.work)
    data = load_set(spec, work, args.seed)
    config = config_for(data, work, args.driver_memory)
    spark, _ = session_for(config, quiet=True)
    truth = spark.createDataFrame(data.truth.astype(str))
    spark, store, c360 = run_c360(data, config, truth)
    row = {"set": data.name, "c360": c360}
    if args.guards:
        row["guards"] = guard_ablation(spark, store, config, truth)
    if not args.no_peer:
        row["peer"] = peer_splink.run(peer_records(store, config), data.truth.astype(str), link_only=data.link_only,
                                      default_country=config.default_country)
    return row


PEOPLE_PER_RECORD = 0.66  # true people per person record in `c360 generate`'s person sources (1M -> 660k)
STEPS = {"standardise": ("person records", "match keys"), "block": ("deterministic stitching", "comparison counts"),
         "train": ("model",), "predict": ("predict",), "cluster": ("clustering", "customer ids"), "write": ("writes",)}


def silver_process(config_path: Path, backend: str, warehouse: Path) -> dict:
    """`c360 run --stage silver --full-refresh` in its own process with a new model on `backend`: its wall
    time and the stage summary it prints."""
    doc = yaml.safe_load(config_path.read_text())
    doc["spark"]["driver_memory"] = "4g"
    doc["silver"] = {"linkage": {"backend": backend, "duckdb_memory_limit": "4GB"}}
    path = config_path.with_name(f"c360-{backend}.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    for folder in ("_models", "_reports"):
        shutil.rmtree(warehouse / folder, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "c360.cli", "run", "--config", str(path), "--stage", "silver",
                           "--full-refresh"], stdout=subprocess.PIPE, text=True, check=False)  # its log: our stderr
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"silver on {backend} failed (exit {done.returncode}; its log is above)")
    return {"wall_s": round(wall, 1), **json.loads(done.stdout)["stages"]["silver"]}


def speed(size: int, args: argparse.Namespace) -> list[dict]:
    """One size: bronze once, the silver process per backend, then the peer on the same records."""
    work = Path(args.work)
    data = linkage_sets.generated(work, round(size * PEOPLE_PER_RECORD), args.seed)
    config = config_for(data, work, "4g")
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    if not all(store.exists(f"bronze.{s.name}") for s in config.sources):
        pipeline.run(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), "bronze")
    truth = spark.createDataFrame(data.truth.astype(str))
    rows = []
    for backend in args.backends:
        summary = silver_process(work / data.name / "c360.yaml", backend, Path(config.warehouse))
        quality = evaluate(store.read("silver.identity_map"), truth)
        steps = summary.get("seconds_per_step", {})
        rows.append({"size": size, "who": f"c360 {backend}", "records": summary["person_records"],
                     "comparisons": summary["comparisons"], "seconds": summary["wall_s"],
                     "steps": {k: round(sum(steps.get(n, 0.0) for n in names), 1) for k, names in STEPS.items()},
                     "seconds_per_step": steps, "peak_memory_mib": summary.get("peak_memory_mib", {}),
                     "precision": quality["precision"], "recall": quality["recall"], "f1": quality["f1"]})
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_peer:
        peer = peer_splink.run(peer_records(store, config), data.truth.astype(str), link_only=data.link_only,
                               default_country=config.default_country)
        rows.append({"size": size, "who": "plain Splink", "records": peer["records"], "comparisons": peer["comparisons"],
                     "seconds": round(peer["train_s"] + peer["predict_cluster_s"], 1),
                     "steps": {"train": peer["train_s"], "predict": peer["predict_cluster_s"]},
                     "precision": peer["precision"], "recall": peer["recall"], "f1": peer["f1"]})
        print(json.dumps(rows[-1]), flush=True)
    spark.stop()
    return rows


def speed_table(rows: list[dict]) -> str:
    """Markdown: one row per size and contestant."""
    head = ["size", "who", "records", "comparisons", *STEPS, "seconds", "peak MiB (python / JVM)", "P", "R", "F1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        memory = r.get("peak_memory_mib") or {}
        steps = [f"{r['steps'][k]:.0f}" if k in r["steps"] else "" for k in STEPS]
        cells = [f"{r['size']:,}", r["who"], f"{r['records']:,}", f"{r['comparisons']:,}", *steps, f"{r['seconds']:.0f}",
                 f"{memory.get('python', '')} / {memory.get('jvm', '')}" if memory else "",
                 f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    head = (f"{'set':<34}{'who':<6}{'records':>9}{'comparisons':>12}{'/rec':>6}{'reach':>8}{'P':>8}{'R':>8}{'F1':>8}"
            f"{'split':>8}{'merged':>8}{'seconds':>9}")
    lines = [head]
    for r in rows:
        for who in ("c360", "peer"):
            m = r.get(who)
            if not m:
                continue
            seconds = m.get("silver_s", m.get("train_s", 0) + m.get("predict_cluster_s", 0))
            per = m.get("per_record", round(m["comparisons"] / max(m["records"], 1), 1))
            lines.append(f"{r['set']:<34}{who:<6}{m['records']:>9,}{m['comparisons']:>12,}{per:>6}{m['blocking_recall']:>8.4f}"
                         f"{m['precision']:>8.4f}{m['recall']:>8.4f}{m['f1']:>8.4f}{m['persons_split']:>8.4f}"
                         f"{m['clusters_merged_wrongly']:>8.4f}{seconds:>9.0f}")
    return "\n".join(lines)


ARRIVAL_SETS = ["crm_pairs:10000", "febrl4", "febrl4_undeclared"]


def deliveries(data: linkage_sets.LinkageSet, parts: int) -> list[dict[str, pd.DataFrame]]:
    """The set's records as a data team onboards them: FEBRL4's file A first and B later (one source a
    delivery); any other set's sources each cut into `parts` slices, slice k of every source in delivery k."""
    frames = {s["name"]: pd.read_parquet(s["path"]) for s in data.sources}
    if data.name.startswith("febrl4"):
        return [{name: frame} for name, frame in frames.items()]
    return [{name: frame.iloc[k::parts] for name, frame in frames.items()} for k in range(parts)]


def arrival_run(data: linkage_sets.LinkageSet, folder: Path, landed: list[dict[str, pd.DataFrame]], truth_all: pd.DataFrame,
                spark_memory: str) -> dict:
    """Land `landed` (deliveries, in order) as files and run bronze and silver after each; returns the last
    run's figures (records, F1 against the truth of the records landed so far, model, retrain action)."""
    sources = [{**s, "path": str(folder / "landing" / s["name"] / "part_*.parquet")} for s in data.sources]
    config = config_for(linkage_sets.LinkageSet(data.name, sources, data.truth, data.link_only), folder.parent,
                        spark_memory, name=folder.name)
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    summary: dict = {}
    for k, delivery in enumerate(landed, start=1):
        for name, frame in delivery.items():
            target = folder / "landing" / name / f"part_{k:02d}.parquet"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                frame.to_parquet(target, index=False)
        if k < len(landed) and (folder / "warehouse").exists():
            continue  # an earlier call already ran this delivery
        ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
        pipeline.run(ctx, "bronze")
        summary = pipeline.run(ctx, "silver")["silver"]
    keys = {f"{name}:{rid}" for d in landed for name, frame in d.items() for rid in frame[_id_column(data, name)]}
    truth = spark.createDataFrame(truth_all[truth_all.record_key.isin(keys)].astype(str))
    quality = evaluate(store.read("silver.identity_map"), truth)
    retrain = summary.get("linkage", {}).get("retrain", {})
    return {"records": len(keys), "f1": quality["f1"], "precision": quality["precision"], "recall": quality["recall"],
            "model_version": summary.get("model_version"), "retrain": retrain.get("action"), "due": retrain.get("due"),
            "incremental": summary.get("mode", {}).get("incremental"),
            "provisional": (summary.get("linkage", {}).get("model") or {}).get("provisional")}


def _id_column(data: linkage_sets.LinkageSet, source: str) -> str:
    return next(s["id"] for s in data.sources if s["name"] == source)


def arrival(spec: str, args: argparse.Namespace) -> list[dict]:
    """One set delivered in parts: after every delivery, F1 of the warehouse that took them one run apart
    against one run over the same records landed at once (a fresh warehouse, a model trained on them)."""
    work = Path(args.work) / "arrival"
    data = load_set(spec, work, args.seed)
    parts = deliveries(data, args.parts)
    shutil.rmtree(work / data.name / "arrived", ignore_errors=True)
    rows = []
    for k in range(1, len(parts) + 1):
        arrived = arrival_run(data, work / data.name / "arrived", parts[:k], data.truth, args.driver_memory)
        shutil.rmtree(work / data.name / f"at_once_{k}", ignore_errors=True)
        at_once = arrival_run(data, work / data.name / f"at_once_{k}", [_merged(parts[:k])], data.truth, args.driver_memory)
        rows.append({"set": data.name, "delivery": k, "of": len(parts), "records": arrived["records"],
                     "arrived": arrived, "at_once": at_once, "difference": round(at_once["f1"] - arrived["f1"], 4)})
        print(json.dumps(rows[-1], default=str), flush=True)
    return rows


def _merged(landed: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Every delivery's rows of each source as one file."""
    out: dict[str, list[pd.DataFrame]] = {}
    for delivery in landed:
        for name, frame in delivery.items():
            out.setdefault(name, []).append(frame)
    return {name: pd.concat(frames) for name, frames in out.items()}


def arrival_table(rows: list[dict]) -> str:
    """Markdown: per set and delivery, F1 as the data arrived against F1 with the same records at once."""
    head = ["set", "delivery", "records", "model (retrain)", "F1 as arrived", "F1 at once", "difference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        a = r["arrived"]
        model = f"v{a['model_version']} ({a['retrain']})" if a["model_version"] else f"none ({a['retrain']})"
        lines.append(f"| {r['set']} | {r['delivery']}/{r['of']} | {r['records']:,} | {model} | {a['f1']:.4f} | "
                     f"{r['at_once']['f1']:.4f} | {r['difference']:+.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench-silver"))
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--no-peer", action="store_true", help="skip the plain-Splink peer")
    parser.add_argument("--guards", action="store_true", help="measure what each linkage guard keeps out")
    parser.add_argument("--sizes", nargs="+", type=int, help="speed: these numbers of generated person records")
    parser.add_argument("--backends", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--arrival", nargs="*", metavar="SET",
                        help=f"arrival order: these sets (default {' '.join(ARRIVAL_SETS)}) delivered in parts, "
                             "F1 after every delivery against one run over the same records at once")
    parser.add_argument("--parts", type=int, default=5, help="deliveries a set other than febrl4 is cut into")
    args = parser.parse_args()
    # progress of each step on stderr; the figures go to stdout
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("c360").setLevel(logging.INFO)
    if args.arrival is not None:
        rows = [row for spec in (args.arrival or ARRIVAL_SETS) for row in arrival(spec, args)]
        print("\n" + arrival_table(rows))
        bench_results.record("silver-arrival", rows)
        return 0
    if args.sizes:
        rows = [row for size in args.sizes for row in speed(size, args)]
        print("\n" + speed_table(rows))
        bench_results.record("silver-speed", rows)
        return 0
    rows = []
    for spec in args.sets:
        rows.append(bench(spec, args))
        print(json.dumps(rows[-1], default=str), flush=True)
    print("\n" + table(rows))
    bench_results.record("silver-quality", rows)
    for r in rows:
        for name, g in r.get("guards", {}).items():
            print(f"{r['set']:<34}guard {name:<22} keeps out {g['true_pairs_kept_out']:>7,} true and "
                  f"{g['false_pairs_kept_out']:>7,} false linked pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Silver linkage at several sizes: comparisons, training and prediction seconds, peak memory, F1 — and the
same model settings on the same records with plain Splink on DuckDB, for the time ratio and both F1s.

    python scripts/bench_silver.py --people 6600 66000 660000 [--work DIR] [--driver-memory 12g] [--no-duckdb]

About 1.5 person records per person: 6,600 / 66,000 / 660,000 people give ~10k / 100k / 1M records.
Landing data and bronze are generated once per size and reused; silver (and its model) is rebuilt each time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_bronze import jvm_memory  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from c360 import pipeline  # noqa: E402
from c360.config import parse_config  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.silver import linkage, model as model_store  # noqa: E402
from c360.silver.evaluation import evaluate  # noqa: E402
from c360.storage import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def config_for(landing: Path, warehouse: Path, driver_memory: str):  # noqa: ANN201
    """conf/demo.yaml pointed at this size's landing data and warehouse; also written beside the warehouse
    (`<warehouse>.yaml`) so `c360 evaluate`, `c360 sql` and `c360 run` can be pointed at the same tables."""
    demo = yaml.safe_load((ROOT / "conf" / "demo.yaml").read_text())
    for source in demo["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(landing))
    demo.update(warehouse=str(warehouse), engine="delta-rs")
    demo["spark"]["driver_memory"] = driver_memory
    path = warehouse.with_suffix(".yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    return parse_config(demo, path)


def truth_frame(spark, landing: Path):  # noqa: ANN001, ANN201
    truth = spark.read.csv(str(landing / "truth" / "person_records_b01.csv"), header=True)
    return truth.select(F.concat_ws(":", "source", "source_record_id").alias("record_key"), "true_id")


def duckdb_run(keys_pdf, train_pdf, config, truth_pdf) -> dict:  # noqa: ANN001
    """Plain Splink on DuckDB: same settings, same training steps on a training sample of the same size,
    predict on all records, Splink's own clustering."""
    import duckdb
    import pandas as pd
    from splink import DuckDBAPI, Linker

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    api = DuckDBAPI(connection=con)
    trainer = Linker(api.register(train_pdf), linkage.settings(), log_level=logging.WARNING)
    started = time.monotonic()
    settings = config.silver.linkage
    linkage.train(trainer, linkage.TrainingOptions(u_max_pairs=settings.u_max_pairs, seed=settings.seed))
    train_s = time.monotonic() - started
    linker = Linker(api.register(keys_pdf), trainer.misc.save_model_to_json(), log_level=logging.WARNING)
    started = time.monotonic()
    predictions = linker.inference.predict(threshold_match_probability=min(0.5, settings.threshold))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, settings.threshold)
    frame = clusters.as_pandas_dataframe()[["record_key", "cluster_id"]]
    predict_s = time.monotonic() - started
    pairs = frame.merge(truth_pdf, on="record_key")
    cells = pairs.groupby(["cluster_id", "true_id"]).size()
    tp = int((cells * (cells - 1) // 2).sum())
    pred = pairs.groupby("cluster_id").size()
    true = pairs.groupby("true_id").size()
    p_pairs, t_pairs = int((pred * (pred - 1) // 2).sum()), int((true * (true - 1) // 2).sum())
    precision, recall = tp / max(p_pairs, 1), tp / max(t_pairs, 1)
    del pd
    return {"train_s": round(train_s, 1), "predict_cluster_s": round(predict_s, 1), "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4)}


def bench(people: int, args: argparse.Namespace) -> dict:
    work = Path(args.work)
    landing = work / f"landing-{people}-{args.seed}"
    if not (landing / "truth" / "manifest_b01.json").exists():
        generate(people, landing, seed=args.seed)
    warehouse = work / f"warehouse-{people}-delta-rs"
    config = config_for(landing, warehouse, args.driver_memory)
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    if not store.exists("bronze.crm_contacts"):
        pipeline.run(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), "bronze")
    for folder in ("silver", "_models", "_reports"):
        shutil.rmtree(warehouse / folder, ignore_errors=True)
    started = time.monotonic()
    summary = pipeline.run(pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id()), "silver")["silver"]
    silver_s = time.monotonic() - started
    trained = model_store.latest(model_store.model_dir(config)).metadata()
    truth = truth_frame(spark, landing).cache()
    quality = evaluate(store.read("silver.identity_map"), truth)
    result = {
        "people": people, "person_records": summary["person_records"], "comparisons": summary["comparisons"],
        "silver_s": round(silver_s, 1), "train_s": trained["seconds"], "train_records": trained["records"], "predict_s": summary["predict_seconds"],
        "clustering_s": summary["clustering_seconds"], "clustering_rounds": summary["clustering_rounds"],
        "precision": quality["precision"], "recall": quality["recall"], "f1": quality["f1"],
        **jvm_memory(spark), "python_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if not args.no_duckdb:
        keys = linkage.linkage_input(store.read("silver.person_records")).cache()
        sample = linkage.training_sample(keys, config.silver.linkage.train_max_records, config.silver.linkage.seed)
        result["duckdb"] = duckdb_run(keys.toPandas(), sample.toPandas(), config, truth.toPandas())
        spark_s = result["train_s"] + result["predict_s"]
        duck_s = result["duckdb"]["train_s"] + result["duckdb"]["predict_cluster_s"]
        result["duckdb_time_ratio"] = round(duck_s / spark_s, 2) if spark_s else math.nan
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[6_600, 66_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench"))
    parser.add_argument("--driver-memory", default="12g")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the plain-Splink-on-DuckDB comparison")
    args = parser.parse_args()
    # progress of each step (training, scoring, clustering rounds) on stderr; the figures go to stdout
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("c360").setLevel(logging.INFO)
    rows = []
    for people in args.people:
        row = bench(people, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'records':>10}{'comparisons':>13}{'train s':>9}{'predict s':>10}{'cluster s':>10}{'silver s':>10}{'JVM MiB':>9}"
          f"{'P':>8}{'R':>8}{'F1':>8}{'duck train+pred s':>19}{'duck F1':>9}{'duck/spark':>11}")
    for r in rows:
        duck = r.get("duckdb", {})
        print(f"{r['person_records']:>10,}{r['comparisons']:>13,}{r['train_s']:>9.0f}{r['predict_s']:>10.0f}{r['clustering_s']:>10.0f}"
              f"{r['silver_s']:>10.0f}{r['jvm_peak_rss_mib']:>9,}{r['precision']:>8.4f}{r['recall']:>8.4f}{r['f1']:>8.4f}"
              f"{duck.get('train_s', 0) + duck.get('predict_cluster_s', 0):>19.0f}{duck.get('f1', float('nan')):>9.4f}"
              f"{r.get('duckdb_time_ratio', float('nan')):>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

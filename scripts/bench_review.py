"""Stewards in the loop, measured on data `c360 generate` did not write (FEBRL3, and crm_pairs at 10k).

A simulated steward answers every pair `c360 review` queues (vetoed, uncertain and bridging pairs) from the
truth; after each budget of labels (0, 50, 100, 200, 500 in all) silver runs again, incrementally on the
labels alone. Printed per set and budget: precision, recall and F1 against the truth, F1 on the pairs nobody
labelled, how many of the true pairs blocking reaches that c360 missed without labels the labels recovered,
and the run's seconds; then the same after `c360 train --use-labels` on every label given and a silver run
with the new version (with what the labels said of it against the version before). Then, over 100 resamples of 200 random links labelled from the truth, how often the
95 % interval of `c360 evaluate --labels` covers the true precision, on these sets and on one whose
precision is below 1 (`c360 generate`'s, by default). Results go through bench_results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bench_results  # noqa: E402
import bench_silver  # noqa: E402

from c360 import pipeline  # noqa: E402
from c360.pipeline import last_summary  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.silver.evaluation import reached_pairs  # noqa: E402
from c360.silver.label_training import describe  # noqa: E402
from c360.silver.model_choice import train_now  # noqa: E402
from c360.silver.stage import all_person_records  # noqa: E402
from c360.silver.linkage.keys import linkage_input  # noqa: E402
from c360.steward import actions, review  # noqa: E402
from c360.steward.estimates import Share  # noqa: E402
from c360.steward.labels import Label  # noqa: E402
from c360.storage import open_store  # noqa: E402

BUDGETS = (0, 50, 100, 200, 500)
QUEUE = ("vetoed", "uncertain", "bridges")
Pair = tuple[str, str]


def pairs_within(groups: pd.Series) -> set[Pair]:
    """Every pair of keys (in order) sharing a group: `groups` maps record_key (index) to a group id."""
    out: set[Pair] = set()
    for keys in groups.groupby(groups).groups.values():
        out.update(combinations(sorted(keys), 2))
    return out


def scores(predicted: set[Pair], true: set[Pair], left_out: set[Pair] = frozenset()) -> dict:  # type: ignore[assignment]
    """Pairwise precision, recall and F1 over the pairs not in `left_out`."""
    p, t = predicted - left_out, true - left_out
    hit = len(p & t)
    precision = hit / len(p) if p else 1.0
    recall = hit / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5)}


def answers(rows: list, true_id: dict[str, str]) -> list[Label]:
    """The simulated steward: match when the truth gives both records one person."""
    out = []
    for r in rows:
        left, right = f"{r['source_l']}:{r['source_record_id_l']}", f"{r['source_r']}:{r['source_record_id_r']}"
        if left in true_id and right in true_id:
            label = "match" if true_id[left] == true_id[right] else "non-match"
            out.append(Label.of(left, right, label, queue=r["kind"], stratum=r["stratum"], weight=r["weight"]))
    return out


def predicted_pairs(store) -> set[Pair]:  # noqa: ANN001
    ids = store.read("silver.identity_map").select("record_key", "customer_id").toPandas()
    return pairs_within(ids.set_index("record_key")["customer_id"])


def coverage(predicted: set[Pair], true: set[Pair], resamples: int, size: int, seed: int) -> dict:
    """How often Jeffreys' 95 % interval from `size` random links labelled from the truth covers the true
    precision of the links."""
    links = np.array([pair in true for pair in sorted(predicted)])
    truth = float(links.mean())
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(resamples):
        sample = rng.choice(links, size=min(size, len(links)), replace=False)
        low, high = Share(int(sample.sum()), len(sample), len(links)).interval()
        covered += low <= truth <= high
    return {"true_precision": round(truth, 5), "resamples": resamples, "sample": size, "covered": covered}


def landed(spec: str, args: argparse.Namespace):  # noqa: ANN201 - (data, store, a context maker, seconds)
    """One set after bronze and a first silver run (a model trained on it)."""
    work = Path(args.work)
    data = bench_silver.load_set(spec, work, args.seed)
    config = bench_silver.config_for(data, work, args.driver_memory, name=f"review-{data.name}")
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)

    def ctx() -> pipeline.RunContext:
        return pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())

    started = time.monotonic()
    for stage in ("bronze", "silver"):
        pipeline.run(ctx(), stage)
    return data, store, ctx, time.monotonic() - started


def set_coverage(spec: str, args: argparse.Namespace) -> dict:
    """The interval's coverage on the links of a set whose precision is below 1 (no labels given)."""
    data, store, _, _ = landed(spec, args)
    true = pairs_within(data.truth.set_index("record_key")["true_id"].astype(str))
    return {"set": data.name, **coverage(predicted_pairs(store), true, args.resamples, 200, args.seed)}


def bench(spec: str, args: argparse.Namespace) -> tuple[list[dict], dict]:
    """The learning curve of one set, and the interval's coverage on its links before any label."""
    data, store, ctx, first_s = landed(spec, args)
    spark = store.spark
    true_id = dict(zip(data.truth.record_key, data.truth.true_id.astype(str), strict=True))
    true = pairs_within(data.truth.set_index("record_key")["true_id"].astype(str))
    rules = last_summary(store, "silver._runs")["linkage"]["spec"]["blocking_rules"]
    keys = linkage_input(store.read("silver.person_records"))
    exact = store.read("silver.match_pairs").where(F.col("method").startswith("exact"))
    truth_frame = spark.createDataFrame(data.truth.assign(true_id=data.truth.true_id.astype(str)))
    reached = {(r[0], r[1]) for r in reached_pairs(keys, truth_frame, rules, exact).where("blocked").collect()}
    rows, labelled, missed = [], set(), set()
    spent = {0: round(first_s, 1)}
    for budget in BUDGETS:
        need = budget - len(labelled)
        if need > 0:
            queued = review.build(ctx(), QUEUE, need).collect()
            given = answers([r.asDict() for r in queued], true_id)
            actions.record(ctx(), given, actions.REVIEW, "simulated steward", f"bench-{budget}.csv")
            labelled |= {(x.record_key_l, x.record_key_r) for x in given}
            started = time.monotonic()
            pipeline.run(ctx(), "silver")
            spent[budget] = round(time.monotonic() - started, 1)
        predicted = predicted_pairs(store)
        if budget == 0:
            missed = (reached & true) - predicted
        overall, unlabelled = scores(predicted, true), scores(predicted, true, labelled)
        row = {"set": data.name, "labels": len(labelled), "budget": budget, **overall,
               "f1_unlabelled_pairs": unlabelled["f1"], "missed_reachable": len(missed),
               "recovered": len(missed & predicted), "silver_s": spent.get(budget)}
        print(f"  {data.name} {len(labelled):>4} labels: P {row['precision']:.4f} R {row['recall']:.4f} "
              f"F1 {row['f1']:.4f} (unlabelled pairs {row['f1_unlabelled_pairs']:.4f}); recovered "
              f"{row['recovered']} of {len(missed)} missed reachable pairs", file=sys.stderr)
        rows.append(row)
        if budget == 0:
            cover = {"set": data.name, **coverage(predicted, true, args.resamples, 200, args.seed)}
    rows.append(retrained(data.name, store, ctx, true, labelled, missed))
    return rows, cover


def retrained(name: str, store, ctx, true: set[Pair], labelled: set[Pair], missed: set[Pair]) -> dict:  # noqa: ANN001
    """`c360 train --use-labels` on every label given, then a silver run with the new version: the scores,
    and what the labels said of the new version against the one before."""
    started = time.monotonic()
    saved, _, _ = train_now(ctx(), all_person_records(ctx()), use_labels=True)
    pipeline.run(ctx(), "silver")
    verdict = saved.metadata()["labels"]
    predicted = predicted_pairs(store)
    overall, unlabelled = scores(predicted, true), scores(predicted, true, labelled)
    row = {"set": name, "labels": len(labelled), "budget": "retrained", **overall,
           "f1_unlabelled_pairs": unlabelled["f1"], "missed_reachable": len(missed), "recovered": len(missed & predicted),
           "silver_s": round(time.monotonic() - started, 1), "threshold": verdict["threshold"],
           "labelled_before": verdict.get("before"), "labelled_after": verdict["after"]}
    print(f"  {name} retrained on {len(labelled)} labels: P {row['precision']:.4f} R {row['recall']:.4f} F1 {row['f1']:.4f}; "
          + "; ".join(describe(verdict)), file=sys.stderr)
    return row


def table(rows: list[dict], covers: list[dict]) -> str:
    head = "| set | labels | precision | recall | F1 | F1 unlabelled pairs | missed reachable recovered | silver s |\n|---|---|---|---|---|---|---|---|\n"
    body = "".join(f"| {r['set']} | {r['labels']}{' + retrained' if r['budget'] == 'retrained' else ''} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
                   f"{r['f1_unlabelled_pairs']:.4f} | {r['recovered']} of {r['missed_reachable']} | {r['silver_s']} |\n" for r in rows)
    cover = "".join(f"\n{c['set']}: the 95% interval from {c['sample']} random labelled links covered the true precision "
                    f"{c['true_precision']:.4f} in {c['covered']} of {c['resamples']} resamples" for c in covers)
    return head + body + cover


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["febrl3", "crm_pairs:10000"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--coverage-sets", nargs="*", default=["generated:20000"],
                        help="sets measured for the interval's coverage only (one whose precision is below 1)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench-review"))
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()
    rows, covers = [], []
    for spec in args.sets:
        found, cover = bench(spec, args)
        rows += found
        covers.append(cover)
    covers += [set_coverage(spec, args) for spec in args.coverage_sets]
    print(table(rows, covers))
    bench_results.record("review", [*rows, *({"coverage": True, **c} for c in covers)])
    return 0


if __name__ == "__main__":
    sys.exit(main())

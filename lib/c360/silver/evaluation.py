"""How well the identity map matches a ground truth: pairwise precision/recall/F1 and cluster measures.

Pairwise: every pair of records in the same predicted cluster is a predicted link, every pair with the same
true id a true link. Counting pairs per (customer, true id) cell keeps it linear in the record count:
a cluster of n records holds n(n-1)/2 pairs. Cluster measures say how it fails: the share of true persons
split over several customer ids (missed links) and the share of customer ids that merge several persons
(wrong links, the worse failure: one person sees another's data).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def _pairs(counted: DataFrame, keys: list[str]) -> int:
    """Sum of n(n-1)/2 over the groups of `keys` in a (keys..., n) frame."""
    grouped = counted.groupBy(*keys).agg(F.sum("n").alias("n"))
    return int(grouped.select(F.sum(F.col("n") * (F.col("n") - 1) / 2)).first()[0] or 0)


def current_truth(truth: DataFrame) -> DataFrame:
    """(record_key, true_id) from truth rows (source, source_record_id, true_id, optional deleted, _file):
    a record listed by several batches' files counts as the newest file (by name) says, and a record that
    file marks deleted is left out."""
    newest = Window.partitionBy("source", "source_record_id").orderBy(F.col("_file").desc())
    latest = truth.withColumn("_n", F.row_number().over(newest)).where("_n = 1")
    if "deleted" in truth.columns:
        latest = latest.where(~F.coalesce(F.lower("deleted") == "true", F.lit(False)))
    return latest.select(F.concat_ws(":", "source", "source_record_id").alias("record_key"), "true_id")


def evaluate(identity_map: DataFrame, truth: DataFrame) -> dict:
    """Compare (record_key, customer_id) with (record_key, true_id); records only on one side are counted
    and left out of the measures, and the truth's records missing from the identity map are counted per
    source (a whole source gone missing shows there)."""
    predicted = identity_map.select("record_key", "customer_id").distinct()
    joined = predicted.join(truth.select("record_key", "true_id").distinct(), "record_key")
    cells = joined.groupBy("customer_id", "true_id").agg(F.count("*").alias("n")).cache()
    true_positive = _pairs(cells, ["customer_id", "true_id"])
    predicted_pairs = _pairs(cells, ["customer_id"])
    true_pairs = _pairs(cells, ["true_id"])
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_person = cells.groupBy("true_id").agg(F.count("*").alias("clusters"))
    per_cluster = cells.groupBy("customer_id").agg(F.count("*").alias("persons"))
    persons, split = per_person.select(F.count("*"), F.sum((F.col("clusters") > 1).cast("int"))).first()
    clusters, merged = per_cluster.select(F.count("*"), F.sum((F.col("persons") > 1).cast("int"))).first()
    matched = int(cells.select(F.sum("n")).first()[0] or 0)
    result = {
        "records_compared": matched,
        "records_only_in_identity_map": predicted.count() - matched,
        "records_only_in_truth": truth.select("record_key").distinct().count() - matched,
        "true_persons": int(persons), "customer_ids": int(clusters),
        "pairs": {"true_positive": true_positive, "predicted": predicted_pairs, "true": true_pairs,
                  "false_positive": predicted_pairs - true_positive, "false_negative": true_pairs - true_positive},
        "precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5),
        "persons_split_share": round((split or 0) / persons, 5) if persons else 0.0,
        "clusters_wrongly_merged_share": round((merged or 0) / clusters, 5) if clusters else 0.0,
    }
    missing = (truth.select("record_key").distinct().join(predicted, "record_key", "left_anti")
               .groupBy(F.split("record_key", ":").getItem(0).alias("source")).count().collect())
    result["records_only_in_truth_by_source"] = {r["source"]: r["count"] for r in sorted(missing)}
    cells.unpersist()
    return result


def format_report(result: dict) -> str:
    """The evaluation as a few aligned lines of text."""
    pairs = result["pairs"]
    return "\n".join([
        f"records compared      {result['records_compared']:,} "
        f"(only in identity map: {result['records_only_in_identity_map']:,}, only in truth: {result['records_only_in_truth']:,})",
        f"true persons          {result['true_persons']:,}   customer ids {result['customer_ids']:,}",
        f"pairwise precision    {result['precision']:.4f}   ({pairs['false_positive']:,} wrong links of {pairs['predicted']:,})",
        f"pairwise recall       {result['recall']:.4f}   ({pairs['false_negative']:,} missed links of {pairs['true']:,})",
        f"pairwise F1           {result['f1']:.4f}",
        f"persons split         {result['persons_split_share']:.2%}",
        f"clusters merged wrong {result['clusters_wrongly_merged_share']:.2%}",
        *([f"missed records        {', '.join(f'{s} {n:,}' for s, n in result['records_only_in_truth_by_source'].items())}"
           " (in the truth, not in the identity map)"] if result.get("records_only_in_truth_by_source") else []),
    ])


def true_pairs(truth: DataFrame) -> DataFrame:
    """(record_key_l, record_key_r) for every pair of records with the same true id, l < r."""
    t = truth.select("record_key", "true_id").distinct()
    return (t.alias("a").join(t.alias("b"), "true_id").where(F.col("a.record_key") < F.col("b.record_key"))
            .select(F.col("a.record_key").alias("record_key_l"), F.col("b.record_key").alias("record_key_r")))


def reached_pairs(keys: DataFrame, truth: DataFrame, rules: list[str], exact_edges: DataFrame | None = None) -> DataFrame:
    """(record_key_l, record_key_r, blocked) of every true pair: whether a blocking rule (SQL over l./r. match
    keys) generates it or deterministic stitching (`exact_edges`: record_key_l, record_key_r) joins it."""
    pairs = true_pairs(truth)
    joined = (pairs.join(keys.alias("l"), F.col("record_key_l") == F.col("l.record_key"))
              .join(keys.alias("r"), F.col("record_key_r") == F.col("r.record_key")))
    blocked = F.lit(False)
    for rule in rules:
        blocked = blocked | F.coalesce(F.expr(rule), F.lit(False))
    flagged = joined.select("record_key_l", "record_key_r", blocked.alias("blocked"))
    if exact_edges is not None:
        a = exact_edges.select("record_key_l", "record_key_r")
        both = a.unionByName(a.select(F.col("record_key_r").alias("record_key_l"), F.col("record_key_l").alias("record_key_r")))
        flagged = flagged.join(both.withColumn("stitched", F.lit(True)), ["record_key_l", "record_key_r"], "left")
        flagged = flagged.withColumn("blocked", F.col("blocked") | F.coalesce("stitched", F.lit(False))).drop("stitched")
    return flagged


def blocking_recall(keys: DataFrame, truth: DataFrame, rules: list[str], exact_edges: DataFrame | None = None) -> dict:
    """Share of true pairs that a blocking rule generates or deterministic stitching joins (see
    reached_pairs): the ceiling of linkage recall."""
    flagged = reached_pairs(keys, truth, rules, exact_edges)
    total, hit = flagged.select(F.count("*"), F.sum(F.col("blocked").cast("int"))).first()
    return {"true_pairs": int(total), "reached": int(hit or 0), "blocking_recall": round((hit or 0) / total, 5) if total else 1.0}

"""When a linkage model must give way to a new one, and what replacing it would move.

A model learns the share of matches (its prior) and how much each level of agreement weighs (m by EM) from
the records present when it was trained. Trained on a thin first delivery (one source with no duplicates
inside, a few hundred records), it has almost nothing to learn from, and every later run would score with
it. So a model records its evidence, is saved as **provisional** when that evidence is thin, and every run
checks before it scores whether the data has outgrown the model (`due`). What a retrain would move among the
customers a trusted model decided is measured by `moved_customers` (the churn limit).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def provisional_reasons(training: Mapping, source_records: Mapping[str, int], min_pairs: int) -> list[str]:
    """Why a model trained with this evidence (`training`: TrainingResult.summary(); `source_records`: the
    records per source it was trained on) is too thin to decide later runs; empty when it is not."""
    reasons = []
    held = [s for s, n in source_records.items() if n > 0]
    found = int(training.get("prior_pairs") or 0)
    if found < min_pairs:
        where = (f" in one source ({held[0]}) that looks free of duplicates" if len(held) == 1 else "")
        reasons.append(f"its prior rule found {found} pairs{where} (fewer than silver.linkage.min_prior_pairs = {min_pairs})")
    sessions = training.get("em_evidence") or {}
    if sessions and all(s["matches"] < min_pairs for s in sessions.values()):
        most = max(s["matches"] for s in sessions.values())
        reasons.append(f"no EM session converged on more than {most} matching pairs (fewer than {min_pairs})")
    return reasons


def due(metadata: Mapping | None, source_records: Mapping[str, int], pairs: int, growth: float) -> list[str]:
    """Why the model (its saved `metadata`; None: no model) should be retrained for these records
    (`source_records`: person records per source now; `pairs`: pairs the model may compare among them);
    empty when it fits. A model saved before c360 kept its evidence is judged by its record count alone."""
    if metadata is None:
        return ["there is no model yet, and the person records now have pairs to compare"] if pairs > 0 else []
    version = f"model v{metadata.get('version')}"
    reasons = []
    if metadata.get("provisional"):
        reasons.append(f"{version} is provisional ({'; '.join(metadata.get('provisional_reasons', []))})")
    seen = metadata.get("source_records")
    if seen is not None:
        new = sorted(s for s, n in source_records.items() if n > 0 and not seen.get(s))
        if new:
            reasons.append(f"{version} never saw source{'s' if len(new) > 1 else ''} {', '.join(new)}, which now "
                           f"hold{'' if len(new) > 1 else 's'} {sum(source_records[s] for s in new):,} records")
    trained_on = int(metadata.get("of_records") or 0)
    now = sum(source_records.values())
    if trained_on and now > growth * trained_on:
        reasons.append(f"person records grew from {trained_on:,} when {version} was trained to {now:,} "
                       f"(more than silver.linkage.retrain_growth = {growth:g} times)")
    return reasons


def moved_customers(previous: DataFrame, now: DataFrame, changed: DataFrame | None = None) -> tuple[int, int]:
    """(customers moved, customers compared): of the earlier customers (`previous`: record_key, customer_id),
    how many no longer hold exactly the same records as one customer of `now` (record_key, customer_id).
    Only records in both and not among `changed` (record_key) count, so what a batch brings (new records
    joining a customer, deleted ones leaving) is not counted as moved; a merge moves every customer it joins,
    a split the customer it splits."""
    both = (previous.select("record_key", F.col("customer_id").alias("old"))
            .join(now.select("record_key", F.col("customer_id").alias("new")), "record_key"))
    if changed is not None:
        both = both.join(changed.select("record_key"), "record_key", "left_anti")
    links = both.select("old", "new").distinct()
    news = links.groupBy("old").agg(F.count("*").alias("news"))
    olds = links.groupBy("new").agg(F.count("*").alias("olds"))
    counted = links.join(news, "old").join(olds, "new").agg(
        F.countDistinct("old").alias("customers"),
        F.count(F.when((F.col("news") == 1) & (F.col("olds") == 1), 1)).alias("kept")).first()
    customers = int(counted["customers"] or 0)
    return customers - int(counted["kept"] or 0), customers

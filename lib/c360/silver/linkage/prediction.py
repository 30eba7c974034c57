"""Scoring: blocked comparison counts, predictions (on either backend), and the first-name conflict guard
(pairs whose records name two different first names never link)."""

from __future__ import annotations

import copy
import warnings

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from splink import Linker

from c360.errors import C360Error
from c360.silver.linkage import comparisons as comps
from c360.silver.linkage.backends.base import LinkageBackend
from c360.silver.linkage.partners import CHANGED


ESTIMATE_SAMPLE = 0.05  # records per side Splink's count estimate joins: 1/400 of the pairs


def flag_changed(keys: DataFrame, changed: DataFrame) -> DataFrame:
    """`keys` with CHANGED true for the records in `changed` (record_key), false for the rest."""
    marked = changed.select("record_key").distinct().withColumn(CHANGED, F.lit(True))
    return keys.join(marked, "record_key", "left").withColumn(CHANGED, F.coalesce(CHANGED, F.lit(False)))


def only_changed_pairs(settings: dict) -> dict:
    """`settings` whose prediction blocking rules keep, of the pairs a full run blocks, those with a record
    flagged CHANGED: every existing record any rule pairs a changed one with, and changed ones among
    themselves. Each rule keeps its equality conditions, so blocking stays a join on them."""
    out = copy.deepcopy(settings)
    touching = f"(l.{CHANGED} or r.{CHANGED})"
    out["blocking_rules_to_generate_predictions"] = [
        {**rule, "blocking_rule": f"({rule['blocking_rule']}) and {touching}"} if isinstance(rule, dict)
        else f"({rule}) and {touching}" for rule in settings["blocking_rules_to_generate_predictions"]]
    return out


def _counted(linker: Linker, proportion: float) -> list[dict]:
    with warnings.catch_warnings():
        # Splink warns that an estimate from few sampled pairs is unstable: it only decides whether to count exactly
        warnings.simplefilter("ignore", UserWarning)
        records = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=proportion)
    return [{"rule": r["blocking_rule"], "comparisons": int(r["marginal_comparison_count"]),
             "cumulative": int(r["cumulative_comparison_count"])} for r in records]


def comparison_counts(linker: Linker, limit: float) -> list[dict]:
    """Comparisons each prediction blocking rule adds (after the earlier rules), exact; stops before
    predicting when they would pass `limit` (see check_comparisons).

    Splink's exact count joins every rule once more (16 s at a million records on DuckDB, a minute on Spark),
    so the total is first estimated on a 5% record sample per side; only an estimate near the limit is counted
    exactly before anything is built. Then the blocked pairs are built once, counted per rule from that
    table, and predict() scores them from Splink's cache."""
    estimate = _counted(linker, ESTIMATE_SAMPLE)
    if estimate and estimate[-1]["cumulative"] > limit / 4:
        check_comparisons(_counted(linker, 1.0), limit)
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    found = linker.misc.query_sql(f"select match_key, count(*) as n from {blocked.physical_name} group by match_key",
                                  output_type="pandas")
    per_rule = {str(k): int(n) for k, n in zip(found["match_key"], found["n"], strict=True)}
    counts, total = [], 0
    for key, row in enumerate(estimate):
        total += per_rule.get(str(key), 0)
        counts.append({"rule": row["rule"], "comparisons": per_rule.get(str(key), 0), "cumulative": total})
    check_comparisons(counts, limit)  # an estimate far off the mark still stops before scoring
    return counts


def check_comparisons(counts: list[dict], limit: float) -> None:
    """Stop before predicting when the blocking rules would generate more comparisons than `limit`."""
    total = counts[-1]["cumulative"] if counts else 0
    if total > limit:
        worst = max(counts, key=lambda c: c["comparisons"])
        raise C360Error(f"silver: the blocking rules would generate {total:,} comparisons (limit "
                        f"silver.linkage.max_comparisons = {limit:,.0f}); the largest is {worst['rule']} with "
                        f"{worst['comparisons']:,}. Tighten that rule or raise the limit.")


def level_gamma(model: dict, output: str, label: str | None = None) -> int | None:
    """Splink's gamma value of a comparison's level in a model (the levels after the null level count down
    to 0); the strongest level when `label` is None; None when the model has no such comparison or level."""
    found = [c for c in model.get("comparisons", []) if c.get("output_column_name") == output]
    if not found:
        return None
    labels = [lvl.get("label_for_charts") for lvl in found[0]["comparison_levels"] if not lvl.get("is_null_level")]
    if label is None:
        return len(labels) - 1
    return len(labels) - 1 - labels.index(label) if label in labels else None


def first_names_conflict(pairs: DataFrame, model: dict) -> Column:
    """Both records name a first name, the two differ by more than a typo, a nickname, an initial or a swap
    (the name comparison fell to 'last name equal only' or below 'first name similar only'), and their
    birth dates are not known to be equal. Family members share surname, address, phone and family e-mail,
    which naive Bayes adds up to a strong match; different first names say they are two people, unless the
    full birth date agrees too (a first name replaced or badly mistyped in one source; twins are the price)."""
    gammas = [g for g in (level_gamma(model, "name", label) for label in comps.NAME_CONFLICT_LEVELS) if g is not None]
    if "gamma_name" not in pairs.columns or not gammas:
        return F.lit(False)
    conflict = (F.col("first_name_key_l").isNotNull() & F.col("first_name_key_r").isNotNull()
                & F.col("gamma_name").isin(*gammas))
    dob = level_gamma(model, "date_of_birth")
    if dob is not None and "gamma_date_of_birth" in pairs.columns:
        conflict = conflict & (F.col("gamma_date_of_birth") != dob)
    return conflict


def predict(backend: LinkageBackend, linker: Linker, model: dict, min_probability: float) -> tuple[DataFrame, object]:
    """Scored pairs at or above `min_probability`: (record_key_l, record_key_r, match_probability,
    match_weight, first_names_conflict) as a Spark DataFrame, and Splink's own frame of them (for charts)."""
    predictions = linker.inference.predict(threshold_match_probability=min_probability)
    scored = backend.pairs(predictions)
    pairs = scored.select(
        "record_key_l", "record_key_r", F.col("match_probability").cast("double"), F.col("match_weight").cast("double"),
        first_names_conflict(scored, model).alias("first_names_conflict"))
    return pairs, predictions


def without_conflicts(scored: DataFrame) -> DataFrame:
    """The scored pairs that may link: those whose records do not name two different first names."""
    return scored.where(~F.col("first_names_conflict")).drop("first_names_conflict")

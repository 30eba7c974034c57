"""Why a pair scored as it did: the comparison level each comparison of the model put it in, with its weight.

The queued pairs' records are scored again with the model version in use and its saved term frequencies
(so each pair scores as it did in the run), on the run's linkage backend, over those records only: the
pairs the blocking rules generate among them hold every queued scored pair. A pair no rule blocks (a
deterministic link) gets no levels.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame

from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.spec import build as build_spec, profile
from c360.silver.linkage.backends import linkage_backend
from c360.silver.model_choice import in_use
from c360.silver.model_frequencies import scoring_linker
from c360.silver.tables import RECORDS

PAIR = ("record_key_l", "record_key_r")
SCHEMA = "record_key_l string, record_key_r string, levels string"


def level_names(model: dict) -> dict[str, dict[int, str]]:
    """Per comparison (output column name), gamma value -> the level's label (Splink's chart label)."""
    out = {}
    for comparison in model.get("comparisons", []):
        levels = comparison["comparison_levels"]
        ordered = [lvl for lvl in levels if not lvl.get("is_null_level")]
        names = {len(ordered) - 1 - i: lvl.get("label_for_charts", f"level {i}") for i, lvl in enumerate(ordered)}
        names[-1] = "null"
        out[comparison["output_column_name"]] = names
    return out


def describe(row: dict, names: dict[str, dict[int, str]]) -> str:
    """'name: exact match (+12.3); date_of_birth: null (0.0); ...': each comparison's level and its match
    weight (log2 Bayes factor), strongest first."""
    parts = []
    for column, by_gamma in names.items():
        gamma = row.get(f"gamma_{column}")
        if gamma is None:
            continue
        factor = row.get(f"bf_{column}")
        weight = math.log2(factor) if factor else 0.0
        parts.append((abs(weight), f"{column}: {by_gamma.get(int(gamma), gamma)} ({weight:+.1f})"))
    return "; ".join(text for _, text in sorted(parts, key=lambda p: -p[0]))


def levels(ctx: RunContext, pairs: DataFrame) -> DataFrame:
    """(record_key_l, record_key_r, levels) for `pairs`; levels null where the model does not score the pair."""
    model = in_use(ctx)
    wanted = pairs.select(*PAIR).distinct().collect()
    if model is None or not wanted:
        return local_frame(ctx.spark, [], SCHEMA)
    everyone = linkage_input(ctx.store.read(RECORDS))
    spec = build_spec(profile(everyone), ctx.config)  # the spec the run's records give (fields and sources)
    queued = {k for r in wanted for k in r}
    keys = everyone.join(local_frame(ctx.spark, [(k,) for k in sorted(queued)], "record_key string"),
                         "record_key", "left_semi").localCheckpoint()
    with linkage_backend(ctx, keys) as (backend, _):
        linker, settings = scoring_linker(ctx, backend, keys, spec, model, retain_intermediate_calculation_columns=True)
        names = level_names(settings)
        columns = [*PAIR, *(f"{p}_{c}" for c in names for p in ("gamma", "bf"))]
        predictions = linker.inference.predict()
        scored = backend.pairs(predictions, _available(predictions, columns)).collect()
    lookup = {(r["record_key_l"], r["record_key_r"]): describe(r.asDict(), names) for r in scored}
    return local_frame(ctx.spark, [(a, b, lookup.get((a, b))) for a, b in wanted], SCHEMA)


def _available(predictions: object, columns: list[str]) -> list[str]:
    """The `columns` Splink's prediction frame has (a comparison without term frequencies has no tf column)."""
    present = set(predictions.as_duckdbpyrelation().columns) if hasattr(predictions, "as_duckdbpyrelation") \
        else set(predictions.as_spark_dataframe().columns)  # type: ignore[attr-defined]
    return [c for c in columns if c in present]

"""One saved model for both linkage backends.

Splink saves a model with the SQL of the backend that trained it (Spark quotes with backticks and names its
similarity functions after Splink's jar; DuckDB has its own), so a model trained on one backend cannot be
loaded as it is on the other. The SQL is not what a model learned, though: the spec (comparisons, levels,
rules) says what to compute, the saved JSON says what each level weighs. `for_dialect` renders the spec for
the backend at hand and carries over the prior and every level's m and u (fixed values included); a model
whose levels do not line up with the spec's is refused rather than guessed at.
"""

from __future__ import annotations

from c360.errors import C360Error
from c360.silver.linkage.spec import ModelSpec, splink_settings

# what a trained level carries from one backend to the other
LEVEL_PARAMETERS = ("m_probability", "u_probability", "fix_m_probability", "fix_u_probability",
                    "tf_adjustment_weight", "tf_minimum_u_value")


def _levels(comparison: dict) -> list[dict]:
    return comparison.get("comparison_levels", [])


def _carry(source: dict, target: dict, name: str) -> None:
    """Copy a comparison's level parameters; refuse when the levels differ (another spec's model)."""
    theirs, ours = _levels(source), _levels(target)
    labels = [lvl.get("label_for_charts") for lvl in theirs]
    if labels != [lvl.get("label_for_charts") for lvl in ours]:
        raise C360Error(f"silver: the saved model's comparison {name!r} has other levels than this version of c360 "
                        "builds for it; train a new model version (`c360 train`)")
    for saved, rendered in zip(theirs, ours):
        for key in LEVEL_PARAMETERS:
            if key in saved:
                rendered[key] = saved[key]
            else:
                rendered.pop(key, None)


def for_dialect(model: dict, spec: ModelSpec, dialect: str) -> dict:
    """`model` (Splink settings with estimated parameters) with its SQL written for `dialect` ('spark',
    'duckdb'); returned unchanged when it is already in that dialect."""
    if model.get("sql_dialect") == dialect:
        return model
    rendered = splink_settings(spec).get_settings(dialect).as_dict()
    saved = {c.get("output_column_name"): c for c in model.get("comparisons", [])}
    names = [c.get("output_column_name") for c in rendered["comparisons"]]
    if sorted(saved) != sorted(names):
        raise C360Error(f"silver: the saved model compares {', '.join(sorted(saved))}, the spec "
                        f"{', '.join(sorted(names))}; train a new model version (`c360 train`)")
    for comparison in rendered["comparisons"]:
        _carry(saved[comparison["output_column_name"]], comparison, comparison["output_column_name"])
    rendered["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    return rendered

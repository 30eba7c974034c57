"""Data-quality gates checked on the new gold tables before any of them is published.

Gates: `customer_id` unique on the profile; every profile has a source record (in the cross-reference);
every source record's customer has a profile; every timeline event's customer has a profile; each golden
field at least as complete as `gold.quality.min_completeness` asks. Completeness of every golden field is
reported either way. A failed gate stops the stage before it writes, so readers keep the previous gold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import GOLDEN_FIELDS, QualitySettings


@dataclass
class GateReport:
    """Each gate's offending count (0 passes) and the share of profiles having each golden field."""

    violations: dict[str, int] = field(default_factory=dict)
    completeness: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def completeness(profiles: DataFrame) -> dict[str, float]:
    """Share of profiles with a value, per golden field (0.0 for an empty table)."""
    row = profiles.agg(F.count("*").alias("_n"), *[F.count(F.col(f)).alias(f) for f in GOLDEN_FIELDS]).first()
    total = row["_n"] or 0
    return {f: round(row[f] / total, 4) if total else 0.0 for f in GOLDEN_FIELDS}


def check(profiles: DataFrame, xref: DataFrame, timeline: DataFrame, settings: QualitySettings) -> GateReport:
    """Run every gate; the report lists each failure as a sentence naming the gate and an example id."""
    ids = profiles.select("customer_id")
    probes = {
        "duplicate customer_id": profiles.groupBy("customer_id").count().where("count > 1").select("customer_id"),
        "profile without a source record": ids.join(xref, "customer_id", "left_anti"),
        "source record without a profile": xref.select("customer_id").join(ids, "customer_id", "left_anti"),
        "interaction without a profile": timeline.select("customer_id").join(ids, "customer_id", "left_anti"),
        "null customer_id": profiles.where(F.col("customer_id").isNull()).select("customer_id"),
    }
    report = GateReport()
    for gate, offenders in probes.items():
        count = offenders.count()
        report.violations[gate] = count
        if count:
            example = offenders.first()["customer_id"]
            report.failures.append(f"{gate}: {count:,} (e.g. customer_id {example})")
    report.completeness = completeness(profiles)
    for name, minimum in settings.min_completeness.items():
        if report.completeness[name] < minimum:
            report.failures.append(f"completeness of {name}: {report.completeness[name]:.2%} < required {minimum:.2%}")
    return report

"""Quality without ground truth: precision and recall estimated from a steward's labels of the review queue's
stratified random sample (see review.random_sample).

The sample has two strata: links (pairs of records in one customer) and scored non-links (pairs Splink scored
at even odds or better whose records are in different customers). Labels of a stratum's pairs estimate the
share of true matches in it; with the strata's sizes now that gives

* precision = the share of true matches among links;
* recall among scored pairs = true matches among links / true matches among links and scored non-links.

Recall is measured among the pairs the blocking rules generate and Splink scores at even odds or better:
true pairs no blocking rule generates, or scored below even odds, are outside it. Each share gets Jeffreys'
interval (the Beta(1/2, 1/2) posterior's 2.5 % and 97.5 % points, 0 or 1 at the bound when none or all of
the labelled pairs match); recall's interval comes from drawing both shares from their posteriors. Only labels whose pair is still in the stratum it was sampled from count;
`unsure` counts nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.stats import beta

from c360.silver.tables import IDENTITY, MATCH_PAIRS, SCORED
from c360.steward.labels import LABELS, newest
from c360.storage import TableStore

PAIR = ("record_key_l", "record_key_r")
NOTE = ("recall is measured among the pairs the blocking rules generate and Splink scores at even odds or "
        "better; true pairs outside them are not counted")
DRAWS = 20_000


@dataclass(frozen=True)
class Share:
    """`matches` true matches among `labelled` pairs of a stratum of `size` pairs."""

    matches: int
    labelled: int
    size: int

    def posterior(self) -> beta:
        """The share of matches given the labels: Beta(matches + 1/2, non-matches + 1/2) (Jeffreys' prior)."""
        return beta(self.matches + 0.5, self.labelled - self.matches + 0.5)

    def interval(self) -> tuple[float, float]:
        """Jeffreys' 95 % interval, with 0 and 1 as the bounds when none or all are matches (Brown, Cai and
        DasGupta's boundary rule: the posterior's tail misses the truth exactly where it is all or nothing)."""
        low, high = (float(x) for x in self.posterior().ppf([0.025, 0.975]))
        return (0.0 if self.matches == 0 else low), (1.0 if self.matches == self.labelled else high)


def shares(labelled: DataFrame, links: int, non_links: int) -> dict[str, Share]:
    """Per stratum, the labelled random-sample pairs that are matches (`labelled`: stratum, label, still
    holding one row per pair)."""
    counts = {(r["stratum"], r["label"]): r["count"] for r in labelled.groupBy("stratum", "label").count().collect()}
    sizes = {"link": links, "non-link": non_links}
    return {s: Share(counts.get((s, "match"), 0), counts.get((s, "match"), 0) + counts.get((s, "non-match"), 0), n)
            for s, n in sizes.items()}


def estimate(found: dict[str, Share], seed: int = 7) -> dict:
    """Precision among links and recall among scored pairs with 95 % intervals and the sample sizes."""
    link, other = found["link"], found["non-link"]
    out: dict = {"links": link.size, "scored_non_links": other.size, "labelled": {"link": link.labelled, "non-link": other.labelled},
                 "note": NOTE}
    if link.labelled:
        low, high = link.interval()
        out["precision"] = {"estimate": link.matches / link.labelled, "low": low, "high": high}
    if link.labelled and (other.labelled or other.size == 0):
        rng = np.random.default_rng(seed)
        p_link = link.posterior().rvs(DRAWS, random_state=rng)
        p_other = other.posterior().rvs(DRAWS, random_state=rng) if other.labelled else np.zeros(DRAWS)
        found_true, missed = link.size * p_link, other.size * p_other
        draws = found_true / np.maximum(found_true + missed, 1e-12)
        point_other = other.matches / other.labelled if other.labelled else 0.0
        point = link.size * link.matches / link.labelled
        recall = point / (point + other.size * point_other) if point else 0.0
        out["recall_among_scored_pairs"] = {"estimate": recall, "low": float(np.quantile(draws, 0.025)),
                                            "high": float(np.quantile(draws, 0.975))}
    return out


def sample_labels(labels: DataFrame, links: DataFrame, non_links: DataFrame) -> DataFrame:
    """(stratum, label) of the newest match / non-match label of each random-sample pair still in its stratum
    (`links`, `non_links`: record_key_l, record_key_r)."""
    sampled = newest(labels.where(F.col("queue") == "random")).where(F.col("label").isin("match", "non-match"))
    now = (links.select(*PAIR).withColumn("_now", F.lit("link"))
           .unionByName(non_links.select(*PAIR).withColumn("_now", F.lit("non-link"))))
    return sampled.join(now, list(PAIR)).where(F.col("_now") == F.col("stratum")).select("stratum", "label")


def measured(store: TableStore, seed: int = 7) -> dict:
    """The estimates from the warehouse as it stands: its links, scored non-links and steward labels."""
    from c360.steward.review import with_customers  # the review queue's view of the pairs

    for table in (IDENTITY, MATCH_PAIRS, SCORED):
        store.require(table)
    identity = store.read(IDENTITY)
    same = F.col("customer_id_l") == F.col("customer_id_r")
    links = with_customers(store.read(MATCH_PAIRS).select(*PAIR), identity).where(same).select(*PAIR).localCheckpoint()
    non_links = with_customers(store.read(SCORED).select(*PAIR), identity).where(~same).select(*PAIR).localCheckpoint()
    if not store.exists(LABELS):
        labelled = links.limit(0).select(F.lit("").alias("stratum"), F.lit("").alias("label"))
    else:
        labelled = sample_labels(store.read(LABELS), links, non_links)
    return estimate(shares(labelled, links.count(), non_links.count()), seed)


def format_estimate(result: dict) -> str:
    """The estimates as a few lines of text."""
    def line(name: str, key: str) -> str:
        found = result.get(key)
        if found is None:
            return f"{name}: not estimated (label the random sample of `c360 review --kind random`)"
        return f"{name}: {found['estimate']:.3f} (95% interval {found['low']:.3f} to {found['high']:.3f})"

    sizes = result["labelled"]
    return "\n".join([line("precision among links", "precision"), line("recall among scored pairs", "recall_among_scored_pairs"),
                      f"labelled: {sizes['link']} of {result['links']:,} links, {sizes['non-link']} of "
                      f"{result['scored_non_links']:,} scored non-links", f"note: {result['note']}"])

"""A steward's labelled pairs in Splink: m from the labelled matches, the labelled pairs' scores at every
threshold (Splink's truth space), the threshold they support, and Splink's accuracy charts of them.

Labels come from the review queue, which favours hard pairs (near the threshold, vetoed by a guard,
bridging clusters) over the easy ones most links are. So the precision the labelled pairs show at a
threshold is a pessimistic estimate of the links' precision there, and a threshold chosen from them errs
on the safe side. Splink takes every labelled match as one more estimate of m beside its EM sessions' (each
level's m is the median of them), so the labels correct EM without replacing it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd
from splink import Linker
from splink.internals.charts import AccuracyChart, ThresholdSelectionToolChart  # not exported publicly in Splink 5.0
from splink.internals.misc import bayes_factor_to_prob

PAIR = ("record_key_l", "record_key_r")
LABELS_TABLE = "__c360_labels"
MATCHES_TABLE = "__c360_labelled_matches"
M_DESCRIPTION = "estimate m from pairwise labels"  # what Splink calls the estimate in each level's history


@dataclass(frozen=True)
class Labelled:
    """Labelled pairs as Splink reads them: record_key_l < record_key_r and clerical_match_score (1 for a
    match, 0 for a non-match)."""

    pairs: pd.DataFrame

    @property
    def matches(self) -> int:
        return int((self.pairs["clerical_match_score"] == 1).sum())

    @property
    def non_matches(self) -> int:
        return int((self.pairs["clerical_match_score"] == 0).sum())

    def records(self) -> list[str]:
        """Every record key a labelled pair names, sorted."""
        return sorted(set(self.pairs["record_key_l"]) | set(self.pairs["record_key_r"]))


def labelled(must: list[tuple[str, str]], cannot: list[tuple[str, str]]) -> Labelled:
    """The pairs labelled match (`must`) and non-match (`cannot`), each pair once, in a stable order."""
    rows = sorted({(*sorted(p), 1.0) for p in must} | {(*sorted(p), 0.0) for p in cannot})
    return Labelled(pd.DataFrame(rows, columns=[*PAIR, "clerical_match_score"]))


def estimate_m(linker: Linker, labels: Labelled) -> None:
    """Add each level's m among the labelled matches to the linker's estimates (Splink's m from pairwise
    labels: it reads every row of its table as a match, so only the matches are handed over)."""
    matches = labels.pairs[labels.pairs["clerical_match_score"] == 1][list(PAIR)]
    table = linker.table_management.register_table(matches.reset_index(drop=True), MATCHES_TABLE, overwrite=True)
    linker.training.estimate_m_from_pairwise_labels(table)


def truth_space(linker: Linker, labels: Labelled) -> list[dict]:
    """Splink's truth space of the labelled pairs under the linker's model: per score a labelled pair has
    (truth_threshold, a match weight; match_probability), the labelled matches and non-matches at or above
    it (tp, fp) and below it (fn, tn), precision and recall among the labelled pairs. A pair no prediction
    blocking rule generates scores -999 (it is never a Splink link)."""
    table = linker.table_management.register_table(labels.pairs.reset_index(drop=True), LABELS_TABLE, overwrite=True)
    frame = linker.evaluation.accuracy_analysis_from_labels_table(table, output_type="table",
                                                                  match_weight_round_to_nearest=None)
    return sorted(frame.as_record_list(), key=lambda r: r["truth_threshold"])  # type: ignore[union-attr]


def weight(probability: float) -> float:
    """A match probability as a match weight (log2 of the odds)."""
    return math.log2(probability / (1 - probability))


def at_threshold(space: list[dict], probability: float) -> dict:
    """The labelled pairs' counts when pairs at or above `probability` are links: labelled matches linked
    (tp) and missed (fn), labelled non-matches linked (fp) and kept apart (tn), with precision and recall."""
    cut = weight(probability) - 1e-9  # a pair scored exactly at the threshold links (rounding aside)
    above = [r for r in space if r["truth_threshold"] >= cut]
    if not space:
        return {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "precision": None, "recall": None}
    p, n = int(space[0]["p"]), int(space[0]["n"])
    tp, fp = (int(above[0]["tp"]), int(above[0]["fp"])) if above else (0, 0)
    return {"tp": tp, "fp": fp, "fn": p - tp, "tn": n - fp, "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / p if p else None}


def choose_threshold(space: list[dict], floor: float, lowest: float = 0.5) -> dict | None:
    """The lowest threshold above which the labelled pairs' precision stays at or above `floor` at every
    higher threshold too (precision is not monotone in the threshold), set midway between the lowest score
    it keeps and the next lower one, and never below `lowest` (a match probability; `supported` keeps what
    the labels alone would allow). None when even the highest-scored labelled pairs fall below the floor."""
    scored = [r for r in space if r["truth_threshold"] > -999]
    chosen = None
    for row in sorted(scored, key=lambda r: -r["truth_threshold"]):
        if row["precision"] < floor:
            break
        chosen = row
    if chosen is None or not chosen["tp"]:
        return None
    below = [r["truth_threshold"] for r in scored if r["truth_threshold"] < chosen["truth_threshold"]]
    cut = (chosen["truth_threshold"] + max(below)) / 2 if below else chosen["truth_threshold"] - 1.0
    supported = bayes_factor_to_prob(2.0 ** cut)
    probability = max(supported, lowest)
    return {"probability": round(probability, 6), "match_weight": round(weight(probability), 3),
            "supported": round(supported, 6), "precision_floor": floor, **at_threshold(space, probability)}


def write_charts(space: list[dict], folder: str) -> list[str]:
    """Splink's threshold selection tool and accuracy chart of the labelled pairs, as HTML files that load
    nothing from the network; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, chart in (("threshold_selection.html", ThresholdSelectionToolChart(space, add_metrics=["f1"])),
                        ("accuracy.html", AccuracyChart(space, add_metrics=["f1"]))):
        path = os.path.join(folder, name)
        chart.save(path, inline=True)
        paths.append(path)
    return paths

"""The threshold a steward's labels choose, and the labelled pairs' counts at a threshold, from Splink's truth
space (one row per score a labelled pair has; tp and fp count the labelled pairs at or above it)."""

from __future__ import annotations

import pytest

from c360.silver.linkage.labelled import at_threshold, choose_threshold, labelled, weight


def _space(scored: list[tuple[float, int]]) -> list[dict]:
    """Splink's truth space of labelled pairs given as (match weight, 1 for a match / 0 for a non-match)."""
    p = sum(label for _, label in scored)
    n = len(scored) - p
    rows = []
    for w in sorted({w for w, _ in scored}):
        tp = sum(label for v, label in scored if v >= w)
        fp = sum(1 - label for v, label in scored if v >= w)
        rows.append({"truth_threshold": w, "p": p, "n": n, "tp": tp, "fp": fp,
                     "precision": tp / (tp + fp) if tp + fp else 1.0})
    return rows


SPACE = _space([(12.0, 1), (9.0, 1), (6.0, 1), (4.0, 0), (3.0, 1), (2.0, 1), (1.0, 0), (-3.0, 0), (-999.0, 1)])


def test_the_labels_choose_the_lowest_threshold_whose_precision_holds_above_it() -> None:
    chosen = choose_threshold(SPACE, floor=0.99)
    # precision is 1 down to 6, then a non-match at 4: the cut is midway between 6 and 4
    assert chosen["match_weight"] == pytest.approx(5.0) and chosen["supported"] == pytest.approx(2 ** 5 / (1 + 2 ** 5), abs=1e-6)
    assert (chosen["tp"], chosen["fp"], chosen["fn"], chosen["tn"]) == (3, 0, 3, 3)
    # a floor the non-matches at 4 and 1 do not break goes lower, and never below even odds
    lower = choose_threshold(SPACE, floor=0.7)
    assert lower["supported"] < 0.5 and lower["probability"] == 0.5 and lower["tp"] == 5


def test_no_threshold_when_even_the_best_scored_pairs_miss_the_floor() -> None:
    assert choose_threshold(_space([(10.0, 0), (8.0, 1)]), floor=0.99) is None
    assert choose_threshold([], floor=0.99) is None


def test_counts_at_a_threshold_and_a_pair_no_rule_blocks_is_never_linked() -> None:
    at = at_threshold(SPACE, 0.8)  # weight 2: pairs scored 2 and up are links
    assert weight(0.8) == pytest.approx(2.0)
    assert at == {"tp": 5, "fp": 1, "fn": 1, "tn": 2, "precision": 5 / 6, "recall": 5 / 6}
    assert at_threshold(SPACE, 0.999)["tp"] == 1


def test_labelled_pairs_are_ordered_once_each() -> None:
    found = labelled([("b", "a"), ("a", "b")], [("c", "d")])
    assert found.pairs.values.tolist() == [["a", "b", 1.0], ["c", "d", 0.0]]
    assert (found.matches, found.non_matches, found.records()) == (1, 1, ["a", "b", "c", "d"])

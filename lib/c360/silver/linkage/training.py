"""Estimating a model: the prior from near-certain rules, u by random sampling, m by EM per training rule.

Each step can fail on data that cannot support it (no pair satisfies a near-certain rule, a level never
seen among matches, three records in all). Training never ends in a traceback: a prior rule that finds no
pair gives way to the next the fields allow, an EM session that fails is skipped (it works on a copy of the
model), and when nothing can be estimated the result says what is missing, so the stage links by the
deterministic rules alone and tells the user which setting fixes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from splink import Linker
from splink.internals.em_training_session import EMTrainingSession  # not exported publicly in Splink 5.0
from splink.internals.exceptions import EMTrainingException
from splink.internals.misc import bayes_factor_to_prob, prob_to_bayes_factor

from c360.silver.linkage import labelled
from c360.silver.linkage.spec import ModelSpec, rule_sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOptions:
    """How a model is estimated; defaults suit 10k-10M records."""

    u_max_pairs: float = 5e6
    seed: int = 42
    prior_recall: float = 0.7
    em_max_pairs: float | None = 1e6
    """An EM session whose rule blocks more pairs samples them down to about this many (Splink's max_pairs:
    a hash filter on records, which keeps the share of matches); None: every blocked pair."""
    max_match_excess: float = 3.0
    """An EM session that claims more than this many times the matching pairs the prior allows in the whole
    sample is re-run with its share of matches fixed (the prior's recall is a guess, hence the slack)."""
    em_patterns: bool = True
    """EM over the counts of distinct agreement patterns; False: Splink's EM over every pair with term
    frequencies, many times slower, kept so the tests can hold the fast one against it."""


@dataclass
class TrainingResult:
    """What training estimated, how long each step took, and what stopped it (None when it succeeded)."""

    prior: float | None = None
    prior_rules: list[str] = field(default_factory=list)
    prior_pairs: int = 0
    """Pairs the prior's rules found: the evidence the share of matches rests on."""
    em_sessions: dict[str, str] = field(default_factory=dict)
    em_evidence: dict[str, dict] = field(default_factory=dict)
    """Per EM session that estimated: the pairs its rule blocks, the share of them it converged to call
    matches, and so the matching pairs it found."""
    labels: dict = field(default_factory=dict)
    """With a steward's labels: how many labelled matches estimated m beside EM (see from_labels)."""
    seconds: dict[str, float] = field(default_factory=dict)
    problem: str | None = None

    def summary(self) -> dict:
        """The training evidence as saved with the model and shown in the run summary."""
        return {"prior": self.prior, "prior_rules": self.prior_rules, "prior_pairs": self.prior_pairs,
                "em_sessions": self.em_sessions, "em_evidence": self.em_evidence, "labels": self.labels,
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()}, "problem": self.problem}


def training_sample(keys: DataFrame, max_records: int, seed: int) -> DataFrame:
    """At most about `max_records` of `keys`, drawn uniformly with `seed`. Sampling records (not pairs)
    keeps the share of matching pairs among all pairs, so the prior estimated on the sample still fits."""
    total = keys.count()
    return keys if total <= max_records else keys.sample(fraction=max_records / total, seed=seed)


def allowed_pairs(total_records: int, unique_source_sizes: Mapping[str, int]) -> int:
    """Pairs the model may compare: all pairs less those inside a no-duplicates source."""
    inside = sum(n * (n - 1) // 2 for n in unique_source_sizes.values())
    return total_records * (total_records - 1) // 2 - inside


def estimate_prior(linker: Linker, spec: ModelSpec, recall: float, pairs: int, result: TrainingResult) -> bool:
    """Set the prior from the first group of near-certain rules that finds pairs; False when none does."""
    for group in spec.prior_rules:
        rules = [rule_sql(r, spec.unique_sources) for r in group]
        counts = linker.blocking_analysis.count_comparisons_from_blocking_rules(rules, record_sample_proportion=1.0)
        observed = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
        if observed == 0:
            log.info("silver: prior rules %s find no pair; trying the next", rules)
            continue
        prior = min(observed / recall, pairs) / max(pairs, 1)
        # Splink's own estimator divides by every pair (no-duplicates sources' inner pairs included) and
        # fails on 0; the value is the same setting it writes
        linker._settings_obj._probability_two_random_records_match = prior  # noqa: SLF001
        result.prior, result.prior_rules, result.prior_pairs = prior, rules, observed
        return True
    return False


def _m_values(linker: Linker) -> dict[tuple[str, int], object]:
    """Every level's m as it stands, to restore after a session whose answer is discarded."""
    return {(cc.output_column_name, cl.comparison_vector_value): cl._m_probability  # noqa: SLF001
            for cc in linker._settings_obj.comparisons for cl in cc._comparison_levels_excluding_null}  # noqa: SLF001


def _forget(linker: Linker, description: str, before: dict[tuple[str, int], object]) -> None:
    """Forget the estimates of m Splink recorded under `description`: they leave every level, and m is what
    it was before."""
    for cc in linker._settings_obj.comparisons:  # noqa: SLF001
        for cl in cc._comparison_levels_excluding_null:  # noqa: SLF001
            cl._trained_m_probabilities = [r for r in cl._trained_m_probabilities if r["description"] != description]  # noqa: SLF001
            cl._m_probability = before[(cc.output_column_name, cl.comparison_vector_value)]  # noqa: SLF001
    linker._populate_m_u_from_trained_values()  # noqa: SLF001


def _discard(linker: Linker, session: EMTrainingSession, before: dict[tuple[str, int], object]) -> None:
    """Forget what one EM session estimated (see _forget) and the session itself."""
    linker._em_training_sessions.remove(session)  # noqa: SLF001
    _forget(linker, f"EM, blocked on: {session._blocking_rule_for_training.blocking_rule_sql}", before)  # noqa: SLF001


def blocked_pairs(linker: Linker, session: EMTrainingSession) -> float:
    """Every pair a session's rule blocks: Splink's estimate from sizing the session's sample or, where that
    probe saw too few records to find a pair, the exact count."""
    blocked = (session._sample_info or {}).get("estimated_total_pairs")  # noqa: SLF001
    if blocked is None:
        rule = session._blocking_rule_for_training.blocking_rule_sql  # noqa: SLF001
        counts = linker.blocking_analysis.count_comparisons_from_blocking_rules([rule], record_sample_proportion=1.0)
        blocked = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
    return float(blocked)


def _session(linker: Linker, rule: str, options: TrainingOptions, share: float | None = None,
             first: EMTrainingSession | None = None) -> EMTrainingSession:
    """Splink's EM session on `rule`; with `share`, the share of matches among its blocked pairs stays fixed
    at that value. Splink starts a session at the prior times the Bayes factors of the levels the rule
    implies (read from `first`, an earlier session on the rule), so the prior is set such that the start is
    `share`, and restored afterwards."""
    settings = linker._settings_obj  # noqa: SLF001
    prior = settings._probability_two_random_records_match  # noqa: SLF001
    if share is not None and first is not None:
        implied = (prob_to_bayes_factor(first._blocking_adjusted_probability_two_random_records_match)  # noqa: SLF001
                   / prob_to_bayes_factor(first.original_core_model_settings.probability_two_random_records_match))
        settings._probability_two_random_records_match = bayes_factor_to_prob(prob_to_bayes_factor(share) / implied)  # noqa: SLF001
    try:
        return linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=options.em_patterns, max_pairs=options.em_max_pairs,
            fix_probability_two_random_records_match=share is not None)
    finally:
        settings._probability_two_random_records_match = prior  # noqa: SLF001


def _em(linker: Linker, rule: str, options: TrainingOptions, result: TrainingResult, matches: float) -> bool:
    """One EM session on the pairs `rule` blocks: Splink computes each pair's comparison vector once and
    iterates over the counts of distinct agreement patterns (a few hundred rows), not over the pairs.

    u is fixed at its value among random pairs, so on a rule that blocks many non-matches agreeing on a
    field the rule derives from (a name prefix at a million records), every pair looks like a match and EM
    converges to "nearly every blocked pair is a match". Such a session claims more matches than the prior
    allows in the whole sample (`matches`); its answer is discarded and the session re-run with the share
    of matches fixed at the most the prior allows among its pairs."""
    started = time.monotonic()
    before = _m_values(linker)
    try:
        session = _session(linker, rule, options)
        blocked = blocked_pairs(linker, session)
        claimed = session.core_model_settings.probability_two_random_records_match * blocked
        log.info("silver: EM session on %s claims %.0f matching pairs (prior: %.0f)", rule, claimed, matches)
        result.em_sessions[rule] = "estimated"
        share = session.core_model_settings.probability_two_random_records_match
        if claimed > options.max_match_excess * matches:
            _discard(linker, session, before)
            share = min(matches / max(blocked, 1.0), 0.5)
            _session(linker, rule, options, share, first=session)
            claimed = share * blocked
            result.em_sessions[rule] = (f"estimated with the share of matches fixed at {share:.3g}: EM alone claimed "
                                        f"{claimed:,.0f} matching pairs, the prior allows about {matches:,.0f}")
            log.warning("silver: EM session on %s %s", rule, result.em_sessions[rule])
        result.em_evidence[rule] = {"pairs": int(blocked), "match_share": float(share), "matches": round(float(claimed))}
        return True
    except EMTrainingException as exc:
        result.em_sessions[rule] = "skipped: " + str(exc).splitlines()[0]
    except (ValueError, ZeroDivisionError) as exc:
        # Splink refuses an m that underflows (< 1e-300): on small or skewed data EM can push a level never
        # seen among matches towards 0. The session works on a copy of the model; skipping it is safe.
        result.em_sessions[rule] = "skipped: " + (str(exc).splitlines() or [type(exc).__name__])[0]
    finally:
        result.seconds[f"em {rule}"] = time.monotonic() - started
    log.warning("silver: EM session on %s %s", rule, result.em_sessions[rule])
    return False


def train(linker: Linker, spec: ModelSpec, options: TrainingOptions, records: int,
          unique_source_sizes: Mapping[str, int]) -> TrainingResult:
    """Estimate the model in place; `result.problem` says why it could not be (then do not predict)."""
    result = TrainingResult()
    pairs = allowed_pairs(records, unique_source_sizes)
    started = time.monotonic()
    if pairs < 1 or not spec.comparisons:
        result.problem = ("fewer than two records to compare" if pairs < 1 else
                          "no field the model can compare is filled (names, birth date, e-mail, phone, address, ...)")
        return result
    found = estimate_prior(linker, spec, options.prior_recall, pairs, result)
    result.seconds["prior"] = time.monotonic() - started
    if not found:
        tried = "; ".join(" or ".join(rule_sql(r) for r in g) for g in spec.prior_rules) or "none the fields allow"
        result.problem = (f"no pair of records satisfies a near-certain rule ({tried}), so the share of matches "
                          "cannot be estimated; map more fields (e-mail, phone, birth date) or set "
                          "silver.linkage.prior_rules")
        return result
    started = time.monotonic()
    try:
        linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=options.seed)
    except (ValueError, ZeroDivisionError) as exc:
        result.problem = f"u could not be estimated by random sampling ({exc})"
        return result
    result.seconds["u"] = time.monotonic() - started
    matches = result.prior * pairs
    trained = [_em(linker, rule_sql(r, spec.unique_sources), options, result, matches) for r in spec.training_rules]
    if not any(trained):
        result.problem = ("every EM session failed (too few records, or no matches among the pairs of "
                          "silver.linkage.training_rules); see the warnings")
    return result


def from_labels(linker: Linker, labels: labelled.Labelled, result: TrainingResult) -> bool:
    """Add the labelled matches' levels as one more estimate of m beside the EM sessions' (each level's m is
    then their median: see linkage.labelled); a failure is recorded in `result`, never raised, and leaves
    the model as EM left it."""
    started = time.monotonic()
    before = _m_values(linker)
    try:
        labelled.estimate_m(linker, labels)
        result.labels = {"m_from_matches": labels.matches}
        return True
    except (ValueError, ZeroDivisionError) as exc:  # an m that underflows, as in EM (see _em)
        _forget(linker, labelled.M_DESCRIPTION, before)
        result.labels = {"m_from_matches": 0, "skipped": (str(exc).splitlines() or [type(exc).__name__])[0]}
        return False
    finally:
        result.seconds["m from labels"] = time.monotonic() - started

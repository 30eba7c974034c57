"""Probabilistic record linkage of person records with Splink 5 (on Spark, or DuckDB for comparison).

The model compares names (exact, nickname, swapped, typos), date of birth, e-mail, phone, postcode, street,
city and company. Blocking rules decide which pairs are compared at all: each is an equi-join on keys that a
true pair very likely shares (e-mail, phone, name + date of birth, name + postcode, ...), so the number of
comparisons grows about linearly with the records. Parameters: the prior from the deterministic rules,
u by random sampling, m by expectation maximisation over several blocking rules. A trained model is a
Splink settings JSON, saved versioned (see `c360.silver.model`) so later runs predict without training.

`linkage_input` is a pure transform that derives the match keys; the Splink calls need a database API
(Spark or DuckDB), so they live in small functions taking a `Linker`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.exceptions import EMTrainingException  # not exported publicly in Splink 5.0

from c360.errors import C360Error
from c360.reference.nicknames import nickname_pairs
from c360.silver.standardise import fold_text

log = logging.getLogger(__name__)

# letters of a handle (or of first+last name, or of an e-mail user name) that block candidates together for
# predictions: common names make these blocks grow with the square of the records (at 1M records of generated
# data: 18.4M handle/name pairs with 8 letters, 1.9M with 10, for 0.08% fewer true pairs reached)
HANDLE_BLOCK = 10
TRAINING_BLOCK = 8  # letters of the EM training key handle_name_key (training runs on a bounded sample)
MIN_SPELLED = 6  # letters a handle must have to count as spelling a name or e-mail user name
# the starting u of handle levels: 'handle spells the name' measures 1.5e-5 at 150k records; the others agree
# still more rarely by chance, so this understates their weight rather than overstating it
RARE_AGREEMENT_U = 1e-5
# The handle levels' u is fixed, not measured. A handle is built from its owner's name, so a namesake's handle
# spells the name as surely as the owner's does: where the full names already agree, the name comparison has
# counted that agreement and naive Bayes would count it twice, so that level keeps about 6 bits (u 8.5e-3 at the
# m EM finds). Where they do not ('Gavin' + '@gavingreen50'), the handle adds what the name lacks and keeps
# about 11 bits: u 3.2e-5, about twice the chance random pairs measure (1.5e-5).
# Chosen on generated data (seed 42, threshold 0.8), retrained each time: at 100k people one level with u 2.5e-4
# gave P 0.9819 / F1 0.9730; the split, P 0.9909 / F1 0.9756; the split without the lower u of the second level,
# P 0.9949 / F1 0.9557 (those social profiles stop linking). At 1M records the split (put into the old model,
# not retrained) halved the wrong links: P 0.9219 -> 0.9582, F1 0.9007 -> 0.9156.
HANDLE_SPELLS_NAME_U = 3.2e-5
HANDLE_SPELLS_EQUAL_NAME_U = 8.5e-3

# each rule: columns that must be equal (block_on), or SQL over l./r. for what an equi-join cannot say
DEFAULT_BLOCKING_RULES: tuple[Sequence[str] | str, ...] = (
    ("email_key",),
    ("phone_e164",),
    ("first_name_key", "last_name_key"),
    ("last_name_key", "date_of_birth"),
    ("first_name_key", "date_of_birth"),
    ("last_name_key", "postcode_key"),
    ("first_name_key", "postcode_key"),
    ("last_name_phonetic", "first_name_key", "city_key"),
    # a social handle against the start of another record's first+last name, in both directions, and two
    # handles against each other; never two names against each other (that would grow with the square of
    # every common name: the first+last name rules above cover name pairs)
    ("handle_block",),
    "l.handle_block = r.name_block",
    "l.name_block = r.handle_block",
    # ... and against the letters of another record's e-mail user name ('@jasmin_trost87' and
    # 'jasmintrost@gmail.com' when the shop's record misspells her as 'Jasin')
    "l.handle_block = r.email_block",
    "l.email_block = r.handle_block",
    "l.first_name_key = r.last_name_key and l.last_name_key = r.first_name_key",
)
# EM learns from what each rule's pairs look like, so none of them may admit households (same surname,
# address, e-mail or phone, other first name): those would teach it that a shared family e-mail is a match
DEFAULT_TRAINING_RULES: tuple[Sequence[str] | str, ...] = (
    ("first_name_key", "last_name_key"),
    ("date_of_birth",),
    # the shared 8-letter prefix of a handle or of first+last name: besides handle/name pairs it shows EM many
    # name/name pairs, which measurably sharpens the name and handle parameters (training on the handle/name
    # pairs alone: precision 0.961 instead of 0.976 at 100k people). It grows with the square of common
    # names, so it is used for training only, never to generate predictions.
    ("handle_name_key",),
)
DEFAULT_PRIOR_RULES: tuple[Sequence[str] | str, ...] = (("email_key", "first_name_key"), ("phone_e164", "last_name_key"))


@dataclass(frozen=True)
class TrainingOptions:
    """How a model is estimated; defaults suit 10k-10M records."""

    u_max_pairs: float = 5e6
    seed: int = 42
    prior_recall: float = 0.7
    em_rules: tuple[Sequence[str] | str, ...] = DEFAULT_TRAINING_RULES
    prior_rules: tuple[Sequence[str] | str, ...] = DEFAULT_PRIOR_RULES


@lru_cache(maxsize=1)
def nickname_forms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """name key -> every canonical name it may stand for (itself included), from the nickname table."""
    forms: dict[str, set[str]] = {}
    for canonical, nick in nickname_pairs():
        key_c, key_n = fold_text(canonical), fold_text(nick)
        forms.setdefault(key_n, {key_n}).add(key_c)
        forms.setdefault(key_c, {key_c})
    return tuple(sorted((k, tuple(sorted(v))) for k, v in forms.items()))


def linkage_input(records: DataFrame) -> DataFrame:
    """Person records -> the columns the model compares, with derived keys: the first name's nickname forms
    (so Bill and William agree), a phonetic code of the surname, the postcode's first three characters, and
    the letters of a social handle beside first+last name of records without one (people build handles
    from their names, often cut short: '@pete_schmid81' spells the start of 'peteschmidt'), and the letters
    of the e-mail user name (people build both from their names the same way, so a handle is compared with
    it too; names misspelt or cut short in one source often survive in the e-mail address)."""
    spark: SparkSession = records.sparkSession
    lookup = spark.createDataFrame([(k, list(v)) for k, v in nickname_forms()], "first_name_key string, _forms array<string>")
    out = records.join(F.broadcast(lookup), "first_name_key", "left")
    letters = F.regexp_replace(F.lower("social_handle"), "[^a-z]", "")
    handle = F.when(letters != "", letters)
    name = F.when(F.col("social_handle").isNull() & (F.length("last_name_key") > 1),
                  F.concat("first_name_key", "last_name_key"))
    email_letters = F.regexp_replace(F.substring_index("email_key", "@", 1), "[^a-z]", "")
    email_user = F.when(F.length(email_letters) >= MIN_SPELLED, email_letters)
    out = out.withColumn("handle_key", handle).withColumn("name_prefix_key", name).withColumn("email_user_key", email_user)
    return out.select(
        "record_key", "source", "first_name_key", "last_name_key",
        F.when(F.col("first_name_key").isNotNull(),
               F.coalesce("_forms", F.array("first_name_key"))).alias("first_name_forms"),
        F.when(F.col("last_name_key") != "", F.soundex("last_name_key")).alias("last_name_phonetic"),
        "email_key", "phone_e164", "date_of_birth", "street_key", "city_key", "postcode_key",
        F.substring("postcode_key", 1, 3).alias("postcode_prefix"), "company_key",
        "handle_key", "name_prefix_key", "email_user_key",
        F.substring("handle_key", 1, HANDLE_BLOCK).alias("handle_block"),
        F.substring("name_prefix_key", 1, HANDLE_BLOCK).alias("name_block"),
        F.substring("email_user_key", 1, HANDLE_BLOCK).alias("email_block"),
        # the EM training key (see DEFAULT_TRAINING_RULES); models trained before handle_block/name_block
        # also predict with it
        F.substring(F.coalesce("handle_key", "name_prefix_key"), 1, TRAINING_BLOCK).alias("handle_name_key"),
        F.when(F.col("first_name_key").isNotNull() & F.col("last_name_key").isNotNull(),
               F.concat_ws(" ", "first_name_key", "last_name_key")).alias("full_name_key"),
    )


def _name_level_gamma(label: str) -> int:
    """Splink's gamma value of a name comparison level: the levels after the null level count down to 0."""
    levels = [lvl for lvl in _name_comparison().get_comparison("spark").comparison_levels if not lvl.is_null_level]
    labels = [lvl.label_for_charts for lvl in levels]
    return len(levels) - 1 - labels.index(label)


def _rule(rule: Sequence[str] | str):  # noqa: ANN202 - a Splink BlockingRuleCreator or SQL string
    return rule if isinstance(rule, str) else block_on(*rule)


def _name_comparison() -> cl.CustomComparison:
    f, s = "first_name_key", "last_name_key"
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.And(cll.NullLevel(f), cll.NullLevel(s)),
            # term frequencies: 'john smith' = 'john smith' says less than 'aneta mitschke' = 'aneta mitschke'
            cll.ExactMatchLevel("full_name_key").configure(
                label_for_charts="first and last name equal", tf_adjustment_column="full_name_key"),
            cll.ColumnsReversedLevel(f, s, symmetrical=True).configure(label_for_charts="first and last name swapped"),
            cll.And(cll.ArrayIntersectLevel("first_name_forms"), cll.ExactMatchLevel(s)).configure(
                label_for_charts="nickname, last name equal"),
            cll.And(cll.JaroWinklerLevel(f, 0.92), cll.JaroWinklerLevel(s, 0.92)).configure(
                label_for_charts="both names similar (JW >= 0.92)"),
            cll.And(cll.ExactMatchLevel(f), cll.NullLevel(s)).configure(label_for_charts="first name equal, one last name missing"),
            cll.And(cll.Or(cll.ExactMatchLevel(f), cll.ArrayIntersectLevel("first_name_forms")),
                    cll.CustomLevel(f"substr({s}_l, 1, 1) = substr({s}_r, 1, 1) and least(length({s}_l), length({s}_r)) = 1")
                    ).configure(label_for_charts="first name equal, last initial agrees"),
            cll.And(cll.JaroWinklerLevel(f, 0.88), cll.JaroWinklerLevel(s, 0.88)).configure(
                label_for_charts="both names similar (JW >= 0.88)"),
            cll.ExactMatchLevel(s).configure(label_for_charts="last name equal only", tf_adjustment_column=s),
            cll.Or(cll.ExactMatchLevel(f), cll.ArrayIntersectLevel("first_name_forms")).configure(
                label_for_charts="first name equal only"),
            cll.ElseLevel(),
        ],
    )


# name levels that say: two different first names (see first_names_conflict)
NAME_CONFLICT_LEVELS = ("last name equal only", "All other comparisons")


def _exact_or_else(column: str, name: str, tf: bool = False) -> cl.CustomComparison:
    exact = cll.ExactMatchLevel(column)
    if tf:
        exact = exact.configure(tf_adjustment_column=column)
    return cl.CustomComparison(output_column_name=name,
                               comparison_levels=[cll.NullLevel(column), exact, cll.ElseLevel()])


def _same_first_name() -> cll.Or:
    return cll.Or(cll.ExactMatchLevel("first_name_key"), cll.ArrayIntersectLevel("first_name_forms"))


def _shared_contact(column: str, name: str) -> cl.CustomComparison:
    """An e-mail or phone is strong evidence when the first names agree; shared by a household (same value,
    other first name) it is weak. Splitting the exact level lets EM learn both weights."""
    return cl.CustomComparison(output_column_name=name, comparison_levels=[
        cll.NullLevel(column),
        cll.And(cll.ExactMatchLevel(column), _same_first_name()).configure(label_for_charts=f"{name} equal, first name agrees"),
        cll.ExactMatchLevel(column).configure(label_for_charts=f"{name} equal, first name differs"),
        *([cll.CustomLevel(f"regexp_extract({column}_l, '^[^@]+', 0) = regexp_extract({column}_r, '^[^@]+', 0)",
                           label_for_charts="e-mail user name equal")] if name == "email" else []),
        cll.ElseLevel(),
    ])


def _handle() -> cl.CustomComparison:
    """Only pairs where at least one side has a handle: two records without one compare names already.
    A handle 'spells' a name or e-mail user name when its letters (at least MIN_SPELLED) start the other
    record's first+last name or e-mail user name letters."""
    h, n, e = "handle_key", "name_prefix_key", "email_user_key"
    spells = "({a} is not null and {b} is not null and length({a}) >= %d and substr({b}, 1, length({a})) = {a})" % MIN_SPELLED

    def either(other: str) -> str:
        return spells.format(a=f"{h}_l", b=f"{other}_r") + " or " + spells.format(a=f"{h}_r", b=f"{other}_l")

    nothing = "({h}_{s} is null and {n}_{s} is null and {e}_{s} is null)"
    return cl.CustomComparison(output_column_name="handle", comparison_levels=[
        cll.CustomLevel(f"({h}_l is null and {h}_r is null) or " + nothing.format(h=h, n=n, e=e, s="l") + " or "
                        + nothing.format(h=h, n=n, e=e, s="r")).configure(is_null_level=True),
        # u_probability: the chance for two random records; too rare for random sampling to observe (it keeps
        # its starting value when unobserved, and without one the level would carry no weight at all)
        cll.ExactMatchLevel(h).configure(label_for_charts="same handle letters", u_probability=RARE_AGREEMENT_U),
        cll.CustomLevel(f"full_name_key_l = full_name_key_r and ({either(n)})",
                        label_for_charts="handle spells the name, full names equal").configure(
            u_probability=HANDLE_SPELLS_EQUAL_NAME_U, fix_u_probability=True),
        cll.CustomLevel(either(n), label_for_charts="handle spells the name").configure(
            u_probability=HANDLE_SPELLS_NAME_U, fix_u_probability=True),
        cll.CustomLevel(either(e), label_for_charts="handle spells the e-mail user name").configure(
            u_probability=RARE_AGREEMENT_U),
        cll.ElseLevel(),
    ])


def _address() -> cl.CustomComparison:
    """One comparison for the whole address: street, postcode and city agree together (a household, a
    move), so scoring them separately would count one fact three times."""
    return cl.CustomComparison(output_column_name="address", comparison_levels=[
        cll.And(cll.NullLevel("postcode_key"), cll.NullLevel("city_key")),
        cll.And(cll.ExactMatchLevel("street_key"), cll.ExactMatchLevel("postcode_key")).configure(
            label_for_charts="street and postcode equal"),
        cll.ExactMatchLevel("postcode_key").configure(label_for_charts="postcode equal"),
        cll.And(cll.JaroWinklerLevel("street_key", 0.9), cll.ExactMatchLevel("city_key")).configure(
            label_for_charts="street similar, city equal"),
        cll.ExactMatchLevel("city_key").configure(label_for_charts="city equal", tf_adjustment_column="city_key"),
        cll.ExactMatchLevel("postcode_prefix").configure(label_for_charts="postcode area equal"),
        cll.ElseLevel(),
    ])


def comparisons() -> list:
    """The model's comparisons, from strongest evidence to weakest."""
    return [
        _name_comparison(),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
        _shared_contact("email_key", "email"),
        _shared_contact("phone_e164", "phone"),
        _handle(),
        _address(),
        _exact_or_else("company_key", "company", tf=True),
    ]


def settings(blocking_rules: Sequence[Sequence[str] | str] = DEFAULT_BLOCKING_RULES) -> SettingsCreator:
    """An untrained model: dedupe across all person sources at once (duplicates inside one source too)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[_rule(r) for r in blocking_rules],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source"],
    )


def training_sample(keys: DataFrame, max_records: int, seed: int) -> DataFrame:
    """At most about `max_records` of `keys`, drawn uniformly with `seed`. Sampling records (not pairs)
    keeps the share of matching pairs among all pairs, so the prior estimated on the sample still fits."""
    total = keys.count()
    return keys if total <= max_records else keys.sample(fraction=max_records / total, seed=seed)


def comparison_counts(linker: Linker) -> list[dict]:
    """Comparisons each prediction blocking rule adds (after the earlier rules), exact counts."""
    records = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)
    return [{"rule": r["blocking_rule"], "comparisons": int(r["marginal_comparison_count"]),
             "cumulative": int(r["cumulative_comparison_count"])} for r in records]


def train(linker: Linker, options: TrainingOptions) -> dict[str, float]:
    """Estimate the model: prior from near-certain rules, u by random sampling, m by EM per training rule.
    Returns the seconds each step took."""
    seconds: dict[str, float] = {}
    started = time.monotonic()
    linker.training.estimate_probability_two_random_records_match(
        [_rule(r) for r in options.prior_rules], recall=options.prior_recall)
    seconds["prior"] = time.monotonic() - started
    started = time.monotonic()
    linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=options.seed)
    seconds["u"] = time.monotonic() - started
    trained = 0
    for rule in options.em_rules:
        started = time.monotonic()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(_rule(rule), record_sample_proportion=1.0)
            trained += 1
        except EMTrainingException as exc:
            log.info("silver: EM session on %s skipped: %s", rule, str(exc).splitlines()[0])
        except ValueError as exc:
            # Splink 5 refuses an m probability that underflows (< 1e-300): on small or skewed data EM can
            # push a level never seen among matches towards 0. The session works on a copy of the model, so
            # skipping it leaves the estimates of the other sessions intact.
            if "below the minimum allowed" not in str(exc):
                raise
            log.warning("silver: EM session on %s skipped: %s", rule, str(exc).splitlines()[0])
        seconds[f"em {rule}"] = time.monotonic() - started
    if not trained:
        raise C360Error("silver: every EM training session failed (see the warnings); too few records to train on?")
    return {k: round(v, 1) for k, v in seconds.items()}


def spark_linker(spark: SparkSession, records: DataFrame, model: SettingsCreator | dict) -> Linker:
    """A Splink linker over `records` (linkage_input rows) on Spark; intermediate tables go to Parquet
    under the session's checkpoint folder (breaking Spark's lineage between Splink's steps)."""
    from splink import SparkAPI

    api = SparkAPI(spark_session=spark, break_lineage_method="parquet")
    return Linker(api.register(records), model, log_level=logging.WARNING)


def check_comparisons(counts: list[dict], limit: float) -> None:
    """Stop before predicting when the blocking rules would generate more comparisons than `limit`."""
    total = counts[-1]["cumulative"] if counts else 0
    if total > limit:
        worst = max(counts, key=lambda c: c["comparisons"])
        raise C360Error(f"silver: the blocking rules would generate {total:,} comparisons (limit "
                        f"silver.linkage.max_comparisons = {limit:,.0f}); the largest is {worst['rule']} with "
                        f"{worst['comparisons']:,}. Tighten that rule or raise the limit.")


def first_names_conflict(pairs: DataFrame) -> Column:
    """Both records name a first name and the two neither agree (equal, nickname, similar, swapped with the
    last name) nor differ only where one side is missing: the name comparison fell to 'last name equal
    only' or below. Family members share surname, address, phone and family e-mail, which naive Bayes adds
    up to a strong match; different first names say they are two people."""
    return (F.col("first_name_key_l").isNotNull() & F.col("first_name_key_r").isNotNull()
            & F.col("gamma_name").isin(*[_name_level_gamma(label) for label in NAME_CONFLICT_LEVELS]))


def predict(linker: Linker, min_probability: float) -> tuple[DataFrame, object]:
    """Scored pairs at or above `min_probability`: (record_key_l, record_key_r, match_probability,
    match_weight, first_names_conflict) as a Spark DataFrame, and Splink's own frame of them (for charts)."""
    predictions = linker.inference.predict(threshold_match_probability=min_probability)
    scored = predictions.as_spark_dataframe()
    pairs = scored.select(
        "record_key_l", "record_key_r", F.col("match_probability").cast("double"), F.col("match_weight").cast("double"),
        first_names_conflict(scored).alias("first_names_conflict"))
    return pairs, predictions


def without_conflicts(scored: DataFrame) -> DataFrame:
    """The scored pairs that may link: those whose records do not name two different first names."""
    return scored.where(~F.col("first_names_conflict")).drop("first_names_conflict")


def write_charts(linker: Linker, predictions: object, folder: str, sample: int = 10) -> list[str]:
    """Splink's model charts (match weights, m/u parameters) and waterfall charts of a sample of scored
    pairs, as HTML files in `folder`; returns their paths."""
    import os

    os.makedirs(folder, exist_ok=True)
    charts = {
        "match_weights.html": linker.visualisations.match_weights_chart(),
        "m_u_parameters.html": linker.visualisations.m_u_parameters_chart(),
        "waterfall_sample.html": linker.visualisations.waterfall_chart(
            predictions.as_record_list(limit=sample), filter_nulls=True),  # type: ignore[attr-defined]
    }
    written = []
    for name, chart in charts.items():
        path = os.path.join(folder, name)
        chart.save(path)
        written.append(path)
    return written


def cluster_studio(linker: Linker, predictions: object, clusters: DataFrame, records: DataFrame, path: str,
                   sample: int = 10) -> str:
    """Splink's cluster studio for a sample of multi-record clusters, as one HTML file."""
    sized = clusters.groupBy("component").count().where("count > 1").orderBy(F.desc("count"), "component")
    ids = [r.component for r in sized.limit(sample).collect()]
    clustered = records.join(clusters.withColumnRenamed("component", "cluster_id"), "record_key")
    frame = linker._db_api.register(clustered)  # noqa: SLF001 - Splink needs its own table handle
    linker.visualisations.cluster_studio_dashboard(predictions, frame, path, cluster_ids=ids, overwrite=True)
    return path

"""The comparisons a model can use, one builder per kind of field.

Each builder returns a Splink comparison whose levels run from strongest to weakest evidence. The SQL of
custom levels is portable (Spark and DuckDB), so one saved model serves both.
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect

from c360.silver.linkage.keys import MIN_SPELLED

# the starting u of handle levels too rare for random sampling to observe (it keeps its starting value when
# unobserved, and without one a level would carry no weight at all)
RARE_AGREEMENT_U = 1e-5
# A handle is built from its owner's name, so a namesake's handle spells the name as surely as the owner's:
# where the full names already agree, the name comparison has counted that agreement, so this level keeps
# about 6 bits (u fixed); where they do not ('Gavin' + '@gavingreen50'), the handle adds what the name lacks
# and keeps about 11 bits, about twice the chance random pairs measure.
HANDLE_SPELLS_NAME_U = 3.2e-5
HANDLE_SPELLS_EQUAL_NAME_U = 8.5e-3
SIMILAR = 0.8  # Jaro-Winkler from which two names are one name with a typo rather than two names

# name levels that say: two different first names (see prediction.first_names_conflict)
NAME_CONFLICT_LEVELS = ("last name equal only", "All other comparisons")


class SwappedSimilarLevel(ComparisonLevelCreator):
    """First and last name swapped and each similar to the other side's (a swap plus a typo). Written with
    the dialect's own Jaro-Winkler function, so the level runs on Spark and DuckDB alike."""

    def __init__(self, first: str, last: str, threshold: float) -> None:
        self.first, self.last, self.threshold = first, last, threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        """Both names similar to the other side's other name: first to last and last to first."""
        jw, f, s, t = sql_dialect.jaro_winkler_function_name, self.first, self.last, self.threshold
        return f"{jw}({f}_l, {s}_r) >= {t} and {jw}({s}_l, {f}_r) >= {t}"

    def create_label_for_charts(self) -> str:
        """The level's name in Splink's charts."""
        return f"names swapped, similar (JW >= {self.threshold})"


def same_first_name() -> cll.Or:
    """First names agree: equal keys, or one is a known form (nickname) of the other."""
    return cll.Or(cll.ExactMatchLevel("first_name_key"), cll.ArrayIntersectLevel("first_name_forms"))


def name() -> cl.CustomComparison:
    """First and last name together: equal (term frequency adjusted), swapped, nickname, typos at two
    strengths, initials, one name only. Below 'both names similar (JW >= 0.8)' the first names differ by
    more than a typo: 'last name equal only' and the else level are the first-name conflict."""
    f, s = "first_name_key", "last_name_key"
    initial = "least(length({c}_l), length({c}_r)) = 1 and substr({c}_l, 1, 1) = substr({c}_r, 1, 1)"
    return cl.CustomComparison(output_column_name="name", comparison_levels=[
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
        cll.And(same_first_name(), cll.CustomLevel(initial.format(c=s))).configure(
            label_for_charts="first name equal, last initial agrees"),
        cll.And(cll.JaroWinklerLevel(f, 0.88), cll.JaroWinklerLevel(s, 0.88)).configure(
            label_for_charts="both names similar (JW >= 0.88)"),
        cll.And(cll.CustomLevel(initial.format(c=f)), cll.JaroWinklerLevel(s, 0.88)).configure(
            label_for_charts="first initial agrees, last name similar"),
        SwappedSimilarLevel(f, s, 0.88),
        cll.And(cll.JaroWinklerLevel(f, SIMILAR), cll.JaroWinklerLevel(s, SIMILAR)).configure(
            label_for_charts="both names similar (JW >= 0.8)"),
        cll.And(cll.ExactMatchLevel(s), cll.Or(cll.NullLevel(f), cll.CustomLevel(initial.format(c=f)))).configure(
            label_for_charts="last name equal, first name missing or an initial"),
        cll.ExactMatchLevel(s).configure(label_for_charts="last name equal only", tf_adjustment_column=s),
        same_first_name().configure(label_for_charts="first name equal only"),
        cll.JaroWinklerLevel(f, SIMILAR).configure(label_for_charts="first name similar only"),
        cll.ElseLevel(),
    ])


def date_of_birth() -> cl.DateOfBirthComparison:
    """Splink's: equal, one character off, within a month, a year (a day/month swap), ten years."""
    return cl.DateOfBirthComparison("date_of_birth", input_is_string=False)


def shared_contact(column: str, label: str, with_names: bool) -> cl.CustomComparison:
    """An e-mail or phone is strong evidence when the first names agree; shared by a household (same value,
    other first name) it is weak. Splitting the exact level lets EM learn both weights."""
    exact = [cll.ExactMatchLevel(column).configure(label_for_charts=f"{label} equal")]
    if with_names:
        exact = [cll.And(cll.ExactMatchLevel(column), same_first_name()).configure(label_for_charts=f"{label} equal, first name agrees"),
                 cll.ExactMatchLevel(column).configure(label_for_charts=f"{label} equal, first name differs")]
    user = ([cll.CustomLevel(f"regexp_extract({column}_l, '^[^@]+', 0) = regexp_extract({column}_r, '^[^@]+', 0)",
                             label_for_charts="e-mail user name equal")] if label == "email" else [])
    return cl.CustomComparison(output_column_name=label,
                               comparison_levels=[cll.NullLevel(column), *exact, *user, cll.ElseLevel()])


def handle() -> cl.CustomComparison:
    """Only pairs where at least one side has a handle: two records without one compare names already.
    Two handles are the same when their letters agree and their digits do not differ; a handle 'spells' a
    name or e-mail user name when its letters (at least MIN_SPELLED) start the other record's first+last name
    or e-mail user name letters."""
    h, n, e = "handle_key", "name_prefix_key", "email_user_key"
    spells = "({a} is not null and {b} is not null and length({a}) >= %d and substr({b}, 1, length({a})) = {a})" % MIN_SPELLED

    def either(other: str) -> str:
        return spells.format(a=f"{h}_l", b=f"{other}_r") + " or " + spells.format(a=f"{h}_r", b=f"{other}_l")

    nothing = "({h}_{s} is null and {n}_{s} is null and {e}_{s} is null)"
    return cl.CustomComparison(output_column_name="handle", comparison_levels=[
        cll.CustomLevel(f"({h}_l is null and {h}_r is null) or " + nothing.format(h=h, n=n, e=e, s="l") + " or "
                        + nothing.format(h=h, n=n, e=e, s="r")).configure(is_null_level=True),
        # the same letters with other digits are two accounts (namesakes' handles): the else level
        cll.CustomLevel(f"{h}_l = {h}_r and (handle_digits_l is null or handle_digits_r is null "
                        "or handle_digits_l = handle_digits_r)", label_for_charts="same handle").configure(
            u_probability=RARE_AGREEMENT_U),
        cll.CustomLevel(f"full_name_key_l = full_name_key_r and ({either(n)})",
                        label_for_charts="handle spells the name, full names equal").configure(
            u_probability=HANDLE_SPELLS_EQUAL_NAME_U, fix_u_probability=True),
        cll.CustomLevel(either(n), label_for_charts="handle spells the name").configure(
            u_probability=HANDLE_SPELLS_NAME_U, fix_u_probability=True),
        cll.CustomLevel(either(e), label_for_charts="handle spells the e-mail user name").configure(
            u_probability=RARE_AGREEMENT_U),
        cll.ElseLevel(),
    ])


def address(fields: frozenset[str]) -> cl.CustomComparison:
    """One comparison for the whole address (street, postcode and city agree together: a household, a move;
    scoring them separately would count one fact three times), with the levels the present `fields`
    (street, postcode, city) allow."""
    street, postcode, city = ("street" in fields, "postcode" in fields, "city" in fields)
    null = [cll.NullLevel(c) for c, ok in (("street_key", street), ("postcode_key", postcode), ("city_key", city)) if ok]
    levels = [cll.And(*null) if len(null) > 1 else null[0]]
    if street and postcode:
        levels.append(cll.And(cll.ExactMatchLevel("street_key"), cll.ExactMatchLevel("postcode_key")).configure(
            label_for_charts="street and postcode equal"))
    if street and city:
        levels.append(cll.And(cll.ExactMatchLevel("street_key"), cll.ExactMatchLevel("city_key")).configure(
            label_for_charts="street and city equal"))
    if postcode:
        levels.append(cll.ExactMatchLevel("postcode_key").configure(label_for_charts="postcode equal"))
    if street and (city or postcode):
        place = cll.ExactMatchLevel("city_key") if city else cll.ExactMatchLevel("postcode_prefix")
        levels.append(cll.And(cll.JaroWinklerLevel("street_key", 0.9), place).configure(
            label_for_charts="street similar, same place"))
    if street and not (city or postcode):
        levels.append(cll.ExactMatchLevel("street_key").configure(label_for_charts="street equal"))
    if city:
        levels.append(cll.ExactMatchLevel("city_key").configure(label_for_charts="city equal", tf_adjustment_column="city_key"))
    if postcode:
        levels.append(cll.ExactMatchLevel("postcode_prefix").configure(label_for_charts="postcode area equal"))
    return cl.CustomComparison(output_column_name="address", comparison_levels=[*levels, cll.ElseLevel()])


def exact(column: str, label: str, term_frequency: bool = False) -> cl.CustomComparison:
    """Equal or not, optionally term-frequency adjusted (a rare value says more than a common one)."""
    level = cll.ExactMatchLevel(column)
    if term_frequency:
        level = level.configure(tf_adjustment_column=column)
    return cl.CustomComparison(output_column_name=label, comparison_levels=[cll.NullLevel(column), level, cll.ElseLevel()])

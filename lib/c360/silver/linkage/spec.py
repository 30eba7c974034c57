"""Which comparisons and rules a linkage model uses, chosen from the fields the person sources fill.

A model built for fields the data does not have fails (a prior from e-mail rules on data without e-mail
is 0) or links badly (blocking only on exact names misses every pair with a typo in a name). So the spec is
derived from the data: the share of person records that fill each match field (`profile`), then the
default tables below keep each comparison and rule whose fields are all present (filled by at least
`silver.linkage.min_fill`). `silver.linkage.comparisons`, `blocking_rules`, `training_rules` and
`prior_rules` replace a default when a user knows better. The spec's fingerprint is saved with the model,
so a run never predicts with a model built for other fields or rules.

| comparison | needs | levels |
|---|---|---|
| name | first_name or last_name | equal (term frequency), swapped, nickname, typos (JW 0.92 / 0.88 / 0.8), initials, one name only |
| date | date_of_birth | equal, one character off, within a month, a year, ten years |
| email / phone | email / phone | equal with first names agreeing, equal with other first names, e-mail user name equal |
| handle | social_handle | same letters, handle spells the name (fixed u), spells the e-mail user name |
| address | street, postcode or city | street+postcode, street+city, postcode, street similar in the same place, city (tf), postcode area |
| company | company | equal (term frequency) |
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from splink import SettingsCreator

from c360.config import MATCH_FIELD_KEYS, C360Config, ComparisonSetting
from c360.silver.linkage import comparisons as comps

Rule = Sequence[str] | str
NAME_FIELDS = frozenset({"first_name", "last_name"})
ADDRESS_FIELDS = frozenset({"street", "postcode", "city"})

# rule -> the fields it needs; in order: a rule's count in the run summary is what it adds to those above it
DEFAULT_BLOCKING: tuple[tuple[Rule, frozenset[str]], ...] = tuple((r, frozenset(f)) for r, f in (
    (("email_key",), {"email"}),
    (("phone_e164",), {"phone"}),
    (("first_name_key", "last_name_key"), {"first_name", "last_name"}),
    (("last_name_key", "date_of_birth"), {"last_name", "date_of_birth"}),
    (("first_name_key", "date_of_birth"), {"first_name", "date_of_birth"}),
    (("last_name_key", "postcode_key"), {"last_name", "postcode"}),
    (("first_name_key", "postcode_key"), {"first_name", "postcode"}),
    (("last_name_phonetic", "first_name_key", "city_key"), {"first_name", "last_name", "city"}),
    # names misspelt on both sides: what else the two records share
    (("date_of_birth", "postcode_key"), {"date_of_birth", "postcode"}),
    (("date_of_birth", "city_key"), {"date_of_birth", "city"}),
    (("street_key", "postcode_key"), {"street", "postcode"}),
    (("street_key", "city_key"), {"street", "city"}),
    (("date_of_birth", "last_name_phonetic"), {"date_of_birth", "last_name"}),
    (("date_of_birth", "first_name_phonetic"), {"date_of_birth", "first_name"}),
    # a social handle against the start of another record's first+last name or e-mail user name, in both
    # directions, and two handles against each other; never two names against each other (that would grow
    # with the square of every common name)
    (("handle_block",), {"social_handle"}),
    ("l.handle_block = r.name_block", {"social_handle", "first_name", "last_name"}),
    ("l.name_block = r.handle_block", {"social_handle", "first_name", "last_name"}),
    ("l.handle_block = r.email_block", {"social_handle", "email"}),
    ("l.email_block = r.handle_block", {"social_handle", "email"}),
    ("l.first_name_key = r.last_name_key and l.last_name_key = r.first_name_key", {"first_name", "last_name"}),
))
# EM learns from what each rule's pairs look like, so the preferred ones admit no households (same surname,
# address, e-mail or phone, other first name); the fallbacks serve data without names or birth dates
DEFAULT_TRAINING: tuple[tuple[Rule, frozenset[str]], ...] = tuple((r, frozenset(f)) for r, f in (
    (("first_name_key", "last_name_key"), {"first_name", "last_name"}),
    (("date_of_birth",), {"date_of_birth"}),
    # the shared 8-letter prefix of a handle or of first+last name: also shows EM many name/name pairs, which
    # sharpens the name and handle parameters; it grows with the square of common names, so training only
    (("handle_name_key",), {"social_handle"}),
))
FALLBACK_TRAINING: tuple[tuple[Rule, frozenset[str]], ...] = tuple((r, frozenset(f)) for r, f in (
    (("email_key",), {"email"}),
    (("phone_e164",), {"phone"}),
    (("postcode_key", "street_key"), {"postcode", "street"}),
    (("city_key", "street_key"), {"city", "street"}),
    (("last_name_key",), {"last_name"}),
    (("postcode_key",), {"postcode"}),
))
# groups of near-certain rules, tried in order until one finds pairs
DEFAULT_PRIOR: tuple[tuple[tuple[Rule, frozenset[str]], ...], ...] = tuple(
    tuple((r, frozenset(f)) for r, f in group) for group in (
        ((("email_key", "first_name_key"), {"email", "first_name"}), (("phone_e164", "last_name_key"), {"phone", "last_name"})),
        ((("first_name_key", "last_name_key", "date_of_birth"), {"first_name", "last_name", "date_of_birth"}),),
        ((("first_name_key", "last_name_key", "postcode_key"), {"first_name", "last_name", "postcode"}),),
        ((("first_name_key", "last_name_key", "street_key"), {"first_name", "last_name", "street"}),),
        ((("email_key",), {"email"}),),
        ((("phone_e164",), {"phone"}),),
        ((("first_name_key", "last_name_key", "city_key"), {"first_name", "last_name", "city"}),),
    ))
# match keys each comparison reads: an EM session blocking on any of them cannot estimate that comparison
READS = {
    "name": {"first_name_key", "last_name_key", "full_name_key", "first_name_forms"},
    "email": {"email_key", "first_name_key", "first_name_forms"},
    "phone": {"phone_e164", "first_name_key", "first_name_forms"},
    "handle": {"handle_key", "handle_digits", "name_prefix_key", "email_user_key", "full_name_key", "handle_block", "handle_name_key"},
    "address": {"street_key", "postcode_key", "city_key", "postcode_prefix"},
    "company": {"company_key"},
}


def rule_columns(rule: Rule) -> set[str]:
    """The match keys a rule reads."""
    return set(re.findall(r"\b[lr]\.(\w+)", rule)) if isinstance(rule, str) else set(rule)


def rule_sql(rule: Rule, unique_sources: Sequence[str] = ()) -> str:
    """A rule as Splink blocking SQL; pairs inside one no-duplicates source are never generated."""
    sql = rule if isinstance(rule, str) else " and ".join(f"l.{c} = r.{c}" for c in rule)
    if unique_sources:
        names = ", ".join("'" + s.replace("'", "''") + "'" for s in unique_sources)
        sql = f"({sql}) and not (l.source = r.source and l.source in ({names}))"
    return sql


def profile(keys: DataFrame) -> dict[str, float]:
    """Share of records that fill each match field (canonical field name -> 0..1), one pass over `keys`."""
    row = keys.select(*[F.avg(F.col(key).isNotNull().cast("double")).alias(name)
                        for name, key in MATCH_FIELD_KEYS.items()]).first()
    return {name: round(float(row[name] or 0.0), 4) for name in MATCH_FIELD_KEYS}


@dataclass(frozen=True)
class ModelSpec:
    """The comparisons and rules of one model, and why each was chosen."""

    present: frozenset[str]
    comparisons: tuple[ComparisonSetting, ...]
    blocking_rules: tuple[Rule, ...]
    training_rules: tuple[Rule, ...]
    prior_rules: tuple[tuple[Rule, ...], ...]
    unique_sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> dict:
        """JSON-ready: what the run summary shows and the fingerprint covers (notes excepted)."""
        return {"fields": sorted(self.present), "comparisons": [c.model_dump(exclude_defaults=True) for c in self.comparisons],
                "blocking_rules": [rule_sql(r) for r in self.blocking_rules],
                "training_rules": [rule_sql(r) for r in self.training_rules],
                "prior_rules": [[rule_sql(r) for r in g] for g in self.prior_rules],
                "unique_sources": list(self.unique_sources)}

    def fingerprint(self) -> str:
        """A short digest of the spec's comparisons and rules: a saved model fits only its own spec."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def kinds(self) -> set[str]:
        return {c.kind for c in self.comparisons}


def _available(table: Iterable[tuple[Rule, frozenset[str]]], present: frozenset[str]) -> list[Rule]:
    return [rule for rule, needs in table if needs <= present]


def default_comparisons(present: frozenset[str]) -> list[ComparisonSetting]:
    """One comparison per kind of field present."""
    wanted = [("name", bool(present & NAME_FIELDS)), ("date", "date_of_birth" in present), ("email", "email" in present),
              ("phone", "phone" in present), ("handle", "social_handle" in present),
              ("address", bool(present & ADDRESS_FIELDS)), ("company", "company" in present)]
    return [ComparisonSetting(kind=kind) for kind, ok in wanted if ok]


def comparison_reads(setting: ComparisonSetting) -> set[str]:
    """The match keys a comparison reads (a field counts as present only when they are filled)."""
    if setting.kind in ("exact", "date"):
        return {MATCH_FIELD_KEYS[setting.field or "date_of_birth"]}
    return READS[setting.kind]


def cover(comparisons: Sequence[ComparisonSetting], rules: list[Rule], present: frozenset[str]) -> tuple[list[Rule], list[str]]:
    """Training rules such that every comparison is estimated by at least one EM session (a session cannot
    estimate a comparison that reads a key its rule blocks on): the preferred rules, plus fallbacks where
    needed, without sessions that could estimate nothing. Returns the rules and the comparisons no available
    rule can estimate."""
    rules = list(rules)
    fallbacks = _available(FALLBACK_TRAINING, present)
    missing = []
    for setting in comparisons:
        reads = comparison_reads(setting)
        if any(not (rule_columns(r) & reads) for r in rules):
            continue
        extra = next((r for r in fallbacks if not (rule_columns(r) & reads)), None)
        if extra is None:
            missing.append(setting.kind)
        else:
            rules.append(extra)
    # a session whose rule blocks on what every comparison reads would estimate nothing (Splink fails on it)
    useful = [r for r in rules if any(not (rule_columns(r) & comparison_reads(c)) for c in comparisons)]
    return useful, missing


def build(fill: Mapping[str, float], config: C360Config) -> ModelSpec:
    """The spec for person records with these fill shares (see `profile`) under `config`."""
    settings = config.silver.linkage
    present = frozenset(f for f, share in fill.items() if share >= settings.min_fill)
    notes = [f"fields present (filled in >= {settings.min_fill:.0%} of records): "
             + ", ".join(f"{f} {fill[f]:.0%}" for f in sorted(present))]
    absent = sorted(set(fill) - present)
    if absent:
        notes.append("left out (not filled often enough): " + ", ".join(absent))
    comparisons = list(settings.comparisons) if settings.comparisons else default_comparisons(present)
    blocking = _configured(settings.blocking_rules) or _available(DEFAULT_BLOCKING, present)
    training = _configured(settings.training_rules) or _available(DEFAULT_TRAINING, present)
    training, untrainable = cover(comparisons, training, present | _configured_fields(settings))
    if untrainable and not settings.comparisons:
        comparisons = [c for c in comparisons if c.kind not in untrainable]
        notes.append("no training rule can estimate (left out): " + ", ".join(untrainable))
    prior = ((tuple(_configured(settings.prior_rules)),) if settings.prior_rules else
             tuple(g for g in (tuple(_available(group, present)) for group in DEFAULT_PRIOR) if g))
    unique = tuple(sorted(s.name for s in config.sources if s.kind == "person" and s.no_duplicates))
    if unique:
        notes.append("linked, not deduplicated inside (no_duplicates): " + ", ".join(unique))
    return ModelSpec(present, tuple(comparisons), tuple(blocking), tuple(training), prior, unique, tuple(notes))


def _configured(rules: list | None) -> list[Rule]:
    return [r if isinstance(r, str) else tuple(r) for r in rules or []]


def _configured_fields(settings) -> frozenset[str]:  # noqa: ANN001 - LinkageSettings
    """Configured comparisons count their fields as present for fallback training rules."""
    return frozenset(c.field for c in settings.comparisons or [] if c.field)


def comparison(setting: ComparisonSetting, present: frozenset[str]):  # noqa: ANN201 - a Splink comparison
    """The Splink comparison of one configured kind (address levels as the present fields allow)."""
    kind, key = setting.kind, MATCH_FIELD_KEYS.get(setting.field or "")
    if kind == "date" and setting.field not in (None, "date_of_birth"):
        kind = "exact"
    built = {
        "name": comps.name, "date": comps.date_of_birth, "handle": comps.handle,
        "email": lambda: comps.shared_contact("email_key", "email", with_names=bool(present & NAME_FIELDS)),
        "phone": lambda: comps.shared_contact("phone_e164", "phone", with_names=bool(present & NAME_FIELDS)),
        "address": lambda: comps.address(present & ADDRESS_FIELDS or ADDRESS_FIELDS),
        "company": lambda: comps.exact("company_key", "company", term_frequency=True),
        "exact": lambda: comps.exact(key, setting.field, setting.term_frequency),
    }
    return built[kind]()


def splink_settings(spec: ModelSpec) -> SettingsCreator:
    """An untrained Splink model of `spec`: dedupe across all person sources at once (duplicates inside one
    source too, except in no-duplicates sources, whose inner pairs no rule generates)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[comparison(c, spec.present) for c in spec.comparisons],
        blocking_rules_to_generate_predictions=[rule_sql(r, spec.unique_sources) for r in spec.blocking_rules],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source"],
    )

"""The c360 configuration: one YAML file, validated on load.

Relative paths (warehouse, source globs, jar folders) resolve against the config file's folder, so a config
works from any working directory. Validation errors name the file and the key path, e.g.
``conf/demo.yaml: sources[2] (crm_contacts).fields.emial: unknown key``.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from c360.errors import ConfigError

PERSON_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "full_name", "email", "phone", "date_of_birth", "gender",
    "street", "city", "postcode", "region", "country", "company", "job_title",
    "social_handle", "login_id", "loyalty_id", "cookie_id",
    "consent_email", "consent_phone", "consent_tracking",
)
"""Canonical person fields every source maps its columns onto (consent_*: an explicit yes/no statement)."""

INTERACTION_FIELDS: tuple[str, ...] = (
    "event_type", "channel", "amount", "currency", "summary", "attributes",
)
"""Fields only interaction sources (orders, tickets, posts, clicks) may map."""

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)


class SourceFields(_Strict):
    """Canonical field -> source column or Spark SQL expression (``concat_ws(' ', a, b)`` works)."""

    first_name: str | None = None
    """Given name: the source column or SQL expression."""
    last_name: str | None = None
    """Family name: the source column or SQL expression."""
    full_name: str | None = None
    """Whole name in one column (split when first/last are missing; 'Last, First' understood): the source column or SQL expression."""
    email: str | None = None
    """E-mail address: the source column or SQL expression."""
    phone: str | None = None
    """Phone number, any format (parsed to E.164 in the record's country): the source column or SQL expression."""
    date_of_birth: str | None = None
    """Date of birth: the source column or SQL expression."""
    gender: str | None = None
    """Gender: the source column or SQL expression."""
    street: str | None = None
    """Street and house number: the source column or SQL expression."""
    city: str | None = None
    """City: the source column or SQL expression."""
    postcode: str | None = None
    """Postal code: the source column or SQL expression."""
    region: str | None = None
    """State or region: the source column or SQL expression."""
    country: str | None = None
    """Country (name or ISO code): the source column or SQL expression."""
    company: str | None = None
    """Employer or company name: the source column or SQL expression."""
    job_title: str | None = None
    """Job title: the source column or SQL expression."""
    social_handle: str | None = None
    """Social media handle: the source column or SQL expression."""
    login_id: str | None = None
    """The website's login id (links clickstream logins): the source column or SQL expression."""
    loyalty_id: str | None = None
    """Loyalty card number: the source column or SQL expression."""
    cookie_id: str | None = None
    """Web cookie id (anonymous clicks are stitched to the person through it): the source column or SQL expression."""
    consent_email: str | None = None
    """Consent to e-mail contact: an explicit yes/no: the source column or SQL expression."""
    consent_phone: str | None = None
    """Consent to phone contact: an explicit yes/no: the source column or SQL expression."""
    consent_tracking: str | None = None
    """Consent to web tracking: an explicit yes/no: the source column or SQL expression."""
    event_type: str | None = None
    """Event type (interaction sources): the source column or SQL expression."""
    channel: str | None = None
    """Channel the event came through (interaction sources): the source column or SQL expression."""
    amount: str | None = None
    """Amount of an order or payment (interaction sources): the source column or SQL expression."""
    currency: str | None = None
    """ISO currency of `amount` (interaction sources): the source column or SQL expression."""
    summary: str | None = None
    """Short text of the event (interaction sources): the source column or SQL expression."""
    attributes: str | None = None
    """Further event attributes, kept as JSON (interaction sources): the source column or SQL expression."""
    identifiers: dict[str, str] = Field(default_factory=dict)
    """Free identifiers (name -> column/expression); equal names across sources link records."""

    @field_validator("identifiers")
    @classmethod
    def _identifier_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expr in value.items():
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"identifier name {name!r} must match {NAME_PATTERN}")
            if not str(expr).strip():
                raise ValueError(f"identifier {name!r} maps to an empty expression")
        return value

    def mapped(self) -> dict[str, str]:
        """The canonical fields this source maps (identifiers excluded), in canonical order."""
        return {k: v for k, v in self.model_dump(exclude={"identifiers"}).items() if v is not None}


class JdbcSettings(_Strict):
    """A JDBC source. Credentials come from environment variables, never from the file."""

    url: str
    """The JDBC URL, e.g. jdbc:postgresql://host:5432/crm."""
    table: str | None = None
    """The table or view to read (give this or `query`)."""
    query: str | None = None
    """A SELECT to read instead of a table (give this or `table`)."""
    driver: str | None = None
    """The JDBC driver class, when the URL does not imply it."""
    user_env: str | None = None
    """The environment variable holding the user name."""
    password_env: str | None = None
    """The environment variable holding the password."""
    properties: dict[str, str] = Field(default_factory=dict)
    """Further JDBC connection properties (fetchsize, ssl, ...); no credentials."""
    detect_deletions: bool = False
    """Opt in: each run also reads every id the table holds now, and records that bronze holds but the table
    no longer does get a tombstone (`bronze._vanished_<source>`; person sources), so they leave silver and gold."""
    max_deleted_share: float = Field(default=0.5, ge=0, le=1)
    """A run that would find more than this share of the source's records gone refuses to mark any (an empty
    or broken table or view, not a mass deletion), with a message."""

    @model_validator(mode="after")
    def _table_or_query(self) -> JdbcSettings:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if any(k.lower() in ("user", "password") for k in self.properties):
            raise ValueError("credentials belong in user_env/password_env, not in properties")
        return self


class SourceConfig(_Strict):
    """One input source: where it lands, how to read it, and how its columns map onto canonical fields."""

    name: str = Field(pattern=NAME_PATTERN)
    """The source's name: lower case, digits and underscores; its bronze table is bronze.<name>."""
    kind: Literal["person", "interaction", "reference", "deletions"]
    """person: records about people; interaction: events; reference: related objects (e.g. CRM accounts);
    deletions: tombstones, the ids of records a person source (`of`) deleted."""
    of: str | None = None
    """For a deletions source: the person source whose records it names (by that source's `id`). A record
    with a tombstone at or after its newest version (by the tombstone's `updated_at`, or by when each
    landed) leaves silver and gold; a newer version brings it back."""
    format: Literal["csv", "json", "ndjson", "parquet", "jdbc"]
    """How the landing files are read (csv, json, ndjson, parquet) or jdbc for a database table."""
    path: str | None = None
    """A glob of the landing files, relative to the config file or a URI (s3://, abfss://)."""
    jdbc: JdbcSettings | None = None
    """The database connection of a jdbc source."""
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Spark reader options (e.g. delimiter, encoding, multiLine)."""
    schema_ddl: str | None = Field(default=None, alias="schema")
    """The source's columns as a Spark DDL string (`id STRING, amount DECIMAL(10,2)`); none: inferred."""
    id: str
    """The column (or expression) that identifies a record within the source."""
    updated_at: str | None = None
    """The column (or expression) with when a record last changed; for interaction sources, the event time."""
    timezone: str = "UTC"
    """Zone of timestamps written without an offset (e.g. a CRM exporting local Europe/Berlin times)."""
    max_bad_share: float | None = Field(default=None, ge=0, le=1)
    """Overrides bronze.max_bad_share for this source."""
    priority: int = 100
    """Rank of the source in survivorship's source_priority (lower wins)."""
    no_duplicates: bool = False
    """A person source that holds each person at most once: its records are linked to other sources' records,
    never to each other (two such sources are linked, not deduplicated)."""
    deleted: str | None = None
    """A SQL condition on the source's columns that marks a record as deleted in the source (e.g.
    "status = 'deleted'" or "is_deleted"): a person record whose newest version meets it leaves silver and
    gold. Checked against the columns when the source lands in bronze."""
    fields: SourceFields = Field(default_factory=SourceFields)
    """How the source's columns map onto canonical fields and free identifiers."""

    @property
    def vanished_table(self) -> str | None:
        """The bronze table of tombstones for the records a database source no longer holds (with
        jdbc.detect_deletions), else None."""
        return f"bronze._vanished_{self.name}" if self.jdbc is not None and self.jdbc.detect_deletions else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.format == "jdbc":
            if self.jdbc is None:
                raise ValueError("format 'jdbc' needs a 'jdbc' block (url and table or query)")
            if self.path is not None:
                raise ValueError("a jdbc source takes no 'path'")
        else:
            if not self.path:
                raise ValueError(f"format {self.format!r} needs 'path' (a file glob)")
            if self.jdbc is not None:
                raise ValueError(f"'jdbc' is only for format 'jdbc', not {self.format!r}")
        if self.kind == "interaction" and not self.updated_at:
            raise ValueError("an interaction source needs 'updated_at' (its event time)")
        if self.no_duplicates and self.kind != "person":
            raise ValueError("no_duplicates applies to person sources only")
        if self.deleted is not None and self.kind != "person":
            raise ValueError("deleted applies to person sources only")
        if (self.kind == "deletions") != (self.of is not None):
            raise ValueError("a deletions source names the person source it deletes from ('of'), and only it does")
        if self.jdbc is not None and self.jdbc.detect_deletions and self.kind != "person":
            raise ValueError("jdbc.detect_deletions applies to person sources only")
        if self.kind == "deletions" and (self.fields.mapped() or self.fields.identifiers or self.no_duplicates):
            raise ValueError("a deletions source holds record ids only: no fields, identifiers or no_duplicates")
        if self.kind != "interaction":
            used = [f for f in INTERACTION_FIELDS if getattr(self.fields, f) is not None]
            if used:
                raise ValueError(f"{self.kind} sources cannot map interaction fields: {', '.join(used)}")
        return self


class SparkSettings(_Strict):
    """How to build the Spark session; anything set by spark-submit takes precedence."""

    master: str | None = "local[*]"
    """Spark master URL; local[*] runs on this machine; spark-submit's --master wins."""
    app_name: str = "c360"
    """The Spark application name."""
    driver_memory: str | None = "4g"
    """The driver's heap (spark.driver.memory) when c360 starts Spark itself."""
    shuffle_partitions: int = Field(default=8, ge=1)
    """spark.sql.shuffle.partitions; adaptive execution coalesces small ones."""
    jars: list[str] = Field(default_factory=list)
    """Extra jars on the session's class path (e.g. a JDBC driver)."""
    delta_jars: str | None = None
    """Folder of Delta connector jars; else the C360_DELTA_JARS environment variable."""
    checkpoint_dir: str | None = None
    """Where Spark checkpoints long lineages; default a folder under the warehouse."""
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Any further Spark settings (key -> value)."""


class BronzeSettings(_Strict):
    """How bronze ingestion treats bad and changed input."""

    max_bad_share: float = Field(default=0.05, ge=0, le=1)
    """A source whose share of quarantined records in a run passes this fails, writing nothing that run."""
    max_record_bytes: int = Field(default=1_048_576, ge=1)
    """A record larger than this (in bytes, as read) is quarantined with the reason instead of landing."""
    on_changed_file: Literal["ingest", "error"] = "ingest"
    """A file whose content changed under the same name: ingest it as a new version, or fail the source."""
    infer_sampling_ratio: float = Field(default=1.0, gt=0, le=1)
    """Share of new JSON records read to infer new fields (1.0: every record, so rare fields are not missed)."""


DEFAULT_STITCHING = {"email": 4, "phone": 4, "login_id": 3, "loyalty_id": 3, "social_handle": 3}


LINKAGE_KEYS: tuple[str, ...] = (
    "record_key", "source", "first_name_key", "last_name_key", "first_name_forms", "first_name_phonetic",
    "last_name_phonetic", "email_key", "phone_e164", "date_of_birth", "street_key", "city_key", "postcode_key",
    "postcode_prefix", "company_key", "handle_key", "handle_digits", "name_prefix_key", "email_user_key", "handle_block",
    "name_block", "email_block", "handle_name_key", "full_name_key",
)
"""The match keys linkage compares and blocks on (c360.silver.linkage.keys derives them)."""

MATCH_FIELD_KEYS = {"first_name": "first_name_key", "last_name": "last_name_key", "date_of_birth": "date_of_birth",
                    "email": "email_key", "phone": "phone_e164", "street": "street_key", "city": "city_key",
                    "postcode": "postcode_key", "company": "company_key", "social_handle": "handle_key"}
"""Canonical field -> the match key an `exact` or `date` comparison reads."""

Rule = list[str] | str


def _check_rules(rules: list[Rule] | None) -> list[Rule] | None:
    for rule in rules or []:
        if isinstance(rule, str):
            if not re.search(r"\bl\.\w+", rule) or not re.search(r"\br\.\w+", rule):
                raise ValueError(f"SQL rule {rule!r} must compare l.<key> with r.<key>")
            unknown = sorted({c for c in re.findall(r"\b[lr]\.(\w+)", rule) if c not in LINKAGE_KEYS})
        else:
            if not rule:
                raise ValueError("a rule needs at least one column")
            unknown = sorted(c for c in rule if c not in LINKAGE_KEYS)
        if unknown:
            raise ValueError(f"unknown match key(s) {', '.join(unknown)}; known: {', '.join(LINKAGE_KEYS[2:])}")
    return rules


class ComparisonSetting(_Strict):
    """One comparison of the model: a kind from the vocabulary, the field it reads (exact; date defaults to
    date_of_birth), and whether equal values are weighted by how common they are (term frequency)."""

    kind: Literal["name", "date", "exact", "email", "phone", "address", "handle", "company"]
    """The kind of comparison: name, date, exact, email, phone, address, handle or company, each with its own levels."""
    field: str | None = None
    """The canonical field an exact comparison reads (and a date comparison, default date_of_birth)."""
    term_frequency: bool = False
    """Weigh an exact agreement by how common the value is (a rare surname says more than a common one)."""

    @model_validator(mode="after")
    def _field_fits(self) -> ComparisonSetting:
        if self.kind == "exact" or (self.kind == "date" and self.field is not None):
            if self.field not in MATCH_FIELD_KEYS:
                raise ValueError(f"kind {self.kind!r} needs 'field', one of {', '.join(MATCH_FIELD_KEYS)}")
        elif self.field is not None:
            raise ValueError(f"kind {self.kind!r} reads its own fields; 'field' is for exact and date")
        return self


class LinkageSettings(_Strict):
    """Probabilistic linkage with Splink. Comparisons and rules default to those the fields present allow
    (see the docs' page on the linkage model); each list here replaces its default."""

    threshold: float = Field(default=0.8, gt=0, lt=1)
    """Match probability from which a pair is a match (written to silver.match_pairs and clustered). Clustering
    still demands a mutual best link with `ambiguity_margin`, so this can sit below what one pair alone would need."""
    ambiguity_margin: float = Field(default=3.0, ge=0)
    """A cluster joins its best partner only if that one beats the next best by this many log2-odds (8x)."""
    model_dir: str | None = None
    """Folder of the versioned model files; default <warehouse>/_models/person_linkage."""
    max_comparisons: float = Field(default=5e8, gt=0)
    """Stop before predicting when the blocking rules would generate more comparisons than this."""
    comparisons: list[ComparisonSetting] | None = None
    """The model's comparisons; default: one per kind of field the person sources fill (min_fill)."""
    blocking_rules: list[Rule] | None = None
    """Prediction blocking rules: a list of match keys that must be equal, or SQL over l./r.; default: by fields."""
    training_rules: list[Rule] | None = None
    """Blocking rules of the EM sessions that estimate m; default: by fields."""
    prior_rules: list[Rule] | None = None
    """Near-certain rules that estimate the share of matching pairs; default: the first the fields allow that
    finds pairs."""
    min_fill: float = Field(default=0.01, ge=0, le=1)
    """A field takes part in the default model when at least this share of person records fill it."""
    on_model_mismatch: Literal["retrain", "fail"] = "retrain"
    """When the saved model was built for other fields or rules: train a new version, or stop with a message."""
    retrain: Literal["auto", "warn", "never"] = "auto"
    """When the data has outgrown the model (no model yet although there are pairs to compare, a provisional
    model, a source the model never saw, person records grown past `retrain_growth`): train a new version and
    link every record again with it (auto), only say a retrain is due (warn), or say nothing (never)."""
    retrain_growth: float = Field(default=2.0, gt=1)
    """A model is due for retraining when the person records have grown by more than this factor since it
    was trained."""
    max_retrain_churn: float = Field(default=0.05, ge=0, le=1)
    """A retrain that would move more than this share of the customers a trusted (not provisional) model
    decided is held back (the run keeps the model and warns) unless the run was started with --accept-retrain."""
    min_prior_pairs: int = Field(default=50, ge=1)
    """A model whose prior rule found fewer pairs than this, or whose every EM session converged on fewer
    matching pairs, is saved as provisional: trained on too little evidence to decide later runs."""
    train_on_labels: bool = True
    """Automatic retrains take the steward's labels in force, as `c360 train --use-labels` does: the labelled
    matches estimate m beside EM, and the labels may choose the new version's threshold."""
    label_precision_floor: float = Field(default=0.99, gt=0.5, le=1)
    """A threshold chosen from the labels is the lowest at which the labelled pairs' precision stays at least
    this (the queue favours hard pairs, so the links' precision there is higher)."""
    min_labels: int = Field(default=30, ge=1)
    """Labelled matches m is estimated from, and labelled matches and non-matches each a threshold is chosen
    from, at least."""
    model_version: int | None = Field(default=None, ge=1)
    """Pin this model version: every run scores with it and none retrains automatically (a due retrain is
    only reported)."""
    u_max_pairs: float = Field(default=5e6, gt=0)
    """Random pairs sampled to estimate u (how often non-matches agree by chance)."""
    em_max_pairs: float = Field(default=1e6, gt=0)
    """Pairs an EM session trains on at most (a rule that blocks more is sampled down, keeping the share of
    matches)."""
    train_max_records: int = Field(default=300_000, ge=1000)
    """Train on a random sample of at most this many records: EM's blocking rules (same name, same birth
    date) grow faster than the records, and a few hundred thousand records estimate the parameters well;
    predictions always cover every record."""
    seed: int = 42
    """Seed of training's samples, so a retrain on the same records gives the same model."""
    backend: Literal["auto", "duckdb", "spark"] = "auto"
    """Where Splink runs: DuckDB (embedded, fastest on one machine) or Spark (a cluster); auto picks DuckDB
    when the Spark master is local and there are at most `duckdb_max_records` person records."""
    duckdb_max_records: int = Field(default=20_000_000, ge=0)
    """Most person records `backend: auto` links on DuckDB; above it Splink runs on Spark."""
    duckdb_memory_limit: str = Field(default="4GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    """DuckDB's memory cap beside the JVM (it spills to disk beyond it)."""

    _rules_known = field_validator("blocking_rules", "training_rules", "prior_rules")(_check_rules)


class ClusteringSettings(_Strict):
    """Where records are clustered: on the driver over Arrow arrays (many times faster; the edges must fit
    its memory: about 100 bytes an edge at peak) or as Spark jobs; auto takes the driver up to
    `driver_max_edges` edges (deterministic links plus scored pairs at even odds or better)."""

    engine: Literal["auto", "driver", "spark"] = "auto"
    """driver: on the driver over Arrow arrays; spark: as Spark jobs; auto: the driver up to `driver_max_edges`."""
    driver_max_edges: int = Field(default=10_000_000, ge=0)
    """Most edges auto clusters on the driver; above it clustering runs as Spark jobs."""


class SilverSettings(_Strict):
    """Identity resolution: deterministic stitching, linkage, clustering."""

    stitching: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_STITCHING))
    """identifier -> most records one value may link before it counts as a hub (free identifiers allowed)."""
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    """Probabilistic linkage with Splink: model, rules, thresholds, retraining and backend."""
    clustering: ClusteringSettings = Field(default_factory=ClusteringSettings)
    """Where the linked pairs are clustered into customers."""
    max_cluster_size: int = Field(default=50, ge=2)
    """A cluster above this size is reported and split along its strongest links."""
    reports_dir: str | None = None
    """Where each run's report goes (<reports_dir>/<run id>/: summary.json, index.html, Splink's charts);
    default <warehouse>/_reports; a local path or a URI of the warehouse's file systems (s3://, ...)."""
    reports_keep_runs: int = Field(default=30, ge=1)
    """How many runs' reports to keep; older run folders are deleted when a run writes its report."""


LAYERS: tuple[str, ...] = ("bronze", "silver", "gold", "analytics", "steward")
"""The warehouse's layers of tables (analytics: gold's pseudonymised copies, see gold.pseudonymised)."""

GOLDEN_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "full_name", "email", "phone", "date_of_birth", "gender",
    "street", "postcode", "city", "region", "country", "company", "job_title",
    "social_handle", "login_id", "loyalty_id",
)
"""Canonical fields that get a golden value on gold.customer_profile."""

DEFAULT_GROUPS = {"name": ["first_name", "last_name", "full_name"],
                  "address": ["street", "postcode", "city", "region", "country"]}


class SurvivorshipRule(_Strict):
    """How one golden field (or group of fields) is chosen among a customer's records.

    source_priority: the best source wins, by `sources` order when given, else by each source's `priority`;
    first_non_null: only the listed `sources`, first in list order that has a value; most_recent: the newest
    record (`updated_at`); most_frequent: the value most records agree on; longest: the most complete value.
    Ties always fall to source priority, then the newer record, then the smaller record key.
    """

    rule: Literal["source_priority", "first_non_null", "most_recent", "most_frequent", "longest"]
    """The rule that picks the golden value among a customer's records."""
    sources: list[str] | None = None
    """Source order for source_priority, or the only sources first_non_null takes from."""

    @model_validator(mode="after")
    def _sources_given(self) -> SurvivorshipRule:
        if self.rule == "first_non_null" and not self.sources:
            raise ValueError("rule first_non_null needs 'sources' (the ordered list to take the first value from)")
        return self


class AccountSettings(_Strict):
    """Where B2B accounts come from: a reference source and the identifiers that link them."""

    source: str
    """The reference source holding accounts (its `company` field is the account name)."""
    id_identifier: str = "crm_account_id"
    """The identifier of the accounts source that holds each account's id."""
    parent_identifier: str = "crm_parent_account_id"
    """The identifier of the accounts source naming an account's parent account (the account hierarchy)."""
    contact_identifier: str = "crm_account_id"
    """The identifier on person records naming their account."""


class MetricSettings(_Strict):
    """Customer metrics: which events count as what (Spark SQL predicates over silver.interactions)."""

    orders: str = "event_type = 'order_completed'"
    """Predicate of the events that are completed orders (counted, and summed as revenue)."""
    open_tickets: str = "event_type IN ('ticket_open', 'ticket_pending')"
    """Predicate of the events that are support tickets still open."""
    social: str = "event_type = 'social_post'"
    """Predicate of the events that are social posts."""
    reporting_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    """ISO 4217 code revenue is reported in."""
    currency_rates: dict[str, float] = Field(default_factory=lambda: {"EUR": 1.0})
    """Units of the reporting currency per unit of each currency; an order in another currency has no revenue
    and is counted in the run's `orders_without_rate`."""
    as_of: datetime | None = None
    """The moment recency is measured from; default: the run's start."""

    @field_validator("currency_rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not re.match(r"^[A-Z]{3}$", code) or rate <= 0:
                raise ValueError(f"currency rate {code}: {rate} must be an ISO code with a positive rate")
        return value


class ConsentSettings(_Strict):
    """How the consent people state acts on gold (see gold.consent)."""

    tracking_channels: list[str] = Field(default_factory=lambda: ["web"])
    """Event channels that need tracking consent (silver.interactions' `channel`): an event of these channels
    dated after the person's latest tracking statement (consent_tracking) that says no stays out of
    gold.customer_interactions and is counted in the gold summary's `tracking_events_withheld`; orders,
    tickets and events of other channels stay. Empty: consent withholds no event."""


class QualitySettings(_Strict):
    """Data-quality gates checked before gold is published."""

    min_completeness: dict[str, float] = Field(default_factory=dict)
    """golden field -> smallest share of profiles that must have it (e.g. first_name: 0.9)."""


class CatalogSettings(_Strict):
    """Where `c360 register` puts the tables in a metastore (views pinned to the last completed run)."""

    catalog: str | None = None
    """The metastore catalog to register in (Unity Catalog); none: the session's current catalog."""
    schema_name: str = Field(default="c360", alias="schema", pattern=NAME_PATTERN)
    """The schema (database) the tables are registered in."""
    layers: list[Literal[LAYERS]] = Field(default_factory=lambda: ["gold", "analytics"])
    """Which layers' tables `c360 register` registers (analytics: the pseudonymised copies, when there are any)."""


class GoldSettings(_Strict):
    """Golden profiles, timeline, metrics and their publication."""

    survivorship: dict[str, SurvivorshipRule] = Field(default_factory=dict)
    """golden field or group name -> rule; fields not named use `default_rule`."""
    default_rule: SurvivorshipRule = Field(default_factory=lambda: SurvivorshipRule(rule="source_priority"))
    """The survivorship rule of every golden field and group not named in `survivorship`."""
    groups: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_GROUPS.items()})
    """Fields that survive together from one record (an address is never stitched from two)."""
    accounts: AccountSettings | None = None
    """B2B accounts and their hierarchy (gold.accounts); none: no account tables."""
    metrics: MetricSettings = Field(default_factory=MetricSettings)
    """Which events count as orders, open tickets and social posts in gold.customer_metrics."""
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    """Which events a withdrawn tracking consent keeps off the timeline."""
    pseudonymised: list[str] = Field(default_factory=list)
    """Gold tables (e.g. customer_profile, customer_metrics) also published as analytics.<table> with every
    person field as a salted hash (the salt of privacy.salt_env, which every gold run then needs); ids,
    dates, segments and metrics kept, for analysts who need counts, not names."""
    quality: QualitySettings = Field(default_factory=QualitySettings)
    """Gates checked before gold is published; a failed gate stops the run with nothing published."""
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    """Where `c360 register` puts the tables in a metastore."""
    timeline_rows_per_file: int = Field(default=1_000_000, ge=1000)
    """Target rows per data file of gold.customer_timeline (files clustered by customer id read fast)."""

    @model_validator(mode="after")
    def _known_fields(self) -> GoldSettings:
        grouped: dict[str, str] = {}
        for group, fields in self.groups.items():
            for name in fields:
                if name not in GOLDEN_FIELDS:
                    raise ValueError(f"groups.{group}: {name!r} is not a golden field ({', '.join(GOLDEN_FIELDS)})")
                if name in grouped:
                    raise ValueError(f"groups.{group}: {name!r} is already in group {grouped[name]!r}")
                grouped[name] = group
        for key in self.survivorship:
            if key in grouped:
                raise ValueError(f"survivorship.{key}: the field is in group {grouped[key]!r}; give the rule for the group")
            if key not in GOLDEN_FIELDS and key not in self.groups:
                raise ValueError(f"survivorship.{key}: not a golden field or group "
                                 f"(fields: {', '.join(GOLDEN_FIELDS)}; groups: {', '.join(self.groups)})")
        for name in self.quality.min_completeness:
            if name not in GOLDEN_FIELDS:
                raise ValueError(f"quality.min_completeness.{name}: not a golden field")
        return self


class PrivacySettings(_Strict):
    """Erasure (GDPR Art. 17): where its salt comes from and when the files still holding an erased person go."""

    salt_env: str = Field(default="C360_ERASURE_SALT", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding the secret salt of the erasure log's and suppression list's hashes
    (never the salt itself: a config is shared and versioned). `c360 erase` refuses without it."""
    purge: Literal["immediate", "deferred"] = "immediate"
    """immediate: an erase removes older table versions, change data files and log entries that still hold
    the person at once; deferred: `c360 maintain` does it (run it within purge_window_days)."""
    purge_window_days: int = Field(default=30, ge=0)
    """With a deferred purge: the days within which `c360 maintain` must purge (the erasure log shows erasures
    pending past it in a note at the top of the run report)."""


class LockSettings(_Strict):
    """One writer at a time on a warehouse: how long a second writer waits, and the holder's lease."""

    wait_seconds: float = Field(default=0, ge=0)
    """How long a run, `c360 maintain` or `c360 erase` waits for the warehouse's lock before it fails naming
    the holder (0: fail at once)."""
    lease_seconds: float = Field(default=60, gt=0)
    """The holder renews its lease every third of this; a lock not renewed for this long (its holder was
    killed, or lost its network) is taken over, and a holder that could not renew stops before its next
    commit. Hosts' clocks must agree to well within it."""


class C360Config(_Strict):
    """The whole configuration file."""

    warehouse: str
    """Folder or URI of the Delta tables (bronze/, silver/, gold/), models and reports."""
    warehouse_shared: bool = False
    """The warehouse is a local path every node of the cluster sees (an NFS mount, or a cluster on one
    machine); without it a local warehouse is refused when Spark's master is not local."""
    engine: Literal["auto", "delta-rs", "delta-spark"] = "auto"
    """Delta engine: delta-rs (embedded, no jars) or delta-spark (Delta's Spark connector); auto: delta-spark when
    the connector is on the Spark class path, else delta-rs."""
    spark: SparkSettings = Field(default_factory=SparkSettings)
    """How the Spark session is built."""
    default_country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    """ISO country of phone numbers and addresses that do not say theirs."""
    bronze: BronzeSettings = Field(default_factory=BronzeSettings)
    """How bronze treats bad and changed input."""
    silver: SilverSettings = Field(default_factory=SilverSettings)
    """Identity resolution: stitching, linkage, clustering, reports."""
    gold: GoldSettings = Field(default_factory=GoldSettings)
    """The gold layer: survivorship, accounts, metrics, quality gates and catalog registration."""
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    """Erasure of a person: the salt's environment variable and when files are purged."""
    lock: LockSettings = Field(default_factory=LockSettings)
    """The warehouse's writer lock: how long to wait for it, and the holder's lease."""
    sources: list[SourceConfig] = Field(default_factory=list)
    """The input sources."""
    config_path: SkipJsonSchema[str | None] = Field(default=None, exclude=True)
    """The file this config was read from (set on load; not a key of the file)."""

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in value:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return value

    @model_validator(mode="after")
    def _gold_sources_exist(self) -> C360Config:
        kinds = {s.name: s.kind for s in self.sources}
        rules = {**self.gold.survivorship, "default_rule": self.gold.default_rule}
        for key, rule in rules.items():
            for name in rule.sources or []:
                if kinds.get(name) != "person":
                    raise ValueError(f"gold.survivorship.{key}.sources: {name!r} is not a person source")
        for source in self.sources:
            if source.kind == "deletions" and kinds.get(source.of) != "person":
                raise ValueError(f"source {source.name}: of: {source.of!r} is not a person source")
        accounts = self.gold.accounts
        if accounts is not None and kinds.get(accounts.source) != "reference":
            raise ValueError(f"gold.accounts.source: {accounts.source!r} is not a reference source")
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called `name`; a ConfigError naming the known ones otherwise."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self.config_path}: no source named {name!r} (known: {known})")


def _loc_to_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic error location into ``sources[2] (crm).fields.emial`` against the raw document."""
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                label += f" ({node['name']})"
            parts.append(label)
        else:
            if item in ("function-after", "function-before") or str(item).startswith("function-"):
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _format_errors(path: Path, exc: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        where = _loc_to_path(tuple(err["loc"]), raw)
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {where}: {msg}")
    return "\n".join(lines)


def _resolve(base: Path, value: str | None) -> str | None:
    """Resolve a relative filesystem path against the config folder; URIs (s3://, abfss://) stay as they are."""
    if value is None or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        return value
    expanded = Path(os.path.expandvars(os.path.expanduser(value)))
    return str(expanded if expanded.is_absolute() else (base / expanded).resolve())


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(raw)
    if isinstance(out.get("warehouse"), str):
        out["warehouse"] = _resolve(base, out["warehouse"])
    spark = out.get("spark")
    if isinstance(spark, dict):
        spark = dict(spark)
        for key in ("delta_jars", "checkpoint_dir"):
            if isinstance(spark.get(key), str):
                spark[key] = _resolve(base, spark[key])
        if isinstance(spark.get("jars"), list):
            spark["jars"] = [_resolve(base, j) if isinstance(j, str) else j for j in spark["jars"]]
        out["spark"] = spark
    silver = out.get("silver")
    if isinstance(silver, dict):
        silver = dict(silver)
        if isinstance(silver.get("reports_dir"), str):
            silver["reports_dir"] = _resolve(base, silver["reports_dir"])
        if isinstance(silver.get("linkage"), dict) and isinstance(silver["linkage"].get("model_dir"), str):
            silver["linkage"] = {**silver["linkage"], "model_dir": _resolve(base, silver["linkage"]["model_dir"])}
        out["silver"] = silver
    if isinstance(out.get("sources"), list):
        out["sources"] = [
            {**s, "path": _resolve(base, s["path"])} if isinstance(s, dict) and isinstance(s.get("path"), str) else s
            for s in out["sources"]
        ]
    return out


def parse_config(raw: Any, path: Path) -> C360Config:
    """Validate an already-parsed YAML document; `path` names it in errors and anchors relative paths."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the file must hold a mapping of keys (warehouse, sources, ...)")
    try:
        resolved = _resolve_paths(raw, path.parent.resolve())
        return C360Config.model_validate({**resolved, "config_path": str(path)})
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc, raw)) from None


def load_config(path: str | os.PathLike[str]) -> C360Config:
    """Read and validate a config file; every problem is a ConfigError naming the file and key."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config file: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    return parse_config(raw, file)

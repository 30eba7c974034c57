"""Every published column of every silver and gold table: its type, whether it keys the table, and what it means.

One place for what a data team asks first of a table. The stages write each description into the table's Delta
schema as the column's `comment` (what Spark's DESCRIBE, Databricks' catalog and delta-rs show), the docs'
table reference is rendered from here, and the tests check that every column a stage writes is described with
the type it has. Bookkeeping tables (`_runs`, `_quarantine`, `_ingest_log`) and bronze's per-source tables,
whose columns are the sources' own, are described in the docs' prose instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from c360.config import GOLDEN_FIELDS
from c360.storage import TableStore
from c360.storage.statistics import NON_PERSONAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    """One column: Spark's simple type string (`string`, `array<string>`, ...), whether it is part of the
    table's key, and its meaning."""

    name: str
    type: str
    meaning: str
    key: bool = False


@dataclass(frozen=True)
class Table:
    """One table: its name (`layer.table`), what one row is, what it is for, and its columns in order."""

    name: str
    row: str
    purpose: str
    columns: tuple[Column, ...]

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a row."""
        return tuple(c.name for c in self.columns if c.key)

    def comments(self) -> dict[str, str]:
        """Column -> the comment the stages write into the table's schema."""
        return {c.name: c.meaning for c in self.columns}


def _k(name: str, type_: str, meaning: str) -> Column:
    return Column(name, type_, meaning, key=True)


_LINEAGE = "map<string,struct<source:string,record_key:string,updated_at:timestamp,rule:string>>"
_RECORD_KEY = "The record's key across c360: `<source>:<source record id>`."
_CUSTOMER = "The customer's stable id (C + 20 hex digits), never handed out twice."
_PROBABILITY = "Splink's match probability of the pair (1.0 for a deterministic link)."
_WEIGHT = "Splink's match weight (log2 of the Bayes factor) of the pair."
_REDIRECT = (
    _k("old_customer_id", "string", "The customer id that moved."),
    _k("new_customer_id", "string", "Where it went: the id holding its records now (merge), or the new id of "
                                    "the part that left it (split); null when retired."),
    Column("kind", "string", "merge (the old id is gone), split (the old id lives on beside the new one) or retire "
                             "(no records left, no successor)."),
    Column("run_id", "string", "The silver run that moved it."),
    Column("at", "timestamp", "When that run moved it (UTC)."),
    Column("by", "string", "Who moved it: c360 (the linkage, or an erasure's retirement) or steward (a steward's "
                           "labels given since the run before)."),
)
_PAIR = (
    _k("record_key_l", "string", "The pair's first record (the smaller key)."),
    _k("record_key_r", "string", "The pair's second record."),
    Column("match_probability", "double", _PROBABILITY),
    Column("match_weight", "double", _WEIGHT),
)

_PERSON_FIELDS = (
    ("first_name", "Given name, title-cased, accents kept."),
    ("last_name", "Family name, title-cased."),
    ("full_name", "The whole name as written, or first and last name joined."),
    ("first_name_key", "Given name folded for matching (lower case, no accents or punctuation)."),
    ("last_name_key", "Family name folded for matching."),
    ("email", "E-mail address, trimmed and lower-cased; null when it is no address."),
    ("email_key", "E-mail folded for matching (Gmail dots and +tags removed)."),
    ("phone", "Phone number as written, cleaned of stray characters."),
    ("phone_e164", "Phone number in E.164 (+491511234567), parsed in the record's country; null when invalid."),
)
_PERSON_REST = (
    ("gender", "string", "First letter of the gender as given (F, M, ...)."),
    ("street", "string", "Street and house number as written, cleaned."),
    ("street_key", "string", "Street folded for matching (street types abbreviated one way)."),
    ("city", "string", "City, in display case."),
    ("city_key", "string", "City folded for matching."),
    ("postcode", "string", "Postal code as written, cleaned."),
    ("postcode_key", "string", "Postal code folded for matching (no spaces, upper case)."),
    ("region", "string", "State or region."),
    ("country", "string", "ISO 3166 alpha-2 country code."),
    ("company", "string", "Employer or company name."),
    ("company_key", "string", "Company name folded for matching."),
    ("job_title", "string", "Job title."),
    ("social_handle", "string", "Social media handle, lower case with one leading @."),
    ("login_id", "string", "The website's login id, lower case."),
    ("loyalty_id", "string", "Loyalty card number, upper case."),
    ("cookie_id", "string", "Web cookie id the record carries."),
    ("consent_email", "boolean", "The record's explicit consent to e-mail contact; null when it says nothing."),
    ("consent_phone", "boolean", "The record's explicit consent to phone contact; null when it says nothing."),
    ("consent_tracking", "boolean", "The record's explicit consent to web tracking; null when it says nothing."),
    ("identifiers", "map<string,string>", "Free identifiers of the source (name -> value), as configured."),
    ("dq_flags", "array<string>", "Data-quality findings: invalid_phone, invalid_email, invalid_dob (unreadable, "
                                  "before 1900 or in the future)."),
)

_GOLDEN = {
    "first_name": "Golden given name (chosen with the name group).", "last_name": "Golden family name.",
    "full_name": "Golden whole name.", "email": "Golden e-mail address.", "phone": "Golden phone number (E.164).",
    "date_of_birth": "Golden date of birth.", "gender": "Golden gender.", "street": "Golden street (chosen with "
    "the address group).", "postcode": "Golden postal code.", "city": "Golden city.", "region": "Golden region.",
    "country": "Golden country (ISO alpha-2).", "company": "Golden company.", "job_title": "Golden job title.",
    "social_handle": "Golden social handle.", "login_id": "Golden login id.", "loyalty_id": "Golden loyalty card number.",
}

TABLES: tuple[Table, ...] = (
    Table("silver.person_records", "source person record (its newest version)",
          "Every person record of every person source, standardised, with the match keys linkage reads.",
          (_k("record_key", "string", _RECORD_KEY),
           Column("source", "string", "The person source it came from."),
           Column("source_record_id", "string", "The record's id in its source."),
           Column("source_priority", "int", "The source's survivorship priority (lower wins)."),
           Column("updated_at", "timestamp", "When the record last changed in its source (UTC)."),
           *(Column(n, "string", m) for n, m in _PERSON_FIELDS),
           Column("date_of_birth", "date", "Date of birth, read from any of the usual formats."),
           *(Column(n, t, m) for n, t, m in _PERSON_REST))),
    Table("silver.match_pairs", "linked pair of records",
          "Every link clustering used: deterministic ones (a shared identifier) and Splink's above the threshold.",
          (*_PAIR, Column("method", "string", "exact:<identifier> for a deterministic link, splink for a scored one."))),
    Table("silver.scored_pairs", "scored pair at even odds or better",
          "Every Splink pair at even odds or better, so an incremental run rescores only the pairs a change touches "
          "and a steward can review the ones the first-name guard vetoed.",
          (*_PAIR, Column("first_names_conflict", "boolean", "Both records name a first name and the two differ by more "
                                                             "than a typo, nickname or initial, birth dates not equal: "
                                                             "the pair never links."))),
    Table("silver.hub_identifiers", "identifier value not used for stitching",
          "Values shared by more records than silver.stitching allows (a shop's phone, a family e-mail) and "
          "placeholders: they link nothing deterministically.",
          (_k("identifier", "string", "The identifier (email, phone, login_id, ... or a free identifier)."),
           _k("value", "string", "The value, as matched."),
           Column("records", "bigint", "How many records hold it."),
           Column("reason", "string", "shared_by_too_many or placeholder."))),
    Table("silver.identity_map", "source person record",
          "Which customer each source record belongs to, and how it got there.",
          (Column("source", "string", "The person source."),
           Column("source_record_id", "string", "The record's id in its source."),
           _k("record_key", "string", _RECORD_KEY),
           Column("customer_id", "string", _CUSTOMER),
           Column("customer_created_at", "timestamp", "When the customer id was first handed out."),
           Column("match_method", "string", "The strongest link the record has inside its customer: "
                                            "exact:<identifier>, splink, or single (a customer of one record)."),
           Column("match_probability", "double", "The probability of that link (1.0 for exact and single)."),
           Column("assigned_at", "timestamp", "When the record got its current customer id."))),
    Table("silver.customer_id_redirects", "customer id that moved",
          "Where every merged, split or retired customer id went, chains collapsed.", _REDIRECT),
    Table("silver.graph_components", "source person record",
          "The connected component of the identity graph each record lies in, so an incremental run finds the "
          "part of the graph a change reaches by key.",
          (_k("record_key", "string", _RECORD_KEY),
           Column("component", "string", "The component's smallest record key."))),
    Table("silver.interactions", "event (deduplicated by source and id)",
          "Every event of the interaction sources, mapped onto one shape with the identifiers that tie it to "
          "a person; anonymous clicks carry the login of their cookie once it logs in.",
          (_k("event_id", "string", "The event's id in its source."),
           _k("source", "string", "The interaction source."),
           Column("occurred_at", "timestamp", "When the event happened (UTC)."),
           Column("channel", "string", "The channel (web, email, phone, store, social, ...)."),
           Column("event_type", "string", "What happened (order_completed, ticket_open, page_view, ...)."),
           Column("amount", "double", "Amount of an order or payment."),
           Column("currency", "string", "ISO currency of the amount."),
           Column("summary", "string", "Short text of the event (a ticket's subject, a post's text)."),
           Column("attributes", "string", "Further attributes as JSON (an order's lines)."),
           Column("email_key", "string", "E-mail the event carries, folded as on person records."),
           Column("phone", "string", "Phone the event carries, in E.164."),
           Column("phone_local", "string", "Last 8 digits of a phone written without a country code (matched "
                                           "only when nothing better ties the event)."),
           Column("login_id", "string", "Login id the event carries, or its cookie's login."),
           Column("loyalty_id", "string", "Loyalty card number the event carries."),
           Column("social_handle", "string", "Social handle the event carries."),
           Column("cookie_id", "string", "Web cookie id."),
           Column("identifiers", "map<string,string>", "Free identifiers the event carries (name -> value)."),
           Column("stitched_by", "string", "cookie when the login came from the cookie's other events; else null."))),
    Table("gold.customer_profile", "customer",
          "The golden profile: one value per field chosen by survivorship, every value the records hold, "
          "where each golden value came from, and consent.",
          (_k("customer_id", "string", _CUSTOMER),
           *(Column(f, "date" if f == "date_of_birth" else "string", _GOLDEN[f]) for f in GOLDEN_FIELDS),
           Column("lineage", _LINEAGE, "Golden field -> the source, record, record time and rule it came from."),
           Column("emails", "array<string>", "Every e-mail address the customer's records hold."),
           Column("phones", "array<string>", "Every phone number (E.164) the records hold."),
           Column("social_handles", "array<string>", "Every social handle the records hold."),
           Column("login_ids", "array<string>", "Every login id the records hold."),
           Column("loyalty_ids", "array<string>", "Every loyalty card number the records hold."),
           Column("sources", "array<string>", "The sources holding a record of the customer."),
           Column("source_record_count", "bigint", "How many source records make up the customer."),
           Column("account_ids", "array<string>", "The B2B accounts the customer's records name (gold.accounts)."),
           Column("household_id", "string", "The customer's household (gold.households), if any."),
           Column("consent_email", "boolean", "The most recent explicit e-mail consent of any record; null: none given."),
           Column("consent_phone", "boolean", "The most recent explicit phone consent; null: none given."),
           Column("consent_tracking", "boolean", "The most recent explicit tracking consent; null: none given."),
           Column("consent_lineage", _LINEAGE, "Consent channel -> the record that stated it."),
           Column("first_seen_at", "timestamp", "The oldest record or event time of the customer."),
           Column("last_seen_at", "timestamp", "The newest record or event time of the customer."),
           Column("content_hash", "string", "Digest of the profile's content; profile_version moves when it does."),
           Column("profile_version", "bigint", "How many times the profile's content changed (1: as first published)."),
           Column("updated_at", "timestamp", "When the profile's content last changed."))),
    Table("gold.customer_xref", "source person record",
          "The cross-reference between source ids and customer ids, both ways.",
          (Column("customer_id", "string", _CUSTOMER),
           Column("source", "string", "The person source."),
           Column("source_record_id", "string", "The record's id in its source."),
           _k("record_key", "string", _RECORD_KEY),
           Column("linked_by", "string", "How the record joined its customer: exact:<identifier>, splink or single."),
           Column("match_probability", "double", "The probability of that link."),
           Column("linked_at", "timestamp", "When the record got its current customer id."))),
    Table("gold.customer_interactions", "event tied to a customer",
          "One timeline of every customer's events across channels, clustered by customer id.",
          (Column("customer_id", "string", _CUSTOMER),
           Column("occurred_at", "timestamp", "When the event happened (UTC)."),
           _k("source", "string", "The interaction source."),
           Column("channel", "string", "The channel of the event."),
           Column("event_type", "string", "What happened."),
           _k("event_id", "string", "The event's id in its source."),
           Column("amount", "double", "Amount of an order or payment."),
           Column("currency", "string", "ISO currency of the amount."),
           Column("summary", "string", "Short text of the event."),
           Column("attributes", "string", "Further attributes as JSON (an order's lines)."),
           Column("resolved_by", "string", "The identifier that tied the event to the customer (a free identifier, "
                                           "login_id, loyalty_id, social_handle, email, phone or phone_local)."),
           Column("stitched_by", "string", "cookie when the login came from the cookie's other events; else null."))),
    Table("gold.customer_metrics", "customer",
          "Orders, revenue, RFM scores and segment, channel mix and activity of every customer, as of the run.",
          (_k("customer_id", "string", _CUSTOMER),
           Column("orders_count", "bigint", "Completed orders (gold.metrics.orders)."),
           Column("revenue_total", "double", "Their total in the reporting currency."),
           Column("reporting_currency", "string", "The reporting currency (gold.metrics.reporting_currency)."),
           Column("avg_order_value", "double", "Revenue per order with a known rate."),
           Column("first_order_at", "timestamp", "The first completed order."),
           Column("last_order_at", "timestamp", "The latest completed order."),
           Column("orders_without_rate", "bigint", "Orders in a currency without a configured rate (no revenue)."),
           Column("recency_days", "int", "Days from the latest order to as_of."),
           Column("r_score", "int", "Recency quintile, 5 most recent; null without orders."),
           Column("f_score", "int", "Frequency quintile, 5 most orders."),
           Column("m_score", "int", "Monetary quintile, 5 most revenue."),
           Column("rfm_score", "string", "The three scores as one string, e.g. 545."),
           Column("segment", "string", "Segment from the RFM scores (champions, loyal, at_risk, ...; no_orders)."),
           Column("channel_mix", "map<string,bigint>", "Channel -> number of events."),
           Column("last_interaction_by_channel", "map<string,timestamp>", "Channel -> the latest event there."),
           Column("open_tickets", "bigint", "Support tickets still open (gold.metrics.open_tickets)."),
           Column("social_posts", "bigint", "Social posts (gold.metrics.social)."),
           Column("interactions_total", "bigint", "All events on the customer's timeline."),
           Column("last_seen_at", "timestamp", "The customer's latest event or record change."),
           Column("days_since_last_seen", "int", "Days from last_seen_at to as_of."),
           Column("as_of", "timestamp", "The moment recency is measured from (the run's start unless configured)."))),
    Table("gold.customer_id_redirects", "customer id that moved",
          "Where a customer id a downstream system still holds went (published from silver).", _REDIRECT),
    Table("gold.households", "household",
          "Customers sharing a normalised address and surname.",
          (_k("household_id", "string", "The household's id (a digest of its address and surname)."),
           Column("customer_ids", "array<string>", "Its customers."),
           Column("members", "bigint", "How many customers it has."))),
    Table("gold.contact_permissions", "customer and contact channel",
          "Who may be contacted now, per channel: the golden consent says yes and there is a golden address "
          "(gold.consent). A customer without consent or without an address for the channel has no row.",
          (_k("customer_id", "string", _CUSTOMER),
           _k("channel", "string", "email or phone."),
           Column("address", "string", "The golden e-mail address or phone number (E.164) to use."),
           Column("consented_at", "timestamp", "When the statement that gave the consent was made (its record's "
                                               "update time)."),
           Column("consent_source", "string", "The source of that statement."),
           Column("consent_record_key", "string", "The record that made it."))),
    Table("gold.accounts", "B2B account",
          "Accounts of the configured reference source with their hierarchy; profiles name them by account_ids.",
          (_k("account_id", "string", "The account's id in its source."),
           Column("account_name", "string", "The account's name."),
           Column("parent_account_id", "string", "Its parent account, if any."),
           Column("ultimate_parent_account_id", "string", "The top of its hierarchy."),
           Column("hierarchy_depth", "int", "Levels below the top (0: a top-level account)."),
           Column("hierarchy_path", "array<string>", "Account ids from the top down to it."),
           Column("hierarchy_issue", "string", "cycle, unknown_parent or too_deep when the hierarchy is broken; else null."),
           Column("source", "string", "The reference source."),
           Column("updated_at", "timestamp", "When the account last changed in its source."))),
    Table("gold.unresolved_interactions", "event no customer owns",
          "Events that reached no customer, with the reason, so a steward can see what is missing.",
          (_k("event_id", "string", "The event's id in its source."),
           _k("source", "string", "The interaction source."),
           Column("occurred_at", "timestamp", "When the event happened (UTC)."),
           Column("event_type", "string", "What happened."),
           Column("reason", "string", "anonymous_session, ambiguous_identifier, no_matching_customer or no_identifier."),
           Column("identifiers_seen", "array<string>", "Which identifiers the event carried (names, not values)."))),
    Table("steward.labels", "label a steward gave a pair of records",
          "Pairs of person records a steward marked as one person (match), two people (non-match) or unsure, "
          "directly or through c360 merge, keep-apart and split; every silver run honours the newest label of "
          "each pair. Appended only: no run rebuilds or restores it.",
          (_k("label_id", "string", "The label's id (a hash of the pair, label, labeller, time and file line)."),
           Column("record_key_l", "string", "The pair's first record (the smaller key)."),
           Column("record_key_r", "string", "The pair's second record."),
           Column("label", "string", "match (must-link), non-match (cannot-link) or unsure (withdraws an earlier label)."),
           Column("origin", "string", "review (a label file), merge, keep-apart or split."),
           Column("labeller", "string", "Who gave it."),
           Column("labelled_at", "timestamp", "When it was recorded (UTC)."),
           Column("note", "string", "The steward's note, free text."),
           Column("source_file", "string", "The label file's name, or the command that wrote it."),
           Column("identity_l", "string", "SHA-256 of the first record's identity fields when labelled: a label "
                                          "whose record changed since is stale and goes back to review."),
           Column("identity_r", "string", "The same for the second record."),
           Column("queue", "string", "The review queue kind the pair came from (uncertain, vetoed, bridges, random, stale)."),
           Column("stratum", "string", "A random sample's stratum (link or non-link)."),
           Column("weight", "double", "A random sample's weight: the pairs of its stratum each labelled pair stands for."))),
)

# maps and arrays that hold no person's data: field names, sources, ids, counts and times
NON_PERSONAL_COMPLEX = frozenset({"lineage", "consent_lineage", "sources", "account_ids", "customer_ids", "channel_mix",
                                  "last_interaction_by_channel", "identifiers_seen", "hierarchy_path"})


def personal(column: Column) -> bool:
    """Whether a column may hold a person's data (names, contact details, birth dates, addresses, free text):
    every column but the ids, keys, times, codes, scores and amounts named as non-personal."""
    return column.name not in NON_PERSONAL and column.name not in NON_PERSONAL_COMPLEX


def pseudonymised(table: Table) -> Table:
    """`analytics.<table>`: a gold table with every personal column as salted SHA-256 hashes (an array's
    elements each), for analysts who need counts and segments, not names (see privacy.pseudonymise)."""
    columns = tuple(c if not personal(c) else Column(
        c.name, "array<string>" if c.type.startswith("array") else "string",
        f"Salted SHA-256 of: {c.meaning}" if not c.type.startswith("array") else f"Salted SHA-256 of each of: {c.meaning}",
        c.key) for c in table.columns)
    return Table(f"analytics.{table.name.split('.', 1)[1]}", table.row,
                 f"{table.purpose} Person fields as salted hashes (gold.pseudonymised).", columns)


ANALYTICS = tuple(pseudonymised(t) for t in TABLES if t.name.startswith("gold."))
TABLES = TABLES + ANALYTICS
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def describe_tables(store: TableStore, layer: str) -> dict[str, list[str]]:
    """Write the registry's column descriptions into every existing table of `layer` that lacks them (or
    holds other ones, e.g. a table an earlier version made or an overwrite replaced); returns the columns
    changed per table, empty when every comment was in place (no commit then)."""
    changed = {}
    for table in TABLES:
        if table.name.startswith(f"{layer}.") and store.exists(table.name):
            if columns := store.describe_columns(table.name, table.comments()):
                changed[table.name] = columns
    if changed:
        log.info("%s: column descriptions written on %s", layer, ", ".join(sorted(changed)))
    return changed

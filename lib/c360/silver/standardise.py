"""Standardise canonical person fields into one format, keeping the originals for display.

Pure column functions, composed into DataFrame -> DataFrame transforms by the silver stage:
names (trim, case, accents folded for matching, full names split), e-mails (lower case, a match key that
drops Gmail dots and +tags), phones (E.164 with Google's `phonenumbers`), dates of birth (several formats,
impossible dates become null with a flag), countries (ISO 3166 alpha-2 via `pycountry`), postcodes and
streets (abbreviations of the shared reference table, so 'Hauptstraße' and 'Hauptstr.' agree).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from unidecode import unidecode

from c360.frames import local_frame
from c360.reference.addresses import STREET_ABBREVIATIONS

DOB_FORMATS = ("yyyy-MM-dd", "dd.MM.yyyy", "d.M.yyyy", "dd/MM/yyyy", "yyyy/MM/dd", "yyyyMMdd", "dd-MM-yyyy")
FOLD_FROM = "àáâãäåāăąçćčďđèéêëēėęěğìíîïīįıłñńňòóôõöōőřśšşťùúûüūůűųýÿžźż"
FOLD_TO = unidecode(FOLD_FROM)  # one ASCII letter per accented one
GMAIL = ("gmail.com", "googlemail.com")


def fold(value: Column) -> Column:
    """Lower case with accents folded and ß/æ/œ/ø spelt out: 'Müller' and 'MUELLER' differ, 'Müller' and
    'muller' agree (umlaut spellings 'ue' are a matching concern, not a standardisation one)."""
    lowered = F.lower(F.trim(value))
    spelt = F.regexp_replace(F.regexp_replace(F.regexp_replace(F.regexp_replace(
        lowered, "ß", "ss"), "æ", "ae"), "œ", "oe"), "ø", "o")
    return F.translate(spelt, FOLD_FROM, FOLD_TO)


def clean_text(value: Column) -> Column:
    """Trimmed, inner white space collapsed, empty -> null."""
    text = F.regexp_replace(F.trim(value), r"\s+", " ")
    return F.when(text == "", F.lit(None)).otherwise(text)


def display_name(value: Column) -> Column:
    """'PETER' and 'peter' -> 'Peter'; names already in mixed case ('McDonald', 'van der Berg') stay."""
    return title_case(clean_text(value))


def title_case(text: Column) -> Column:
    """display_name of text already cleaned (clean_text): read it as a column, not an expression, since it
    is read three times."""
    return F.when((text == F.upper(text)) | (text == F.lower(text)), F.initcap(text)).otherwise(text)


CONSENT_YES = ("y", "yes", "true", "1", "t", "ja", "j", "opt-in", "opt_in", "opted_in", "granted", "subscribed")
CONSENT_NO = ("n", "no", "false", "0", "f", "nein", "opt-out", "opt_out", "opted_out", "denied", "unsubscribed")


def consent(value: Column) -> Column:
    """An explicit consent statement as a boolean ('Y', 'true', 'opt-in' ... / 'N', 'false', 'opt-out' ...);
    anything else (empty, unknown words) is no statement: null, so it never overrides a real one."""
    text = F.lower(F.trim(value.cast("string")))
    return F.when(text.isin(*CONSENT_YES), F.lit(True)).when(text.isin(*CONSENT_NO), F.lit(False))


def social_handle(value: Column) -> Column:
    """'@PSchmidt', 'pschmidt', '@@pschmidt' -> '@pschmidt': one form for person records and events."""
    text = F.lower(F.trim(value))
    return F.when(text.isNotNull() & (F.regexp_replace(text, "^@+", "") != ""),
                  F.concat(F.lit("@"), F.regexp_replace(text, "^@+", "")))


def name_key(value: Column) -> Column:
    """A name for matching: folded, letters only (hyphens and spaces removed)."""
    return F.regexp_replace(fold(value), r"[^a-z]", "")


def split_full_name(text: Column) -> tuple[Column, Column]:
    """'Schmidt, Peter' and 'Peter Schmidt' -> ('Peter', 'Schmidt'); a lone word is a first name (social
    display names such as 'Terry'); middle names are dropped here and kept in full_name. `text`: the full
    name cleaned (clean_text), as a column: it is read several times."""
    comma = F.instr(text, ",") > 0
    before, after = F.trim(F.substring_index(text, ",", 1)), F.trim(F.substring_index(text, ",", -1))
    words = F.split(text, " ")
    first = F.when(comma, after).otherwise(F.element_at(words, 1))
    last = F.when(comma, before).when(F.size(words) > 1, F.element_at(words, -1))
    return first, last


def email_clean(value: Column) -> Column:
    """Lower case and trimmed; null unless it looks like local@domain.tld."""
    text = F.lower(F.trim(value))
    return F.when(text.rlike(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"), text)


def email_key(value: Column) -> Column:
    """A match key: +tags dropped everywhere, dots in the local part dropped for Gmail (which ignores them)."""
    email = email_clean(value)
    local, domain = F.substring_index(email, "@", 1), F.substring_index(email, "@", -1)
    local = F.regexp_replace(local, r"\+.*$", "")
    local = F.when(domain.isin(*GMAIL), F.regexp_replace(local, r"\.", "")).otherwise(local)
    domain = F.when(domain == "googlemail.com", F.lit("gmail.com")).otherwise(domain)
    return F.when(email.isNotNull(), F.concat(local, F.lit("@"), domain))


def date_of_birth(value: Column, today: Column | None = None) -> tuple[Column, Column]:
    """(date, flag): the date parsed from any of DOB_FORMATS (or a date/timestamp column); impossible or
    implausible dates (before 1900, in the future) become null with flag 'invalid_dob'."""
    text = F.trim(value.cast("string"))
    parsed = F.coalesce(*[F.to_date(F.try_to_timestamp(text, F.lit(fmt))) for fmt in DOB_FORMATS])
    today = today if today is not None else F.current_date()
    ok = parsed.isNotNull() & (parsed >= F.lit("1900-01-01").cast("date")) & (parsed <= today)
    flag = F.when(text.isNotNull() & (text != "") & ~F.coalesce(ok, F.lit(False)), F.lit("invalid_dob"))
    return F.when(ok, parsed), flag


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Every way pycountry names a country (alpha-2/3, name, official and common name) -> alpha-2, folded,
    plus the everyday names it does not carry (UK, England, USA, Deutschland ...)."""
    import pycountry

    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                table[value.lower()] = country.alpha_2
    table.update({"uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "great britain": "GB",
                  "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states of america": "US",
                  "deutschland": "DE", "allemagne": "DE", "österreich": "AT", "schweiz": "CH",
                  "france": "FR", "españa": "ES", "italia": "IT", "nederland": "NL"})
    return table


def with_country_code(df: DataFrame, column: str, output: str) -> DataFrame:
    """Add `output`: the ISO alpha-2 code of `column` (null when unknown), by a broadcast join on the
    lower-cased name."""
    spark: SparkSession = df.sparkSession
    lookup = local_frame(spark, sorted(country_names().items()), "_country_text string, " + output + " string")
    key = F.lower(F.trim(F.col(column)))
    return df.withColumn("_country_text", key).join(F.broadcast(lookup), "_country_text", "left").drop("_country_text")


def postcode_key(value: Column) -> Column:
    """Upper case without spaces or dashes: 'cr3 5py' and 'CR35PY' agree."""
    key = F.regexp_replace(F.upper(F.trim(value)), r"[\s-]", "")
    return F.when(key != "", key)


GLUED_TYPES = ("straße", "strasse", "platz", "allee", "weg")
"""German street types, glued to the name: 'hauptstraße' -> 'hauptstr'."""


def street_key(value: Column) -> Column:
    """Folded, punctuation removed, street types abbreviated the same way ('Hauptstraße 5' == 'hauptstr 5',
    '12 Main Street' == '12 main st'). Glued German types are replaced at the end of a word; every other type
    is a whole word, looked up in one map (one pass over the words instead of a regular expression per type)."""
    text = F.regexp_replace(fold(value), r"[.,]", " ")
    for full in sorted({fold_text(t) for t in GLUED_TYPES}, key=len, reverse=True):
        text = F.regexp_replace(text, f"{full}\\b", STREET_ABBREVIATIONS[full].rstrip("."))
    words = {full: short.rstrip(".") for full, short in STREET_ABBREVIATIONS.items() if full not in GLUED_TYPES}
    lookup = F.create_map(*[F.lit(x) for pair in sorted(words.items()) for x in pair])
    tokens = F.split(text, r"(?<=\W)|(?=\W)")  # words and the characters between them, in order
    text = F.array_join(F.transform(tokens, lambda w: F.coalesce(F.try_element_at(lookup, w), w)), "")
    key = F.trim(F.regexp_replace(text, r"\s+", " "))
    return F.when(key != "", key)


def fold_text(value: str) -> str:
    """The Python twin of `fold` for constants."""
    lowered = value.lower().replace("ß", "ss").replace("æ", "ae").replace("œ", "oe").replace("ø", "o")
    return lowered.translate(str.maketrans(FOLD_FROM, FOLD_TO))


LOCAL_DIGITS = 8
"""Digits a phone number written without a country code is matched by (see phone_local)."""


def phone_local(phone: Column) -> Column:
    """The last LOCAL_DIGITS digits of a number written without a country code (no leading '+' or '00'),
    else null. Such a number is read in a default country, which may not be the caller's: an event's
    '(202) 258-8706' read in Germany is not the customer's +12022588706, but both end in the same digits."""
    text = F.trim(phone)
    digits = F.regexp_replace(text, r"\D", "")
    international = text.startswith("+") | text.startswith("00")
    return F.when(~international & (F.length(digits) >= LOCAL_DIGITS),
                  F.substring(digits, -LOCAL_DIGITS, LOCAL_DIGITS))


def e164_local(e164: Column) -> Column:
    """The last LOCAL_DIGITS digits of an E.164 number, to meet phone_local's."""
    return F.when(F.length(e164) > LOCAL_DIGITS, F.substring(e164, -LOCAL_DIGITS, LOCAL_DIGITS))


def phone_e164(phone: Column, country: Column) -> Column:
    """E.164 ('+491511234567') by Google's libphonenumber rules; numbers without a country code are read in
    `country` (ISO alpha-2); invalid numbers become null."""
    return _phone_udf()(phone, country)


def _e164(phones: pd.Series, countries: pd.Series) -> pd.Series:
    import phonenumbers

    out = []
    for number, region in zip(phones, countries):
        if not isinstance(number, str) or not number.strip():
            out.append(None)
            continue
        text = number.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            parsed = phonenumbers.parse(text, region if isinstance(region, str) else None)
        except phonenumbers.NumberParseException:
            out.append(None)
            continue
        out.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                   if phonenumbers.is_valid_number(parsed) else None)
    return pd.Series(out, dtype=object)


def with_phones_parsed_here(frame: DataFrame, phone: str, region: Column, out: str) -> DataFrame:
    """`frame` with column `out`: `phone` in E.164 as `phone_e164` gives it, read in `region`, parsed in this
    (the driver's) process over the distinct (phone, region) pairs and joined back. For a few thousand
    records this is much cheaper than `phone_e164`, whose first use in a process starts Spark's Python
    workers (several seconds); parsing here takes about 30 microseconds a number, one core. Runs Spark jobs:
    `frame` is checkpointed first so that it is computed once."""
    frame = frame.withColumn("_phone_region", region).localCheckpoint()
    pairs = frame.where(F.col(phone).isNotNull()).select(phone, "_phone_region").distinct().collect()
    numbers, regions = [r[0] for r in pairs], [r[1] for r in pairs]
    parsed = _e164(pd.Series(numbers, dtype=object), pd.Series(regions, dtype=object)).tolist()
    lookup = local_frame(frame.sparkSession, list(zip(numbers, regions, parsed)),
                                                f"_p_phone string, _p_region string, {out} string")
    matches = F.col(phone).eqNullSafe(F.col("_p_phone")) & F.col("_phone_region").eqNullSafe(F.col("_p_region"))
    return frame.join(F.broadcast(lookup), matches, "left").drop("_p_phone", "_p_region", "_phone_region")


@lru_cache(maxsize=1)
def _phone_udf():  # noqa: ANN202 - created on first use: a pandas UDF needs an active SparkContext
    return F.pandas_udf(_e164, "string")

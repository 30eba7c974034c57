"""A second, independent person-data generator: two CRM-like sources with their own noise model.

It shares nothing with `c360 generate` (other countries' names and addresses, other formats, other noise),
so linkage can be measured on data shaped unlike the demo's. People live in Australia, France, the
Netherlands, Spain, Italy and Ireland. Source `crm_a` (ISO birth dates, international phones) holds about
70% of them, `crm_b` (dd/mm/yyyy, national phone formats, many blanks) about 60%, so about 40% are in both;
each source holds some people twice. Noise, drawn per record: typos (a letter dropped, doubled, swapped or
replaced) in the first, last or both names, shortened first names ('Alexandre' -> 'Alex'), first and last
name swapped, upper case, accents dropped, moves (a new address), birth dates with day and month swapped, a
wrong digit or missing, blank e-mails and phones. Deterministic per seed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker
from unidecode import unidecode

LOCALES = ("en_AU", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_IE")
COUNTRY = {"en_AU": "AU", "fr_FR": "FR", "nl_NL": "NL", "es_ES": "ES", "it_IT": "IT", "en_IE": "IE"}
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "orange.fr", "ziggo.nl", "eircom.net")


@dataclass(frozen=True)
class Noise:
    """Share of records with each kind of noise."""

    first_typo: float = 0.12
    last_typo: float = 0.12
    both_typo: float = 0.05
    short_first: float = 0.05
    swapped: float = 0.03
    upper: float = 0.1
    no_accents: float = 0.3
    moved: float = 0.1
    dob_swapped: float = 0.04
    dob_typo: float = 0.04
    dob_missing: float = 0.08
    email_blank_a: float = 0.3
    email_blank_b: float = 0.5
    phone_blank_a: float = 0.3
    phone_blank_b: float = 0.5
    dup_a: float = 0.08
    dup_b: float = 0.05


def _pools(seed: int, size: int = 3000) -> dict[str, dict[str, list[str]]]:
    """Per locale: pools of first names, last names, streets, cities with postcodes, phone numbers."""
    pools = {}
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + i)
        pools[locale] = {
            "first": [fake.first_name() for _ in range(size)], "last": [fake.last_name() for _ in range(size)],
            "street": [fake.street_address().replace("\n", " ") for _ in range(size)],
            "place": [(fake.city(), fake.postcode()) for _ in range(size // 3)],
            "phone": [fake.phone_number() for _ in range(size)],
        }
    return pools


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(4)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]
    return word[:i] + str(rng.choice(list(string.ascii_lowercase))) + word[i + 1:]


def _digits_typo(text: str, rng: np.random.Generator) -> str:
    positions = [i for i, c in enumerate(text) if c.isdigit()]
    i = int(rng.choice(positions))
    return text[:i] + str((int(text[i]) + int(rng.integers(1, 9))) % 10) + text[i + 1:]


def people(n: int, seed: int) -> pd.DataFrame:
    """n true people with their attributes."""
    rng = np.random.default_rng(seed)
    pools = _pools(seed)
    locales = rng.choice(LOCALES, size=n, p=[0.25, 0.2, 0.15, 0.15, 0.15, 0.1])
    rows = []
    for pid, locale in enumerate(locales):
        pool = pools[locale]
        first, last = pool["first"][rng.integers(len(pool["first"]))], pool["last"][rng.integers(len(pool["last"]))]
        city, postcode = pool["place"][rng.integers(len(pool["place"]))]
        dob = pd.Timestamp("1940-01-01") + pd.Timedelta(days=int(rng.integers(0, 65 * 365)))
        user = unidecode(f"{first}.{last}".lower()).replace(" ", "")
        if rng.random() < 0.5:
            user = unidecode(f"{first[0]}{last}{rng.integers(1, 99)}".lower()).replace(" ", "")
        rows.append({"true_id": pid, "locale": locale, "first": first, "last": last, "dob": dob,
                     "email": f"{user}@{DOMAINS[rng.integers(len(DOMAINS))]}",
                     "phone": pool["phone"][rng.integers(len(pool["phone"]))],
                     "street": pool["street"][rng.integers(len(pool["street"]))], "city": city, "postcode": postcode})
    return pd.DataFrame(rows)


def _record(person: pd.Series, source: str, noise: Noise, pools: dict, rng: np.random.Generator) -> dict:
    first, last = person["first"], person["last"]
    roll = rng.random()
    if roll < noise.both_typo:
        first, last = _typo(first, rng), _typo(last, rng)
    elif roll < noise.both_typo + noise.first_typo:
        first = _typo(first, rng)
    elif roll < noise.both_typo + noise.first_typo + noise.last_typo:
        last = _typo(last, rng)
    if rng.random() < noise.short_first and len(first) > 5:
        first = first[:int(rng.integers(3, 5))]
    if rng.random() < noise.no_accents:
        first, last = unidecode(first), unidecode(last)
    if rng.random() < noise.upper:
        first, last = first.upper(), last.upper()
    if rng.random() < noise.swapped:
        first, last = last, first
    street, city, postcode = person["street"], person["city"], person["postcode"]
    if rng.random() < noise.moved:
        pool = pools[person["locale"]]
        street = pool["street"][rng.integers(len(pool["street"]))]
        city, postcode = pool["place"][rng.integers(len(pool["place"]))]
    dob: pd.Timestamp | None = person["dob"]
    roll = rng.random()
    text = None
    if roll < noise.dob_missing:
        dob = None
    elif roll < noise.dob_missing + noise.dob_swapped and dob.day <= 12 and dob.day != dob.month:
        dob = pd.Timestamp(year=dob.year, month=dob.day, day=dob.month)
    elif roll < noise.dob_missing + noise.dob_swapped + noise.dob_typo:
        text = _digits_typo(dob.strftime("%Y%m%d"), rng)
        parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
        dob = None if pd.isna(parsed) else parsed
    if dob is not None:
        text = dob.strftime("%Y-%m-%d") if source == "crm_a" else dob.strftime("%d/%m/%Y")
    else:
        text = None
    blank_email = noise.email_blank_a if source == "crm_a" else noise.email_blank_b
    blank_phone = noise.phone_blank_a if source == "crm_a" else noise.phone_blank_b
    phone = person["phone"] if rng.random() >= blank_phone else None
    if phone is not None and source == "crm_a" and not phone.startswith("+"):
        phone = f"+{_calling_code(person['locale'])} {phone.lstrip('0')}"
    return {"first_name": first, "last_name": last, "birth_date": text,
            "email": person["email"] if rng.random() >= blank_email else None, "phone": phone,
            "street": street, "city": city, "postcode": postcode, "country": COUNTRY[person["locale"]]}


def _calling_code(locale: str) -> str:
    return {"en_AU": "61", "fr_FR": "33", "nl_NL": "31", "es_ES": "34", "it_IT": "39", "en_IE": "353"}[locale]


def crm_pairs(records: int, seed: int = 7, noise: Noise = Noise()) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """About `records` person records in two sources: ({source: frame}, truth (source, source_record_id,
    true_id)). Each frame has `id` and raw columns first_name, last_name, birth_date, email, phone, street,
    city, postcode, country."""
    n = max(2, int(records / (0.7 * (1 + noise.dup_a) + 0.6 * (1 + noise.dup_b))))
    population = people(n, seed)
    rng = np.random.default_rng(seed + 1)
    pools = _pools(seed)
    frames, truth = {}, []
    for source, share, dup in (("crm_a", 0.7, noise.dup_a), ("crm_b", 0.6, noise.dup_b)):
        chosen = population[rng.random(n) < share]
        twice = chosen[rng.random(len(chosen)) < dup]
        rows = []
        for _, person in pd.concat([chosen, twice]).iterrows():
            rid = f"{source[-1].upper()}{len(rows) + 1:07d}"
            rows.append({"id": rid, **_record(person, source, noise, pools, rng)})
            truth.append((source, rid, int(person["true_id"])))
        frames[source] = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frames, pd.DataFrame(truth, columns=["source", "source_record_id", "true_id"])

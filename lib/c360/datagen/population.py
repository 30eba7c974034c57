"""The true people behind the synthetic sources: who exists, and what is really true about them.

Everything is drawn column-wise with numpy from one seeded generator, so a million people take seconds and
the same seed always gives the same population. Name, street, city and company pools come from Faker's
locale data (de_DE, en_GB, en_US); Faker itself is called only to fill the pools.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from faker import Faker
from unidecode import unidecode

LOCALES = ("de_DE", "en_GB", "en_US")
COUNTRY = {"de_DE": "DE", "en_GB": "GB", "en_US": "US"}
LOCALE_SHARE = (0.5, 0.25, 0.25)
FREE_MAIL = {
    "de_DE": ("web.de", "gmx.de", "gmail.com", "t-online.de", "outlook.de"),
    "en_GB": ("gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "btinternet.com"),
    "en_US": ("gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com"),
}
# (country calling code, national mobile prefixes, subscriber digits)
MOBILE = {
    "de_DE": ("49", ("151", "160", "170", "171", "172", "175", "176", "177"), 8),
    "en_GB": ("44", ("7700", "7711", "7722", "7799", "7400", "7500"), 6),
    "en_US": ("1", ("212", "312", "415", "617", "646", "718", "202", "305"), 7),
}
POOL_SIZE = {"street": 600, "place": 400, "company": 1500, "job": 200}


@dataclass(frozen=True)
class Pools:
    """Per-locale value pools drawn once from Faker."""

    first_f: dict[str, np.ndarray]
    first_m: dict[str, np.ndarray]
    last: dict[str, np.ndarray]
    street: dict[str, np.ndarray]
    places: dict[str, pd.DataFrame]  # city, postcode, region
    company: np.ndarray
    job: np.ndarray


def _names(provider_attr: object) -> np.ndarray:
    values = list(provider_attr.keys()) if isinstance(provider_attr, dict) else list(provider_attr)
    return np.array(sorted({str(v) for v in values if str(v).isalpha()}), dtype=object)


def build_pools(seed: int) -> Pools:
    """Draw the value pools from Faker's locale data, deterministically for `seed`."""
    first_f, first_m, last, street, places = {}, {}, {}, {}, {}
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 31 + i)
        provider = fake.provider("faker.providers.person")
        first_f[locale] = _names(provider.first_names_female)
        first_m[locale] = _names(provider.first_names_male)
        last[locale] = _names(provider.last_names)
        street[locale] = np.array(sorted({fake.street_name() for _ in range(POOL_SIZE["street"])}), dtype=object)
        rows = [(fake.city(), fake.postcode(), _region(fake, locale)) for _ in range(POOL_SIZE["place"])]
        places[locale] = pd.DataFrame(rows, columns=["city", "postcode", "region"]).drop_duplicates("city")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    company = np.array(sorted({fake.company() for _ in range(POOL_SIZE["company"])}), dtype=object)
    job = np.array(sorted({fake.job() for _ in range(POOL_SIZE["job"])}), dtype=object)
    return Pools(first_f, first_m, last, street, places, company, job)


def _region(fake: Faker, locale: str) -> str:
    if locale == "en_US":
        return fake.state_abbr()
    if locale == "de_DE":
        return fake.state()
    return fake.county()


def ascii_lower(values: pd.Series) -> pd.Series:
    """Lower-case ASCII transliteration (Müller -> muller), as people type names into e-mail addresses."""
    return values.map(lambda s: unidecode(s).lower().replace(" ", "").replace("'", "").replace("-", ""))


def _draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


def _per_locale(rng: np.random.Generator, locale: np.ndarray, pools: dict[str, np.ndarray]) -> np.ndarray:
    out = np.empty(len(locale), dtype=object)
    for loc in LOCALES:
        mask = locale == loc
        out[mask] = _draw(rng, pools[loc], int(mask.sum()))
    return out


def _addresses(rng: np.random.Generator, locale: np.ndarray, pools: Pools) -> pd.DataFrame:
    n = len(locale)
    street = _per_locale(rng, locale, pools.street)
    number = rng.integers(1, 180, n).astype(str)
    city, postcode, region = (np.empty(n, dtype=object) for _ in range(3))
    for loc in LOCALES:
        mask = locale == loc
        places = pools.places[loc]
        pick = rng.integers(0, len(places), int(mask.sum()))
        city[mask] = places["city"].to_numpy()[pick]
        postcode[mask] = places["postcode"].to_numpy()[pick]
        region[mask] = places["region"].to_numpy()[pick]
    return pd.DataFrame({"street_name": street, "house_number": number, "city": city, "postcode": postcode,
                         "region": region})


def _emails(rng: np.random.Generator, first: pd.Series, last: pd.Series, dob: pd.Series,
            locale: np.ndarray) -> np.ndarray:
    f, l_ = ascii_lower(first), ascii_lower(last)
    year = dob.map(lambda d: f"{d.year % 100:02d}")
    pattern = rng.integers(0, 6, len(first))
    local = np.where(pattern == 0, f + "." + l_,
            np.where(pattern == 1, f.str[0] + "." + l_,
            np.where(pattern == 2, f + l_,
            np.where(pattern == 3, f + "_" + l_,
            np.where(pattern == 4, l_ + "." + f, f + "." + l_ + year)))))
    # Disambiguate like real providers do: a number for some, so equal names rarely share an address.
    suffix = np.where(rng.random(len(first)) < 0.5, rng.integers(1, 999, len(first)).astype(str), "")
    domain = np.empty(len(first), dtype=object)
    for loc in LOCALES:
        mask = locale == loc
        domain[mask] = _draw(rng, np.array(FREE_MAIL[loc], dtype=object), int(mask.sum()))
    return (pd.Series(local) + pd.Series(suffix) + "@" + pd.Series(domain)).to_numpy()


def _phones(rng: np.random.Generator, locale: np.ndarray) -> np.ndarray:
    """E.164 mobile numbers with real national prefixes (valid for the `phonenumbers` library)."""
    out = np.empty(len(locale), dtype=object)
    for loc in LOCALES:
        mask = locale == loc
        cc, prefixes, digits = MOBILE[loc]
        count = int(mask.sum())
        if not count:
            continue
        prefix = _draw(rng, np.array(prefixes, dtype=object), count)
        if loc == "en_US":  # US exchange codes start 2-9
            sub = rng.integers(2_000_000, 9_999_999, count).astype(str)
        else:
            sub = np.char.zfill(rng.integers(0, 10**digits, count).astype(str), digits)
        out[mask] = ("+" + cc + pd.Series(prefix) + pd.Series(sub)).to_numpy()
    return out


def _dates(rng: np.random.Generator, start: date, end: date, n: int) -> pd.Series:
    days = rng.integers(0, (end - start).days, n)
    return pd.Series(pd.to_datetime(start) + pd.to_timedelta(days, unit="D")).dt.date


def generate_population(n: int, seed: int, pools: Pools, id_offset: int = 0) -> pd.DataFrame:
    """`n` true people with ids P<offset+i>: names, DOB, contact data, addresses (current and previous),
    households with shared addresses and family e-mails, surname changes, logins, handles, consent."""
    rng = np.random.default_rng([seed, id_offset])
    idx = np.arange(id_offset, id_offset + n)
    locale = rng.choice(np.array(LOCALES, dtype=object), n, p=LOCALE_SHARE)
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    first = np.where(gender == "F", _per_locale(rng, locale, pools.first_f), _per_locale(rng, locale, pools.first_m))
    last = _per_locale(rng, locale, pools.last)
    dob = _dates(rng, date(1940, 1, 1), date(2006, 12, 31), n)
    people = pd.DataFrame({"true_id": [f"P{i:08d}" for i in idx], "locale": locale, "gender": gender,
                           "first_name": first, "last_name": last, "date_of_birth": dob})
    people["country"] = people["locale"].map(COUNTRY)

    # Households: every fifth person joins the previous person's household (same surname and address).
    joins = (rng.random(n) < 0.2) & (np.arange(n) > 0) & (np.roll(locale, 1) == locale)
    joins &= ~np.roll(joins, 1)  # households of two, never chains
    head = np.where(joins, np.arange(n) - 1, np.arange(n))
    people["household_id"] = [f"H{id_offset + h:08d}" for h in head]
    people.loc[joins, "last_name"] = people["last_name"].to_numpy()[head[joins]]

    address = _addresses(rng, locale, pools)
    address.loc[joins] = address.iloc[head[joins]].to_numpy()
    previous = _addresses(rng, locale, pools)
    moved = rng.random(n) < 0.15
    people = pd.concat([people, address, previous.add_prefix("prev_")], axis=1)
    people["moved"] = moved

    # Surname changes: the previous surname shows up in older records.
    changed = (gender == "F") & (rng.random(n) < 0.08) & ~joins
    people["maiden_name"] = np.where(changed, _per_locale(rng, locale, pools.last), None)

    people["email"] = _emails(rng, people["first_name"], people["last_name"], people["date_of_birth"], locale)
    family = joins & (rng.random(n) < 0.4)
    surname = ascii_lower(people["last_name"])
    family_mail = pd.Series(np.where(locale == "de_DE", "familie." + surname + "@web.de",
                                     "the" + surname + "s@gmail.com"))
    people["family_email"] = np.where(family, family_mail, None)
    people.loc[np.flatnonzero(family) - 1, "family_email"] = family_mail.to_numpy()[np.flatnonzero(family)]
    people["phone"] = _phones(rng, locale)
    people["login_id"] = (ascii_lower(people["first_name"]).str[0] + ascii_lower(people["last_name"])
                          + pd.Series(rng.integers(10, 9999, n).astype(str))).to_numpy()
    handle_style = rng.integers(0, 3, n)
    base = ascii_lower(people["first_name"]) + np.where(handle_style == 0, "_", "") + ascii_lower(people["last_name"])
    people["social_handle"] = ("@" + base.str[:12] + pd.Series(rng.integers(1, 99, n).astype(str))).to_numpy()
    people["company"] = _draw(rng, pools.company, n)
    people["job_title"] = _draw(rng, pools.job, n)
    people["marketing_consent"] = rng.random(n) < 0.55
    return people

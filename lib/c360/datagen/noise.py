"""The mess real sources have: typos, nicknames, swapped names, case, blanks, and many formats for the
same phone number, date or street. Each function takes a column and a seeded generator and touches a given
share of rows, so the noise is realistic in kind and deterministic in place."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd

from c360.reference.addresses import abbreviate_street
from c360.reference.nicknames import nicknames_by_name

LETTERS = np.array(list(string.ascii_lowercase))


def _pick(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate


def typo(value: str, op: int, where: float, letter: str) -> str:
    """One keyboard slip: drop, double, swap with the next, or replace a letter (not the first)."""
    if not isinstance(value, str) or len(value) < 4:
        return value
    i = 1 + int(where * (len(value) - 2))
    if op == 0:
        return value[:i] + value[i + 1:]
    if op == 1:
        return value[:i] + value[i] + value[i:]
    if op == 2 and i + 1 < len(value):
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]
    return value[:i] + letter + value[i + 1:]


def typos(values: pd.Series, rng: np.random.Generator, rate: float) -> pd.Series:
    """A typo (a letter dropped, doubled, replaced or swapped) in a `rate` share of the values."""
    n = len(values)
    hit = _pick(rng, n, rate)
    ops, where, letters = rng.integers(0, 4, n), rng.random(n), LETTERS[rng.integers(0, 26, n)]
    out = values.to_numpy(dtype=object).copy()
    for i in np.flatnonzero(hit):
        out[i] = typo(out[i], ops[i], where[i], letters[i])
    return pd.Series(out, index=values.index)


def nicknames(first: pd.Series, rng: np.random.Generator, rate: float) -> pd.Series:
    """Replace a share of first names by a nickname where one is known (William -> Bill)."""
    table = nicknames_by_name()
    hit, choice = _pick(rng, len(first), rate), rng.random(len(first))
    out = first.to_numpy(dtype=object).copy()
    for i in np.flatnonzero(hit):
        options = table.get(str(out[i]).lower())
        if options:
            out[i] = options[int(choice[i] * len(options))].capitalize()
    return pd.Series(out, index=first.index)


def recase(values: pd.Series, rng: np.random.Generator, upper: float, lower: float) -> pd.Series:
    """Upper-case an `upper` share and lower-case a `lower` share of the values, as careless entry does."""
    draw = rng.random(len(values))
    out = values.astype(object).copy()
    up, low = draw < upper, (draw >= upper) & (draw < upper + lower)
    out[up] = values[up].str.upper()
    out[low] = values[low].str.lower()
    return out


def blank(values: pd.Series, rng: np.random.Generator, rate: float) -> pd.Series:
    """Leave a `rate` share of the values out."""
    out = values.astype(object).copy()
    out[_pick(rng, len(values), rate)] = None
    return out


def swap(first: pd.Series, last: pd.Series, rng: np.random.Generator, rate: float) -> tuple[pd.Series, pd.Series]:
    """First and last name entered into each other's field."""
    hit = _pick(rng, len(first), rate)
    return first.where(~hit, last), last.where(~hit, first)


# Phone number styles by locale: (country code, trunk prefix, area-code length)
_PHONE = {"de_DE": ("49", "0", 3), "en_GB": ("44", "0", 4), "en_US": ("1", "", 3)}


def phone_style(e164: str, locale: str, style: int) -> str:
    """One E.164 number written the way people do: +49 151 2345678, 0151/2345678, (212) 555-0199 ..."""
    cc, trunk, area_len = _PHONE[locale]
    nsn = e164[1 + len(cc):]
    area, rest = nsn[:area_len], nsn[area_len:]
    if locale == "en_US":
        return (f"({area}) {rest[:3]}-{rest[3:]}", f"{area}-{rest[:3]}-{rest[3:]}", f"+1 {area} {rest[:3]} {rest[3:]}",
                e164, f"1{nsn}")[style % 5]
    return (f"+{cc} {area} {rest}", f"{trunk}{area} {rest}", f"{trunk}{area}/{rest}", e164,
            f"00{cc}{nsn}")[style % 5]


def phones(e164: pd.Series, locale: pd.Series, rng: np.random.Generator, styles: tuple[int, ...]) -> pd.Series:
    """E.164 numbers written the ways people write them (national, spaced, with or without the country code)."""
    style = np.array(styles)[rng.integers(0, len(styles), len(e164))]
    return pd.Series([phone_style(p, loc, s) if isinstance(p, str) else None
                      for p, loc, s in zip(e164, locale, style)], index=e164.index)


def streets(name: pd.Series, number: pd.Series, locale: pd.Series, rng: np.random.Generator,
            abbreviate: float) -> pd.Series:
    """'Hauptstraße 12' in Germany, '12 Main Street' elsewhere; a share abbreviated (Str., St)."""
    short = _pick(rng, len(name), abbreviate)
    out = []
    for street, num, loc, abbr in zip(name, number, locale, short):
        street = abbreviate_street(street) if abbr else street
        out.append(f"{street} {num}" if loc == "de_DE" else f"{num} {street}")
    return pd.Series(out, index=name.index)


def dates(values: pd.Series, fmt: str) -> pd.Series:
    """Dates as text in one source-specific format (missing stay missing)."""
    return pd.Series([d.strftime(fmt) if d is not None and not pd.isna(d) else None for d in values],
                     index=values.index, dtype=object)

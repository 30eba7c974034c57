"""First-name nicknames and diminutives: the curated English `nicknames` dataset plus a German table.

Used by the generator to write realistic nicknames and by matching to treat "Bill" and "William" alike.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from nicknames import name_triplets


@lru_cache(maxsize=1)
def nickname_pairs() -> tuple[tuple[str, str], ...]:
    """(canonical, nickname) pairs, lower case, sorted; nicknames only where the names differ."""
    pairs: set[tuple[str, str]] = set()
    pairs.update((t.name1, t.name2) for t in name_triplets() if t.relationship == "has_nickname" and t.name1 != t.name2)
    with resources.files("c360.reference").joinpath("nicknames_de.csv").open(encoding="utf-8") as handle:
        pairs.update((row["canonical"], row["nickname"]) for row in csv.DictReader(handle))
    return tuple(sorted(pairs))


@lru_cache(maxsize=1)
def nicknames_by_name() -> dict[str, tuple[str, ...]]:
    """canonical name -> its nicknames (sorted, so a seeded choice is deterministic)."""
    table: dict[str, list[str]] = {}
    for canonical, nick in nickname_pairs():
        table.setdefault(canonical, []).append(nick)
    return {k: tuple(v) for k, v in table.items()}

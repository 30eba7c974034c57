"""Blocking partners: the records a prediction blocking rule can pair with a changed record.

An incremental run scores only the pairs with a changed record (see prediction.only_changed_pairs), but
Splink still joins every record it is given on each rule's keys, and counts every rule's comparisons over
all of them. A rule's equalities (`l.a = r.b`) say which records can meet a changed one at all: those whose
`b` equals a changed record's `a`, or whose `a` equals its `b`. So the linker is handed the changed records
and those partners only, found by one query on the backend that scores (`sql`: the changed records joined
with every record per distinct lookup). The pairs scored are the same, as term frequencies and the prior
come from the model. A rule that is not a plain conjunction holding such an equality (free SQL with `or`,
functions or brackets) cannot narrow anything: then every record goes in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from c360.silver.linkage.spec import Rule

CHANGED = "c360_changed"  # the match keys' flag of records an incremental run scores again

EQUALITY = re.compile(r"^\s*([lr])\.(\w+)\s*=\s*([lr])\.(\w+)\s*$")
# a probe: the partner's columns, matched against the values the changed records hold in (other) columns
Probe = tuple[tuple[str, ...], tuple[str, ...]]


def equalities(rule: Rule) -> list[tuple[str, str]] | None:
    """(left column, right column) of every `l.a = r.b` conjunct of `rule`; None when the rule cannot be read
    as a conjunction holding at least one (it then narrows nothing)."""
    if isinstance(rule, tuple):
        return [(c, c) for c in rule] or None
    if re.search(r"[()]|\bor\b|\bnot\b", rule, flags=re.IGNORECASE):
        return None
    found = []
    for term in re.split(r"\s+and\s+", rule.strip(), flags=re.IGNORECASE):
        match = EQUALITY.match(term)
        if match and match.group(1) != match.group(3):
            left, right = (match.group(2), match.group(4)) if match.group(1) == "l" else (match.group(4), match.group(2))
            found.append((left, right))
    return found or None


def probes(rules: Sequence[Rule]) -> list[Probe] | None:
    """The distinct (partner columns, changed record's columns) lookups that find every record a rule can
    pair with a changed one, on either side of the pair; None when some rule narrows nothing."""
    # the changed records themselves come first, whatever keys they hold
    found: dict[tuple[tuple[str, str], ...], Probe] = {(("record_key", "record_key"),): (("record_key",), ("record_key",))}
    for rule in rules:
        pairs = equalities(rule)
        if pairs is None:
            return None
        for side in (pairs, [(b, a) for a, b in pairs]):  # the changed record on the left, then on the right
            ordered = tuple(sorted(side, key=lambda p: p[1]))  # (changed column, partner column)
            found.setdefault(ordered, (tuple(p for _, p in ordered), tuple(c for c, _ in ordered)))
    return list(found.values())


def sql(rules: Sequence[Rule], table: str) -> str | None:
    """A query over `table` (match keys with the CHANGED flag) for the rows of the changed records and of
    every record a rule can pair with one; None when some rule cannot narrow (every record goes in)."""
    found = probes(rules)
    if found is None:
        return None
    changed = f"(select * from {table} where {CHANGED})"
    lookups = [f"select p.record_key from {table} p join {changed} c on "
               + " and ".join(f"p.{a} = c.{b}" for a, b in zip(partner, mine)) for partner, mine in found]
    return f"select * from {table} where record_key in ({' union '.join(lookups)})"

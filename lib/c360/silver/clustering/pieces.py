"""Splitting a cluster along its strongest links, shared by both clustering engines: an oversized cluster
into pieces of at most the maximum size, a cluster holding two records a steward kept apart into pieces
that never hold both.

Such clusters are rare and small next to the data, so their members and inner edges are split on the
driver in plain Python whatever engine clustered them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


# how a set of clusters is split: (record key -> cluster, inner edges) -> (record key -> piece, report rows)
Splitter = Callable[[Mapping[str, str], Iterable[tuple[str, str, float]]], tuple[dict[str, str], list[dict]]]


class Forest:
    """Union-find over record keys where every piece is labelled with its smallest key."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.parent = {k: k for k in keys}
        self.members = {k: {k} for k in self.parent}

    def root(self, key: str) -> str:
        """The label of `key`'s piece (paths halved on the way, so later lookups are short)."""
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a: str, b: str) -> None:
        """Join the pieces rooted at `a` and `b` (the smaller key stays the root)."""
        a, b = min(a, b), max(a, b)
        self.parent[b] = a
        self.members[a] |= self.members.pop(b)


def spanning_pieces(of: Mapping[str, str], edges: Iterable[tuple[str, str, float]],
                    may_join: Callable[[set[str], set[str]], bool]) -> tuple[dict[str, str], list[dict]]:
    """A maximum spanning forest built strongest-first over each cluster's inner edges, joining two pieces
    only when `may_join(members, members)` allows it.

    `of`: record key -> its cluster; `edges`: (key, key, strength) inside those clusters. Returns record key
    -> its piece's label (the piece's smallest record key) and one report row per cluster (component, size,
    pieces)."""
    forest = Forest(of)
    for left, right, _ in sorted(edges, key=lambda e: (-e[2], e[0], e[1])):
        a, b = forest.root(left), forest.root(right)
        if a != b and of[a] == of[b] and may_join(forest.members[a], forest.members[b]):
            forest.join(a, b)
    pieces: dict[str, set[str]] = {}
    members: dict[str, int] = {}
    for k, cluster in of.items():
        pieces.setdefault(cluster, set()).add(forest.root(k))
        members[cluster] = members.get(cluster, 0) + 1
    report = [{"component": c, "size": members[c], "pieces": len(p)} for c, p in sorted(pieces.items())]
    return {k: forest.root(k) for k in of}, report


def split_pieces(of: Mapping[str, str], edges: Iterable[tuple[str, str, float]],
                 max_size: int) -> tuple[dict[str, str], list[dict]]:
    """Oversized clusters split so that no piece passes `max_size` (see spanning_pieces)."""
    return spanning_pieces(of, edges, lambda a, b: len(a) + len(b) <= max_size)


def apart_pieces(of: Mapping[str, str], edges: Iterable[tuple[str, str, float]],
                 apart: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[dict]]:
    """Clusters split so that no piece holds both records of a pair in `apart` (see spanning_pieces)."""
    partners: dict[str, set[str]] = {}
    for left, right in apart:
        partners.setdefault(left, set()).add(right)
        partners.setdefault(right, set()).add(left)
    return spanning_pieces(of, edges, lambda a, b: not any(partners.get(k, set()) & b for k in a))

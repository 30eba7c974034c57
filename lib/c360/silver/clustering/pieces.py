"""Splitting an oversized cluster along its strongest links, shared by both clustering engines.

Oversized clusters are rare and small next to the data, so their members and inner edges are split on the
driver in plain Python whatever engine clustered them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def split_pieces(of: Mapping[str, str], edges: Iterable[tuple[str, str, float]],
                 max_size: int) -> tuple[dict[str, str], list[dict]]:
    """A maximum spanning forest built strongest-first that never lets a piece pass `max_size`.

    `of`: record key -> its (oversized) cluster; `edges`: (key, key, strength) inside those clusters. Returns
    record key -> its piece's label (the piece's smallest record key) and one report row per cluster
    (component, size, pieces)."""
    parent = {k: k for k in of}
    size = dict.fromkeys(of, 1)

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for left, right, _ in sorted(edges, key=lambda e: (-e[2], e[0], e[1])):
        a, b = root(left), root(right)
        if a != b and of[a] == of[b] and size[a] + size[b] <= max_size:
            a, b = min(a, b), max(a, b)
            parent[b], size[a] = a, size[a] + size[b]
    pieces: dict[str, set[str]] = {}
    members: dict[str, int] = {}
    for k, cluster in of.items():
        pieces.setdefault(cluster, set()).add(root(k))
        members[cluster] = members.get(cluster, 0) + 1
    report = [{"component": c, "size": members[c], "pieces": len(p)} for c, p in sorted(pieces.items())]
    return {k: root(k) for k in of}, report
